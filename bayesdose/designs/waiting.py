"""Any design without time, run in time by waiting for complete follow-up.

3+3 (and its de-escalation variant), CRM and BOIN decide from complete outcomes; in a simulation
with time the next cohort is dosed only when every treated patient's outcome is final (a DLT, or
the whole DLT window followed), and patients who arrive meanwhile queue. Their decisions are
then exactly those of the design without time: only the dates change.
"""

from __future__ import annotations

from bayesdose.designs.base import Actions, SimulatedDesign, TimedStates


class Waiting:
    """A design without time, deciding only on complete data."""

    waits = True

    def __init__(self, design: SimulatedDesign) -> None:
        self.inner = design
        self.name = design.name
        self.max_cohort_size = design.max_cohort_size
        self.max_patients = design.max_patients

    def decide(self, states: TimedStates) -> Actions:
        if states.any_pending.any():
            raise RuntimeError(f"{self.name} waits for complete follow-up: no state may have "
                               "pending patients")
        return self.inner.decide(states)
