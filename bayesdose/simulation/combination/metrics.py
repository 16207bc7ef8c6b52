"""Operating characteristics of a two-drug design in a matrix scenario, with Monte Carlo
standard errors, from exact integer moments of the trials' records.

Per pair (matrices, rows the first drug's levels): ``select`` (P(the pair is selected); a
contour design selects one pair per row, so a trial may count at several pairs) and
``patients`` (mean patients treated there). Overall: ``pcs`` = P(the selection includes a pair
of the true MTD set, the pairs whose true rate is closest to the target, ties included: R's
``pcs`` for BOIN-comb); ``pcs_contour`` = P(the selected pairs are exactly the true MTD
contour, R's ``pcs.contour`` for the waterfall); ``select_none``; ``select_above_mtd`` =
P(selecting a pair whose true rate exceeds every rate of the MTD set); ``p_at_mtd`` and
``p_above_mtd`` = shares of the patients treated at the MTD set and above it (the same
pairs); ``n_mean``, ``dlt_mean``, ``dlt_rate`` and ``early_stop`` (stopped for safety).

Why moments and not the single-agent Tally of distinct final records: a two-drug trial's
records are nearly all distinct (15 pairs' counts), so a tally would hold every trial. Every
number above is a mean, or a ratio of means, of per-trial integers (indicators and counts):
its estimate and standard error (sd / sqrt(T), T - 1 degrees of freedom; a ratio by the
delta method, as ``simulation.metrics``) need only the sums of those integers and of their
pairwise products, accumulated exactly in int64 chunk by chunk. Memory is flat in the number
of trials and no number depends on the chunking, the workers or the order of the chunks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bayesdose.designs.base import SAFETY
from bayesdose.simulation.combination.scenarios import true_contour, true_mtd_set
from bayesdose.simulation.scenarios import TIE_TOLERANCE

INDICATORS = ("select_none", "pcs", "pcs_contour", "select_above_mtd")


def truth_masks(p_true: np.ndarray, target: float) -> dict[str, np.ndarray]:
    """Flat bool arrays of the MTD set, the pairs above it and the true contour."""
    mtd = true_mtd_set(p_true, target)
    above = p_true > p_true[mtd].max() + TIE_TOLERANCE
    return {"mtd": mtd.ravel(), "above": above.ravel(),
            "contour": true_contour(p_true, target).ravel()}


def _bits(mask: np.ndarray) -> int:
    return sum(1 << int(k) for k in np.flatnonzero(mask))


def pair_flags(selected: np.ndarray, pairs: int) -> np.ndarray:
    """(trials, pairs) int64: 1 where the trial's bit mask ``selected`` selects the pair."""
    return (np.asarray(selected, np.int64)[:, None] >> np.arange(pairs)[None, :]) & 1


def trial_columns(selected: np.ndarray, truth: dict[str, np.ndarray],
                  n: np.ndarray | None = None, dlt: np.ndarray | None = None,
                  stop: np.ndarray | None = None) -> np.ndarray:
    """(trials, columns) int64: per trial whether each pair is selected (``selected``: bit
    masks), the four ``INDICATORS``, and with ``n``, ``dlt``, ``stop`` (None for the
    benchmark) the patients and DLTs per pair and whether it stopped for safety."""
    selected = np.asarray(selected, np.int64)
    pairs = truth["mtd"].size
    columns = [pair_flags(selected, pairs),
               np.column_stack([selected == 0, (selected & _bits(truth["mtd"])) != 0,
                                selected == _bits(truth["contour"]),
                                (selected & _bits(truth["above"])) != 0])]
    if n is not None and dlt is not None and stop is not None:
        columns += [n, dlt, (np.asarray(stop) == SAFETY)[:, None]]
    return np.concatenate([np.asarray(c, np.int64) for c in columns], axis=1)


def _gram(columns: np.ndarray) -> np.ndarray:
    """columns' @ columns, exactly, in int64. By BLAS in float64 when every partial sum is an
    integer below 2^53 (then exact in any order of summation: NumPy's integer product has no
    BLAS and took 3.6 s of a 200,000-trial run); in int64 otherwise."""
    peak = max(int(columns.max(initial=0)), -int(columns.min(initial=0)))
    if columns.shape[0] * peak * peak < 2**53:
        values = columns.astype(np.float64)
        return (values.T @ values).astype(np.int64)
    return columns.T @ columns


class Moments:
    """Exact sums of per-trial integer columns and of their pairwise products."""

    def __init__(self) -> None:
        self.trials = 0
        self.sums: np.ndarray | None = None
        self.products: np.ndarray | None = None

    def add(self, columns: np.ndarray) -> None:
        """Count the trials of ``columns`` (trials, columns), int64."""
        sums, products = columns.sum(axis=0), _gram(columns)
        if self.sums is None or self.products is None:
            self.sums, self.products = sums, products
        else:
            self.sums, self.products = self.sums + sums, self.products + products
        self.trials += columns.shape[0]

    def _sum(self, c: np.ndarray) -> int:
        return int(c @ self.sums)

    def _cross(self, a: np.ndarray, b: np.ndarray) -> float:
        """The sample covariance of the combinations a.x and b.x (exact until the division;
        0 for one trial)."""
        t = self.trials
        if t < 2:
            return 0.0
        numerator = t * int(a @ self.products @ b) - self._sum(a) * self._sum(b)
        return numerator / (t * (t - 1))

    def mean(self, c: np.ndarray) -> tuple[float, float]:
        """Mean of the per-trial value c.x and its standard error."""
        t = self.trials
        return self._sum(c) / t, math.sqrt(max(self._cross(c, c), 0.0) / t)

    def ratio(self, a: np.ndarray, b: np.ndarray) -> tuple[float | None, float]:
        """E[a.x] / E[b.x] and its delta-method standard error (None when E[b.x] = 0)."""
        sa, sb = self._sum(a), self._sum(b)
        if sb == 0:
            return None, 0.0
        r = sa / sb
        var = self._cross(a, a) - 2 * r * self._cross(a, b) + r * r * self._cross(b, b)
        return r, math.sqrt(max(var, 0.0) / self.trials) / (sb / self.trials)


def operating_characteristics(moments: Moments, p_true: np.ndarray,
                              target: float) -> dict[str, Any]:
    """The summary entry of one design (of the benchmark when its moments hold no counts)."""
    rows, cols = p_true.shape
    pairs = rows * cols
    truth = truth_masks(p_true, target)
    width = moments.sums.size if moments.sums is not None else 0
    unit = np.eye(width, dtype=np.int64)
    oc: dict[str, Any] = {"trials": moments.trials}
    se: dict[str, Any] = {}

    def put(key: str, value: tuple[Any, Any]) -> None:
        oc[key], se[key] = value

    put("select", _matrix([moments.mean(unit[k]) for k in range(pairs)], cols))
    put("select_none", moments.mean(unit[pairs]))
    for i, key in enumerate(INDICATORS[1:], start=pairs + 1):
        put(key, moments.mean(unit[i]))
    if width > pairs + len(INDICATORS):
        n = unit[pairs + len(INDICATORS):][:pairs]
        dlt = unit[pairs + len(INDICATORS) + pairs:][:pairs]
        total, dlts = n.sum(axis=0), dlt.sum(axis=0)
        put("patients", _matrix([moments.mean(n[k]) for k in range(pairs)], cols))
        put("p_at_mtd", moments.ratio(n[truth["mtd"]].sum(axis=0), total))
        put("p_above_mtd", moments.ratio(n[truth["above"]].sum(axis=0), total))
        put("n_mean", moments.mean(total))
        put("dlt_mean", moments.mean(dlts))
        put("dlt_rate", moments.ratio(dlts, total))
        put("early_stop", moments.mean(unit[-1]))
    oc["se"] = se
    return oc


def trial_characteristics(selected: np.ndarray, p_true: np.ndarray, target: float,
                          n: np.ndarray | None = None, dlt: np.ndarray | None = None,
                          stop: np.ndarray | None = None) -> dict[str, Any]:
    """``operating_characteristics`` of per-trial records held in memory."""
    moments = Moments()
    moments.add(trial_columns(selected, truth_masks(p_true, target), n, dlt, stop))
    return operating_characteristics(moments, p_true, target)


def _matrix(values: list[tuple[float, float]], cols: int) -> tuple[list, list]:
    """(means, standard errors) of flat per-pair values as row lists."""
    means = [m for m, _ in values]
    errors = [s for _, s in values]
    return ([means[i:i + cols] for i in range(0, len(means), cols)],
            [errors[i:i + cols] for i in range(0, len(errors), cols)])
