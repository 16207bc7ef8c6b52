"""BLRM-EWOC with time: TITE-BLRM, and the BLRM that waits for complete follow-up.

Every decision is ``bayesdose.rules.decide_batch`` on the exact engine's posterior, with
``complete`` (patients whose outcome is final, per dose) so that ``[cohorts]
min_complete_followup`` applies, exactly as ``bayesdose recommend`` decides on dated data:

- ``tite-blrm`` (``[cohorts] followup = "tite"``): a patient followed k of T days without a DLT
  contributes log(1 - (k / T) p) to the likelihood (Cheung & Chappell 2000, Biometrics 56,
  1177-1182), so the design decides at each cohort's arrival with patients pending;
- ``blrm`` in a simulation with time (``followup = "complete"``): the next cohort is dosed only
  when every treated patient's outcome is final, so no one is ever pending at a decision.
The posterior depends on (n, DLTs, pending day-profile) alone: summaries are cached by those, and
every profile not yet seen in a step is computed in one batched engine call.
"""

from __future__ import annotations

import numpy as np

from bayesdose.design import Design
from bayesdose.errors import InputError
from bayesdose.posterior import exact_engine
from bayesdose.rules import decide_batch
from bayesdose.simulation.blrm import actions_of
from bayesdose.simulation.interface import Actions
from bayesdose.simulation.timedstates import MAX_CACHED, TimedStates


def require_window(design: Design, name: str) -> int:
    """The DLT window in days; an InputError when the config has none."""
    window = design.cohorts.dlt_window_days
    if window < 1:
        raise InputError(design.source, "[cohorts] dlt_window_days",
                         f"the {name} design simulates time: it needs a DLT window of at "
                         "least one day")
    return window


class TiteBlrm:
    """BLRM-EWOC deciding with pending patients (``waits`` False) or after complete
    follow-up (``waits`` True, named ``blrm``)."""

    def __init__(self, design: Design, waits: bool = False) -> None:
        self.waits = waits
        self.name = "blrm" if waits else "tite-blrm"
        require_window(design, self.name)
        self.design = design
        self.max_cohort_size = design.cohorts.size
        self.max_patients = design.stopping.max_patients
        self._engine = exact_engine(design)
        self._clear()

    def _clear(self) -> None:
        self._index: dict[bytes, int] = {}
        self._p_target = np.zeros((1024, len(self.design.levels)))
        self._p_overdose = np.zeros_like(self._p_target)

    def decide(self, states: TimedStates) -> Actions:
        if len(self._index) > MAX_CACHED:  # bound memory in long runs
            self._clear()
        rows = self._posterior_rows(states)
        return actions_of(decide_batch(
            self.design, states.n, states.dlt, self._p_target[rows], self._p_overdose[rows],
            states.last_level, states.last_dlt, states.complete,
        ))

    def _posterior_rows(self, states: TimedStates) -> np.ndarray:
        """Row of each state's data in the summary cache, filling misses in one batch."""
        data = np.hstack([states.n, states.dlt, states.pending.reshape(len(states), -1)])
        keys = [row.astype(np.int16).tobytes() for row in data]
        missing: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self._index and key not in missing:
                missing[key] = i
        if missing:
            where = np.fromiter(missing.values(), np.int64, len(missing))
            summary = self._engine.batch(states.n[where], states.dlt[where],
                                         states.pending[where])
            start = len(self._index)
            self._store(start, summary.p_target, summary.p_overdose)
            for j, key in enumerate(missing):
                self._index[key] = start + j
        return np.array([self._index[k] for k in keys], np.int64)

    def _store(self, start: int, p_target: np.ndarray, p_overdose: np.ndarray) -> None:
        stop = start + p_target.shape[0]
        if stop > self._p_target.shape[0]:
            size = max(stop, 2 * self._p_target.shape[0])
            for name in ("_p_target", "_p_overdose"):
                grown = np.zeros((size, len(self.design.levels)))
                grown[:start] = getattr(self, name)[:start]
                setattr(self, name, grown)
        self._p_target[start:stop] = p_target
        self._p_overdose[start:stop] = p_overdose
