"""What the prior implies before any patient: per dose, the prior mean and 95% interval of
P(DLT), the prior interval probabilities and the prior's effective sample size, from the exact
engine with no data (the same computation as ``bayesdose recommend`` on an empty data file).
The design report has no trial data, so no prior-data conflict here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.data import TrialData
from bayesdose.posterior import exact_summary, prior_ess
from bayesdose.schema import Design


@dataclass(frozen=True)
class PriorDose:
    """The prior at one dose level."""

    level: int  # 0-based
    mean: float
    median: float
    q025: float
    q975: float
    p_underdose: float
    p_target: float
    p_overdose: float
    ewoc_ok: bool  # P(overdosing) below the EWOC threshold before any data
    ess: float  # how many patients the prior weighs at this dose (``prior_ess``)


def prior_per_dose(design: Design) -> list[PriorDose]:
    """The prior summary of P(DLT | dose) for every dose level."""
    zeros = np.zeros(len(design.levels), dtype=np.int64)
    summary, _ = exact_summary(design, TrialData(zeros, zeros, patients=(), source="prior"))
    threshold = design.decision.max_overdose_probability
    ess = prior_ess(design)

    def value(name: str, k: int) -> float:
        return float(summary[name].values[k])

    return [
        PriorDose(
            k, value("mean", k), value("median", k), value("q025", k), value("q975", k),
            value("p_underdose", k), value("p_target", k), value("p_overdose", k),
            value("p_overdose", k) < threshold, float(ess[k]),
        )
        for k in range(len(design.levels))
    ]
