"""Posteriors one cohort beyond a posterior already on the grid: the held density times the
cohort's likelihood, with no exponential.

Along a simulated trial each new data set is an earlier one plus a cohort: m patients at dose
k, y of them with a DLT. On the exact engine's grid its posterior density is the earlier one's
times p_k^y (1 - p_k)^(m - y) at every node. The engine forms each density from scratch, a
product of the counts with its log-likelihood rows and an exponential at every node (four
fifths of its cost per data set); here one multiplication per node does, where the earlier
density is still held (the data sets of the previous call, as a trial tree is walked a cohort
at a time). The interval probabilities, the resolution check and the answers for data sets
the grid does not resolve are the engine's own (``ExactEngine``).

The numbers differ from the engine's in the last digits of single precision (a product of
rounded factors in place of one rounded exponential; sums in single precision): about 1e-6,
far inside the engine's error bound, but they depend on the path by which a data set was
reached. So these are a simulation's screening numbers (``designs.blrm.simulated``), whose
decisions are kept only where they lie well beyond the error bound from changing, never the
numbers ``recommend`` prints.

Underflow: the held densities are scaled to maximum 1 in single precision, whose smallest
normal number is 1.2e-38. A node left at zero there had a true scaled density below that, so
the product leaves out at most 1.2e-38 / s of the new density's maximum, where s is the
product's maximum; when s < ``MIN_SCALE`` (data in strong conflict with the earlier ones) the
data set is computed from scratch instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from bayesdose.inference.exact import CHUNK, N_STATS, ExactEngine, in_threads

HELD_LIMIT = 4096  # densities held from the previous call (90 MB on a 140 x 40 grid)
MIN_SCALE = 1e-20  # below this maximum the product may have lost mass: compute afresh
BLOCK = 64  # rows multiplied and summed at a time (bounded memory whatever the call)


class DensityChain:
    """P(target) and P(overdosing) of data sets on one engine's grid, each extended from a
    density held from the previous call where one differs from it by a cohort at one dose.

    The densities of a call's data sets with room for another cohort (fewer than
    ``max_patients``) are held for the next call, up to ``HELD_LIMIT``, in one of two buffers
    used in turn (each allocated once: fresh memory costs page faults as much as the
    arithmetic)."""

    def __init__(self, engine: ExactEngine, cohort_sizes: Sequence[int],
                 max_patients: int) -> None:
        self.engine = engine
        self.sizes = sorted(set(cohort_sizes), reverse=True)
        self.max_patients = max_patients
        self._columns = engine._interval_columns
        self._functionals = engine._leading_functionals(self._columns).astype(np.float32)
        self._factor_rows, self._factors = _cohort_factors(engine, self.sizes)
        self._held_rows: dict[bytes, int] = {}
        nodes = engine._basis.shape[1]
        self._held, self._next = (np.zeros((0, nodes), np.float32),) * 2
        self._scratch = threading.local()

    def intervals(self, n: np.ndarray, dlt: np.ndarray, last_level: np.ndarray,
                  last_dlt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P(target), P(overdosing)), each (N, doses), of data sets ``n``, ``dlt`` (N, doses)
        whose last cohort was at ``last_level`` with ``last_dlt`` DLTs (-1: none)."""
        parent, factor = self._parents(n, dlt, last_level, last_dlt)
        # held first; by cohort within each part, so a block multiplies few factor rows
        order = np.lexsort((factor, n.sum(axis=1) >= self.max_patients))
        held = min(int(np.sum(n.sum(axis=1) < self.max_patients)), HELD_LIMIT)
        counts = self.engine.observation_counts(n, dlt)[order]
        parent, factor = parent[order], factor[order]
        out = np.empty((n.shape[0], self._columns + N_STATS))
        if self._next.shape[0] < held:
            self._next = np.empty((held, self._next.shape[1]), np.float32)

        def blocks(starts: np.ndarray) -> None:
            for start in starts.tolist():
                stop = min(start + BLOCK, held if start < held else n.shape[0])
                rows = slice(start, stop)
                into = self._next[rows] if start < held else self._block()[: stop - start]
                self._densities(counts[rows], parent[rows], factor[rows], into)
                out[rows, : self._columns] = into @ self._functionals
                out[rows, self._columns :] = self.engine._stats(into)

        in_threads(blocks, np.concatenate([np.arange(0, held, BLOCK),
                                           np.arange(held, n.shape[0], BLOCK)]))
        self._held, self._next = self._next, self._held
        self._held_rows = dict(zip(count_keys(np.hstack([n, dlt])[order[:held]]), range(held),
                                   strict=True))
        out[order] = out.copy()
        self.engine._answer_unresolved(self.engine.observation_counts(n, dlt), out)
        below_low, below_high = self.engine._below(out)
        return below_high - below_low, 1.0 - below_high

    def _block(self) -> np.ndarray:
        """This thread's (BLOCK, nodes) work array."""
        if not hasattr(self._scratch, "block"):
            self._scratch.block = np.empty((BLOCK, self._held.shape[1]), np.float32)
        return self._scratch.block

    def _densities(self, counts: np.ndarray, parent: np.ndarray, factor: np.ndarray,
                   into: np.ndarray) -> None:
        """Into ``into`` (rows, nodes; single precision): each data set's posterior density
        scaled to maximum 1, the held density times its cohort's factor where ``parent`` >= 0,
        from scratch (the engine's ``_densities``) elsewhere."""
        fresh = parent < 0
        if not fresh.all():
            self._held.take(parent, axis=0, out=into, mode="clip")  # clip: no copy first
            for run in np.split(np.arange(factor.size), np.flatnonzero(np.diff(factor)) + 1):
                into[run[0] : run[-1] + 1] *= self._factors[factor[run[0]]]
            scale = into.max(axis=1)
            into *= (1.0 / np.maximum(scale, MIN_SCALE)).astype(np.float32)[:, None]
            fresh |= scale < MIN_SCALE
        rows = np.flatnonzero(fresh)
        for start in range(0, rows.size, CHUNK):
            chunk = rows[start : start + CHUNK]
            into[chunk] = self.engine._densities(counts[chunk])[0][: chunk.size]

    def _parents(self, n: np.ndarray, dlt: np.ndarray, last_level: np.ndarray,
                 last_dlt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per data set, the held density it extends and the row of its cohort's factor (-1
        and 0 where none is held): the data set less its last cohort, of each possible
        size, largest first."""
        parent = np.full(n.shape[0], -1, np.int64)
        factor = np.zeros(n.shape[0], np.int64)
        if not self._held_rows:
            return parent, factor
        counts, doses = np.hstack([n, dlt]), n.shape[1]
        for size in self.sizes:
            todo = np.flatnonzero((parent < 0) & (last_level >= 0) & (last_dlt <= size))
            level, y = last_level[todo], last_dlt[todo]
            earlier = counts[todo]  # the data set less a cohort of this size
            earlier[np.arange(todo.size), level] -= size
            earlier[np.arange(todo.size), doses + level] -= y
            found = np.fromiter((self._held_rows.get(key, -1) for key in count_keys(earlier)),
                                np.int64, todo.size)
            hit = found >= 0
            parent[todo[hit]] = found[hit]
            factor[todo[hit]] = self._factor_rows[level[hit], size, y[hit]]
        return parent, factor


def _cohort_factors(engine: ExactEngine, sizes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The likelihood of every possible cohort, p^y (1 - p)^(m - y) at dose k on every node,
    scaled to maximum 1 (single precision, a row each), and the row of each (k, m, y)."""
    basis, doses = engine._basis, engine.n_doses
    index = np.full((doses, max(sizes) + 1, max(sizes) + 1), -1, np.int64)
    factors = []
    for level in range(doses):
        for size in sizes:
            for dlts in range(size + 1):
                log = dlts * basis[level] + (size - dlts) * basis[doses + level]
                index[level, size, dlts] = len(factors)
                factors.append(np.exp(log - log.max()))
    return index, np.array(factors, np.float32)


def count_keys(counts: np.ndarray) -> list[bytes]:
    """One key per data set (a row of integer counts, e.g. ``n`` then ``dlt``): the row as
    int16 bytes."""
    rows = np.ascontiguousarray(counts, np.int16)
    return rows.view(np.dtype((np.void, rows.shape[1] * 2))).ravel().tolist()
