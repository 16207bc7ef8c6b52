"""What the prior implies before any patient: per dose, the prior mean and 95% interval of
P(DLT), the prior interval probabilities and the prior's effective sample size, from the exact
engine with no data (the same computation as ``bayesdose recommend`` on an empty data file);
and what the prior predicts for a first cohort at each dose, with the number of DLTs from which
``recommend``'s prior-data conflict measure would flag it (the design report has no trial
data, so this is the conflict measure's reading before the trial)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.conflict import conflict_threshold
from bayesdose.data import TrialData
from bayesdose.posterior import exact_engine, exact_summary, prior_ess
from bayesdose.predictive import grid_predictive
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
    predictive: tuple[float, ...]  # P(0 .. size DLTs in a cohort of [cohorts] size)
    conflict_from: int | None  # the fewest DLTs in that cohort the conflict measure flags


def prior_per_dose(design: Design) -> list[PriorDose]:
    """The prior summary of P(DLT | dose) for every dose level."""
    zeros = np.zeros(len(design.levels), dtype=np.int64)
    summary, _ = exact_summary(design, TrialData(zeros, zeros, patients=(), source="prior"))
    threshold = design.decision.max_overdose_probability
    ess = prior_ess(design)
    predictive = grid_predictive(design.cohorts.size, exact_engine(design).prior_on_grid)

    def value(name: str, k: int) -> float:
        return float(summary[name].values[k])

    return [
        PriorDose(
            k, value("mean", k), value("median", k), value("q025", k), value("q975", k),
            value("p_underdose", k), value("p_target", k), value("p_overdose", k),
            value("p_overdose", k) < threshold, float(ess[k]),
            tuple(float(p) for p in predictive[k]), conflict_threshold(predictive[k]),
        )
        for k in range(len(design.levels))
    ]


@dataclass(frozen=True)
class HistoricalRow:
    """One dose of one historical trial, with the observed DLT rate and its exact 95%
    interval (Clopper & Pearson 1934)."""

    trial: str
    dose: float
    n: int
    dlt: int
    rate: float | None
    low: float | None
    high: float | None


def historical_rows(design: Design) -> list[HistoricalRow]:
    """The ``[historical]`` trials row by row (none when the design has none)."""
    from scipy.stats import beta

    trials = design.historical_trials
    if trials is None:
        return []
    rows = []
    for t, dose, n, y in zip(trials.trial, trials.dose, trials.n, trials.dlt, strict=True):
        low = 0.0 if y == 0 else float(beta.ppf(0.025, y, n - y + 1)) if n else None
        high = 1.0 if y == n else float(beta.ppf(0.975, y + 1, n - y)) if n else None
        rows.append(HistoricalRow(trials.names[t], dose, n, y, y / n if n else None, low, high))
    return rows


@dataclass(frozen=True)
class PriorAlternative:
    """A prior of the sensitivity table: its name, kind, what it implies before any data
    (prior mean P(DLT) and P(overdosing) per dose, prior effective sample size per dose) and
    the doses EWOC allows before any data."""

    name: str
    kind: str
    mean: tuple[float, ...]
    p_overdose: tuple[float, ...]
    ess: tuple[float, ...]
    allowed: tuple[str, ...]  # the doses, as the report writes them


def prior_alternatives(design: Design) -> list[PriorAlternative]:
    """The design's prior and each ``[[sensitivity]]`` prior, side by side."""
    from bayesdose.report.text import dose

    rows = []
    for name, alternative in [("this design's prior", design), *design.alternatives()]:
        prior = prior_per_dose(alternative)
        rows.append(PriorAlternative(
            name, alternative.model.prior, tuple(p.mean for p in prior),
            tuple(p.p_overdose for p in prior),
            tuple(p.ess for p in prior),
            tuple(dose(design, p.level) for p in prior if p.ewoc_ok)))
    return rows
