"""Interned trial states of one design: decisions cached by state, transitions by outcome.

Every reachable state gets an integer id the first time it is reached; its decision is asked
of the design once, for all new states of a step in one call. The successor of state ``s``
after a cohort with ``y`` DLTs is cached in a dense table, so advancing many trials is array
indexing; Python work grows with the number of distinct states, not with the number of trials.
The same space serves every scenario: a design's decision depends on the state only.
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.base import CONTINUE, NO_DOSE, SimulatedDesign, States
from bayesdose.simulation.distinct import row_keys

_GROW = 2


class StateSpace:
    """States, decisions and transitions of ``design`` on a panel of ``n_doses`` doses."""

    def __init__(self, design: SimulatedDesign, n_doses: int) -> None:
        self.design = design
        self.n_doses = n_doses
        self.width = design.max_cohort_size + 1  # outcomes 0..max cohort size
        self._index: dict[bytes, int] = {}
        cap = 1024
        self.n = np.zeros((cap, n_doses), np.int16)
        self.dlt = np.zeros((cap, n_doses), np.int16)
        self.last = np.zeros((cap, 2), np.int16)
        self.next_level = np.zeros(cap, np.int64)
        self.cohort_size = np.zeros(cap, np.int64)
        self.stop_reason = np.zeros(cap, np.int64)
        self.mtd = np.zeros(cap, np.int64)
        self.successor = np.full((cap, self.width), -1, np.int64)
        self.size = 0
        self.lookups = 0
        self.misses = 0
        root = self._intern_rows(
            np.zeros((1, n_doses), np.int16), np.zeros((1, n_doses), np.int16),
            np.array([[NO_DOSE, 0]], np.int16),
        )
        self.root = int(root[0])

    @property
    def hit_rate(self) -> float:
        """Share of per-trial lookups of a next state answered without deciding a new state
        (all trials reaching the same new state in one step share one decision)."""
        return 1.0 - self.misses / self.lookups if self.lookups else float("nan")

    def stopped(self, ids: np.ndarray) -> np.ndarray:
        return self.stop_reason[ids] != CONTINUE

    def advance(self, ids: np.ndarray, dlts: np.ndarray) -> np.ndarray:
        """Successor ids of states ``ids`` after cohorts with ``dlts`` DLTs."""
        at = ids * self.width + dlts  # (state, outcome) in the flat successor table
        out = self.successor.ravel()[at]
        self.lookups += ids.size
        if out.min() < 0:
            pairs = np.unique(at[out < 0])
            self.misses += pairs.size  # each new state is decided once, however many trials
            self._expand(pairs // self.width, pairs % self.width)
            out = self.successor.ravel()[at]
        return out

    def _expand(self, parents: np.ndarray, dlts: np.ndarray) -> None:
        level = self.next_level[parents]
        n = self.n[parents].copy()
        dlt = self.dlt[parents].copy()
        rows = np.arange(parents.size)
        n[rows, level] += self.cohort_size[parents].astype(np.int16)
        dlt[rows, level] += dlts.astype(np.int16)
        last = np.column_stack([level, dlts]).astype(np.int16)
        self.successor[parents, dlts] = self._intern_rows(n, dlt, last)

    def _intern_rows(self, n: np.ndarray, dlt: np.ndarray, last: np.ndarray) -> np.ndarray:
        """The ids of the states (n, dlt, last), a row each; a state not seen before gets the
        next free id (in the order of its first row) and is decided."""
        keys = row_keys(np.hstack([n, dlt, last]).astype(np.int16))
        index = self._index  # every state so far: a new key's id is its size before it
        ids = np.array([index.setdefault(key, len(index)) for key in keys], np.int64)
        new = np.flatnonzero(ids >= self.size)
        if new.size:
            first = new[np.unique(ids[new], return_index=True)[1]]  # in the order of the ids
            self._add(n[first], dlt[first], last[first])
        return ids

    def _add(self, n: np.ndarray, dlt: np.ndarray, last: np.ndarray) -> None:
        start, stop = self.size, self.size + n.shape[0]
        self._reserve(stop)
        self.n[start:stop], self.dlt[start:stop], self.last[start:stop] = n, dlt, last
        actions = self.design.decide(
            States(n.astype(np.int64), dlt.astype(np.int64),
                   last[:, 0].astype(np.int64), last[:, 1].astype(np.int64))
        )
        self.next_level[start:stop] = actions.next_level
        self.cohort_size[start:stop] = actions.cohort_size
        self.stop_reason[start:stop] = actions.stop_reason
        self.mtd[start:stop] = actions.mtd
        self.size = stop
        going = actions.stop_reason == CONTINUE
        if np.any(actions.cohort_size[going] > self.width - 1) or np.any(
            actions.cohort_size[going] < 1
        ):
            raise RuntimeError(f"design {self.design.name} gave a cohort size out of range")

    def _reserve(self, needed: int) -> None:
        cap = self.n.shape[0]
        if needed <= cap:
            return
        new_cap = max(needed, cap * _GROW)
        for name in ("n", "dlt", "last", "next_level", "cohort_size", "stop_reason", "mtd",
                     "successor"):
            old = getattr(self, name)
            fill = -1 if name == "successor" else 0
            grown = np.full((new_cap, *old.shape[1:]), fill, old.dtype)
            grown[:cap] = old
            setattr(self, name, grown)
