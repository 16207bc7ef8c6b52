"""Predictive probabilities of DLT counts: how many of n patients at a dose have a DLT.

Whatever the engine, a distribution of P(DLT) per dose is a set of weighted atoms: the exact
engine's grid nodes with their quadrature weights times the prior or posterior density
(``ExactEngine.prior_on_grid``, ``posterior.exact_posterior_on_grid``), equally weighted MCMC
draws, or EXNEX's draws of the exchangeable and the non-exchangeable curve weighted by the
posterior probability of each. The predictive probability of k DLTs among n patients at dose d
is then the mixture of binomials

    P(Y_d = k) = sum over atoms of weight x Binomial(k; n, p_d(atom)),

exact for a grid (no sampling), and a Monte Carlo estimate for draws. Under the prior it is what
the design expects of a first cohort (``conflict``, the design report); under the posterior,
what the next cohort at each dose may show (``recommend``, as OncoBayes2's predictive summaries).
"""

from __future__ import annotations

import math

import numpy as np


def binomial_pmf(n: int, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(n + 1, atoms): Binomial(k; n, p) at every atom, k = 0 .. n. ``q`` is 1 - p, given
    separately so that the exact engine's log(1 - p), precise near p = 1, is kept; p or q of
    0 is allowed (0^0 = 1)."""
    k = np.arange(n + 1)[:, None]
    comb = np.array([math.comb(n, j) for j in range(n + 1)], dtype=float)[:, None]
    return comb * p[None, :] ** k * q[None, :] ** (n - k)


def cohort_predictive(size: int, weights: np.ndarray, p: np.ndarray,
                      q: np.ndarray | None = None) -> np.ndarray:
    """(doses, size + 1): the probability of 0 .. size DLTs in a cohort of ``size`` at each
    dose, for P(DLT) distributed as the atoms ``p`` (doses, atoms) with ``weights`` (atoms,)
    summing to one; ``q`` (doses, atoms) is 1 - p when known more precisely."""
    q = 1.0 - p if q is None else q
    return np.stack([binomial_pmf(size, p[d], q[d]) @ weights for d in range(p.shape[0])])


def grid_predictive(size: int, on_grid: tuple[np.ndarray, np.ndarray, np.ndarray]
                    ) -> np.ndarray:
    """``cohort_predictive`` of the exact engine's grid: ``on_grid`` is (weights, log P(DLT),
    log(1 - P(DLT))) as ``ExactEngine.prior_on_grid`` and ``posterior_on_grid`` give it."""
    weights, log_p, log_q = on_grid
    return cohort_predictive(size, weights, np.exp(log_p), np.exp(log_q))
