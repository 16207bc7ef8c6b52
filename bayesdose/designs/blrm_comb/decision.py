"""The combination BLRM's next step on a real trial: ``rules`` (EWOC per pair, each drug's
limits, coherence) applied to the posterior tables, then the start, the stops and the MTD as
for one drug (``designs.blrm.rules``), the MTD set, and every decision in words.

- No patient at a pair of the grid yet: the configured start pair (monotherapy rows inform the
  model but start no escalation).
- Safety stop: no pair may be given, the lowest pair (both drugs' lowest levels) has at least
  ``[stopping] safety_min_patients`` and P(overdosing) there above ``safety_probability``.
  Otherwise, with no pair allowed, the lowest pair is given, as the lowest dose is for one drug.
- MTD declared: the next pair has ``mtd_min_patients`` and P(target) >= ``mtd_min_p_target``.
- Maximum sample size (every patient counted, monotherapy too): the MTD is the pair already
  given with the highest P(target) among those EWOC allows (ties as the next pair's).
- The current pair is the last cohort's at a pair of the grid; with aggregated data (order
  unknown) the pair given with the highest sum of levels, then the higher level of drug A,
  and coherence does not apply (the output says so).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bayesdose.data import TrialData
from bayesdose.designs.base import (
    CONTINUE,
    MAX_PATIENTS,
    MTD_DECLARED,
    NO_DOSE,
    SAFETY,
    STOP_REASONS,
)
from bayesdose.designs.blrm_comb.rules import (
    ALLOWED,
    BARRED,
    BOTH,
    COHERENCE,
    FOLLOWUP,
    INCREMENT,
    OVERDOSE,
    ComboRules,
    barred_codes,
    mtd_contour,
    next_pair,
)
from bayesdose.panel import PairPanel
from bayesdose.schema import Design

TIE_RULE = ("the next pair is the allowed pair with the highest P(target); ties go to the "
            "lower sum of both drugs' levels, then the lower level of drug {a}")
MAX_PASSED_OVER = 3  # pairs with a higher P(target) named in the reason; the rest counted


@dataclass(frozen=True)
class ComboDecision:
    """What the trial does next and why. Pairs are flat indices of the design's ``PairPanel``
    (None: none); ``barred_by`` and ``why_barred`` are per pair, row by row; ``contour`` is
    per level of drug A the column of its MTD-set pair (None: no pair of that row is EWOC-
    allowed)."""

    next_pair: int | None
    cohort_size: int
    stop_reason: str | None
    mtd_pair: int | None
    ewoc_met: bool
    barred_by: tuple[str | None, ...]
    why_barred: tuple[str | None, ...]
    current_pair: int | None
    direction: str  # start, escalate, stay, de-escalate, switch (one drug up, one down), stop
    contour: tuple[int | None, ...]
    reason: str

    @property
    def stop(self) -> bool:
        return self.stop_reason is not None

    @property
    def allowed(self) -> tuple[bool, ...]:
        return tuple(b is None for b in self.barred_by)


def combo_rules(design: Design) -> ComboRules:
    """The rules' settings from ``[decision]``."""
    d = design.decision
    return ComboRules(d.max_overdose_probability, d.max_increment, d.allow_skipping,
                      coherence=d.coherence,
                      min_complete_followup=design.cohorts.min_complete_followup)


def current_pair(pairs: PairPanel, data: TrialData) -> tuple[int, int | None]:
    """(the current pair, the last cohort's DLTs or None when the order is unknown): the last
    cohort at a pair of the grid (patient-level data), else the pair given with the highest
    sum of levels, then the higher level of drug A; ``NO_DOSE`` before any pair is given."""
    if data.patients is not None:
        grid = [p for p in data.patients if p.level < pairs.size]
        if not grid:
            return NO_DOSE, None
        last = max(p.cohort for p in grid)
        members = [p for p in grid if p.cohort == last]
        return members[0].level, sum(p.dlt for p in members)
    given = np.flatnonzero(data.n[:pairs.size] > 0)
    if not given.size:
        return NO_DOSE, None
    a, b = np.divmod(given, pairs.shape[1])
    return int(given[np.lexsort((a, a + b))[-1]]), None


@dataclass(frozen=True)
class PairActions:
    """The rules' verdict on a batch of trial states (leading axis): each pair's ``BARRED``
    code (states, rows, columns), the next pair (flat; ``NO_DOSE`` on a stop), the cohort
    size, the stop reason (``designs.base`` codes) and the MTD (flat; ``NO_DOSE``: none)."""

    codes: np.ndarray
    next_pair: np.ndarray
    cohort_size: np.ndarray
    stop_reason: np.ndarray
    mtd_pair: np.ndarray


def decide_batch(design: Design, n_grid: np.ndarray, total: np.ndarray, p_target: np.ndarray,
                 p_overdose: np.ndarray, current: np.ndarray, last_dlt: np.ndarray,
                 complete: np.ndarray | None = None) -> PairActions:
    """The next step of many trial states: per state the patients per pair ``n_grid`` and
    posterior tables (states, rows, columns), all patients ``total`` (monotherapy too), the
    current pair (flat; ``NO_DOSE`` before any pair is given), the last cohort's DLTs
    (negative: unknown) and, on dated data, the patients per pair who completed follow-up
    (``complete``, like ``n_grid``; None: all). ``decide_pairs`` (``recommend``) and the
    simulator (``simulated.BlrmComb``) both decide here."""
    pairs, stopping = design.pair_panel, design.stopping
    rows, cols = pairs.shape
    start = current == NO_DOSE
    centre = np.where(start, design.start_pair, current)
    codes = barred_codes(combo_rules(design), pairs.drugs[0].levels, pairs.drugs[1].levels,
                         p_overdose, n_grid, np.stack(np.divmod(centre, cols), axis=-1),
                         np.where(start, -1, last_dlt), complete)
    allowed = (codes == ALLOWED).reshape(-1, rows * cols).any(axis=1)
    best = _flat_batch(next_pair(p_target, codes), cols)
    at_best = np.maximum(best, 0)[:, None]
    flat_n, flat_target = n_grid.reshape(-1, rows * cols), p_target.reshape(-1, rows * cols)
    nothing = ~start & ~allowed
    safety = nothing & (n_grid[:, 0, 0] >= stopping.safety_min_patients) & (
        p_overdose[:, 0, 0] > stopping.safety_probability)
    declared = ~start & allowed & (
        np.take_along_axis(flat_n, at_best, axis=1)[:, 0] >= stopping.mtd_min_patients) & (
        np.take_along_axis(flat_target, at_best, axis=1)[:, 0] >= stopping.mtd_min_p_target)
    stop = np.where(safety, SAFETY, np.where(declared, MTD_DECLARED, CONTINUE))
    mtd = np.where(declared, best, NO_DOSE)
    full = (stop == CONTINUE) & ~start & (total >= stopping.max_patients)
    ewoc_ok = p_overdose < design.decision.max_overdose_probability
    eligible = np.where((n_grid > 0) & ewoc_ok, ALLOWED, OVERDOSE)
    mtd = np.where(full, _flat_batch(next_pair(p_target, eligible), cols), mtd)
    stop = np.where(full, MAX_PATIENTS, stop)
    chosen = np.where(start, design.start_pair, np.where(nothing, 0, best))
    going = stop == CONTINUE
    size = np.where(going, np.minimum(design.cohorts.size, stopping.max_patients - total), 0)
    return PairActions(codes, np.where(going, chosen, NO_DOSE), size, stop, mtd)


def _flat_batch(pair: np.ndarray, cols: int) -> np.ndarray:
    """(..., 2) (row, column) pairs as flat indices, ``NO_DOSE`` kept."""
    return np.where(pair[..., 0] == NO_DOSE, NO_DOSE, pair[..., 0] * cols + pair[..., 1])


def decide_pairs(design: Design, n_grid: np.ndarray, total: int, p_target: np.ndarray,
                 p_overdose: np.ndarray, current: int, last_dlt: int | None,
                 complete: np.ndarray | None = None) -> ComboDecision:
    """The next step from per-pair patients ``n_grid`` and posterior tables (rows: drug A's
    levels), ``total`` patients of the trial (monotherapy included), the current pair (flat;
    ``NO_DOSE`` before any pair is given), the last cohort's DLTs (None: unknown) and the
    patients per pair who completed follow-up (None: all), with every decision in words."""
    pairs = design.pair_panel
    start = current == NO_DOSE
    centre = design.start_pair if start else current
    act = decide_batch(design, n_grid[None], np.array([total]), p_target[None],
                       p_overdose[None], np.array([current]),
                       np.array([-1 if last_dlt is None else last_dlt]),
                       None if complete is None else complete[None])
    codes = act.codes[0]
    stop_code, mtd, chosen = int(act.stop_reason[0]), int(act.mtd_pair[0]), int(act.next_pair[0])
    stop = None if stop_code == CONTINUE else STOP_REASONS[stop_code]
    ewoc_ok = p_overdose < design.decision.max_overdose_probability
    contour = tuple(None if c == NO_DOSE else int(c) for c in mtd_contour(p_target, ewoc_ok))
    why = tuple(_why_barred(design, int(code), k, p_overdose.ravel()[k], centre, n_grid)
                for k, code in enumerate(codes.ravel()))
    decision = ComboDecision(
        None if stop else chosen, int(act.cohort_size[0]), stop,
        None if mtd == NO_DOSE else mtd, bool((codes == ALLOWED).any()) or start,
        tuple(BARRED[c] for c in codes.ravel()), why, None if start else current,
        "stop" if stop else pair_direction(pairs, None if start else current, chosen),
        contour, "")
    return replace(decision, reason=_reason(design, decision, n_grid.ravel(), p_target.ravel(),
                                            p_overdose.ravel(), total, start))


def pair_direction(pairs: PairPanel, current: int | None, chosen: int) -> str:
    """The move from the current pair to the next: ``start``, ``stay``, ``escalate`` (no drug
    lower, one higher), ``de-escalate`` (no drug higher), or ``switch`` (one up, one down)."""
    if current is None:
        return "start"
    (ci, cj), (ni, nj) = pairs.pair(current), pairs.pair(chosen)
    if (ni, nj) == (ci, cj):
        return "stay"
    if ni >= ci and nj >= cj:
        return "escalate"
    return "de-escalate" if ni <= ci and nj <= cj else "switch"


def _why_barred(design: Design, code: int, k: int, p_overdose: float, current: int,
                n_grid: np.ndarray) -> str | None:
    """The rule that bars pair ``k``, as a sentence with its numbers (None: allowed)."""
    pairs, decision = design.pair_panel, design.decision
    if code == ALLOWED:
        return None
    if code == OVERDOSE:
        return (f"EWOC: P(overdosing) {p_overdose:.3f} >= "
                f"{decision.max_overdose_probability:g}")
    here, there = pairs.pair(current), pairs.pair(k)
    if code == INCREMENT:
        cap = 1 + decision.max_increment
        drugs = [f"{name} {panel.label(there[d])} > {cap:g} x {panel.label(here[d])}"
                 for d, (name, panel) in enumerate(zip(pairs.names, pairs.drugs, strict=True))
                 if panel.dose(there[d]) > cap * panel.dose(here[d]) * (1 + 1e-12)]
        return f"increment: {'; '.join(drugs)} (its dose in the current pair)"
    if code == BOTH:
        return f"both drugs above the current pair ({pairs.label(current)}): one at a time"
    if code == COHERENCE:
        return ("coherence: no escalation right after a cohort with a DLT"
                if there[0] >= here[0] and there[1] >= here[1]
                else "coherence: no de-escalation right after a cohort without a DLT")
    if code == FOLLOWUP:
        return (f"follow-up: {design.cohorts.min_complete_followup} patient(s) must first "
                f"complete the DLT window at the current pair ({pairs.label(current)})")
    given = [n_grid.any(axis=1), n_grid.any(axis=0)]
    skipped = [f"{name} {panel.label(there[d])}" for d, (name, panel)
               in enumerate(zip(pairs.names, pairs.drugs, strict=True))
               if there[d] > _highest(given[d]) + 1]
    return f"no skipping: {' and '.join(skipped)} is more than one level above its highest given"


def _highest(given: np.ndarray) -> int:
    where = np.flatnonzero(given)
    return int(where[-1]) if where.size else NO_DOSE


def _reason(design: Design, d: ComboDecision, n: np.ndarray, p_target: np.ndarray,
            p_overdose: np.ndarray, total: int, start: bool) -> str:
    pairs, stopping = design.pair_panel, design.stopping
    label = pairs.label
    if start:
        return f"no patients at a pair yet: start at {label(design.start_pair)}"
    if d.stop_reason == "safety":
        return (f"the lowest pair is too toxic: P(DLT rate there >= "
                f"{design.decision.target_interval[1]:g}) = {p_overdose[0]:.3f} > "
                f"{stopping.safety_probability:g} with {int(n[0])} patients")
    if d.stop_reason == "mtd_declared":
        return (f"MTD declared: {label(d.mtd_pair)} has {int(n[d.mtd_pair])} patients "
                f"(>= {stopping.mtd_min_patients}) and P(target) = {p_target[d.mtd_pair]:.3f} "
                f">= {stopping.mtd_min_p_target:g}")
    if d.stop_reason == "max_patients":
        mtd = label(d.mtd_pair) if d.mtd_pair is not None else "none (no given pair meets EWOC)"
        return f"maximum sample size {stopping.max_patients} reached ({total}); MTD: {mtd}"
    if not d.ewoc_met:
        return (f"no pair meets EWOC; the lowest pair {label(0)} is given, although it does "
                f"not (P(overdosing) = {p_overdose[0]:.3f})")
    chosen = d.next_pair
    higher = [k for k in np.argsort(-p_target, kind="stable")
              if d.why_barred[k] is not None and p_target[k] > p_target[chosen]]
    passed = [f"{label(k)} ({p_target[k]:.3f}) is barred ({d.why_barred[k]})"
              for k in higher[:MAX_PASSED_OVER]]
    if len(higher) > MAX_PASSED_OVER:
        passed.append(f"{len(higher) - MAX_PASSED_OVER} more pairs with a higher P(target) "
                      "are barred")
    tied = [k for k in range(len(p_target)) if k != chosen and d.why_barred[k] is None
            and p_target[k] == p_target[chosen]]
    tie = (f", tied with {', '.join(label(k) for k in tied)} (ties: the lower sum of levels, "
           "then the lower level of drug " + pairs.names[0] + ")") if tied else ""
    return "; ".join([*passed, f"{label(chosen)} has the highest P(target) "
                      f"({p_target[chosen]:.3f}) among allowed pairs{tie}"])
