"""Trial states on a date, and the decisions of a design cached by the full state.

With time, what a design may read on a date is: per dose, the patients treated (``n``) and the
DLTs known by then (``dlt``); the patients still in DLT follow-up without a DLT, counted by dose
and whole days followed (``pending``, as ``ExactEngine.batch`` takes it); and the last cohort's
dose and known DLTs. Days are whole, so states repeat across trials and decisions can be cached
(Cheung & Chappell 2000 weight a pending patient by days followed / window, a function of the
state).

A state's key is the int16 row ``n, dlt, last_level, last_dlt`` followed by the pending patients'
codes ``level * T + days`` in ascending order, padded with a sentinel; equal keys are equal
states. ``TimedCache.lookup`` finds the distinct keys of a batch of trials, decides every new one
in a single call of the design, and returns each trial's state id.
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.base import TimedDesign, TimedStates

SENTINEL = np.iinfo(np.int16).max
MAX_CACHED = 500_000  # states kept per design and process (about 100 MB)


def encode(n: np.ndarray, dlt: np.ndarray, last: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Key rows (int16): counts, the last cohort (level, DLTs) and sorted pending codes."""
    return np.hstack([n, dlt, last, np.sort(codes, axis=1)]).astype(np.int16)


def decode(keys: np.ndarray, n_doses: int, window: int) -> TimedStates:
    """The states of key rows."""
    k = n_doses
    n = keys[:, :k].astype(np.int64)
    dlt = keys[:, k : 2 * k].astype(np.int64)
    codes = keys[:, 2 * k + 2 :].astype(np.int64)
    pending = np.zeros((keys.shape[0], k * window), np.int64)
    rows, cols = np.nonzero(codes != SENTINEL)
    np.add.at(pending, (rows, codes[rows, cols]), 1)
    return TimedStates(n, dlt, last_level=keys[:, 2 * k].astype(np.int64),
                       last_dlt=keys[:, 2 * k + 1].astype(np.int64),
                       pending=pending.reshape(-1, k, window))


class TimedCache:
    """The decisions of one design, by state; ids index ``next_level``, ``cohort_size``,
    ``stop_reason`` and ``mtd``."""

    def __init__(self, design: TimedDesign, n_doses: int, window: int) -> None:
        self.design = design
        self.n_doses = n_doses
        self.window = window
        self.lookups = 0
        self.misses = 0
        self.clear()

    def clear(self) -> None:
        """Forget every state (ids handed out before are void)."""
        self._index: dict[bytes, int] = {}
        self._actions = np.zeros((1024, 4), np.int64)

    def trim(self) -> None:
        """Bound memory in long runs: forget every state when there are over MAX_CACHED (the
        results do not depend on the cache). Only between runs: ids would change."""
        if self.size > MAX_CACHED:
            self.clear()

    @property
    def next_level(self) -> np.ndarray:
        return self._actions[: self.size, 0]

    @property
    def cohort_size(self) -> np.ndarray:
        return self._actions[: self.size, 1]

    @property
    def stop_reason(self) -> np.ndarray:
        return self._actions[: self.size, 2]

    @property
    def mtd(self) -> np.ndarray:
        return self._actions[: self.size, 3]

    @property
    def size(self) -> int:
        return len(self._index)

    @property
    def hit_rate(self) -> float:
        """Share of per-trial lookups answered without deciding a new state."""
        return 1.0 - self.misses / self.lookups if self.lookups else float("nan")

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """State ids of key rows (trials, width), deciding all new states in one call."""
        rows = np.ascontiguousarray(keys)
        void = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
        unique, first, inverse = np.unique(void, return_index=True, return_inverse=True)
        ids = np.fromiter((self._index.get(u.tobytes(), -1) for u in unique), np.int64,
                          unique.size)
        new = np.flatnonzero(ids < 0)
        self.lookups += keys.shape[0]
        self.misses += new.size
        if new.size:
            ids[new] = self._add(rows[first[new]])
        return ids[inverse.ravel()]

    def states_of(self, keys: np.ndarray) -> TimedStates:
        """The states of key rows, as the design reads them."""
        return decode(keys, self.n_doses, self.window)

    def _add(self, keys: np.ndarray) -> np.ndarray:
        actions = self.design.decide(self.states_of(keys))
        start, stop = self.size, self.size + keys.shape[0]
        if stop > self._actions.shape[0]:
            grown = np.zeros((max(stop, 2 * self._actions.shape[0]), 4), np.int64)
            grown[:start] = self._actions[:start]
            self._actions = grown
        self._actions[start:stop] = np.column_stack(
            [actions.next_level, actions.cohort_size, actions.stop_reason, actions.mtd])
        for i, row in enumerate(keys):
            self._index[row.tobytes()] = start + i
        return np.arange(start, stop)
