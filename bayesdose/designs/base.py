"""The one interface every design answers: given trial states, what next.

``States`` is a trial without time; ``TimedStates`` a trial on a date, with the patients still
in DLT follow-up (simulations with time, ``bayesdose.simulation.withtime``).

A trial's state is its per-dose patient and DLT counts plus the last cohort's dose and DLTs
(-1 and 0 before anyone is treated). That is all BLRM-EWOC, 3+3 (with or without
de-escalation and an accelerated-titration start), CRM and BOIN read: the current dose is the
last cohort's, and BOIN's eliminated doses follow from the counts. A design is any object with
``name``, ``max_cohort_size``, ``max_patients`` and ``decide(states) -> Actions``; it must be a
deterministic function of the state, which is what lets the simulator cache decisions, merge
equal states in the exact method, and give the same answer whatever the chunking or workers.
``recommend --design`` calls the same ``decide`` on the real trial's state (``bayesdose.steps``).

Room to grow: a dose is a 0-based index into the design's ``DosePanel``, so a two-drug panel
of dose pairs keeps these arrays (a flat pair index in ``last_level``, counts over pairs); a
backfill cohort beside the escalation cohort will add fields (the open backfill doses, their
patients) to ``States`` and a backfill action to ``Actions``, read only by the designs and
modifiers that use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from bayesdose.errors import InputError

if TYPE_CHECKING:
    from bayesdose.schema import Design

# Stop reasons, as stored in per-trial records (code = index), shared by every design.
STOP_REASONS = ("none", "safety", "mtd_declared", "max_patients")
CONTINUE, SAFETY, MTD_DECLARED, MAX_PATIENTS = range(len(STOP_REASONS))
NO_DOSE = -1  # no dose: before the first cohort, on a stop, no MTD


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


def direction(stopped: bool, current: int, next_level: int) -> str:
    """The step from the current dose (the last cohort's, ``NO_DOSE`` before the first) to the
    next: ``start``, ``escalate``, ``stay``, ``de-escalate`` or ``stop``."""
    if stopped:
        return "stop"
    if current == NO_DOSE:
        return "start"
    return ("escalate" if next_level > current else "stay" if next_level == current
            else "de-escalate")


@dataclass(frozen=True)
class TimedStates(States):
    """A batch of distinct states on their dates: the counts of ``States`` (DLTs known so far),
    and ``pending`` (S, doses, T), the patients still in follow-up without a DLT by dose and
    whole days followed. A design without time reads it as the ``States`` it is."""

    pending: np.ndarray

    @property
    def complete(self) -> np.ndarray:
        """Patients per dose whose outcome is final (a DLT, or the whole window followed)."""
        return self.n - self.pending.sum(axis=2)

    @property
    def any_pending(self) -> np.ndarray:
        return self.pending.reshape(len(self), -1).any(axis=1)


class TimedDesign(Protocol):
    """What the simulator with time needs from a design. ``waits``: the next cohort is dosed
    only when every treated patient's outcome is final; otherwise the design decides with
    patients pending (TITE)."""

    name: str
    max_cohort_size: int
    max_patients: int
    waits: bool

    def decide(self, states: TimedStates) -> Actions: ...


def require_window(design: Design, name: str) -> int:
    """The DLT window in days; an InputError when the config has none."""
    window = design.cohorts.dlt_window_days
    if window < 1:
        raise InputError(design.source, "[cohorts] dlt_window_days",
                         f"the {name} design simulates time: it needs a DLT window of at "
                         "least one day")
    return window
