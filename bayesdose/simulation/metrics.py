"""Operating characteristics of a design in a scenario, with Monte Carlo standard errors.

Computed from final trial records with weights: for T simulated trials, the share of the trials
ending in each record (1/T per trial, or count/T per distinct final record: the same numbers
from far fewer rows), or the exact probability of each final state (standard errors then 0).
A mean of per-trial values has standard error sd / sqrt(T) (sd with T - 1 degrees of freedom);
a ratio of means E[a] / E[b] (share of patients at the MTD, DLT rate) has, by the delta method,
sd(a - R b) / (E[b] sqrt(T)).

Accuracy index (Cheung 2011, Dose Finding by the Continual Reassessment Method, sec. 12.3):
A = 1 - K sum_k D_k rho_k / sum_k D_k, with D_k = |p_k - target|, rho_k the selection
probability of dose k and K doses. Selecting no dose counts as a dose with DLT rate 0
(D = target), unless no dose is the right answer (D = 0): a decision of ours, documented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesdose.designs.base import NO_DOSE, SAFETY


@dataclass(frozen=True)
class Truth:
    """What the scenario says is right."""

    p_true: np.ndarray
    target: float
    interval: tuple[float, float]
    mtd: int | None


@dataclass(frozen=True)
class Outcomes:
    """Final records (one row per trial or per final state) and their weights (sum 1).
    ``n``, ``dlt`` and ``stop_reason`` are None for the optimal benchmark."""

    selected: np.ndarray
    weight: np.ndarray
    n: np.ndarray | None = None
    dlt: np.ndarray | None = None
    stop_reason: np.ndarray | None = None
    duration: np.ndarray | None = None  # with time: days from the first dosing to the end
    pending_treated: np.ndarray | None = None  # with time: patients dosed while others pending


class _Estimator:
    """Weighted means with standard errors (0 when the weights are exact probabilities)."""

    def __init__(self, weight: np.ndarray, trials: int | None) -> None:
        self.w = weight
        self.trials = trials

    def _sd(self, x: np.ndarray, m: float) -> float:
        """Sample standard deviation over the T trials the weighted rows stand for."""
        t = self.trials
        return float(np.sqrt(self.w @ (x - m) ** 2 * (t / (t - 1))))

    def mean(self, x: np.ndarray) -> tuple[float, float]:
        x = np.asarray(x, dtype=float)
        m = float(self.w @ x)
        if self.trials is None or self.trials < 2:
            return m, 0.0
        return m, self._sd(x, m) / float(np.sqrt(self.trials))

    def ratio(self, a: np.ndarray, b: np.ndarray) -> tuple[float | None, float]:
        ma, mb = self.mean(a)[0], self.mean(b)[0]
        if mb == 0:
            return None, 0.0
        r = ma / mb
        if self.trials is None or self.trials < 2:
            return r, 0.0
        d = np.asarray(a, float) - r * np.asarray(b, float)
        return r, self._sd(d, float(self.w @ d)) / (mb * float(np.sqrt(self.trials)))


def operating_characteristics(
    out: Outcomes, truth: Truth, trials: int | None
) -> dict[str, Any]:
    """The summary entry of one design in one scenario (``trials`` None for exact results)."""
    est = _Estimator(out.weight, trials)
    oc: dict[str, Any] = {"trials": trials}
    se: dict[str, Any] = {}

    def put(key: str, value: tuple[Any, float]) -> None:
        oc[key], se[key] = value

    _selection(out.selected, truth, est, put)
    if out.n is not None and out.dlt is not None and out.stop_reason is not None:
        _allocation(out, truth, est, put)
    if out.duration is not None and out.pending_treated is not None:
        _timing(out, est, put)
    oc["se"] = se
    return oc


@dataclass(frozen=True)
class Efficacy:
    """Per row of ``Outcomes`` (same rows, same weights): responses per dose and the OBD the
    trial selected (0-based, -1 none); and the scenario's true OBD (-1 none)."""

    response: np.ndarray
    obd: np.ndarray
    true_obd: int


def add_efficacy(oc: dict[str, Any], out: Outcomes, efficacy: Efficacy,
                 trials: int | None) -> None:
    """Add to a design's entry (``operating_characteristics``) its mean responses per dose
    (``responses``) and per trial (``responses_mean``), P(selecting each dose as the OBD)
    (``select_obd``), and P(selecting the true OBD), or no OBD when the scenario has no true
    MTD, as P(correct) counts no dose then (``p_select_obd``)."""
    est = _Estimator(out.weight, trials)
    doses = range(efficacy.response.shape[1])
    for key, values in (("responses", [est.mean(efficacy.response[:, j]) for j in doses]),
                        ("select_obd", [est.mean(efficacy.obd == j) for j in doses])):
        oc[key], oc["se"][key] = [m for m, _ in values], [s for _, s in values]
    for key, value in (("responses_mean", est.mean(efficacy.response.sum(axis=1))),
                       ("p_select_obd", est.mean(efficacy.obd == efficacy.true_obd))):
        oc[key], oc["se"][key] = value


def _selection(selected: np.ndarray, truth: Truth, est: _Estimator, put: Any) -> None:
    doses = truth.p_true.size
    picks = [est.mean(selected == k) for k in range(doses)]
    oc_select = ([m for m, _ in picks], [s for _, s in picks])
    put("select", oc_select)
    put("select_none", est.mean(selected == NO_DOSE))
    mtd = NO_DOSE if truth.mtd is None else truth.mtd
    put("pcs", est.mean(selected == mtd))
    p_sel = truth.p_true[np.maximum(selected, 0)]
    a, b = truth.interval
    put("p_select_target_interval", est.mean((selected >= 0) & (p_sel >= a) & (p_sel < b)))
    put("select_above_mtd", est.mean(selected > mtd))
    put("accuracy_index", _accuracy(selected, truth, est))


def _accuracy(selected: np.ndarray, truth: Truth, est: _Estimator) -> tuple[float | None, float]:
    distance = np.abs(truth.p_true - truth.target)
    total = distance.sum()
    if total == 0:
        return None, 0.0
    none_distance = 0.0 if truth.mtd is None else truth.target
    per_trial = np.where(selected >= 0, distance[np.maximum(selected, 0)], none_distance)
    m, s = est.mean(per_trial)
    scale = truth.p_true.size / total
    return 1.0 - scale * m, scale * s


def _allocation(out: Outcomes, truth: Truth, est: _Estimator, put: Any) -> None:
    n, dlt = out.n, out.dlt
    total = n.sum(axis=1)
    patients = [est.mean(n[:, k]) for k in range(n.shape[1])]
    put("patients", ([m for m, _ in patients], [s for _, s in patients]))
    if truth.mtd is None:
        at, above = np.zeros_like(total), total
    else:
        at, above = n[:, truth.mtd], n[:, truth.mtd + 1 :].sum(axis=1)
    put("p_at_mtd", est.ratio(at, total))
    put("p_above_mtd", est.ratio(above, total))
    put("n_mean", est.mean(total))
    dlts = dlt.sum(axis=1)
    put("dlt_mean", est.mean(dlts))
    put("dlt_rate", est.ratio(dlts, total))
    put("early_stop", est.mean(out.stop_reason == SAFETY))


def _timing(out: Outcomes, est: _Estimator, put: Any) -> None:
    """Trial duration in days (mean with its standard error; 10%, 50% and 90% quantiles, the
    smallest duration with at least that share of the trials at or below it) and the mean
    number of patients dosed while a patient of an earlier cohort was still pending."""
    mean, se = est.mean(out.duration)
    quantiles = weighted_quantiles(out.duration, est.w, (0.1, 0.5, 0.9))
    put("duration", ({"mean": mean, **dict(zip(("q10", "q50", "q90"), quantiles, strict=True))},
                     {"mean": se}))
    put("pending_treated", est.mean(out.pending_treated))


def weighted_quantiles(x: np.ndarray, weight: np.ndarray,
                       probs: tuple[float, ...]) -> list[float]:
    """Quantiles of values ``x`` with weights summing to 1: the inverse of the weighted
    empirical distribution function (type 1), exact for integer counts / T."""
    order = np.argsort(x, kind="stable")
    cumulative = np.cumsum(weight[order])
    at = np.searchsorted(cumulative, np.asarray(probs) - 1e-12)
    return [float(v) for v in np.asarray(x, float)[order][np.minimum(at, x.size - 1)]]
