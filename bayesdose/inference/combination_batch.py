"""The combination engine's fast path for simulation: the lines of ``inference.combination``
fixed once per frame, so that a data set costs two matrix products.

The engine (``CombinationEngine``) places its lines on each data set's own posterior, so every
node's log-odds, prior density and interval weights are recomputed per data set. Here a frame
(a centre and a covariance of the five parameters) is fixed first and its lines with it; then
everything but the likelihood is data-free and computed once:

- the log-likelihood of B data sets at the G = lines x nodes nodes is one product
  (B, 2 pairs) @ (2 pairs, G): the rows [DLTs, patients] per pair against the columns
  [logit p, -softplus(logit p)] per node;
- the density at the nodes is exp(log-likelihood + log prior - log proposal) (the prior and the
  proposal are data-free: one row added), scaled per data set;
- every summary is a linear functional of that density: the line masses (the cell rule), and
  per pair the integral below each cut of the target interval, whose weights (whole cells by
  the cell rule, the cell of the crossing by its cubic, exactly the engine's ``_below``)
  depend only on the log-odds along each line, not on the data: a second product
  (B, G) @ (G, 2 pairs + 2).

The numbers are those of the engine's rule on that frame (the same lines, nodes and weights),
so they differ from the engine's only by where the frame lies. A frame that does not fit a
posterior shows in the effective sample size of its line weights and in the mass near the lines'
ends, checked per data set as the engine checks them: the caller (``designs.blrm_comb.
simulated``) answers a data set that fails from the next frame, and at last from the engine.
Data sets are computed in fixed chunks of ``CHUNK`` rows on one BLAS thread, so a data set's
numbers are bit for bit the same in any batch.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bayesdose.inference.combination import (
    MAX_EDGE_MASS,
    MIN_ESS_FRACTION,
    PRE_M,
    SCALE,
    WIDTH,
    CombinationEngine,
    _cell_integrals,
    crossing,
)
from bayesdose.inference.exact import _blas_controller, _partial_cell_weights

NODES = 41
MIN_SPREAD = 0.35  # placeholder, calibrated below
ANCHOR_COHORTS = 4
FRAMES_KEPT = 24
CHUNK = 8  # data sets per matrix product: fixed, so no number depends on the batch


@dataclass(frozen=True)
class IntervalSummary:
    """Per data set (rows) and pair (columns): P(under), P(target), P(over); per data set
    the ESS of the line weights, the mass near the lines' ends and whether both checks
    passed."""

    p_underdose: np.ndarray
    p_target: np.ndarray
    p_overdose: np.ndarray
    ess: np.ndarray
    edge_mass: np.ndarray
    spread: np.ndarray
    resolved: np.ndarray


class FixedFrame:
    """The engine's lines on one frame (``centre``, ``cov``: the lines' normal), with every
    data-free part precomputed."""

    def __init__(self, engine: CombinationEngine, centre: np.ndarray, cov: np.ndarray,
                 nodes: int = NODES) -> None:
        r = np.linspace(-WIDTH, WIDTH, nodes)
        h = r[1] - r[0]
        theta, log_q = engine.nodes(centre[None], cov[None], engine.m, r)
        theta = theta[0]  # (lines, nodes, 5)
        lines, nodes = theta.shape[:2]
        lp = engine.model.log_odds(theta, engine.cov)  # (lines, nodes, pairs)
        pairs = lp.shape[-1]
        self.lines, self.nodes, self.pairs = lines, nodes, pairs
        columns = lines * nodes
        self.loglik_basis = np.concatenate(
            [lp.reshape(columns, pairs).T, -np.logaddexp(0.0, lp).reshape(columns, pairs).T]
        ).astype(np.float32)
        self.log_base = (engine.model.log_prior(theta) - log_q[:, None]).reshape(columns)
        self.log_base = self.log_base.astype(np.float32)
        whole = _cell_integrals(np.eye(nodes), h)[0][:, -1]  # (nodes,): the cell rule
        # per line: its mass, and its first two moments along the line (the spread check)
        self.line_moments = np.column_stack([whole, whole * r, whole * r**2]).astype(np.float32)
        edge = (np.abs(r) > WIDTH - 1) * h
        along = np.ascontiguousarray(np.swapaxes(lp, -1, -2))  # (lines, pairs, nodes)
        below = [self._below_weights(along, cut, h) for cut in engine.cut]
        # columns: below a per pair, below b per pair, the total, the edge mass
        self.functionals = np.concatenate(
            [*below, np.tile(whole, lines)[:, None], np.tile(edge, lines)[:, None]],
            axis=1).astype(np.float32)

    def _below_weights(self, along: np.ndarray, cut: float, h: float) -> np.ndarray:
        """(G, pairs): the weight of each node's density in the integral below ``cut`` of
        each pair along its line, the engine's ``_below`` as weights: the cell rule's
        cumulative weights up to the crossing's cell, and the crossing cell's cubic on its
        four nearest nodes."""
        nodes = self.nodes
        up_to = _cell_integrals(np.eye(nodes), h)[0].T  # [j, i]: f_i's weight to node j
        count, cell, frac = crossing(along, cut)  # (lines, pairs)
        weights = up_to[cell]
        node = cell[..., None] - 1 + np.arange(4)
        partial = _partial_cell_weights(frac) * h * ((node >= 0) & (node < nodes))
        weights += np.einsum("lpk,lpkn->lpn", partial,
                             np.clip(node, 0, nodes - 1)[..., None] == np.arange(nodes))
        weights[count == 0] = 0.0
        weights[count == nodes] = up_to[-1]
        return np.ascontiguousarray(np.transpose(weights, (0, 2, 1))).reshape(-1, self.pairs)

    def summarise(self, n: np.ndarray, dlt: np.ndarray) -> IntervalSummary:
        """Summaries of data sets ``n``, ``dlt`` (data sets, pairs) on this frame."""
        rows = n.shape[0]
        padded = np.zeros((-(-rows // CHUNK) * CHUNK, 2 * self.pairs), np.float32)
        padded[:rows] = np.hstack([dlt, n])
        parts = []
        with _blas_controller().limit(limits=1, user_api="blas"):
            for start in range(0, padded.shape[0], CHUNK):
                parts.append(self._chunk(padded[start:start + CHUNK]))
        out = np.concatenate(parts)[:rows].astype(float)
        k = self.pairs
        total = out[:, 2 * k]
        below_a, below_b = out[:, :k] / total[:, None], out[:, k:2 * k] / total[:, None]
        ess, spread, edge = out[:, -2], out[:, -1], out[:, 2 * k + 1] / total
        ok = ((ess >= MIN_ESS_FRACTION * self.lines) & (edge <= MAX_EDGE_MASS)
              & (spread >= MIN_SPREAD))
        return IntervalSummary(below_a, below_b - below_a, 1 - below_b, ess, edge, spread, ok)

    def _chunk(self, counts: np.ndarray) -> np.ndarray:
        """(CHUNK, functionals + 1): the functionals of a chunk of [DLTs, patients] rows, and
        the ESS of its line weights last."""
        log_f = counts @ self.loglik_basis
        log_f += self.log_base
        log_f -= log_f.max(axis=1, keepdims=True)
        f = np.exp(log_f, out=log_f)
        moments = f.reshape(-1, self.lines, self.nodes) @ self.line_moments
        mass = moments[..., 0]
        ess = mass.sum(axis=1) ** 2 / (mass**2).sum(axis=1)
        within = (moments[..., 2] - moments[..., 1] ** 2 / mass).sum(axis=1) / mass.sum(axis=1)
        return np.column_stack([f @ self.functionals, ess, np.sqrt(within)])


@dataclass(frozen=True)
class Answered:
    """Per data set: P(target) and P(over) per pair, and which path answered it
    (``PATHS``)."""

    p_target: np.ndarray
    p_overdose: np.ndarray
    path: np.ndarray


PATHS = ("anchor's frame", "own frame", "engine")


class AnchoredPosteriors:
    """Posteriors of many trial states for simulation. A data set is answered on the fixed
    frame of its **anchor**: the data set with its last patients taken away down to a
    multiple of ``ANCHOR_COHORTS`` cohorts (the most escalated pairs' patients first, their
    DLTs in proportion, rounded), whose frame is the engine's frame of the anchor's own
    posterior (Laplace, then moments on ``PRE_M`` lines). Where it fails the checks, on the
    frame of its own posterior; where that fails too, by the engine. Every step is a
    function of the data set alone, so its numbers are the same in any batch, chunk or
    process; frames are kept (at most ``FRAMES_KEPT``, the least recently used forgotten)
    only to save building them again."""

    def __init__(self, engine: CombinationEngine, cohort_size: int, rows: int,
                 cols: int) -> None:
        self.engine = engine
        self.step = ANCHOR_COHORTS * cohort_size
        i, j = np.divmod(np.arange(rows * cols), cols)
        self.order = np.lexsort((-np.arange(rows * cols), -(i + j)))  # most escalated first
        self.frames: OrderedDict[bytes, FixedFrame] = OrderedDict()
        self.built = 0
        self.answered = np.zeros(len(PATHS), np.int64)

    def anchor(self, n: np.ndarray, dlt: np.ndarray) -> np.ndarray:
        """(data sets, 2 pairs): each data set's anchor as [patients, DLTs] per pair."""
        n, dlt = n.astype(np.int64), dlt.astype(np.int64)
        excess = n.sum(axis=1) % self.step
        for k in self.order:
            take = np.minimum(n[:, k], excess)
            dlt[:, k] -= (2 * dlt[:, k] * take + n[:, k]) // (2 * np.maximum(n[:, k], 1))
            n[:, k] -= take
            excess -= take
        return np.hstack([n, dlt])

    def summarise(self, n: np.ndarray, dlt: np.ndarray) -> Answered:
        """P(target) and P(over) of data sets ``n``, ``dlt`` (data sets, pairs)."""
        n, dlt = np.asarray(n, np.int64), np.asarray(dlt, np.int64)
        pairs = n.shape[1]
        p_target, p_over = np.zeros(n.shape), np.zeros(n.shape)
        path = np.full(n.shape[0], -1)
        anchors = self.anchor(n, dlt)
        own = np.hstack([n, dlt])
        for step, keys in enumerate((anchors, own)):
            todo = np.flatnonzero(path < 0)
            for key in np.unique(keys[todo], axis=0):
                rows = todo[(keys[todo] == key).all(axis=1)]
                got = self._frame(key[:pairs], key[pairs:]).summarise(n[rows], dlt[rows])
                ok = rows[got.resolved]
                p_target[ok], p_over[ok] = got.p_target[got.resolved], got.p_overdose[
                    got.resolved]
                path[ok] = step
        rest = np.flatnonzero(path < 0)
        if rest.size:
            summary, _ = self.engine.summarise(n[rest], dlt[rest])
            p_target[rest], p_over[rest], path[rest] = summary.p_target, summary.p_overdose, 2
        self.answered += np.bincount(path, minlength=len(PATHS))
        return Answered(p_target, p_over, path)

    def _frame(self, n: np.ndarray, dlt: np.ndarray) -> FixedFrame:
        """The fixed frame of the posterior of data set ``n``, ``dlt``: the engine's frame."""
        key = np.concatenate([n, dlt]).astype(np.int16).tobytes()
        if key in self.frames:
            self.frames.move_to_end(key)
            return self.frames[key]
        engine = self.engine
        mode, hess = engine.laplace(n[None].astype(float), dlt[None].astype(float))
        mean, cov = engine.moments(n[None].astype(float), dlt[None].astype(float), mode,
                                   np.linalg.inv(hess) * SCALE**2, PRE_M)
        frame = FixedFrame(engine, mean[0], cov[0] * SCALE**2)
        self.built += 1
        self.frames[key] = frame
        if len(self.frames) > FRAMES_KEPT:
            self.frames.popitem(last=False)
        return frame
