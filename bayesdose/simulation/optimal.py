"""The nonparametric optimal benchmark (O'Quigley, Paoletti & Maccario 2002).

With every patient's tolerance known, each patient's outcome at every dose is known: the
benchmark estimates each dose's DLT rate from the same patients (the first ``max_patients`` of
each trial's stream) and selects the dose a design would pick with complete information: the
true-MTD rule applied to these estimates (closest to the target, ties to the lower dose; no
dose when the lowest dose's estimate exceeds the target by more than 0.10).
"""

from __future__ import annotations

import numpy as np

from bayesdose.simulation.interface import NO_DOSE
from bayesdose.simulation.scenarios import NO_DOSE_MARGIN, TIE_TOLERANCE


def _choose(p_hat: np.ndarray, target: float, none: int) -> np.ndarray:
    """The true-MTD rule applied to estimated rates (rows): closest to the target, ties to
    the lower dose, ``none`` when the lowest dose exceeds the target by the margin."""
    distance = np.abs(p_hat - target)
    best = distance.min(axis=1, keepdims=True)
    selected = np.argmax(distance <= best + TIE_TOLERANCE, axis=1)
    return np.where(p_hat[:, 0] > target + NO_DOSE_MARGIN, none, selected)


def optimal_selection(u: np.ndarray, p_true: np.ndarray, target: float) -> np.ndarray:
    """(trials,) selected dose of the benchmark from tolerances ``u`` (trials, patients)."""
    p_hat = (u[:, :, None] <= p_true[None, None, :]).mean(axis=1)  # (trials, doses)
    return _choose(p_hat, target, NO_DOSE)


def exact_optimal_selection(
    p_true: np.ndarray, patients: int, target: float, max_outcomes: int = 2_000_000
) -> np.ndarray:
    """(doses + 1,) probabilities that the benchmark selects each dose, then no dose.

    c_k = #{i : u_i <= p_k} is non-decreasing in k, and given c_{k-1}, c_k - c_{k-1} is
    binomial(patients - c_{k-1}, (p_k - p_{k-1}) / (1 - p_{k-1})): enumerate every vector.
    """
    from scipy.stats import binom

    counts = np.zeros((1, 0), np.int64)
    prob = np.ones(1)
    previous = 0.0
    for p in p_true:
        left = patients - (counts[:, -1] if counts.shape[1] else np.zeros(1, np.int64))
        q = 0.0 if previous >= 1 else min(max((p - previous) / (1 - previous), 0.0), 1.0)
        step = np.arange(patients + 1)
        pmf = binom.pmf(step[None, :], left[:, None], q)
        parent, extra = np.nonzero(pmf > 0)
        if parent.size > max_outcomes:
            raise MemoryError("too many outcomes for the exact benchmark")
        base = counts[parent, -1] if counts.shape[1] else np.zeros(parent.size, np.int64)
        counts = np.column_stack([counts[parent], base + extra])
        prob = prob[parent] * pmf[parent, extra]
        previous = p
    selected = _choose(counts / patients, target, p_true.size)
    return np.bincount(selected, weights=prob, minlength=p_true.size + 1)
