"""BLRM-EWOC as a simulated design: exactly the rules of ``bayesdose recommend``.

Every decision is ``bayesdose.rules.decide`` on the exact engine's posterior (Neuenschwander,
Branson & Gsponer 2008; EWOC of Babb, Rogatko & Zacks 1998), so what is simulated is what
``recommend`` does. The posterior depends on the counts alone: summaries are cached by counts,
and all counts not yet seen in a step are computed in one batched engine call.
"""

from __future__ import annotations

import numpy as np

from bayesdose.design import Design
from bayesdose.posterior import exact_engine
from bayesdose.rules import decide
from bayesdose.simulation.interface import NO_DOSE, STOP_REASONS, Actions, States


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
        actions = Actions.empty(len(states))
        for i in range(len(states)):
            last = None
            if states.last_level[i] >= 0:
                last = (int(states.last_level[i]), int(states.last_dlt[i]))
            d = decide(
                self.design, states.n[i], states.dlt[i],
                self._p_target[rows[i]], self._p_overdose[rows[i]], last,
            )
            actions.next_level[i] = NO_DOSE if d.next_level is None else d.next_level
            actions.cohort_size[i] = d.cohort_size
            actions.stop_reason[i] = STOP_REASONS.index(d.stop_reason or "none")
            actions.mtd[i] = NO_DOSE if d.mtd_level is None else d.mtd_level
        return actions

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
