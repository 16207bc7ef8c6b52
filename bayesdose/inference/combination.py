"""The combination engine: a deterministic posterior of the two-drug BLRM's five parameters
(``bayesdose.models.combination``), batched over data sets.

Method: integrate along lines, one direction by a fine 1-D rule and the other four by
randomised quasi-Monte Carlo importance sampling, per data set:

1. Laplace: the posterior mode under each drug's moment-matched normal prior (its prior's
   frame) by Gauss-Newton (Hessian J' diag(n p (1 - p)) J + prior precision, J the gradient of
   the log-odds; always negative definite, so every step with backtracking goes uphill).
2. Frame: the posterior's mean and covariance computed as below on 2^``PRE_M`` lines around
   the mode (covariance: the inverse Hessian times ``SCALE^2``); the answer is computed in
   the frame of that mean and ``SCALE^2`` times that covariance (the Laplace mode alone is
   too far off where the posterior is skewed: docs/combination.md).
3. Lines: the inner direction u = (sd log alpha_A, 0, sd log alpha_B, 0, sd eta) (sds of the
   frame). Along u every pair's P(DLT) is strictly increasing: log alpha_A and log alpha_B
   raise each drug's log-odds, eta raises the interaction's (g >= 0), log beta is left alone
   (its effect changes sign at the reference dose). In the frame's whitened coordinates the
   four directions orthogonal to u (a Householder reflection) carry the outer variables z,
   ordered by how much they move the log-odds (principal components of J A, J at the
   frame's centre): theta = centre + A z + v r, with v parallel to u and r the coordinate
   along the line, r ~ N(0, 1) given z under the frame.
4. Outer points: the first 2^m points of a scrambled Sobol sequence in 4 dimensions with a
   fixed seed, mapped to normals: the same points for every data set and every run, so the
   numbers never change, with no seed to give. Each point z_k is a line.
5. Inner rule: ``NODES`` equally spaced nodes r_i in [-``WIDTH``, ``WIDTH``] along each line,
   the exact posterior density (the prior's own, a mixture's too) at every node. A smooth
   integral along a line uses the cell rule h (-f[i-1] + 13 f[i] + 13 f[i+1] - f[i+2]) / 24
   (spectrally accurate on these smooth, fast-decaying integrands). An interval probability
   P(p < c) integrates the density along the line up to the crossing r* where logit p = logit
   c (unique: p is monotone along the line): whole cells by the cell rule, the cell holding
   r* by the cubic through its four nearest nodes up to r*, r* itself by inverse cubic
   interpolation of the log-odds at the nodes (the single-agent engine's partial-cell rule,
   ``bayesdose.inference.exact``).
6. Outer sum: every line's integrals are weighted by 1 / phi(z_k) and the summaries are
   ratios of weighted sums (self-normalised importance sampling). What the outer rule
   integrates is smooth in z (the crossing moves smoothly with z), so the quasi-Monte Carlo
   error of interval probabilities falls about as 1 / lines, as for the posterior means,
   where indicators integrated at points fell only as N^-1/2.
7. Check: the effective sample size (ESS) of the line weights must reach
   ``MIN_ESS_FRACTION`` of the lines and at most ``MAX_EDGE_MASS`` of the mass may lie within
   one unit of the lines' ends; otherwise the frame moves to the weighted mean and covariance
   and the lines double (up to ``MAX_LINES``); a data set still short is flagged
   ``resolved = False``.

The loops (the Laplace step, the density at the nodes, the moments, each line's integrals)
are compiled, one data set at a time (``combination_kernels``): a data set's numbers are the
same bit for bit alone or in any batch. This module builds the frames and lines (NumPy) and
applies the checks.

Accuracy against a high-precision oracle (tests/tools/combination_oracle.py) and cost:
``ERROR_BOUND``, docs/combination.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from bayesdose.inference import combination_kernels
from bayesdose.inference.exact import BatchSummary, slices_in_threads
from bayesdose.models.combination import (
    CombinationBlrm,
    Covariates,
    folded_counts,
)
from bayesdose.models.prior import Mixture

SOBOL_SEED = 20240615  # fixed: the point set is part of the method, not a random choice
SCALE = 1.2  # the frame's scale over the posterior's (Laplace, then moment) covariance
LINES = 2**10
PRE_M = 8  # 2^8 lines for the posterior's moments (the frame)
MAX_LINES = 2**12
NODES = 21  # along each line
WIDTH = 5.0  # the lines' half-length in frame sds
INNER = np.array([1.0, 0.0, 1.0, 0.0, 1.0])  # which parameters the inner direction moves
MIN_ESS_FRACTION = 0.3
# mass within one unit of the lines' ends; what lies beyond them (left out) is a small part
# of it, so 1e-3 here costs well under 1e-3 on any summary
MAX_EDGE_MASS = 1e-3
NEWTON_STEPS = 60
# The accuracy for interval probabilities, which the defaults meet against the oracle
# (worst 2.5e-3; means 8.5e-4: docs/combination.md); for flagging decisions within it of a
# threshold.
ERROR_BOUND = 3e-3


@dataclass(frozen=True)
class Diagnostics:
    """Per data set: the effective sample size of the line weights, the mass near the lines'
    ends, the lines used, and whether both checks passed."""

    ess: np.ndarray
    edge_mass: np.ndarray
    lines: np.ndarray
    resolved: np.ndarray


# The outer points are part of the method, so they ship with it: the first MAX_LINES points of
# SciPy's scrambled Sobol sequence in 4 dimensions (seed SOBOL_SEED), mapped to the standard
# normal by its quantile function (inputs clipped to [1e-12, 1 - 1e-12]), as SciPy 1.18 made
# them (tests/test_combination_engine.py remakes them). Loading SciPy's statistics for them
# cost `recommend` on two drugs 0.6-0.8 s, and no SciPy release can change them.
SOBOL_LINES = Path(__file__).with_name("sobol_lines.npy")


@lru_cache(maxsize=8)
def outer_points(m: int) -> tuple[np.ndarray, np.ndarray]:
    """The first 2^m (m <= log2 MAX_LINES) outer points mapped to the standard normal, and
    their log density."""
    z = _sobol_lines()[:2**m]
    if len(z) < 2**m:
        raise ValueError(f"at most {MAX_LINES} lines ship with the engine, not 2^{m}")
    return z, -0.5 * (z * z).sum(axis=1) - 2 * math.log(2 * math.pi)


@lru_cache(maxsize=1)
def _sobol_lines() -> np.ndarray:
    z = np.load(SOBOL_LINES)
    z.flags.writeable = False
    return z


def line_frames(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For covariances ``cov`` (..., 5, 5): A (..., 5, 4) and v (..., 5) with
    A A' + v v' = cov and v parallel to the inner direction (``INNER`` times the sds)."""
    chol = np.linalg.cholesky(cov)
    u = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1)) * INNER
    e = np.linalg.solve(chol, u[..., None])[..., 0]
    e /= np.linalg.norm(e, axis=-1, keepdims=True)
    # Householder reflection H with H e = -e_1: its other columns are orthonormal and
    # orthogonal to e
    w = e.copy()
    w[..., 0] += 1.0  # e_0 > 0: u's whitened first coordinate is u_0 / chol_00 > 0
    h = np.eye(5) - 2 * w[..., :, None] * w[..., None, :] / (w * w).sum(-1)[..., None, None]
    return chol @ h[..., 1:], (chol @ e[..., None])[..., 0]


def model_arrays(model: CombinationBlrm, cov: Covariates) -> tuple[np.ndarray, ...]:
    """The model at the pairs of ``cov`` as the arrays the compiled kernels take
    (``combination_kernels``): each drug's levels, each pair's level of each drug, g, each
    drug's prior as normal components (padded to the same number with log weight -inf),
    and eta's prior (mean, sd, log normalising constant)."""
    drugs = [(prior.weights, prior.components) if isinstance(prior, Mixture) else
             ((1.0,), (prior,)) for prior in (model.prior_a, model.prior_b)]
    k = max(len(w) for w, _ in drugs)
    log_w = np.full((2, k), -np.inf)
    mean, log_norm = np.zeros((2, k, 2)), np.zeros((2, k))
    precision = np.tile(np.eye(2), (2, k, 1, 1))
    for i, (weights, normals) in enumerate(drugs):
        for c, (w, normal) in enumerate(zip(weights, normals, strict=True)):
            log_w[i, c], mean[i, c] = math.log(w), normal.mean
            precision[i, c], log_norm[i, c] = normal._precision, normal._log_norm
    eta = model.interaction
    return (*cov.levels, *cov.level_of, cov.g.astype(float), log_w, mean, precision, log_norm,
            np.array([eta.prior_mean, eta.prior_sd,
                      math.log(eta.prior_sd * math.sqrt(2 * math.pi))]))


def _stacked(parts: list) -> BatchSummary | Diagnostics:
    """Per-data-set results of consecutive shares of a batch as one."""
    return type(parts[0])(*(np.concatenate([getattr(part, field.name) for part in parts])
                             for field in fields(parts[0])))


class CombinationEngine:
    """Posterior summaries of the combination BLRM at dose ``pairs`` (pairs, 2), for data
    given as counts per pair (the same pairs), with the target interval [a, b)."""

    def __init__(self, model: CombinationBlrm, pairs: np.ndarray,
                 target_interval: tuple[float, float] = (0.16, 0.33),
                 lines: int = LINES) -> None:
        a, b = target_interval
        if not 0 < a < b < 1:
            raise ValueError("the target interval [a, b) needs 0 < a < b < 1")
        if lines & (lines - 1) or not 2**6 <= lines <= MAX_LINES:
            raise ValueError(f"lines must be a power of 2 from 64 to {MAX_LINES}")
        self.model = model
        self.cov: Covariates = model.covariates(pairs)
        self.cut_p = np.array([a, b], dtype=float)
        self.cut = np.log([a / (1 - a), b / (1 - b)])
        self.arrays = model_arrays(model, self.cov)
        self.m = int(math.log2(lines))
        self.prior_mean, prior_cov = model.prior_moments()
        self.prior_precision = np.linalg.inv(prior_cov)
        self.r = np.linspace(-WIDTH, WIDTH, NODES)

    @property
    def n_pairs(self) -> int:
        return self.cov.g.shape[0]

    def summarise(self, n: np.ndarray, dlt: np.ndarray, pending: np.ndarray | None = None
                  ) -> tuple[BatchSummary, Diagnostics]:
        """Summaries for data sets (rows; or one data set as a vector) of patients ``n`` and
        DLTs ``dlt`` per pair: each a (data sets, pairs) array. ``pending`` (data sets, pairs,
        T), with a DLT window of T days: patients still in follow-up without a DLT by whole
        days followed (part of ``n``), counted with their TITE weight
        (``models.combination.log_likelihood``)."""
        n, dlt = (np.atleast_2d(np.asarray(v, dtype=float)) for v in (n, dlt))
        if n.shape != dlt.shape or n.shape[1] != self.n_pairs:
            raise ValueError(f"n and dlt must both have {self.n_pairs} columns (one per pair)")
        if pending is not None:
            pending = np.asarray(pending, dtype=float).reshape(n.shape + (-1,))
        waiting = 0 if pending is None else pending.sum(axis=-1)
        if (dlt < 0).any() or (dlt + waiting > n).any() or (pending is not None
                                                             and (pending < 0).any()):
            raise ValueError("DLTs and patients in follow-up must be between 0 and the number "
                             "of patients")
        return self._in_threads(n, dlt, pending)

    def laplace(self, n: np.ndarray, dlt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per data set, the mode under the moment-matched normal prior and the Gauss-Newton
        Hessian of the negative log posterior there: (data sets, 5), (data sets, 5, 5), each
        data set on its own (``combination_kernels.laplace``)."""
        return combination_kernels.laplace(n, dlt, self.arrays, self.prior_mean,
                                           self.prior_precision, NEWTON_STEPS)

    def _in_threads(self, n: np.ndarray, dlt: np.ndarray, pending: np.ndarray | None
                    ) -> tuple[BatchSummary, Diagnostics]:
        """``_block`` on contiguous shares of the data sets on the engine's threads
        (``exact.slices_in_threads``; the kernels release the GIL). Each data set is computed on its
        own, so the numbers are those of one thread."""
        shares: dict[int, tuple[BatchSummary, Diagnostics]] = {}

        def work(part: slice) -> None:
            shares[part.start] = self._block(n[part], dlt[part],
                                             None if pending is None else pending[part])

        slices_in_threads(work, n.shape[0])
        parts = [shares[first] for first in sorted(shares)]
        return tuple(_stacked([part[k] for part in parts]) for k in range(2))

    def _block(self, n: np.ndarray, dlt: np.ndarray, pending: np.ndarray | None
               ) -> tuple[BatchSummary, Diagnostics]:
        """Every data set on ``LINES`` lines at once, then those that fail the checks one by
        one on moved frames with more lines (the Laplace step counts patients in follow-up
        as fractions, ``folded_counts``; the lines, exactly)."""
        mode, hess = self.laplace(folded_counts(n, pending), dlt)
        data = (n, dlt, np.zeros(n.shape + (1,)) if pending is None else pending)
        mode, cov = self._moments(data, mode, np.linalg.inv(hess) * SCALE**2, PRE_M)
        cov *= SCALE**2
        result = list(self._integrate(data, mode, cov, self.m))
        lines = np.full(n.shape[0], 2**self.m)
        for k in np.flatnonzero(~result[-1]):
            m, centre, scale = self.m, mode[k:k + 1], cov[k:k + 1]
            one = tuple(x[k:k + 1] for x in data)
            while not result[-1][k] and 2 ** m < MAX_LINES:
                centre, scale = self._moments(one, centre, scale, m)
                m += 1
                redo = self._integrate(one, centre, scale * SCALE**2, m)
                for column, value in zip(result, redo, strict=True):
                    column[k] = value[0]
                lines[k] = 2**m
        return BatchSummary(*result[:5]), Diagnostics(*result[5:7], lines, result[-1])

    def _lines(self, centre: np.ndarray, cov: np.ndarray, m: int) -> tuple[np.ndarray, ...]:
        """The lines of frames (centre, cov): each line's point at r = 0 (data sets, lines,
        5), the inner direction v (data sets, 5), and the outer proposal's log density at
        each line."""
        z, log_q = outer_points(m)
        a, v = line_frames(cov)
        # the outer directions in order of how much they move the log-odds (principal
        # components of the log-odds' gradient): Sobol's first coordinates are its best
        jac = self.model.log_odds_and_gradient(centre, self.cov)[1]
        a = a @ np.swapaxes(np.linalg.svd(jac @ a)[2], -1, -2)
        return centre[:, None, :] + np.einsum("lj,bij->bli", z, a), v, log_q

    def _integrate(self, data: tuple[np.ndarray, ...], centre: np.ndarray, cov: np.ndarray,
                   m: int) -> tuple[np.ndarray, ...]:
        """The five summaries per pair, the ESS of the line weights, the mass near the lines'
        ends, and whether the checks passed, for data sets (n, dlt, pending) on frames
        (centre, cov)."""
        base, v, log_q = self._lines(centre, cov, m)
        first, second, below, ess, edge_mass = combination_kernels.integrals(
            base, v, self.r, log_q, self.arrays, *data, self.cut_p, self.cut,
            np.abs(self.r) > WIDTH - 1)
        sd = np.sqrt(np.maximum(second - first**2, 0.0))
        under, below_b = below
        ok = (ess >= MIN_ESS_FRACTION * 2**m) & (edge_mass <= MAX_EDGE_MASS)
        return first, sd, under, below_b - under, 1 - below_b, ess, edge_mass, ok

    def _moments(self, data: tuple[np.ndarray, ...], centre: np.ndarray, cov: np.ndarray,
                 m: int) -> tuple[np.ndarray, np.ndarray]:
        """The posterior mean and covariance of theta for data sets (n, dlt, pending) on
        frames (centre, cov)."""
        base, v, log_q = self._lines(centre, cov, m)
        return combination_kernels.moments(base, v, self.r, log_q, self.arrays, *data)
