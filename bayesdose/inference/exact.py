"""The exact engine: the BLRM posterior by quadrature on a fixed grid, batched over data sets.

Model (Neuenschwander, Branson & Gsponer 2008): logit P(DLT | d) = log(alpha) + beta x_d with
x_d = log(d / d_ref), beta = exp(log beta), and a prior on (log alpha, log beta)
(``bayesdose.models``). With a
DLT window of T days, a patient still in follow-up after k < T days without a DLT contributes
log(1 - (k / T) p) (TITE; Cheung & Chappell 2000).

The grid lives in the standardised coordinates of the prior's frame (a bivariate normal that
covers the prior; for a bivariate normal prior, the prior itself): rows at z_j
(log beta = mu_b + s_b z_j) and, within each row, nodes s_i along log alpha centred on the
frame's conditional mean given log beta, so any correlation is handled exactly; the prior
adds its log density at the nodes (``Prior.log_density_in_frame``; for a bivariate normal
prior, phi(z) phi(s)).

Every number reported is a linear functional of the unnormalised posterior on the grid nodes:
- smooth integrals (normalising constant, E[p], E[p^2]) use the trapezoid rule across rows and,
  along each row, the cell rule  h (-f[i-1] + 13 f[i] + 13 f[i+1] - f[i+2]) / 24  (spectrally
  accurate for these rapidly decaying smooth integrands);
- an interval probability P(p_d < c) is, within row j, an integral along log alpha up to the
  threshold t_j = logit(c) - beta_j x_d (in that row's coordinates). Whole cells below it use
  the cell rule; the cell holding the threshold integrates the cubic through its four nearest
  nodes up to t_j (a locally fourth-order rule: worst error 1.3e-4 on the default grid against
  2.0e-2 for a 0/1 cell indicator; docs/engine-benchmarks.md).
The thresholds do not depend on the data, so the functionals are precomputed as one matrix and a
batch of data sets costs one matrix product for the log-likelihood and one for all summaries.
Batches are processed in fixed-size chunks, so a data set's numbers are bit-for-bit the same
whatever batch it is computed in; the chunks of a batch run on all cores. The density on the
grid is exponentiated in single precision (see ``_density``).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from threadpoolctl import ThreadpoolController

from bayesdose.models.blrm import SingleAgentBlrm
from bayesdose.models.prior import BivariateNormal, Prior

CHUNK = 8  # rows per matrix product; fixed so results never depend on the batch


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may run on
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_threads_per_batch = _available_cores()


def set_engine_threads(count: int) -> None:
    """Threads that compute the chunks of one batch in this process (default: one per
    available core). The simulator's worker processes use 1: there, chunks of trials are the
    unit of parallelism."""
    global _threads_per_batch
    _threads_per_batch = max(1, int(count))


@dataclass(frozen=True)
class GridSpec:
    """Grid size: nodes along log alpha, rows along log beta, half-width in prior sds."""

    n_alpha: int = 200
    n_beta: int = 60
    width: float = 6.0


# The narrowest part of a prior must span at least this many grid spacings per standard
# deviation along z (rows) and along s (nodes), in the frame's coordinates: with fewer, a
# mixture's narrow component falls between nodes. A sweep of two-component mixtures (no data,
# P(overdose) at the reference dose against the closed form) reaches the 1e-3 error bound at
# about 0.45 rows and 1.05 nodes per sd; these thresholds keep a margin of ~2.5x
# (tests/test_models.py: accepted cases within 1e-4, a refused one).
MIN_SPACINGS_PER_SD = (1.25, 2.5)

# A posterior must be resolved as a prior's narrowest part is: at least this many row spacings
# per posterior sd along z and node spacings per posterior sd along s given z (from the
# posterior's moments on the grid), with at most MAX_EDGE_MASS of its mass within one sd of
# the grid's edge (what lies beyond the edge is less: the integral leaves it out).
# Data sets whose posterior is narrower (hundreds of patients, a tight prior) or lies at the
# grid's edge are answered on a grid placed on the posterior instead (``ExactEngine.regrid``).
# Calibration (docs/exact-engine.md): the prior grid's error is set by the spacing along s
# (about 5e-4 at 2.0 node spacings per sd, 1.2e-3 at 1.5, 2.5e-4 at 2.5), hardly by the row
# spacing (1e-4 to 2e-4 from 0.9 to 2 rows per sd when s is resolved, NBG panel).
MIN_POSTERIOR_SPACINGS = (1.0, 2.5)
MAX_EDGE_MASS = 1e-4
# The grid placed on a posterior: its normal approximation's standardised coordinates, 8 sds
# either way; checked against a grid with half its nodes both ways (``_settled``).
POSTERIOR_GRID = GridSpec(200, 60, 8.0)
REGRID_STEPS = 4  # re-centrings on a posterior's moments before giving up

# Measured worst-case absolute error of any reported number against brute-force integration
# (tests/test_exact.py, docs/exact-engine.md); used to flag decisions within it of a threshold.
ERROR_BOUND = 1e-3


@dataclass(frozen=True)
class BatchSummary:
    """Per data set (rows) and dose (columns): posterior mean and sd of P(DLT), and the
    probabilities of under-dosing, target toxicity and overdosing."""

    mean: np.ndarray
    sd: np.ndarray
    p_underdose: np.ndarray
    p_target: np.ndarray
    p_overdose: np.ndarray


_PER_THREAD = threading.local()


def _buffers(rows: int, nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's work arrays for ``rows`` data sets: log density (float64), density in
    float32 and in float64."""
    cached = getattr(_PER_THREAD, "buffers", {})
    if (rows, nodes) not in cached:
        if len(cached) >= 2:  # a chunk and a single data set; other grids are rare
            cached = {}
        cached[rows, nodes] = (np.empty((rows, nodes)), np.empty((rows, nodes), np.float32),
                               np.empty((rows, nodes)))
    _PER_THREAD.buffers = cached
    return cached[rows, nodes]


@lru_cache(maxsize=1)
def _threads(pid: int, count: int) -> ThreadPoolExecutor:
    """One pool of ``count`` threads per process (call with ``os.getpid()``). Keyed by process:
    a process forked from one that used the engine inherits the pool object but not its
    threads, and work sent to it would never run."""
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="exact-engine")


# One batch at a time uses the pool: BLAS is held to one thread meanwhile (threadpoolctl's
# limit is process-wide, so overlapping batches would restore each other's settings wrongly).
_BATCH_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def in_threads(work: Callable[[np.ndarray], None], starts: np.ndarray, least: int = 1) -> None:
    """``work(starts)`` on the engine's threads (``set_engine_threads``), each given a
    contiguous share of ``starts`` (the first rows of a batch's chunks) of at least ``least``
    of them (fewer threads for fewer chunks), BLAS held to one thread: at these sizes more
    threads only cost (exact OCs of the standard design: 1.0 s against 1.4 s), and one thread
    sums in one order."""
    threads = max(1, min(_threads_per_batch, starts.size // least))
    groups = [group for group in np.array_split(starts, threads) if group.size]
    with _BATCH_LOCK, _blas_controller().limit(limits=1, user_api="blas"):
        if len(groups) > 1:
            list(_threads(os.getpid(), _threads_per_batch).map(work, groups))
        elif groups:
            work(groups[0])


def slices_in_threads(work: Callable[[slice], None], rows: int, least: int = 1) -> None:
    """``work(part)`` on contiguous slices of ``rows`` rows, at least ``least`` each, on the
    engine's threads (``in_threads``): for compiled loops that release the GIL and compute
    each row on its own. Fewer than two slices' worth: ``work`` on all rows here, without the
    batch lock. ``work`` must not call ``in_threads`` itself (its lock is not reentrant)."""
    if rows < 2 * least:
        work(slice(0, rows))
        return
    in_threads(lambda group: work(slice(group[0], group[-1] + 1)), np.arange(rows), least)


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


def _partial_cell_weights(frac: np.ndarray) -> np.ndarray:
    """Integrals from 0 to ``frac`` of the cubic Lagrange basis on nodes -1, 0, 1, 2.

    Returns shape frac.shape + (4,), in units of the node spacing.
    """
    f = frac[..., None]
    f2, f3, f4 = f**2, f**3, f**4
    return np.concatenate(
        [
            -(f4 / 4 - f3 + f2) / 6,
            (f4 / 4 - 2 * f3 / 3 - f2 / 2 + 2 * f) / 2,
            -(f4 / 4 - f3 / 3 - f2) / 2,
            (f4 / 4 - f2 / 2) / 6,
        ],
        axis=-1,
    )


# The finest prior-frame grid a batch tries for posteriors too narrow for the default grid (a
# wide prior): 200 x 60 -> 400 x 120 -> 800 x 240 nodes.
FINER_MAX_NODES = 200_000
MAX_NODES = 400_000  # a refined grid's size cap (memory: ~90 rows of basis per node with TITE)


def _nodes_needed(prior: Prior, width: float) -> tuple[int, int]:
    """(n_beta, n_alpha) that give the prior's narrowest part ``MIN_SPACINGS_PER_SD`` on a
    grid of half-width ``width``."""
    return tuple(math.ceil(1 + 2 * width * least / scale)
                 for least, scale in zip(MIN_SPACINGS_PER_SD, prior.grid_scales(), strict=True))


def resolving_grid(prior: Prior, grid: GridSpec | None = None) -> GridSpec:
    """``grid`` widened to hold every part of the prior out to ``grid.width`` of its own sds
    and refined until its narrowest part has ``MIN_SPACINGS_PER_SD``: a bivariate normal
    prior keeps the grid as it is; a mixture's grid covers every component. A ValueError if
    that needs more than ``MAX_NODES`` nodes."""
    grid = grid or GridSpec()
    width = float(max(grid.width, prior.frame_extent(grid.width)))
    beta_needed, alpha_needed = _nodes_needed(prior, width)
    n_beta, n_alpha = max(grid.n_beta, beta_needed), max(grid.n_alpha, alpha_needed)
    if n_alpha * n_beta > MAX_NODES:
        raise ValueError(f"a grid covering every part of the prior needs {n_alpha} x {n_beta} "
                         f"nodes (at most {MAX_NODES:,}): a component is too narrow or too far "
                         "from the others")
    return GridSpec(n_alpha, n_beta, width)


def _check_resolution(prior: Prior, grid: GridSpec) -> None:
    """A ValueError when the grid cannot resolve the prior's narrowest part."""
    for axis, field, scale, has, needed in zip(
            ("log beta", "log alpha"), ("n_beta", "n_alpha"), prior.grid_scales(),
            (grid.n_beta, grid.n_alpha), _nodes_needed(prior, grid.width), strict=True):
        if has < needed:
            raise ValueError(
                f"the prior's narrowest part has an sd along {axis} of {scale:.3g} of its "
                f"frame's, and the grid's {has} nodes there resolve it too coarsely: use "
                f"GridSpec({field}={needed}) or more")


class BeyondEngine(ValueError):
    """Data whose posterior the exact engine cannot integrate within its error bound."""


# Per data set, besides the summaries, the batch computes from the density's row sums: E[z],
# E[z^2], E[Var(s | z)] (in the grid's frame) and the mass within one sd of the grid's edge: the
# resolution and coverage checks (``ExactEngine.resolution``).
N_STATS = 4


def _largest_change(a: BatchSummary, b: BatchSummary) -> float:
    """The largest absolute difference of any interval probability, mean or sd between two
    answers for the same data."""
    return max(float(np.max(np.abs(getattr(a, f) - getattr(b, f))))
               for f in ("p_underdose", "p_target", "p_overdose", "mean", "sd"))


class ExactEngine:
    """Posterior summaries of the single-agent BLRM for one dose panel and prior, on a fixed
    grid sheared to a frame: the prior's (``Prior.frame``) unless ``frame`` is given (a normal
    approximation of one data set's posterior: ``regrid``)."""

    def __init__(
        self,
        model: SingleAgentBlrm,
        prior: Prior,
        bounds: tuple[float, float],
        grid: GridSpec | None = None,
        window_days: int = 0,
        frame: BivariateNormal | None = None,
    ) -> None:
        grid = grid or GridSpec()
        if frame is None:
            _check_resolution(prior, grid)
        self.window_days = window_days
        self.model = model
        self.prior = prior
        self.x = model.covariate
        self.bounds = (float(bounds[0]), float(bounds[1]))
        self.grid = grid
        self.on_prior_frame = frame is None
        frame = prior.frame if frame is None else frame
        self.frame = frame
        self._regridded: dict[bytes, ExactEngine] = {}
        # set on an engine ``regrid`` made for one data set: its grid's change against the
        # coarser one (the answer's error estimate); such an engine answers as it is
        self.error_estimate: float | None = None
        mu = np.asarray(frame.mean, dtype=float)
        cov = np.asarray(frame.cov, dtype=float)
        sd_a, sd_b = np.sqrt(np.diag(cov))
        rho = cov[0, 1] / (sd_a * sd_b)
        z = np.linspace(-grid.width, grid.width, grid.n_beta)
        s = np.linspace(-grid.width, grid.width, grid.n_alpha)
        self._s0, self._h = s[0], s[1] - s[0]
        self._dz = z[1] - z[0]
        self._beta = np.exp(mu[1] + sd_b * z)  # (rows,)
        self._row_mean = mu[0] + rho * sd_a * z  # conditional frame mean of log alpha
        self._row_sd = sd_a * np.sqrt(1 - rho**2)
        log_alpha = self._row_mean[:, None] + self._row_sd * s[None, :]
        eta = np.moveaxis(model.linear_predictor(log_alpha[..., None],
                                                 self._beta[:, None, None]), -1, 0)  # (D, rows, s)
        n_doses = self.x.size
        log_p = -np.logaddexp(0.0, -eta).reshape(n_doses, -1)
        log_q = -np.logaddexp(0.0, eta).reshape(n_doses, -1)
        # log-likelihood rows: a DLT, a complete follow-up without DLT, and (TITE, built only
        # when dated data arrive: ``_full_basis``) a patient followed k of T days without DLT
        self._basis = np.vstack([log_p, log_q])
        if self.on_prior_frame:
            self._log_prior = prior.log_density_in_frame(z[:, None], s[None, :]).ravel()
        else:  # the prior's own density at the nodes, wherever the frame put them
            theta = np.stack(np.broadcast_arrays(log_alpha, np.log(self._beta)[:, None]), -1)
            self._log_prior = prior.log_density(theta).ravel()
        self._cumulative = self._cumulative_cell_weights()
        p = np.exp(log_p)
        node = self._node_weights()
        self._functionals = np.column_stack(
            [
                node,
                self._threshold_weights(self.bounds[0], np.arange(n_doses)).T,
                self._threshold_weights(self.bounds[1], np.arange(n_doses)).T,
                (p * node).T,
                (p**2 * node).T,
            ]
        )
        self._leading: dict[int, np.ndarray] = {}  # ``_leading_functionals``
        # row sums along s of the density times 1, s, s^2 and the edge band (|s| > width - 1),
        # in single precision (``_stats``)
        along_s = self._cumulative[-1]
        self._z = z
        self._row_weights = np.column_stack(
            [along_s, along_s * s, along_s * s**2, along_s * (np.abs(s) > grid.width - 1)]
        ).astype(np.float32)
        self._edge_rows = np.abs(z) > grid.width - 1

    @cached_property
    def _full_basis(self) -> np.ndarray:
        """The log-likelihood rows with the TITE rows: a patient followed k of T days without a
        DLT, weight w = k / T: log(1 - w p) (Cheung & Chappell 2000), for k = 0 .. T - 1 at
        every dose (k = 0 carries no information). Built on the first dated data set, so
        undated data never hold (doses x T x nodes) of them in memory."""
        weights = np.arange(self.window_days) / max(self.window_days, 1)
        n = self.n_doses
        tite = np.log1p(-weights[None, :, None] * np.exp(self._basis[:n])[:, None, :])
        return np.vstack([self._basis, tite.reshape(-1, self._basis.shape[1])])

    @property
    def n_doses(self) -> int:
        return self.x.size

    @cached_property
    def prior_on_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The prior as the engine integrates it: (weights, log P(DLT), log (1 - P(DLT))),
        the weights (nodes,) each node's quadrature weight times the prior density, summing
        to one, and the logs (doses, nodes) at each node. A prior expectation the engine
        reports is weights @ g(nodes); prior predictive probabilities are computed the same
        way (``bayesdose.conflict``)."""
        log_prior = self._log_prior - self._log_prior.max()
        weights = self._functionals[:, 0] * np.exp(log_prior)
        n = self.n_doses
        return weights / weights.sum(), self._basis[:n], self._basis[n : 2 * n]

    def posterior_on_grid(self, n: np.ndarray, dlt: np.ndarray,
                          pending: np.ndarray | None = None
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One data set's posterior as the engine integrates it, as ``prior_on_grid``: the
        weights are each node's quadrature weight times the posterior density (the data as in
        ``observation_counts``, one data set). weights @ p is the posterior mean the engine
        reports; posterior predictive probabilities are computed the same way
        (``bayesdose.predictive``). On the grid that answers for these data (``regrid``):
        its nodes may lie in a frame placed on the posterior."""
        engine = self.for_data(n, dlt, pending)
        if engine is not self:
            return engine.posterior_on_grid(n, dlt, pending)
        weights = self._functionals[:, 0] * self._density(
            self.observation_counts(n, dlt, pending))[0]
        d = self.n_doses
        return weights / weights.sum(), self._basis[:d], self._basis[d : 2 * d]

    # -- quadrature weights ---------------------------------------------------------------

    def _cell_rule(self) -> np.ndarray:
        """(cells, nodes): weights of the four-point rule for each cell [s_i, s_i+1]."""
        n = self.grid.n_alpha
        rule = np.zeros((n - 1, n))
        for i in range(n - 1):
            for offset, w in zip((-1, 0, 1, 2), (-1, 13, 13, -1), strict=True):
                if 0 <= i + offset < n:
                    rule[i, i + offset] = w / 24
        return rule * self._h

    def _cumulative_cell_weights(self) -> np.ndarray:
        """Row i: node weights of the integral from s_0 to s_i (i = 0 .. n)."""
        rule = self._cell_rule()
        return np.vstack([np.zeros(rule.shape[1]), np.cumsum(rule, axis=0)])

    def _node_weights(self) -> np.ndarray:
        """Weights of each grid node in the integral over the whole grid (flattened)."""
        along_s = self._cumulative[-1]
        return np.tile(along_s, self.grid.n_beta)

    def _threshold_weights(self, c: float | np.ndarray, doses: np.ndarray) -> np.ndarray:
        """(len(doses), nodes): weights giving the unnormalised P(P(DLT | d) < c) per dose.

        ``c`` is a scalar or an array with one threshold per entry of ``doses``.
        """
        n = self.grid.n_alpha
        logit_c = np.broadcast_to(_logit(c), doses.shape)
        t = (logit_c[:, None] - self._beta[None, :] * self.x[doses][:, None] - self._row_mean)
        u = (t / self._row_sd - self._s0) / self._h  # position in node spacings, (Q, rows)
        u = np.clip(u, 0.0, n - 1.0)
        cell = np.minimum(np.floor(u).astype(np.int64), n - 2)
        frac = u - cell
        weights = self._cumulative[cell]  # whole cells below the threshold, (Q, rows, n)
        partial = _partial_cell_weights(frac) * self._h  # (Q, rows, 4)
        q_idx, r_idx = np.indices(cell.shape)
        for k, offset in enumerate((-1, 0, 1, 2)):
            node = cell + offset
            ok = (node >= 0) & (node < n)
            np.add.at(
                weights, (q_idx[ok], r_idx[ok], node[ok]), partial[..., k][ok]
            )
        return weights.reshape(doses.size, -1)

    # -- posterior on the grid ----------------------------------------------------------

    def observation_counts(
        self, n: np.ndarray, dlt: np.ndarray, pending: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, basis rows): how often each log-likelihood row occurs in each data set.

        ``n`` counts every treated patient per dose, ``dlt`` the DLTs; ``pending`` (N, doses,
        T), only with a DLT window of T days, counts patients still in follow-up without a DLT
        by whole days followed (0 .. T - 1); they are part of ``n``. Without ``pending`` (or
        a window) only the DLT and complete columns: (N, 2 doses).
        """
        n = np.atleast_2d(np.asarray(n, dtype=float))
        dlt = np.atleast_2d(np.asarray(dlt, dtype=float))
        rows = n.shape[0]
        if pending is None or not self.window_days:  # no TITE rows: only DLTs and complete
            return np.hstack([dlt, n - dlt])
        pending = np.asarray(pending, dtype=float).reshape(rows, self.n_doses, -1)
        complete = n - dlt - pending.sum(axis=2)
        return np.hstack([dlt, complete, pending.reshape(rows, -1)])

    def _density(self, counts: np.ndarray) -> np.ndarray:
        """(rows, nodes): the posterior density on the nodes, each row scaled to maximum 1
        (``_densities``)."""
        return self._densities(counts)[1]

    def _densities(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, nodes) twice: the posterior density on the nodes, each row scaled to
        maximum 1, in single precision and widened to double (the same values).

        The log density is formed in double precision and exponentiated in single precision:
        NumPy's float32 exp is vectorised where its float64 exp is not (4x as fast here, the
        engine's main cost), and after scaling every weight that matters has |log| < 90, so
        its relative error stays below 5e-6 (every summary moves by < 1e-7: far below the
        quadrature error). The results are per-thread buffers, valid until the thread's next
        call (fresh megabyte arrays per chunk cost page faults as much as the arithmetic)."""
        basis = self._basis if counts.shape[1] == self._basis.shape[0] else self._full_basis
        log_density, single, density = _buffers(counts.shape[0], basis.shape[1])
        np.matmul(counts, basis, out=log_density)
        log_density += self._log_prior
        np.subtract(log_density, log_density.max(axis=1, keepdims=True), out=single,
                    casting="same_kind")  # in double precision, rounded once to single
        np.exp(single, out=single)
        density[...] = single
        return single, density

    def batch(
        self, n: np.ndarray, dlt: np.ndarray, pending: np.ndarray | None = None
    ) -> BatchSummary:
        """Summaries for many data sets at once: ``n`` and ``dlt`` are (N, doses) counts
        (``pending``: see ``observation_counts``). Fixed-size chunks, computed on all cores
        (threads: NumPy releases the GIL; ``set_engine_threads``), each chunk alike on any
        thread."""
        return self._summaries(self.answers(self.observation_counts(n, dlt, pending)))

    def intervals(self, n: np.ndarray, dlt: np.ndarray, pending: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """P(target) and P(overdosing) (N, doses) of many data sets, bit for bit as ``batch``
        gives them, without the mean and sd: what a simulated design's decisions read. Their
        functionals are about half of the summaries' product (``_interval_columns``)."""
        out = self.answers(self.observation_counts(n, dlt, pending), self._interval_columns)
        below_low, below_high = self._below(out)
        return below_high - below_low, 1.0 - below_high

    @property
    def _interval_columns(self) -> int:
        """How many leading functionals the interval probabilities need: the normalising
        constant and the mass below each bound at every dose."""
        return 1 + 2 * self.n_doses

    def answers(self, counts: np.ndarray, columns: int | None = None) -> np.ndarray:
        """(N, functionals and statistics): the unnormalised functionals (the leading
        ``columns`` of them, default all) of many data sets' observation counts, each on the
        grid that answers for it (``_answer_unresolved``)."""
        columns = columns or self._functionals.shape[1]
        rows = counts.shape[0]
        padded = np.zeros((-(-rows // CHUNK) * CHUNK, counts.shape[1]))
        padded[:rows] = counts
        out = np.empty((padded.shape[0], columns + N_STATS))
        in_threads(lambda starts: self._fill(padded, out, starts),
                   np.arange(0, padded.shape[0], CHUNK))
        out = out[:rows]
        if self.error_estimate is None:
            self._answer_unresolved(counts, out)
        return out

    def _answer_unresolved(self, counts: np.ndarray, out: np.ndarray) -> None:
        """Replace, in ``out``, the rows this grid does not resolve by the answer of the grid
        that does (``regrid``'s order): posteriors only too narrow for its spacing go, all
        together, to the same frame with twice the nodes both ways (``finer``: a batch, so a
        wide prior with many such data sets stays fast); the rest one by one to a grid placed
        on the posterior."""
        columns = out.shape[1] - N_STATS
        thin, other = self._triage(out)
        if thin.any():
            finer = self.finer
            if finer is None:
                other |= thin
            else:
                out[thin] = finer.answers(counts[thin], columns)
        for row in np.flatnonzero(other):
            out[row] = self._placed_engine(counts[row])._functionals_of(counts[row], columns)

    def _functionals_of(self, counts: np.ndarray, columns: int | None = None) -> np.ndarray:
        """The functionals (unnormalised; the leading ``columns``, default all) and resolution
        statistics of one data set's observation counts."""
        single, density = self._densities(counts[None])  # all columns: a vector's product
        # with fewer would sum in another order
        return np.concatenate([(density[0] @ self._functionals)[:columns],
                               self._stats(single)[0]])

    def _stats(self, single: np.ndarray) -> np.ndarray:
        """(N, N_STATS): E[z], E[z^2], E[Var(s | z)] and the mass within one frame sd of the
        grid's edge, of each data set's density (N, nodes; single precision) on the grid.

        Only the resolution check reads them (``_triage``), so the row sums are taken in
        single precision: half the memory and a product 1.7x as fast (in double it cost as
        much as the decisions' product). The spacings per sd moved by at most 4.5e-6
        (relative) against double precision over the standard design's tree and 2,000
        random data sets of up to 40 patients per dose, and no data set changed grid."""
        rows = single.shape[0]  # one 2-D product: faster than a stack of small ones
        sums = (single.reshape(rows * self.grid.n_beta, -1) @ self._row_weights).reshape(
            rows, self.grid.n_beta, -1).astype(float)
        mass, first, second = sums[..., 0], sums[..., 1], sums[..., 2]
        total = mass.sum(axis=1)
        safe = np.where(mass > 0, mass, 1.0)
        within = np.where(mass > 0, second - first**2 / safe, 0.0).sum(axis=1)
        edge = mass[:, self._edge_rows].sum(axis=1) + sums[..., 3].sum(axis=1)
        return np.column_stack([mass @ self._z / total, mass @ self._z**2 / total,
                                within / total, edge / total])

    def _triage(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) bool masks of the data sets this grid does not answer: ``thin``, a posterior
        held by the grid but narrower than its spacing allows (a finer grid on the same
        frame resolves it), and ``other`` (mass at the edge, or not finite: a grid placed on
        the posterior)."""
        spacings, edge = self.resolution(out)
        other = ~(edge <= MAX_EDGE_MASS) | ~np.isfinite(out).all(axis=1)
        thin = ~other & ((spacings[:, 0] < MIN_POSTERIOR_SPACINGS[0])
                         | (spacings[:, 1] < MIN_POSTERIOR_SPACINGS[1]))
        return thin, other

    @cached_property
    def finer(self) -> ExactEngine | None:
        """This grid's frame with twice the nodes both ways (the prior's frame only), or None
        beyond ``FINER_MAX_NODES``."""
        grid = GridSpec(2 * self.grid.n_alpha, 2 * self.grid.n_beta, self.grid.width)
        if not self.on_prior_frame or grid.n_alpha * grid.n_beta > FINER_MAX_NODES:
            return None
        return self._with_frame(None, grid)

    def _unresolved(self, out: np.ndarray) -> np.ndarray:
        """(N,) bool: the data sets this grid does not answer (``_triage``)."""
        thin, other = self._triage(out)
        return thin | other

    def resolution(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The posterior sd in grid spacings (N, 2: along z in rows; along s given z in nodes,
        the root of E[Var(s | z)]) and its mass in the band within one frame sd of the grid's
        edge (N,), from ``out`` (N, functionals and statistics)."""
        mean_z, second_z, within, edge = out[:, -N_STATS:].T
        sd_z = np.sqrt(np.maximum(second_z - mean_z**2, 0.0))
        return np.column_stack([sd_z / self._dz, np.sqrt(np.maximum(within, 0.0)) / self._h]), edge

    def _posterior_normal(self, counts: np.ndarray) -> BivariateNormal:
        """A normal approximation of one data set's posterior in (log alpha, log beta): the
        mean and covariance of its density on this grid, each sd at least half a spacing."""
        density = self._density(counts[None])[0] * np.tile(self._cumulative[-1], self.grid.n_beta)
        density = density / density.sum()
        z = np.repeat(self._z, self.grid.n_alpha)
        s = np.tile(np.linspace(-self.grid.width, self.grid.width, self.grid.n_alpha),
                    self.grid.n_beta)
        mean = np.array([density @ z, density @ s])
        dz, ds = z - mean[0], s - mean[1]
        cov = np.array([[density @ dz**2, density @ (dz * ds)],
                        [density @ (dz * ds), density @ ds**2]])
        floor = (np.array([self._dz, self._h]) / 2) ** 2
        var = np.maximum(np.diag(cov), floor)
        corr = np.clip(cov[0, 1] / np.sqrt(var[0] * var[1]), -0.999, 0.999)
        cov = np.array([[var[0], corr * np.sqrt(var[0] * var[1])],
                        [corr * np.sqrt(var[0] * var[1]), var[1]]])
        (mu_a, mu_b), (sd_a, sd_b), rho = self.frame.mean, self.frame.sd, self.frame.correlation
        # (log alpha, log beta) = centre + L (z, s)
        lin = np.array([[rho * sd_a, sd_a * math.sqrt(1 - rho**2)], [sd_b, 0.0]])
        return BivariateNormal.from_covariance(np.array([mu_a, mu_b]) + lin @ mean,
                                               lin @ cov @ lin.T)

    def _with_frame(self, frame: BivariateNormal | None, grid: GridSpec) -> ExactEngine:
        return ExactEngine(self.model, self.prior, self.bounds, grid, self.window_days, frame)

    def regrid(self, counts: np.ndarray) -> ExactEngine:
        """The engine that answers for one data set (its observation counts): this one if its
        grid resolves and holds the posterior; otherwise a finer grid that does, or a grid
        whose answer agrees within ``ERROR_BOUND / 2`` on every summary with a grid of half
        (or twice) its nodes both ways, in the batch's order (``_answer_unresolved``). Tried
        in turn: for a posterior the grid holds but does not resolve, the same frame with
        twice the nodes both ways (``finer``, up to ``FINER_MAX_NODES``: a wide prior's
        posteriors after a few patients); a grid placed on the posterior (the standardised
        coordinates of its normal approximation, re-centred on the moments until it resolves
        and holds the posterior; ``_settled``), then this grid's frame refined (a posterior
        curved along a ridge, which no normal frame fits; ``_refined``). A ``BeyondEngine``
        error when neither settles within ``MAX_NODES``."""
        counts = np.asarray(counts, dtype=float)
        if self.error_estimate is not None:
            return self
        thin, other = self._triage(self._functionals_of(counts)[None])
        if not (thin[0] or other[0]):
            return self
        if thin[0] and self.finer is not None:
            return self.finer.regrid(counts)
        return self._placed_engine(counts)

    def _placed_engine(self, counts: np.ndarray) -> ExactEngine:
        """The engine for one data set this grid does not answer and no finer prior-frame
        grid resolves: placed on the posterior (``_settled``), else this frame refined."""
        key = counts.tobytes()
        if key in self._regridded:
            return self._regridded[key]
        answer = self._settled(counts, self._placed(counts)) or self._refined(counts, self)
        if answer is None:
            raise BeyondEngine(
                f"the exact engine's answer for these data does not settle within its error "
                f"bound {ERROR_BOUND:g} on a grid of up to {MAX_NODES:,} nodes")
        if len(self._regridded) >= 8:
            self._regridded.clear()
        self._regridded[key] = answer
        return answer

    def _placed(self, counts: np.ndarray) -> ExactEngine | None:
        """An engine on ``POSTERIOR_GRID`` in a normal approximation of the posterior that
        resolves and holds it, or None."""
        engine = self
        for _ in range(REGRID_STEPS):
            try:
                frame = engine._posterior_normal(counts)
            except (ValueError, FloatingPointError):
                return None
            engine = self._with_frame(frame, POSTERIOR_GRID)
            if not engine._unresolved(engine._functionals_of(counts)[None])[0]:
                return engine
        return None

    def _settled(self, counts: np.ndarray, engine: ExactEngine | None) -> ExactEngine | None:
        """``engine`` (a grid placed on the posterior) once it agrees within ERROR_BOUND / 2
        with a grid of half its nodes both ways on the same frame (its own error is then far
        smaller: the quadrature's error falls faster than the spacing); otherwise the refined
        grid (``_refined``). The coarser check costs a quarter of a finer one."""
        if engine is None:
            return None
        half = GridSpec(engine.grid.n_alpha // 2, engine.grid.n_beta // 2, engine.grid.width)
        coarse = self._with_frame(engine.frame, half)
        change = _largest_change(coarse._summaries(coarse._functionals_of(counts)[None]),
                                 engine._summaries(engine._functionals_of(counts)[None]))
        if change <= ERROR_BOUND / 2:
            engine.error_estimate = change
            return engine
        return self._refined(counts, engine)

    def _refined(self, counts: np.ndarray, engine: ExactEngine | None) -> ExactEngine | None:
        """Starting from ``engine``'s grid, the first grid (nodes doubled both ways, 2 sds
        wider each time) whose answer agrees with the previous one within ERROR_BOUND / 2 and
        that resolves and holds the posterior; None beyond ``MAX_NODES``."""
        if engine is None:
            return None
        frame = None if engine.on_prior_frame else engine.frame
        coarse = engine._summaries(engine._functionals_of(counts)[None])
        grid = engine.grid
        while True:
            grid = GridSpec(2 * grid.n_alpha, 2 * grid.n_beta, grid.width + 2.0)
            if grid.n_alpha * grid.n_beta > MAX_NODES:
                return None
            finer = self._with_frame(frame, grid)
            out = finer._functionals_of(counts)
            fine = finer._summaries(out[None])
            change = _largest_change(coarse, fine)
            if change <= ERROR_BOUND / 2 and not finer._unresolved(out[None])[0]:
                finer.error_estimate = change
                return finer
            coarse = fine

    def for_data(self, n: np.ndarray, dlt: np.ndarray,
                 pending: np.ndarray | None = None) -> ExactEngine:
        """The engine that answers for one data set (``regrid``)."""
        return self.regrid(self.observation_counts(n, dlt, pending)[0])

    def _fill(self, counts: np.ndarray, out: np.ndarray, starts: np.ndarray) -> None:
        """Functionals of the chunks of ``counts`` starting at rows ``starts``, into ``out``
        (as many leading functionals as ``out`` has room for besides the statistics)."""
        functionals = self._leading_functionals(out.shape[1] - N_STATS)
        width = functionals.shape[1]
        for start in starts:
            single, density = self._densities(counts[start : start + CHUNK])
            out[start : start + CHUNK, :width] = density @ functionals
            out[start : start + CHUNK, width:] = self._stats(single)

    def _leading_functionals(self, columns: int) -> np.ndarray:
        """The leading ``columns`` functionals as a matrix of their own (kept): a chunk's
        product with it gives each column the bits it gets in the product with all of them."""
        if columns not in self._leading:
            self._leading[columns] = np.ascontiguousarray(self._functionals[:, :columns])
        return self._leading[columns]

    def _below(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(P(DLT | d) below the lower and below the upper bound) (N, doses) from ``out``."""
        d = self.n_doses
        total = out[:, :1]
        below_low = np.clip(out[:, 1 : 1 + d] / total, 0.0, 1.0)
        below_high = np.maximum(np.clip(out[:, 1 + d : 1 + 2 * d] / total, 0.0, 1.0), below_low)
        return below_low, below_high

    def _summaries(self, out: np.ndarray) -> BatchSummary:
        d = self.n_doses
        total = out[:, :1]
        below_low, below_high = self._below(out)
        mean = out[:, 1 + 2 * d : 1 + 3 * d] / total
        second = out[:, 1 + 3 * d : 1 + 4 * d] / total
        sd = np.sqrt(np.maximum(second - mean**2, 0.0))
        return BatchSummary(mean, sd, below_low, below_high - below_low, 1.0 - below_high)

    def quantiles(
        self,
        n: np.ndarray,
        dlt: np.ndarray,
        pending: np.ndarray | None = None,
        probs: tuple[float, ...] = (0.025, 0.5, 0.975),
    ) -> np.ndarray:
        """(len(probs), doses): quantiles of P(DLT | d) for one data set, by bisection on the
        posterior CDF (computed with the same threshold rule as the interval probabilities),
        on the grid that answers for these data (``regrid``)."""
        engine = self.for_data(n, dlt, pending)
        if engine is not self:
            return engine.quantiles(n, dlt, pending, probs)
        posterior = self._density(self.observation_counts(n, dlt, pending))[0].copy()
        total = posterior @ self._functionals[:, 0]
        doses = np.tile(np.arange(self.n_doses), len(probs))
        target = np.repeat(np.asarray(probs, dtype=float), self.n_doses)
        lo = np.full(doses.size, -40.0)
        hi = np.full(doses.size, 40.0)
        for _ in range(40):
            mid = (lo + hi) / 2
            cdf = self._threshold_weights(1 / (1 + np.exp(-mid)), doses) @ posterior / total
            below = cdf < target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return (1 / (1 + np.exp(-(lo + hi) / 2))).reshape(len(probs), self.n_doses)
