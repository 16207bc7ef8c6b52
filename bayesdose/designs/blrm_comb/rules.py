"""Decision rules of the two-drug BLRM with EWOC on a grid of dose pairs, as pure functions of
posterior tables (Neuenschwander et al. 2015, in the interval form of EWOC).

The grid has drug A's levels as rows (i) and drug B's as columns (j); every table is
(..., rows, columns), any leading axes being a batch of trial states. A pair is barred by the
first rule that applies, in this order (``BARRED``):

1. EWOC: P(overdose) >= ``max_overdose_probability``;
2. increment: a drug's dose above (1 + ``max_increment``) x its dose in the current pair (the
   last cohort's), for each drug alike;
3. skipping: a drug's level more than one above the highest level of that drug given so far
   (in any pair), unless ``allow_skipping``;
4. both escalated: drug A and drug B both above the current pair's levels, unless
   ``escalate_both``;
5. coherence (Cheung 2005, with ``coherence`` and the last cohort's DLTs known): no
   escalation (a pair at or above the current pair in both drugs) right after a cohort with a
   DLT, no de-escalation (at or below it in both) right after one without, unless EWOC bars
   the current pair. A pair with one drug up and the other down is neither;
6. follow-up (dated data only): an untried pair at or above the current pair in both drugs
   needs at least ``min_complete_followup`` patients at the current pair who completed the DLT
   window (or had a DLT), the single agent's rule with the current pair for its highest dose.

De-escalation of either drug is never barred by 2-4. The next pair is the allowed pair with the
highest P(target); ties go to the pair with the lower sum of level indices i + j, then the
lower level of drug A. Before anyone is treated there is no current pair: the caller gives the
configured start pair. The MTD set (the "MTD contour") is, in each row of the grid, the pair
with the highest P(target) (ties: the lower level of drug B), among eligible pairs if given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.designs.base import NO_DOSE

BARRED = (None, "overdose_probability", "increment", "skipping", "both_escalated",
          "coherence", "followup")
ALLOWED, OVERDOSE, INCREMENT, SKIPPING, BOTH, COHERENCE, FOLLOWUP = range(len(BARRED))


@dataclass(frozen=True)
class ComboRules:
    """The settings of the rules, the same for both drugs."""

    max_overdose_probability: float = 0.25
    max_increment: float = 1.0
    allow_skipping: bool = False
    escalate_both: bool = False
    coherence: bool = False
    min_complete_followup: int = 1


def barred_codes(rules: ComboRules, levels_a: np.ndarray, levels_b: np.ndarray,
                 p_overdose: np.ndarray, n: np.ndarray, current: np.ndarray,
                 last_dlt: np.ndarray | None = None, complete: np.ndarray | None = None
                 ) -> np.ndarray:
    """(..., rows, columns): the first rule that bars each pair (a ``BARRED`` code), 0 if it
    may be given next. ``n`` counts patients per pair; ``current`` (..., 2) holds the current
    pair's (row, column), the last cohort's; ``last_dlt`` (...) its DLTs (None or negative:
    the order of cohorts is unknown, and coherence does not apply); ``complete`` (like ``n``)
    the patients per pair whose DLT follow-up is over (None: all are)."""
    p_overdose, n = np.asarray(p_overdose, dtype=float), np.asarray(n)
    current = np.asarray(current)
    if (current < 0).any():
        raise ValueError("a current pair is needed: before anyone is treated, use the start pair")
    rows, cols = p_overdose.shape[-2:]
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    ci, cj = current[..., 0, None, None], current[..., 1, None, None]
    codes = np.where(p_overdose < rules.max_overdose_probability, ALLOWED, OVERDOSE)
    cap = 1 + rules.max_increment
    levels_a, levels_b = np.asarray(levels_a, dtype=float), np.asarray(levels_b, dtype=float)
    too_big = ((levels_a[:, None] > cap * levels_a[ci] * (1 + 1e-12))
               | (levels_b[None, :] > cap * levels_b[cj] * (1 + 1e-12)))
    codes = _bar(codes, too_big, INCREMENT)
    if not rules.allow_skipping:
        given = n > 0
        top_a = _highest(given.any(axis=-1))[..., None, None]
        top_b = _highest(given.any(axis=-2))[..., None, None]
        codes = _bar(codes, (i > top_a + 1) | (j > top_b + 1), SKIPPING)
    if not rules.escalate_both:
        codes = _bar(codes, (i > ci) & (j > cj), BOTH)
    if rules.coherence and last_dlt is not None:
        same = (i == ci) & (j == cj)
        up, down = (i >= ci) & (j >= cj) & ~same, (i <= ci) & (j <= cj) & ~same
        flat = codes.reshape(*codes.shape[:-2], rows * cols)
        at_current = np.take_along_axis(flat, (current[..., 0] * cols + current[..., 1])[
            ..., None], axis=-1)[..., 0]
        known = (np.asarray(last_dlt) >= 0)[..., None, None]
        had = (np.asarray(last_dlt) > 0)[..., None, None]
        still = (at_current == ALLOWED)[..., None, None]
        codes = _bar(codes, known & ((had & up) | (~had & still & down)), COHERENCE)
    if complete is not None:
        flat_done = np.asarray(complete).reshape(*codes.shape[:-2], rows * cols)
        done = np.take_along_axis(flat_done, (current[..., 0] * cols + current[..., 1])[
            ..., None], axis=-1)[..., 0]
        waiting = (done < rules.min_complete_followup)[..., None, None]
        untried_up = (n == 0) & (i >= ci) & (j >= cj)
        codes = _bar(codes, waiting & untried_up, FOLLOWUP)
    return codes


def _highest(given: np.ndarray) -> np.ndarray:
    """The highest index given along the last axis (``NO_DOSE`` if none)."""
    k = given.shape[-1]
    return np.where(given.any(axis=-1), k - 1 - np.argmax(given[..., ::-1], axis=-1), NO_DOSE)


def _bar(codes: np.ndarray, where: np.ndarray, code: int) -> np.ndarray:
    """Bar pairs ``where`` for ``code`` unless an earlier rule already bars them."""
    return np.where(where & (codes == ALLOWED), code, codes)


def _tie_order(rows: int, cols: int) -> np.ndarray:
    """Flat pair indices in tie-break order: by i + j, then by i."""
    i, j = np.divmod(np.arange(rows * cols), cols)
    return np.lexsort((i, i + j))


def next_pair(p_target: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(..., 2): the allowed pair with the highest P(target) (ties as the module says), or
    (``NO_DOSE``, ``NO_DOSE``) where no pair is allowed."""
    p_target = np.asarray(p_target, dtype=float)
    rows, cols = p_target.shape[-2:]
    order = _tie_order(rows, cols)
    flat = p_target.reshape(*p_target.shape[:-2], rows * cols)[..., order]
    allowed = (codes == ALLOWED).reshape(flat.shape)[..., order]
    best = order[np.argmax(np.where(allowed, flat, -np.inf), axis=-1)]
    pair = np.stack(np.divmod(best, cols), axis=-1)
    return np.where(allowed.any(axis=-1)[..., None], pair, NO_DOSE)


def mtd_contour(p_target: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """(..., rows): per row of the grid (a level of drug A), the column (drug B's level) with
    the highest P(target) among ``eligible`` pairs (all if None; ties: the lower level of drug
    B); ``NO_DOSE`` for a row without an eligible pair."""
    p_target = np.asarray(p_target, dtype=float)
    ok = np.ones(p_target.shape, dtype=bool) if eligible is None else np.asarray(eligible)
    best = np.argmax(np.where(ok, p_target, -np.inf), axis=-1)
    return np.where(ok.any(axis=-1), best, NO_DOSE)
