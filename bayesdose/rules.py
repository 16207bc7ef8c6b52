"""Decision rules of BLRM-EWOC: which doses are allowed, the next dose, and when to stop.

Escalation with overdose control (Babb, Rogatko & Zacks 1998; in the interval form of
Neuenschwander, Branson & Gsponer 2008): a dose is allowed when P(overdosing) is below the
threshold. Among allowed doses that the escalation limits also permit, the next dose is the one
with the highest P(target). The simulator calls ``decide`` too, so a simulated trial makes
exactly the decision ``bayesdose recommend`` makes on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.design import Design

# Why a dose is barred, in the order they are checked; the first that applies is reported.
BARRED_TEXT = {
    "overdose_probability": "P(overdosing) too high (EWOC)",
    "skipping": "would skip an untried dose",
    "increment": "above the maximum increment",
    "coherence": "coherence: the last cohort",
    "followup": "waiting for complete DLT follow-up",
}


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

    @property
    def stop(self) -> bool:
        return self.stop_reason is not None

    @property
    def allowed(self) -> tuple[bool, ...]:
        return tuple(b is None for b in self.barred_by)


def barred_reasons(
    design: Design,
    n: np.ndarray,
    p_overdose: np.ndarray,
    last_cohort: tuple[int, int] | None,
    complete: np.ndarray | None = None,
) -> list[str | None]:
    """For each dose, the first rule that bars it, or None if it may be given next.

    ``complete`` counts patients per dose whose DLT follow-up is over (None: all are).
    """
    levels = np.asarray(design.levels)
    ewoc = p_overdose < design.decision.max_overdose_probability
    given = np.flatnonzero(n > 0)
    reasons: list[str | None] = [None if ok else "overdose_probability" for ok in ewoc]
    if given.size == 0:
        return reasons
    highest = int(given[-1])
    cap = (1 + design.decision.max_increment) * levels[highest]
    for k in range(highest + 1, len(levels)):
        if reasons[k] is not None:
            continue
        if not design.decision.allow_skipping and k > highest + 1:
            reasons[k] = "skipping"
        elif k > highest + 1 and levels[k] > cap * (1 + 1e-12):
            reasons[k] = "increment"
    if complete is not None and complete[highest] < design.cohorts.min_complete_followup:
        for k in range(highest + 1, len(levels)):
            reasons[k] = reasons[k] or "followup"
    if design.decision.coherence and last_cohort is not None:
        _apply_coherence(reasons, last_cohort)
    return reasons


def _apply_coherence(reasons: list[str | None], last_cohort: tuple[int, int]) -> None:
    """No escalation after a cohort with a DLT; no de-escalation after one without, as long
    as EWOC still allows the last cohort's dose (safety comes first)."""
    level, dlts = last_cohort
    if dlts > 0:
        for k in range(level + 1, len(reasons)):
            reasons[k] = reasons[k] or "coherence"
    elif reasons[level] is None:
        for k in range(level):
            reasons[k] = reasons[k] or "coherence"


def decide(
    design: Design,
    n: np.ndarray,
    dlt: np.ndarray,
    p_target: np.ndarray,
    p_overdose: np.ndarray,
    last_cohort: tuple[int, int] | None,
    complete: np.ndarray | None = None,
) -> Decision:
    """The next step of the trial from its per-dose counts and posterior probabilities.

    ``last_cohort`` is (level, DLTs) of the most recent cohort, or None when the order of
    cohorts is unknown (aggregated data) or no one has been treated. ``complete``: patients
    per dose whose DLT follow-up is over, with dated data (None: all of them).
    """
    stopping = design.stopping
    total = int(n.sum())
    barred = barred_reasons(design, n, p_overdose, last_cohort, complete)
    candidates = [k for k, b in enumerate(barred) if b is None]
    fmt = design.format_dose

    if total == 0:
        start = design.start_level
        return Decision(
            start, _cohort_size(design, start, 0, 0), None, None, True, tuple(barred),
            _phase(design, start, 0), f"no patients yet: start at {fmt(design.levels[start])}",
        )

    if not candidates:
        p_tox_lowest = float(p_overdose[0])
        if n[0] >= stopping.safety_min_patients and p_tox_lowest > stopping.safety_probability:
            return Decision(
                None, 0, "safety", None, False, tuple(barred), "stopped",
                f"stop for safety: P(DLT rate at the lowest dose >= "
                f"{design.decision.target_interval[1]:g}) = {p_tox_lowest:.3f} > "
                f"{stopping.safety_probability:g} with {int(n[0])} patients there",
            )
        next_level = 0
        ewoc_met = False
        reason = (
            f"no dose meets EWOC; the lowest dose {fmt(design.levels[0])} is given, "
            f"although it does not meet EWOC (P(overdosing) = {p_overdose[0]:.3f})"
        )
    else:
        next_level = max(candidates, key=lambda k: (p_target[k], -k))
        ewoc_met = True
        reason = (
            f"{fmt(design.levels[next_level])} has the highest P(target) "
            f"({p_target[next_level]:.3f}) among allowed doses"
        )

    if n[next_level] >= stopping.mtd_min_patients and p_target[next_level] >= (
        stopping.mtd_min_p_target
    ) and ewoc_met:
        return Decision(
            None, 0, "mtd_declared", next_level, True, tuple(barred), "stopped",
            f"MTD declared: {fmt(design.levels[next_level])} has {int(n[next_level])} patients "
            f"(>= {stopping.mtd_min_patients}) and P(target) = {p_target[next_level]:.3f} "
            f">= {stopping.mtd_min_p_target:g}",
        )
    if total >= stopping.max_patients:
        mtd = best_given_dose(n, p_target, p_overdose < design.decision.max_overdose_probability)
        mtd_text = fmt(design.levels[mtd]) if mtd is not None else "none (no given dose is allowed)"
        return Decision(
            None, 0, "max_patients", mtd, ewoc_met, tuple(barred), "stopped",
            f"maximum sample size {stopping.max_patients} reached; MTD: {mtd_text}",
        )
    return Decision(
        next_level, _cohort_size(design, next_level, total, int(dlt.sum())), None, None,
        ewoc_met, tuple(barred), _phase(design, next_level, int(dlt.sum())), reason,
    )


def best_given_dose(n: np.ndarray, p_target: np.ndarray, ewoc_ok: np.ndarray) -> int | None:
    """The dose with the highest P(target) among doses already given that EWOC allows."""
    given = [k for k in range(len(n)) if n[k] > 0 and ewoc_ok[k]]
    if not given:
        return None
    return max(given, key=lambda k: (p_target[k], -k))


def _phase(design: Design, next_level: int, total_dlts: int) -> str:
    """Accelerated titration lasts until the first DLT or past the configured level."""
    until = design.cohorts.titration_until_level
    return "titration" if total_dlts == 0 and next_level < until else "escalation"


def _cohort_size(design: Design, next_level: int, total: int, total_dlts: int) -> int:
    size = 1 if _phase(design, next_level, total_dlts) == "titration" else design.cohorts.size
    return min(size, design.stopping.max_patients - total)
