"""Whether the target interval and the EWOC threshold leave the target dose reachable.

A tight interval above the target (``[decision] target_interval``'s upper bound close to
``[decision] target``) with a strict EWOC threshold bars, once its patients are in, the very
dose whose true DLT rate is the target: the design then settles below the MTD. This module
measures that before a trial starts, so ``validate`` and ``recommend`` can say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.posterior import exact_engine
from bayesdose.predictive import binomial_pmf
from bayesdose.schema import Design

WARN_ABOVE = 0.5  # a note when EWOC bars such a dose in more trials than this


@dataclass(frozen=True)
class Reachability:
    """The largest probability over doses that EWOC bars a dose whose true DLT rate is the
    target, after ``patients`` patients there: ``p_barred`` at the dose of ``level``."""

    p_barred: float
    level: int
    patients: int


MAX_CHECKED_PATIENTS = 60


def checked_patients(design: Design) -> int:
    """n of ``target_reachability``: ``[stopping] mtd_min_patients``, but no more than a trial
    can treat (``max_patients``)."""
    return min(design.stopping.mtd_min_patients, design.stopping.max_patients)


def target_reachability(design: Design) -> Reachability:
    """For each dose d of the panel: with n = ``[stopping] mtd_min_patients`` patients at d
    only (no other data) and their DLTs ~ Binomial(n, ``[decision] target``), the probability
    that EWOC bars d, i.e. the binomial-weighted share of the n + 1 outcomes whose exact
    posterior P(overdosing) at d is >= ``[decision] max_overdose_probability``; the largest
    over doses. One batch of the exact engine ((n + 1) x doses data sets), under the design's
    prior (not for ``[model] prior = "exnex"``, whose decisions come from MCMC)."""
    n = checked_patients(design)
    doses = len(design.levels)
    outcomes = np.arange(n + 1)
    counts = np.zeros((doses, n + 1, doses))  # (dose d, DLTs, panel)
    dlts = np.zeros_like(counts)
    counts[np.arange(doses), :, np.arange(doses)] = n
    dlts[np.arange(doses), :, np.arange(doses)] = outcomes
    batch = exact_engine(design).batch(counts.reshape(-1, doses), dlts.reshape(-1, doses))
    p_over = batch.p_overdose.reshape(doses, n + 1, doses)[np.arange(doses), :, np.arange(doses)]
    barred = p_over >= design.decision.max_overdose_probability  # (dose, DLTs)
    target = np.array([design.decision.target])
    share = barred @ binomial_pmf(n, target, 1 - target)[:, 0]
    level = int(np.argmax(share))
    return Reachability(float(share[level]), level, n)


def reachability_note(design: Design) -> str | None:
    """The note of ``validate`` and ``recommend`` when EWOC bars a dose whose true DLT rate is
    the target in more than half of trials (``target_reachability``), None otherwise; not
    checked beyond ``MAX_CHECKED_PATIENTS`` at the dose (the batch grows with n, and with that
    many patients the interval's room above the target is rarely what bars a dose)."""
    if checked_patients(design) > MAX_CHECKED_PATIENTS:
        return None
    reach = target_reachability(design)
    if reach.p_barred <= WARN_ABOVE:
        return None
    decision = design.decision
    lo, hi = decision.target_interval
    return (f"a dose whose true DLT rate equals the target {decision.target:.2f} is barred by "
            f"EWOC in {reach.p_barred:.0%} of trials after {reach.patients} patients there (at "
            f"{design.format_dose(design.panel.dose(reach.level))}; target interval "
            f"[{lo:.2f}, {hi:.2f}), EWOC {decision.max_overdose_probability:g}): the interval "
            "leaves little room above the target under this prior; consider a wider upper bound "
            "or a higher threshold (or check the prior at that dose)")
