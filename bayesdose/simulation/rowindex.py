"""Ids of integer rows (trial states, data sets), looked up for thousands of rows at once
without a Python loop per row: what the caches of simulated decisions and posteriors use.

Each row is hashed by the wrapping linear map of ``distinct`` (one int64) and the hashes are
kept sorted beside the ids, so a batch is found by one ``searchsorted``. Every hit is checked
against the stored row; a row whose hash another row already holds (about 2^-64 a pair) is
kept apart, by its bytes, and found there: the ids are exact whatever the hashes do. Rows of
another width (a state key padded for another trial size) are other rows.
"""

from __future__ import annotations

import numpy as np

from bayesdose.simulation.distinct import row_hashes


class RowIndex:
    """Ids 0, 1, 2, ... of distinct integer rows, in the order they were added."""

    def __init__(self) -> None:
        self.size = 0
        self._by_width: dict[int, _SameWidth] = {}

    def find(self, rows: np.ndarray) -> np.ndarray:
        """The id of each row (``rows``: (m, width) integers), -1 for a row not added."""
        rows = np.asarray(rows).astype(np.int64, copy=False)
        held = self._by_width.get(rows.shape[1])
        return np.full(rows.shape[0], -1, np.int64) if held is None else held.find(rows)

    def add(self, rows: np.ndarray) -> np.ndarray:
        """Give the next ids to ``rows`` (distinct, none added before), in their order."""
        rows = np.asarray(rows).astype(np.int64, copy=False)
        ids = np.arange(self.size, self.size + rows.shape[0])
        self._by_width.setdefault(rows.shape[1], _SameWidth(rows.shape[1])).add(rows, ids)
        self.size += rows.shape[0]
        return ids


class _SameWidth:
    """The rows of one width: sorted hashes with their ids, the rows by position."""

    def __init__(self, width: int) -> None:
        self._hashes = np.empty(0, np.int64)  # sorted
        self._at = np.empty(0, np.int64)  # the position in _rows of each sorted hash
        self._rows = np.empty((64, width), np.int64)
        self._ids = np.empty(64, np.int64)
        self._count = 0
        self._apart: dict[bytes, int] = {}  # rows whose hash another row holds: their ids

    def find(self, rows: np.ndarray) -> np.ndarray:
        hashes = row_hashes(rows)
        ids = np.full(rows.shape[0], -1, np.int64)
        if self._hashes.size:
            pos, hit = self._held(hashes)
            hit = np.flatnonzero(hit)
            at = self._at[pos[hit]]
            same = (self._rows[at] == rows[hit]).all(axis=1)
            ids[hit[same]] = self._ids[at[same]]
        if self._apart:
            for i in np.flatnonzero(ids < 0):
                ids[i] = self._apart.get(rows[i].tobytes(), -1)
        return ids

    def add(self, rows: np.ndarray, ids: np.ndarray) -> None:
        hashes = row_hashes(rows)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        taken = np.zeros(rows.shape[0], bool)
        taken[order[1:]] = ordered[1:] == ordered[:-1]  # a hash twice in the batch
        if self._hashes.size:
            taken |= self._held(hashes)[1]
        for i in np.flatnonzero(taken):
            self._apart[rows[i].tobytes()] = int(ids[i])
        order = order[~taken[order]]
        at = self._store(rows[order], ids[order])
        where = np.searchsorted(self._hashes, hashes[order])
        self._hashes = np.insert(self._hashes, where, hashes[order])
        self._at = np.insert(self._at, where, at)

    def _held(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The position of each hash among the sorted ones, and whether it is there."""
        pos = np.minimum(np.searchsorted(self._hashes, hashes), self._hashes.size - 1)
        return pos, self._hashes[pos] == hashes

    def _store(self, rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Append rows and ids; their positions."""
        start, stop = self._count, self._count + rows.shape[0]
        if stop > self._rows.shape[0]:
            size = max(stop, 2 * self._rows.shape[0])
            self._rows = np.resize(self._rows, (size, self._rows.shape[1]))
            self._ids = np.resize(self._ids, size)
        self._rows[start:stop], self._ids[start:stop] = rows, ids
        self._count = stop
        return np.arange(start, stop)
