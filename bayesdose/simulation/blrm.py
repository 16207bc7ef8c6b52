"""BLRM-EWOC as a simulated design: exactly the rules of ``bayesdose recommend``.

Every decision is ``bayesdose.rules.decide_batch`` (the rules of ``recommend``) on the exact
engine's posterior (Neuenschwander, Branson & Gsponer 2008; EWOC of Babb, Rogatko & Zacks 1998),
so what is simulated is what ``recommend`` does. The posterior depends on the counts alone:
summaries are cached by counts, and all counts not yet seen in a step are computed in one
batched engine call; all new states of a step are decided in one batch.
"""

from __future__ import annotations

import numpy as np

from bayesdose.design import Design
from bayesdose.posterior import exact_engine
from bayesdose.rules import Decisions, decide_batch
from bayesdose.simulation.interface import Actions, States


def actions_of(decisions: Decisions) -> Actions:
    """What the simulator needs of the rules' decisions."""
    return Actions(decisions.next_level, decisions.cohort_size, decisions.stop_reason,
                   decisions.mtd_level)


class BlrmDesign:
    """BLRM with escalation with overdose control, decided by the exact engine."""

    name = "blrm"

    def __init__(self, design: Design) -> None:
        self.design = design
        self.max_cohort_size = design.cohorts.size
        self.max_patients = design.stopping.max_patients
        self._engine = exact_engine(design)
        self._index: dict[bytes, int] = {}
        self._p_target = np.zeros((0, len(design.levels)))
        self._p_overdose = np.zeros((0, len(design.levels)))
        self.lookups = 0
        self.hits = 0

    @property
    def posterior_hit_rate(self) -> float:
        """Share of posterior lookups (one per new trial state) answered from the cache."""
        return self.hits / self.lookups if self.lookups else float("nan")

    def decide(self, states: States) -> Actions:
        rows = self._posterior_rows(states.n, states.dlt)
        return actions_of(decide_batch(
            self.design, states.n, states.dlt, self._p_target[rows], self._p_overdose[rows],
            states.last_level, states.last_dlt,
        ))

    def _posterior_rows(self, n: np.ndarray, dlt: np.ndarray) -> np.ndarray:
        """Row of each state's counts in the summary cache, filling cache misses in one batch."""
        keys = [np.concatenate([a, b]).astype(np.int16).tobytes() for a, b in zip(n, dlt,
                                                                                    strict=True)]
        self.lookups += len(keys)
        missing: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self._index and key not in missing:
                missing[key] = i
        self.hits += len(keys) - len(missing)
        if missing:
            where = np.fromiter(missing.values(), np.int64)
            summary = self._engine.batch(n[where], dlt[where])
            start = self._p_target.shape[0]
            self._p_target = np.vstack([self._p_target, summary.p_target])
            self._p_overdose = np.vstack([self._p_overdose, summary.p_overdose])
            for j, key in enumerate(missing):
                self._index[key] = start + j
        return np.array([self._index[k] for k in keys], np.int64)
