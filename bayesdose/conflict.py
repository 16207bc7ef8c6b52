"""Prior-data conflict: are the DLTs seen so far what the prior predicted?

Before the data, the prior and the binomial model predict the number of DLTs among the
patients treated at each dose: the prior predictive distribution
m(y) = sum over grid nodes of weight x prod_d Binomial(y_d; n_d, p_d(node)), with the exact
engine's prior on its grid (``ExactEngine.prior_on_grid``), so the numbers are deterministic
and hold for a bivariate normal and a mixture prior alike. Two readings of the observed
counts against it (Evans & Moshonov 2006):

- per dose, the tail probabilities of its own count: P(Y_d >= y_d) (more DLTs than the prior
  expected: the direction that matters for safety) and the two-sided
  min(1, 2 min(P(Y_d >= y_d), P(Y_d <= y_d)));
- overall, Box's (1980) prior predictive p-value over the joint outcomes of all treated doses:
  the prior predictive probability of an outcome no more probable than the one observed. It is
  computed exactly by enumerating the outcomes when that is cheap, otherwise estimated by Monte
  Carlo with a fixed seed (deterministic), with its Monte Carlo standard error.

Only patients whose outcome is final count (``TrialData.complete``): a patient still in DLT
follow-up has no outcome to compare yet. The flag (p < 0.05) is a reading aid, not a rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bayesdose.data import TrialData
from bayesdose.posterior import exact_engine
from bayesdose.predictive import binomial_pmf
from bayesdose.schema import Design

FLAG_LEVEL = 0.05
# Enumerate when outcomes x grid nodes (the flops of the one matrix product) stays within
# WORK and each factor of the product (outcomes of half the doses x nodes) within CELLS
# (32 MB); otherwise Monte Carlo with DRAWS draws (standard error at most 0.008).
WORK, CELLS = 5e8, 4e6
DRAWS, SEED = 4000, 20080601  # a seed of its own: the p-value never moves with --seed
TIES = 1e-9  # relative: outcomes as probable as the observed one, up to rounding, count
ROWS = 1_000_000  # grid cells per chunk of Monte Carlo outcomes (8 MB)

DEFINITION = (
    "prior predictive distribution of the DLT counts among patients with a final outcome "
    "(exact engine's prior on its grid). Per dose: p_upper = P(Y >= observed DLTs), "
    "p_two_sided = min(1, 2 min(P(Y >= y), P(Y <= y))). Overall: Box's (1980) p-value, the "
    "prior predictive probability of the joint outcomes of the treated doses no more probable "
    f"than the observed one. Flagged when overall_p < {FLAG_LEVEL:g} or a p_upper < "
    f"{FLAG_LEVEL:g}: a reading aid, not a rule."
)


@dataclass(frozen=True)
class DoseConflict:
    """One treated dose: its final outcomes against their prior predictive distribution."""

    dose: float
    n: int  # patients with a final outcome
    dlt: int
    expected: float  # prior predictive mean number of DLTs among the n
    p_upper: float  # P(Y >= dlt): as many DLTs or more
    p_two_sided: float


@dataclass(frozen=True)
class Conflict:
    """Prior-data conflict of a trial's data (see the module docstring)."""

    per_dose: tuple[DoseConflict, ...]
    overall_p: float  # Box's prior predictive p-value
    method: str  # "enumeration" or "monte carlo"
    mcse: float | None  # Monte Carlo standard error of overall_p (None when enumerated)
    flagged: bool


def prior_conflict(design: Design, data: TrialData) -> Conflict:
    """The prior-data conflict measures of ``data`` under ``design``'s prior."""
    weights, log_p, log_q = exact_engine(design).prior_on_grid
    p, q = np.exp(log_p), np.exp(log_q)
    n, dlt = data.complete, data.dlt
    treated = np.flatnonzero(n > 0)
    pmfs = [binomial_pmf(int(n[k]), p[k], q[k]) for k in treated]
    per_dose = tuple(_dose(float(design.levels[k]), int(n[k]), int(dlt[k]), pmf @ weights)
                     for k, pmf in zip(treated, pmfs, strict=True))
    overall, method, mcse = _box(pmfs, [int(dlt[k]) for k in treated], weights)
    flagged = overall < FLAG_LEVEL or any(d.p_upper < FLAG_LEVEL for d in per_dose)
    return Conflict(per_dose, overall, method, mcse, flagged)


def conflict_threshold(predictive: np.ndarray) -> int | None:
    """The fewest DLTs in a cohort whose upper tail P(Y >= y) is below ``FLAG_LEVEL``, i.e.
    from which the conflict measure would flag a first cohort (None: no count would)."""
    tails = np.cumsum(predictive[::-1])[::-1]  # P(Y >= y), y = 0 .. size
    flagged = np.flatnonzero(tails < FLAG_LEVEL)
    return int(flagged[0]) if flagged.size else None


def _dose(dose: float, n: int, dlt: int, marginal: np.ndarray) -> DoseConflict:
    """One dose's tails, from the prior predictive distribution of its DLT count."""
    upper = min(1.0, float(marginal[dlt:].sum()))
    lower = min(1.0, float(marginal[: dlt + 1].sum()))
    expected = float(np.arange(n + 1) @ marginal)
    return DoseConflict(dose, n, dlt, expected, upper, min(1.0, 2 * min(upper, lower)))


def _box(pmfs: list[np.ndarray], observed: list[int], weights: np.ndarray
         ) -> tuple[float, str, float | None]:
    """Box's p-value, how it was computed, and its Monte Carlo standard error (or None)."""
    nodes = len(weights)
    groups = _halves([len(pmf) for pmf in pmfs])
    outcomes = math.prod(len(pmf) for pmf in pmfs)
    if outcomes * nodes <= WORK and all(
            math.prod(len(pmfs[i]) for i in group) * nodes <= CELLS for group in groups):
        return _enumerated(pmfs, observed, weights, groups), "enumeration", None
    p, mcse = _monte_carlo(pmfs, observed, weights)
    return p, "monte carlo", mcse


def _halves(sizes: list[int]) -> tuple[list[int], list[int]]:
    """The doses in two groups of about equal numbers of joint outcomes (largest first, each
    to the smaller group): the joint predictive is then one matrix product of the two."""
    groups: tuple[list[int], list[int]] = ([], [])
    products = [1, 1]
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        smaller = int(products[1] < products[0])
        groups[smaller].append(i)
        products[smaller] *= sizes[i]
    return groups


def _enumerated(pmfs: list[np.ndarray], observed: list[int], weights: np.ndarray,
                groups: tuple[list[int], list[int]]) -> float:
    """Box's p-value by enumeration: m over all joint outcomes is (A x W) @ B^T, A and B the
    products of the per-dose probabilities over each group's outcomes, W the weights."""
    (first, rows), (second, columns) = (_factor(pmfs, observed, g, len(weights))
                                               for g in groups)
    m = (first * weights) @ second.T
    return min(1.0, float(m[m <= m[rows, columns] * (1 + TIES)].sum()))


def _factor(pmfs: list[np.ndarray], observed: list[int], group: list[int], nodes: int
            ) -> tuple[np.ndarray, int]:
    """(outcomes of the group's doses, nodes): prod_d Binomial(y_d; n_d, p_d(node)) over
    the group's joint outcomes (in C order), and the row of the observed outcome."""
    factor, row = np.ones((1, nodes)), 0
    for i in group:
        factor = (factor[:, None, :] * pmfs[i][None, :, :]).reshape(-1, factor.shape[1])
        row = row * len(pmfs[i]) + observed[i]
    return factor, row


def _monte_carlo(pmfs: list[np.ndarray], observed: list[int], weights: np.ndarray
                 ) -> tuple[float, float]:
    """Box's p-value estimated from ``DRAWS`` outcomes drawn from the prior predictive (a
    node from the weights, then each dose's count given it), and its standard error."""
    rng = np.random.default_rng(SEED)
    nodes = rng.choice(len(weights), size=DRAWS, p=weights)
    draws = np.column_stack([
        (rng.random(DRAWS) > np.cumsum(pmf[:, nodes], axis=0)).sum(axis=0).clip(0, len(pmf) - 1)
        for pmf in pmfs])
    unique, inverse = np.unique(draws, axis=0, return_inverse=True)
    m = _predictive(pmfs, unique, weights)[inverse.ravel()]
    m_observed = _predictive(pmfs, np.array([observed]), weights)[0]
    p = float(np.mean(m <= m_observed * (1 + TIES)))
    return p, math.sqrt(p * (1 - p) / DRAWS)


def _predictive(pmfs: list[np.ndarray], outcomes: np.ndarray, weights: np.ndarray
                ) -> np.ndarray:
    """m(y) for each row y of ``outcomes`` (outcomes x doses), in chunks of ``ROWS`` cells."""
    out = np.empty(len(outcomes))
    step = max(1, ROWS // len(weights))
    for start in range(0, len(outcomes), step):
        block = outcomes[start : start + step]
        product = np.ones((len(block), len(weights)))
        for d, pmf in enumerate(pmfs):
            product *= pmf[block[:, d]]
        out[start : start + step] = product @ weights
    return out
