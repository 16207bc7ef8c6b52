"""The nonparametric optimal benchmark (O'Quigley, Paoletti & Maccario 2002).

With every patient's tolerance known, each patient's outcome at every dose is known: the
benchmark estimates each dose's DLT rate from the same patients (the first ``max_patients`` of
each trial's stream) and selects the dose a design would pick with complete information: the
true-MTD rule applied to these estimates (closest to the target; no dose when the lowest
dose's estimate exceeds the target by more than 0.10), with its own tie rule. The estimates
are non-decreasing in dose and often tie (no DLT at any dose when every rate is low): among
doses equally close to the target, the highest dose whose estimate is below the target is
selected (the dose closest to the target from below is the highest of a run of equal
estimates), else the lowest (at or above the target). So a tie between a dose below and a dose
above the target goes to the one below. (The true MTD's ties, between equal true rates, go to
the lower dose: ``scenarios.true_mtd``.)
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.base import NO_DOSE
from bayesdose.simulation.patients import DLTTable
from bayesdose.simulation.scenarios import NO_DOSE_MARGIN, TIE_TOLERANCE
from bayesdose.simulation.tree import TreeTooLarge, binomial_pmf

MAX_CHAIN_WORK = 500_000_000  # multiply-adds of the exact benchmark (a few seconds)


def _choose(p_hat: np.ndarray, target: float, none: int) -> np.ndarray:
    """The true-MTD rule applied to estimated rates (rows): closest to the target, ties to
    the highest dose below the target, else to the lowest; ``none`` when the lowest dose
    exceeds the target by the margin."""
    distance = np.abs(p_hat - target)
    best = distance.min(axis=1, keepdims=True)
    tied = distance <= best + TIE_TOLERANCE
    below = tied & (p_hat < target - TIE_TOLERANCE)
    highest_below = p_hat.shape[1] - 1 - np.argmax(below[:, ::-1], axis=1)
    selected = np.where(below.any(axis=1), highest_below, np.argmax(tied, axis=1))
    return np.where(p_hat[:, 0] > target + NO_DOSE_MARGIN, none, selected)


def optimal_selection(patients: DLTTable, max_patients: int, target: float) -> np.ndarray:
    """(trials,) selected dose of the benchmark from each trial's first ``max_patients``."""
    p_hat = patients.dlts_in_first(max_patients) / max_patients  # (trials, doses)
    return _choose(p_hat, target, NO_DOSE)


def exact_optimal_selection(p_true: np.ndarray, patients: int, target: float) -> np.ndarray:
    """(doses + 1,) probabilities that the benchmark selects each dose, then no dose.

    c_k = #{i : u_i <= p_k} is non-decreasing in k, and given c_{k-1}, c_k - c_{k-1} is
    binomial(patients - c_{k-1}, (p_k - p_{k-1}) / (1 - p_{k-1})): a Markov chain over the
    doses. The choice is made dose by dose: a dose displaces the one chosen so far when its
    estimate is closer to the target by more than the tie tolerance, or as close and below the
    target (then the chosen one is below too: estimates do not decrease). That ends on the
    highest dose below the target among the closest, else the lowest, as ``_choose`` picks. So
    the chain's state is (c_k, the chosen dose's count, the chosen dose): (patients + 1)^2 x
    doses states, however many count vectors.
    Its cost grows as (patients + 1)^3 x doses: past ``MAX_CHAIN_WORK`` it raises TreeTooLarge
    (``--method auto`` then simulates).
    """
    if (patients + 1) ** 3 * p_true.size > MAX_CHAIN_WORK:
        raise TreeTooLarge(f"the exact optimal benchmark of {patients} patients is too large")
    counts = np.arange(patients + 1)
    estimate = counts / patients
    distance = np.abs(estimate - target)
    closer = distance[None, :] < distance[:, None] - TIE_TOLERANCE  # [chosen count, new count]
    tie_below = ((distance[None, :] <= distance[:, None] + TIE_TOLERANCE)
                 & (estimate[None, :] < target - TIE_TOLERANCE))
    keeps = ~(closer | tie_below)
    first = binomial_pmf(counts, patients, p_true[0])
    none = estimate > target + NO_DOSE_MARGIN
    chain = np.zeros((patients + 1, patients + 1, p_true.size))  # [c_k, chosen count, dose]
    chain[counts, counts, 0] = np.where(none, 0.0, first)
    for k in range(1, p_true.size):
        previous = p_true[k - 1]
        q = 0.0 if previous >= 1 else min(max((p_true[k] - previous) / (1 - previous), 0.0), 1.0)
        step = binomial_pmf(counts[None, :] - counts[:, None], patients - counts[:, None], q)
        reached = np.tensordot(chain, step, axes=([0], [0]))  # [chosen count, dose, c_k]
        kept = reached * keeps[:, None, :]
        chain = np.moveaxis(kept, 2, 0).copy()
        chain[counts, counts, k] += (reached - kept).sum(axis=(0, 1))
    return np.append(chain.sum(axis=(0, 1)), first[none].sum())
