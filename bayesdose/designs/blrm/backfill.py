"""BLRM-EWOC with backfill cohorts (``blrm+backfill``): EWOC applies to backfill.

The escalation is BLRM-EWOC's own (``rules.decide_batch``, as ``recommend``) on the complete
data of every patient, escalation and backfill alike. A dose closes to backfill, with every dose
above it, when its posterior P(overdosing) on those data is at or above ``[decision]
max_overdose_probability``: the dose EWOC would not allow as the next dose is not given to a
backfill patient either. When the escalation patients are used up, the MTD is the dose the
design declares at ``max_patients``: the given dose with the highest P(target) that EWOC allows.
The stopping rules read the pooled data (``mtd_min_patients`` counts backfill patients at the
dose too); ``max_patients`` counts escalation patients only (``designs.backfill``). Every rule is
read on the screen's posteriors and, where they lie within ``MARGIN`` of another answer, on the
design grid's, as the simulated BLRM decides (``simulated``).
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.backfill import with_backfill_room
from bayesdose.designs.base import Actions, States
from bayesdose.designs.blrm.rules import best_given_dose, selection_margin
from bayesdose.designs.blrm.simulated import MARGIN, BlrmDesign
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
        """The given dose with the highest P(target) that EWOC allows (-1: none), on the
        screen's posteriors, or the design grid's where they are within ``MARGIN`` of
        another choice (``simulated``)."""
        n, dlt = states.n, states.dlt
        p_target, p_overdose = self.blrm.screened(n, dlt)
        unsure = selection_margin(n, p_target, p_overdose, self.threshold) <= MARGIN
        p_target[unsure], p_overdose[unsure] = self.blrm.summaries(n[unsure], dlt[unsure])
        return best_given_dose(n, p_target, p_overdose < self.threshold)

    def unsafe(self, n: np.ndarray, dlt: np.ndarray, level: np.ndarray) -> np.ndarray:
        """(S, K) doses EWOC does not allow: P(overdosing) >= the threshold, for the doses
        below the escalation dose ``level`` (the only ones backfill reads); on the screen's
        posteriors, the design grid's where they are within ``MARGIN`` of the threshold."""
        p_overdose = self.blrm.screened(n, dlt)[1]
        below = np.arange(n.shape[1]) < level[:, None]
        unsure = (below & (np.abs(p_overdose - self.threshold) <= MARGIN)).any(axis=1)
        p_overdose[unsure] = self.blrm.summaries(n[unsure], dlt[unsure])[1]
        return p_overdose >= self.threshold
