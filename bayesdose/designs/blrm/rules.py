"""Decision rules of BLRM-EWOC: which doses are allowed, the next dose, and when to stop.

Escalation with overdose control (Babb, Rogatko & Zacks 1998; in the interval form of
Neuenschwander, Branson & Gsponer 2008): a dose is allowed when P(overdosing) is below the
threshold. Among allowed doses that the escalation limits also permit, the next dose is the one
with the highest P(target).

``decide_batch`` applies the rules to many trial states at once (array arithmetic: the simulator
decides thousands of new states per step); ``decide`` is one row of it, with the reasons in
words for ``bayesdose recommend``. There is one implementation of the rules, so a simulated
trial makes exactly the decision ``recommend`` makes on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.designs.base import (
    CONTINUE,
    MAX_PATIENTS,
    MTD_DECLARED,
    NO_DOSE,
    SAFETY,
    STOP_REASONS,
    direction,
)
from bayesdose.designs.titration import single_patient
from bayesdose.schema import Design

# Why a dose is barred, in the order they are checked (the first that applies is reported;
# ``_why_barred`` says it in words with its numbers); codes of ``Decisions.barred``: 0 allowed.
BARRED = (None, "overdose_probability", "skipping", "increment", "coherence", "followup")
ALLOWED, OVERDOSE, SKIPPING, INCREMENT, COHERENCE, FOLLOWUP = range(len(BARRED))


@dataclass(frozen=True)
class Decision:
    """What the design does next, and why, for each dose."""

    next_level: int | None  # 0-based; None when the trial stops
    cohort_size: int
    stop_reason: str | None  # None | "safety" | "mtd_declared" | "max_patients"
    mtd_level: int | None
    ewoc_met: bool
    barred_by: tuple[str | None, ...]
    phase: str  # "titration" | "escalation" | "stopped"
    reason: str
    notes: tuple[str, ...] = ()
    current_level: int | None = None  # the last cohort's dose (the highest given, aggregated)
    direction: str = "start"  # "start" | "escalate" | "stay" | "de-escalate" | "stop"
    why_barred: tuple[str | None, ...] = ()  # per dose: the rule that bars it, with numbers

    @property
    def stop(self) -> bool:
        return self.stop_reason is not None

    @property
    def allowed(self) -> tuple[bool, ...]:
        return tuple(b is None for b in self.barred_by)


@dataclass(frozen=True)
class Decisions:
    """Decisions for a batch of trial states (rows), as codes: the next dose (0-based,
    ``NO_DOSE`` on a stop) and cohort size (0 on a stop), the stop reason (index into
    ``STOP_REASONS``), the MTD (``NO_DOSE``: none or not yet), whether EWOC was met, why each
    dose is barred (index into ``BARRED``), and whether the next cohort is in titration."""

    next_level: np.ndarray
    cohort_size: np.ndarray
    stop_reason: np.ndarray
    mtd_level: np.ndarray
    ewoc_met: np.ndarray
    barred: np.ndarray  # (states, doses)
    titration: np.ndarray


def barred_codes(
    design: Design,
    n: np.ndarray,
    p_overdose: np.ndarray,
    last_level: np.ndarray,
    last_dlt: np.ndarray,
    complete: np.ndarray | None = None,
) -> np.ndarray:
    """(states, doses): the first rule that bars each dose (a ``BARRED`` code), 0 if it may be
    given next. ``last_level`` is the last cohort's dose (``NO_DOSE`` when unknown or none),
    ``complete`` counts patients per dose whose DLT follow-up is over (None: all are)."""
    decision = design.decision
    doses = np.arange(n.shape[1])
    codes = np.where(p_overdose < decision.max_overdose_probability, ALLOWED, OVERDOSE)
    treated = n > 0
    given = treated.any(axis=1)
    highest = np.where(given, n.shape[1] - 1 - np.argmax(treated[:, ::-1], axis=1), NO_DOSE)
    above = given[:, None] & (doses > highest[:, None])  # doses above the highest given
    beyond_next = above & (doses > highest[:, None] + 1)
    if not decision.allow_skipping:
        codes = _bar(codes, beyond_next, SKIPPING)
    else:
        levels = np.asarray(design.levels)
        cap = (1 + decision.max_increment) * levels[np.maximum(highest, 0)]
        codes = _bar(codes, beyond_next & (levels > cap[:, None] * (1 + 1e-12)), INCREMENT)
    if complete is not None:
        waiting = complete[np.arange(n.shape[0]), highest] < design.cohorts.min_complete_followup
        codes = _bar(codes, above & waiting[:, None], FOLLOWUP)
    if decision.coherence:
        codes = _coherence(codes, np.where(given, last_level, NO_DOSE), last_dlt)
    return codes


def _bar(codes: np.ndarray, where: np.ndarray, code: int) -> np.ndarray:
    """Bar doses ``where`` for ``code`` unless an earlier rule already bars them."""
    return np.where(where & (codes == ALLOWED), code, codes)


def _coherence(codes: np.ndarray, last_level: np.ndarray, last_dlt: np.ndarray) -> np.ndarray:
    """No escalation after a cohort with a DLT; no de-escalation after one without, as long
    as EWOC still allows the last cohort's dose (safety comes first)."""
    doses = np.arange(codes.shape[1])
    known = last_level >= 0
    level = np.maximum(last_level, 0)
    still_allowed = codes[np.arange(codes.shape[0]), level] == ALLOWED
    up = known & (last_dlt > 0)
    down = known & (last_dlt == 0) & still_allowed
    barred = (up[:, None] & (doses > level[:, None])) | (down[:, None] & (doses < level[:, None]))
    return _bar(codes, barred, COHERENCE)


def decide_batch(
    design: Design,
    n: np.ndarray,
    dlt: np.ndarray,
    p_target: np.ndarray,
    p_overdose: np.ndarray,
    last_level: np.ndarray,
    last_dlt: np.ndarray,
    complete: np.ndarray | None = None,
    escalated: np.ndarray | None = None,
) -> Decisions:
    """The next step of each trial state (rows of per-dose counts and posterior
    probabilities; see ``barred_codes`` for the rest). ``escalated``: the escalation patients
    ``max_patients`` counts when the data hold backfill patients (None: every patient)."""
    stopping = design.stopping
    rows = np.arange(n.shape[0])
    total, total_dlt = n.sum(axis=1), dlt.sum(axis=1)
    counted = total if escalated is None else escalated
    barred = barred_codes(design, n, p_overdose, last_level, last_dlt, complete)
    allowed = barred == ALLOWED
    ewoc_met = allowed.any(axis=1)
    best = np.argmax(np.where(allowed, p_target, -np.inf), axis=1)  # ties: the lowest dose
    start = total == 0
    next_level = np.where(start, design.start_level, np.where(ewoc_met, best, 0))
    safety = ~start & ~ewoc_met & (n[:, 0] >= stopping.safety_min_patients) & (
        p_overdose[:, 0] > stopping.safety_probability)
    declared = ~start & ewoc_met & (n[rows, next_level] >= stopping.mtd_min_patients) & (
        p_target[rows, next_level] >= stopping.mtd_min_p_target)
    full = ~start & ~safety & ~declared & (counted >= stopping.max_patients)
    stop_reason = np.select([safety, declared, full], [SAFETY, MTD_DECLARED, MAX_PATIENTS],
                            CONTINUE)
    ewoc_ok = p_overdose < design.decision.max_overdose_probability
    mtd_level = np.where(declared, next_level,
                         np.where(full, best_given_dose(n, p_target, ewoc_ok), NO_DOSE))
    going = stop_reason == CONTINUE
    titration = going & single_patient(total_dlt, next_level, design.cohorts.titration_until_level)
    size = np.minimum(np.where(titration, 1, design.cohorts.size),
                      stopping.max_patients - counted)
    return Decisions(np.where(going, next_level, NO_DOSE), np.where(going, size, 0),
                     stop_reason, mtd_level, ewoc_met | start, barred, titration)


def decision_margin(design: Design, decisions: Decisions, n: np.ndarray, p_target: np.ndarray,
                    p_overdose: np.ndarray) -> np.ndarray:
    """Per state, how far the probabilities ``decide_batch`` read lie from changing its
    decision: the smallest distance of one from a threshold it is compared with (EWOC at every
    dose, the safety stop, the MTD declaration at the dose chosen), and half the lead of the
    dose chosen by P(target) over the next best (among the allowed doses, and among the given
    doses EWOC allows: the MTD at the maximum sample size), both values moving. Two
    posteriors within this of each other at every dose decide alike."""
    stopping = design.stopping
    threshold = design.decision.max_overdose_probability
    rows = np.arange(n.shape[0])
    allowed = decisions.barred == ALLOWED
    best = np.argmax(np.where(allowed, p_target, -np.inf), axis=1)
    declaring = allowed.any(axis=1) & (n[rows, best] >= stopping.mtd_min_patients)
    gaps = np.column_stack([
        selection_margin(n, p_target, p_overdose, threshold),
        np.where(n[:, 0] >= stopping.safety_min_patients,
                 np.abs(p_overdose[:, 0] - stopping.safety_probability), np.inf),
        np.where(declaring, np.abs(p_target[rows, best] - stopping.mtd_min_p_target), np.inf),
        _lead(p_target, allowed) / 2,
    ])
    return np.where(n.sum(axis=1) == 0, np.inf, gaps.min(axis=1))


def selection_margin(n: np.ndarray, p_target: np.ndarray, p_overdose: np.ndarray,
                     threshold: float) -> np.ndarray:
    """Per state, how far the probabilities lie from changing ``best_given_dose``'s choice
    (the MTD at the maximum sample size) or EWOC's call at any dose: the smallest distance of
    P(overdosing) from ``threshold``, and half the lead of the chosen dose's P(target) over
    the next best among the given doses EWOC allows."""
    return np.minimum(np.abs(p_overdose - threshold).min(axis=1),
                      _lead(p_target, (n > 0) & (p_overdose < threshold)) / 2)


def _lead(values: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Per row, the highest eligible value less the next highest (inf with fewer than two)."""
    ordered = np.sort(np.where(eligible, values, -1.0), axis=1)  # below every probability
    return np.where(eligible.sum(axis=1) >= 2, ordered[:, -1] - ordered[:, -2], np.inf)


def best_given_dose(n: np.ndarray, p_target: np.ndarray, ewoc_ok: np.ndarray) -> np.ndarray:
    """Per state, the dose with the highest P(target) among doses already given that EWOC
    allows (ties: the lowest dose); ``NO_DOSE`` when there is none."""
    eligible = (n > 0) & ewoc_ok
    best = np.argmax(np.where(eligible, p_target, -np.inf), axis=1)
    return np.where(eligible.any(axis=1), best, NO_DOSE)


def decide(
    design: Design,
    n: np.ndarray,
    dlt: np.ndarray,
    p_target: np.ndarray,
    p_overdose: np.ndarray,
    last_cohort: tuple[int, int] | None,
    complete: np.ndarray | None = None,
    escalated: int | None = None,
) -> Decision:
    """The next step of one trial from its per-dose counts and posterior probabilities.

    ``last_cohort`` is (level, DLTs) of the most recent cohort, or None when the order of
    cohorts is unknown (aggregated data) or no one has been treated. ``complete``: patients
    per dose whose DLT follow-up is over, with dated data (None: all of them). ``escalated``:
    the escalation patients ``max_patients`` counts (None: every patient).
    """
    level, dlts = last_cohort if last_cohort is not None else (NO_DOSE, 0)
    n, dlt = np.asarray(n), np.asarray(dlt)
    p_target, p_overdose = np.asarray(p_target), np.asarray(p_overdose)
    one = decide_batch(design, n[None], dlt[None], p_target[None], p_overdose[None],
                       np.array([level]), np.array([dlts]),
                       None if complete is None else np.asarray(complete)[None],
                       None if escalated is None else np.array([escalated]))
    stop = STOP_REASONS[int(one.stop_reason[0])]
    next_level, mtd = int(one.next_level[0]), int(one.mtd_level[0])
    phase = "stopped" if stop != "none" else "titration" if one.titration[0] else "escalation"
    current = level if level != NO_DOSE else _highest_given(n)
    why = tuple(_why_barred(design, code, k, p_overdose[k], level, n)
                for k, code in enumerate(one.barred[0]))
    return Decision(
        None if next_level == NO_DOSE else next_level, int(one.cohort_size[0]),
        None if stop == "none" else stop, None if mtd == NO_DOSE else mtd,
        bool(one.ewoc_met[0]), tuple(BARRED[c] for c in one.barred[0]), phase,
        _reason(design, n, p_target, p_overdose, one, why),
        current_level=None if current == NO_DOSE else current,
        direction=direction(stop != "none", current, next_level), why_barred=why,
    )


def _highest_given(n: np.ndarray) -> int:
    given = np.flatnonzero(n > 0)
    return int(given[-1]) if given.size else NO_DOSE


def _why_barred(design: Design, code: int, k: int, p_overdose: float, last_level: int,
                n: np.ndarray) -> str | None:
    """The rule that bars dose ``k``, as a sentence with its numbers (None: allowed)."""
    decision, label = design.decision, design.panel.label
    if code == ALLOWED:
        return None
    if code == OVERDOSE:
        return (f"EWOC: P(overdosing) {p_overdose:.3f} >= "
                f"{decision.max_overdose_probability:g}")
    if code == SKIPPING:
        return f"no skipping: {label(_highest_given(n) + 1)} is untried"
    if code == INCREMENT:
        return (f"increment: more than {1 + decision.max_increment:g} x the highest dose "
                f"given ({label(_highest_given(n))})")
    if code == COHERENCE:
        return ("coherence: no escalation right after a cohort with a DLT" if k > last_level
                else "coherence: no de-escalation right after a cohort without a DLT")
    return (f"follow-up: {design.cohorts.min_complete_followup} patient(s) must first "
            f"complete the DLT window at {label(_highest_given(n))}")


def _reason(design: Design, n: np.ndarray, p_target: np.ndarray, p_overdose: np.ndarray,
            one: Decisions, why: tuple[str | None, ...]) -> str:
    """The decision of a one-row batch ``one`` in words."""
    label, stopping = design.panel.label, design.stopping
    stop, level, mtd = int(one.stop_reason[0]), int(one.next_level[0]), int(one.mtd_level[0])
    if n.sum() == 0:
        return f"no patients yet: start at {label(level)}"
    if stop == SAFETY:
        return (f"the lowest dose is too toxic: P(DLT rate there >= "
                f"{design.decision.target_interval[1]:g}) = {p_overdose[0]:.3f} > "
                f"{stopping.safety_probability:g} with {int(n[0])} patients")
    if stop == MTD_DECLARED:
        return (f"MTD declared: {label(mtd)} has {int(n[mtd])} patients "
                f"(>= {stopping.mtd_min_patients}) and P(target) = {p_target[mtd]:.3f} "
                f">= {stopping.mtd_min_p_target:g}")
    if stop == MAX_PATIENTS:
        mtd_text = label(mtd) if mtd != NO_DOSE else "none (no given dose is allowed)"
        return f"maximum sample size {stopping.max_patients} reached; MTD: {mtd_text}"
    if not one.ewoc_met[0]:
        return (f"no dose meets EWOC; the lowest dose {label(0)} is given, "
                f"although it does not meet EWOC (P(overdosing) = {p_overdose[0]:.3f})")
    passed_over = [f"{label(k)}, with a higher P(target) ({p_target[k]:.3f}), is barred "
                   f"({why[k]})" for k in range(len(p_target))
                   if why[k] is not None and p_target[k] > p_target[level]]
    return "; ".join([*passed_over, f"{label(level)} has the highest P(target) "
                      f"({p_target[level]:.3f}) among allowed doses"])
