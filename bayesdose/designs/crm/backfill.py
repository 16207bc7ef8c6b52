"""The CRM with backfill cohorts (``crm+backfill``).

The escalation is the CRM's own (``simulated.CrmDesign``: dfcrm's ``crmsim`` with its
restrictions) on the complete data of every patient, escalation and backfill alike; when the
escalation patients are used up, the MTD is the model's dose on those data. A dose closes to
backfill, with every dose above it, when the model's dose on the complete data is below it: the
CRM would de-escalate from it. (The CRM has no separate de-escalation margin: its one rule is the
dose whose DLT probability at the posterior mean is closest to the target, so a dose above that
one is where the model says it would not treat.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bayesdose.designs.backfill import with_backfill_room
from bayesdose.designs.base import Actions, States
from bayesdose.designs.crm.simulated import CrmDesign
from bayesdose.schema import Design


class CrmBackfill:
    """The CRM's escalation, MTD and closure on pooled data."""

    def __init__(self, design: Design) -> None:
        self.max_patients = design.stopping.max_patients
        self.crm = CrmDesign(with_backfill_room(design))
        self.label = design.panel.label

    def decide(self, states: States) -> Actions:
        return self.crm.decide(states)

    def select(self, states: States) -> np.ndarray:
        """The model's dose on the pooled data."""
        return self.crm.recommended(states.n, states.dlt)

    def reason(self, state: States, label: Callable[[int], str]) -> str:
        """The step of one trial (``state``: its pooled complete counts, the current dose and
        the last cohort's DLTs) in the words of ``recommend --design crm``: the model's dose
        on those data and the restriction that applied."""
        from bayesdose.designs.crm.step import model_reason, pooled_fit

        return model_reason(self.crm, label, state,
                            pooled_fit(self.crm, state.n[0], state.dlt[0]))

    closes = ("closed above the CRM's dose on the complete data (the dose whose DLT probability "
              "at the posterior mean is closest to the target)")

    def explain(self, n: np.ndarray, dlt: np.ndarray, k: int) -> str:
        """Why ``unsafe`` closes dose ``k`` (counts per dose of one trial): the model's dose,
        by its label."""
        model = int(self.crm.recommended(n[None], dlt[None])[0])
        return f"above the CRM's dose on the complete data ({self.label(model)})"

    def unsafe(self, n: np.ndarray, dlt: np.ndarray, level: np.ndarray) -> np.ndarray:
        """(S, K) doses above the model's dose."""
        return np.arange(n.shape[1]) > self.crm.recommended(n, dlt)[:, None]
