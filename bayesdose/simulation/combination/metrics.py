"""Operating characteristics of a two-drug design in a matrix scenario, with Monte Carlo
standard errors (``simulation.metrics``' estimator: T trials, each weight 1/T).

Per pair (matrices, rows the first drug's levels): ``select`` (P(the pair is selected); a
contour design selects one pair per row, so a trial may count at several pairs) and
``patients`` (mean patients treated there). Overall: ``pcs`` = P(the selection includes a pair
of the true MTD set, the pairs whose true rate is closest to the target, ties included: R's
``pcs`` for BOIN-comb); ``pcs_contour`` = P(the selected pairs are exactly the true MTD
contour, R's ``pcs.contour`` for the waterfall); ``select_none``; ``select_above_mtd`` =
P(selecting a pair whose true rate exceeds every rate of the MTD set); ``p_at_mtd`` and
``p_above_mtd`` = shares of the patients treated at the MTD set and above it (the same
pairs); ``n_mean``, ``dlt_mean``, ``dlt_rate`` and ``early_stop`` (stopped for safety).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayesdose.designs.base import SAFETY
from bayesdose.simulation.combination.scenarios import true_contour, true_mtd_set
from bayesdose.simulation.metrics import _Estimator  # the one weighted-mean estimator
from bayesdose.simulation.scenarios import TIE_TOLERANCE


def truth_masks(p_true: np.ndarray, target: float) -> dict[str, np.ndarray]:
    """Flat bool arrays of the MTD set, the pairs above it and the true contour."""
    mtd = true_mtd_set(p_true, target)
    above = p_true > p_true[mtd].max() + TIE_TOLERANCE
    return {"mtd": mtd.ravel(), "above": above.ravel(),
            "contour": true_contour(p_true, target).ravel()}


def _bits(mask: np.ndarray) -> int:
    return sum(1 << int(k) for k in np.flatnonzero(mask))


def operating_characteristics(selected: np.ndarray, p_true: np.ndarray, target: float,
                              n: np.ndarray | None = None, dlt: np.ndarray | None = None,
                              stop: np.ndarray | None = None) -> dict[str, Any]:
    """The summary entry of one design (``n``, ``dlt``, ``stop`` None for the benchmark).
    ``selected``: per trial the bit mask of its selected pairs."""
    trials = selected.size
    est = _Estimator(np.full(trials, 1 / trials), trials)
    rows, cols = p_true.shape
    truth = truth_masks(p_true, target)
    oc: dict[str, Any] = {"trials": trials}
    se: dict[str, Any] = {}

    def put(key: str, value: tuple[Any, Any]) -> None:
        oc[key], se[key] = value

    chosen = (selected[:, None] >> np.arange(rows * cols)[None, :]) & 1
    picks = [est.mean(chosen[:, k]) for k in range(rows * cols)]
    put("select", _matrix(picks, cols))
    put("select_none", est.mean(selected == 0))
    put("pcs", est.mean((selected & _bits(truth["mtd"])) != 0))
    put("pcs_contour", est.mean(selected == _bits(truth["contour"])))
    put("select_above_mtd", est.mean((selected & _bits(truth["above"])) != 0))
    if n is not None and dlt is not None and stop is not None:
        total = n.sum(axis=1)
        put("patients", _matrix([est.mean(n[:, k]) for k in range(rows * cols)], cols))
        put("p_at_mtd", est.ratio(n[:, truth["mtd"]].sum(axis=1), total))
        put("p_above_mtd", est.ratio(n[:, truth["above"]].sum(axis=1), total))
        put("n_mean", est.mean(total))
        dlts = dlt.sum(axis=1)
        put("dlt_mean", est.mean(dlts))
        put("dlt_rate", est.ratio(dlts, total))
        put("early_stop", est.mean(stop == SAFETY))
    oc["se"] = se
    return oc


def _matrix(values: list[tuple[float, float]], cols: int) -> tuple[list, list]:
    """(means, standard errors) of flat per-pair values as row lists."""
    means = [m for m, _ in values]
    errors = [s for _, s in values]
    return ([means[i:i + cols] for i in range(0, len(means), cols)],
            [errors[i:i + cols] for i in range(0, len(errors), cols)])
