"""BLRM-EWOC with backfill cohorts (``blrm+backfill``): EWOC applies to backfill.

The escalation is BLRM-EWOC's own (``rules.decide_batch``, as ``recommend``) on the complete
data of every patient, escalation and backfill alike. A dose closes to backfill, with every dose
above it, when its posterior P(overdosing) on those data is at or above ``[decision]
max_overdose_probability``: the dose EWOC would not allow as the next dose is not given to a
backfill patient either. When the escalation patients are used up, the MTD is the dose the
design declares at ``max_patients``: the given dose with the highest P(target) that EWOC allows.
The stopping rules read the pooled data (``mtd_min_patients`` counts backfill patients at the
dose too); ``max_patients`` counts escalation patients only (``designs.backfill``).
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.backfill import with_backfill_room
from bayesdose.designs.base import Actions, States
from bayesdose.designs.blrm.rules import best_given_dose
from bayesdose.designs.blrm.simulated import BlrmDesign
from bayesdose.schema import Design


class BlrmBackfill:
    """BLRM-EWOC's escalation, MTD and EWOC closure on pooled data."""

    def __init__(self, design: Design) -> None:
        self.max_patients = design.stopping.max_patients
        self.blrm = BlrmDesign(with_backfill_room(design))
        self.threshold = design.decision.max_overdose_probability

    closes = ("closed where EWOC applies: posterior P(overdosing) at or above [decision] "
              "max_overdose_probability on the complete data of every patient")

    def decide(self, states: States) -> Actions:
        return self.blrm.decide(states)

    def expect(self, n: np.ndarray, dlt: np.ndarray) -> None:
        """The complete data the next decisions read (``BlrmDesign.expect``)."""
        self.blrm.expect(n, dlt)

    def select(self, states: States) -> np.ndarray:
        """The given dose with the highest P(target) that EWOC allows (-1: none)."""
        p_target, p_overdose = self.blrm.summaries(states.n, states.dlt)
        return best_given_dose(states.n, p_target, p_overdose < self.threshold)

    def unsafe(self, n: np.ndarray, dlt: np.ndarray, level: np.ndarray) -> np.ndarray:
        """(S, K) doses EWOC does not allow: P(overdosing) >= the threshold."""
        return self.blrm.summaries(n, dlt)[1] >= self.threshold
