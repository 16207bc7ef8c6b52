"""Posterior densities on the exact engine's grid as products of per-dose likelihood rows, with
no exponential per data set.

A data set's likelihood is a product over doses of p_k^y (1 - p_k)^(n - y) (n patients at
dose k, y of them with a DLT). On the engine's grid each dose's factor for given (n, y) is a
row of numbers, one per node, computed once (scaled to maximum 1, single precision; the
prior is folded into the first dose's rows) and kept; a data set's density is the product of
its doses' rows: a multiplication per node and dose with data, where the engine forms the
log density (a product of the counts with its log-likelihood rows) and exponentiates it at
every node (four fifths of its cost per data set). A simulated design reuses few rows: the
11,684 posteriors of the standard design's exact operating characteristics use 310. The
interval probabilities, the resolution check and the answers for data sets the grid does not
resolve are the engine's own (``ExactEngine``).

The numbers differ from the engine's in the last digits of single precision (a product of
rounded factors in place of one rounded exponential; sums in single precision): about 1e-6,
far inside the engine's error bound, and they depend on the batch a data set is computed in.
So these are a simulation's screening numbers (``designs.blrm.simulated``), whose decisions
are kept only where they lie well beyond the error bound from changing, never the numbers
``recommend`` prints.

Underflow: every factor is at most 1, so a product only falls. Single precision keeps full
relative precision down to 1.2e-38; where the product's mass puts its maximum at or above
``MIN_SCALE``, the nodes that matter (within 1e-8 of the maximum) lie far above that. A data
set whose product falls below it (data in strong conflict with each other or the prior) is
computed from scratch by the engine instead.
"""

from __future__ import annotations

import threading

import numpy as np

from bayesdose.denormals import flushed
from bayesdose.inference.exact import CHUNK, N_STATS, ExactEngine, in_threads

MIN_SCALE = 1e-20  # a product whose maximum may lie below this is computed afresh
BLOCK = 64  # data sets multiplied and summed at a time
# blocks a thread takes at least: for fewer, a second thread costs more than it gains (a call
# of 100 data sets: 15 us a data set on two threads, 10-11 on one; 400: 8.4-9.2 either way)
THREAD_BLOCKS = 4
MAX_ROWS = 4096  # likelihood rows kept (45 MB on the 140 x 20 screen); beyond, start afresh


class LikelihoodTables:
    """P(target) and P(overdosing) of many data sets on one engine's grid, each density the
    product of its doses' likelihood rows (module)."""

    def __init__(self, engine: ExactEngine) -> None:
        self.engine = engine
        self._columns = engine._interval_columns
        self._functionals = engine._leading_functionals(self._columns).astype(np.float32)
        # the nodes' weights sum: a density's maximum is at least its mass over this
        self._weight_sum = float(self._functionals[:, 0].sum())
        self._scratch = threading.local()
        self._clear()

    def _clear(self) -> None:
        """No likelihood rows but the prior (dose 0's row for no patients) and ones (any other
        dose's)."""
        log_prior = self.engine._log_prior - self.engine._log_prior.max()
        # reserved, not written: memory costs (page faults) only where rows are kept
        self._rows = np.empty((MAX_ROWS, log_prior.size), np.float32)
        self._rows[0], self._rows[1] = np.exp(log_prior), 1.0
        self._size = 2
        self._index: dict[tuple[int, int, int], int] = {}

    def intervals(self, n: np.ndarray, dlt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P(target), P(overdosing)), each (N, doses), of data sets ``n``, ``dlt`` (N, doses).
        A call whose data sets need more than ``MAX_ROWS`` rows is answered in halves."""
        rows = self._row_indices(n, dlt)
        if rows is None:
            half = n.shape[0] // 2
            parts = self.intervals(n[:half], dlt[:half]), self.intervals(n[half:], dlt[half:])
            return np.vstack([a for a, _ in parts]), np.vstack([b for _, b in parts])
        order = np.lexsort(rows.T[::-1])  # equal rows together: blocks share their reads
        rows = rows[order]
        out = np.empty((n.shape[0], self._columns + N_STATS))
        table = self._rows[: self._size]

        def blocks(starts: np.ndarray) -> None:
            with flushed():  # subnormal products as zero: a hundred times faster
                for start in starts.tolist():
                    span = slice(start, start + BLOCK)
                    self._summarise(self._product(table, rows[span]), out, span)

        in_threads(blocks, np.arange(0, n.shape[0], BLOCK), least=THREAD_BLOCKS)
        out[order] = out.copy()
        counts = self.engine.observation_counts(n, dlt)
        self._recompute_underflow(counts, out)
        self.engine._answer_unresolved(counts, out)
        below_low, below_high = self.engine._below(out)
        return below_high - below_low, 1.0 - below_high

    def _product(self, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(len(rows), nodes): the product of each data set's rows of ``table``, in this
        thread's work arrays (valid until its next call)."""
        density, factor = self._work(rows.shape[0])
        table.take(rows[:, 0], axis=0, out=density, mode="clip")  # clip: no copy first
        for dose in range(1, rows.shape[1]):
            if rows[:, dose].max() > 1:  # some data set has patients at this dose
                table.take(rows[:, dose], axis=0, out=factor, mode="clip")
                density *= factor
        return density

    def _work(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """This thread's two (``size``, nodes) work arrays (of BLOCK rows, allocated once)."""
        if not hasattr(self._scratch, "arrays"):
            self._scratch.arrays = np.empty((2, BLOCK, self._rows.shape[1]), np.float32)
        return self._scratch.arrays[0, :size], self._scratch.arrays[1, :size]

    def _recompute_underflow(self, counts: np.ndarray, out: np.ndarray) -> None:
        """The data sets whose product may have fallen below ``MIN_SCALE``, computed from
        scratch by the engine."""
        low = self._underflowed(out)
        for start in range(0, low.size, CHUNK):
            rows = low[start : start + CHUNK]
            self._summarise(self.engine._densities(counts[rows])[0][: rows.size], out, rows)

    def _summarise(self, density: np.ndarray, out: np.ndarray, rows: slice | np.ndarray
                   ) -> None:
        """Into ``out[rows]``: the interval functionals (summed in single precision) and the
        engine's resolution statistics of ``density`` (rows, nodes)."""
        out[rows, : self._columns] = density @ self._functionals
        out[rows, self._columns :] = self.engine._stats(density)

    def _underflowed(self, out: np.ndarray) -> np.ndarray:
        """The rows of ``out`` whose mass over the weight sum (a lower bound of the density's
        maximum) lies below ``MIN_SCALE``."""
        return np.flatnonzero(~(out[:, 0] >= MIN_SCALE * self._weight_sum))

    def _row_indices(self, n: np.ndarray, dlt: np.ndarray) -> np.ndarray | None:
        """(N, doses): each data set's row of ``_rows`` at each dose (0, the prior, at dose 0
        without patients; 1, ones, at another dose without patients), rows not yet kept
        computed now; None if they would be more than ``MAX_ROWS``."""
        top = int(n.max(initial=0)) + 1
        keys = (np.arange(n.shape[1]) * top + n) * top + dlt  # (dose, patients, DLTs) as one
        distinct, inverse = np.unique(keys, return_inverse=True)
        wanted = [(key // (top * top), *divmod(key % (top * top), top))
                  for key in distinct.tolist()]
        if self._size + sum(key[1] > 0 and key not in self._index for key in wanted) > MAX_ROWS:
            self._clear()
            if 2 + sum(patients > 0 for _, patients, _ in wanted) > MAX_ROWS:
                return None
        rows = np.array([self._row(*key) for key in wanted])
        return rows[inverse.reshape(n.shape)]

    def _row(self, dose: int, patients: int, dlts: int) -> int:
        """The row of ``_rows`` for (``patients``, ``dlts``) at ``dose``, kept if new."""
        if patients == 0:
            return 0 if dose == 0 else 1
        if (dose, patients, dlts) not in self._index:
            self._add(dose, patients, dlts)
        return self._index[dose, patients, dlts]

    def _add(self, dose: int, patients: int, dlts: int) -> None:
        """Keep the row of p^dlts (1 - p)^(patients - dlts) at ``dose`` (times the prior at
        dose 0), scaled to maximum 1."""
        basis, doses = self.engine._basis, self.engine.n_doses
        log = dlts * basis[dose] + (patients - dlts) * basis[doses + dose]
        if dose == 0:
            log = log + self.engine._log_prior
        # exponentiated in single precision, as the engine does (``ExactEngine._densities``)
        self._rows[self._size] = np.exp((log - log.max()).astype(np.float32))
        self._index[dose, patients, dlts] = self._size
        self._size += 1
