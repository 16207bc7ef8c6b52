"""BLRM-EWOC with time: TITE-BLRM, and the BLRM that waits for complete follow-up.

Every decision is ``rules.decide_batch`` on the exact engine's posterior, with
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

from bayesdose.designs.base import Actions, TimedStates, require_window
from bayesdose.designs.blrm.rules import decide_batch
from bayesdose.designs.blrm.simulated import SummaryCache, actions_of
from bayesdose.posterior import exact_engine
from bayesdose.schema import Design
from bayesdose.simulation.timedstates import MAX_CACHED


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
        self._cache = SummaryCache(len(design.levels), MAX_CACHED)

    def decide(self, states: TimedStates) -> Actions:
        data = np.hstack([states.n, states.dlt, states.pending.reshape(len(states), -1)])
        rows = self._cache.rows(data, lambda where: self._engine.intervals(
            states.n[where], states.dlt[where], states.pending[where]))
        return actions_of(decide_batch(
            self.design, states.n, states.dlt, self._cache.p_target[rows],
            self._cache.p_overdose[rows], states.last_level, states.last_dlt, states.complete,
        ))


def waiting_blrm(design: Design) -> TiteBlrm:
    """BLRM-EWOC in a study with time: it waits for complete follow-up, and the rules read
    how many patients completed it at each dose (``[cohorts] min_complete_followup``)."""
    return TiteBlrm(design, waits=True)
