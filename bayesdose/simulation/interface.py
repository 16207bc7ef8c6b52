"""The one interface every simulated design answers: given trial states, what next.

A trial's state is its per-dose patient and DLT counts plus the last cohort's dose and DLTs
(-1 and 0 before anyone is treated). That is all BLRM-EWOC, 3+3 (with or without
de-escalation and an accelerated-titration start), CRM and BOIN read: the current dose is the
last cohort's, and BOIN's eliminated doses follow from the counts. A design is any object with
``name``, ``max_cohort_size``, ``max_patients`` and ``decide(states) -> Actions``; it must be a
deterministic function of the state, which is what lets the simulator cache decisions, merge
equal states in the exact method, and give the same answer whatever the chunking or workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

# Stop reasons, as stored in per-trial records (code = index), and "no dose": the codes of
# the BLRM's rules, shared by every design.
from bayesdose.rules import (
    CONTINUE,
    MAX_PATIENTS,
    MTD_DECLARED,
    NO_DOSE,
    SAFETY,
    STOP_REASONS,
)

__all__ = ["CONTINUE", "MAX_PATIENTS", "MTD_DECLARED", "NO_DOSE", "SAFETY", "STOP_REASONS",
           "Actions", "SimulatedDesign", "States"]


@dataclass(frozen=True)
class States:
    """A batch of distinct trial states: ``n``, ``dlt`` (S, doses); ``last_level`` (0-based,
    -1 before the first cohort) and ``last_dlt`` (S,)."""

    n: np.ndarray
    dlt: np.ndarray
    last_level: np.ndarray
    last_dlt: np.ndarray

    def __len__(self) -> int:
        return self.n.shape[0]


@dataclass(frozen=True)
class Actions:
    """Per state: the next dose (0-based) and cohort size, or a stop with its reason code and
    the selected MTD (-1 for none). ``next_level`` is -1 and ``cohort_size`` 0 on a stop."""

    next_level: np.ndarray
    cohort_size: np.ndarray
    stop_reason: np.ndarray
    mtd: np.ndarray

    @staticmethod
    def empty(size: int) -> Actions:
        return Actions(
            np.full(size, NO_DOSE, np.int64), np.zeros(size, np.int64),
            np.zeros(size, np.int64), np.full(size, NO_DOSE, np.int64),
        )


class SimulatedDesign(Protocol):
    """What the simulator needs from a design."""

    name: str
    max_cohort_size: int
    max_patients: int  # the most patients one trial can take


    def decide(self, states: States) -> Actions: ...
