"""Accelerated titration (Simon et al. 1997): single-patient cohorts until the first DLT or a
configured level (``[cohorts] titration_until_level``), as a start option of every design.

``single_patient`` is the cohort-size rule every design shares: the next cohort is one patient
while no DLT has been seen and its dose is below ``titration_until_level``. Who picks that dose
is the design's: BLRM-EWOC's rules and 3+3's escalation pick it themselves (they apply
``single_patient`` to their own next dose); the model-based and interval designs (CRM, BOIN)
are overridden by ``Titration``, which climbs one level per patient as below.

Titration (Simon et al. 1997; BOIN's ``get.oc(titration=TRUE)``; Cheung 2011, ch. 10, for the
two-stage CRM it amounts to) treats single patients, each one dose level higher than the last,
from the start dose until the first DLT or until a patient has been treated at ``[cohorts]
titration_until_level`` (1-based); then the design's own rule takes over, in cohorts of
``[cohorts] size``. What happens right after titration is the design's (see ``crm`` and
``boin``).

Nothing extra is stored in the trial state: a state was reached by titration alone exactly when
it holds one patient at each level from the start to the last cohort's level (below
``titration_until_level``), none elsewhere, and no DLT but possibly the last patient's. Later
states cannot look like this: the first cohort after titration goes to a treated dose (which
then holds two patients or more), to a dose below the start, or to ``titration_until_level``
or above, and the counts only grow.
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.base import States
from bayesdose.schema import Design


def single_patient(total_dlt: np.ndarray | int, next_level: np.ndarray | int,
                   until: int) -> np.ndarray | bool:
    """Whether the next cohort is a single titration patient."""
    return (total_dlt == 0) & (next_level < until)


class Titration:
    """Which states are in titration, and the titration moves, for a batch of states."""

    def __init__(self, design: Design) -> None:
        self.start = design.start_level
        self.until = design.cohorts.titration_until_level  # titrate at 0-based levels < until

    @property
    def starts(self) -> bool:
        """Whether the first patient is a titration patient."""
        return self.start < self.until

    def last_was_titration(self, states: States) -> np.ndarray:
        """Per state: the last cohort was a single titration patient (so far only titration)."""
        last = states.last_level
        levels = np.arange(states.n.shape[1])
        one_each = (levels >= self.start) & (levels <= last[:, None])
        return (
            (last >= self.start) & (last < self.until)
            & np.all(states.n == one_each, axis=1)
            & (states.dlt.sum(axis=1) == states.last_dlt)
        )

    def continues(self, states: States) -> np.ndarray:
        """Per state: titration goes on, with one patient at the next level."""
        return (
            self.last_was_titration(states)
            & (states.last_dlt == 0)
            & (states.last_level + 1 < self.until)
        )
