"""The 3+3 design (Storer 1989), classic or with de-escalation, with an optional
accelerated-titration start (Simon et al. 1997).

From the current dose c (the last cohort's) and the counts:
- classic: 0/3 escalate; 1/3 add three; 1/6 escalate; otherwise stop and declare c - 1;
  escalating past the top dose declares the top dose;
- ``3+3-deesc``: on stopping, a next-lower dose holding 3 patients gets 3 more; if it then has
  >= 2/6 the same is repeated one dose lower; a dose holding 6 is declared; below the lowest
  dose no dose is selected;
- titration (``[cohorts] titration_until_level`` > 0): single patients until the first DLT or
  past that level; a DLT in a titration patient makes that patient the first of a 3-patient
  cohort at the same dose; a dose holding only its titration patient is filled to 6 before it
  can be declared (declared with at most 1/6, otherwise the rule looks one dose lower);
- below a start dose above the lowest (``[cohorts] start_dose``), as protocols do: when the
  rule looks at a dose below that has no patients, it de-escalates and treats a cohort of 3
  there, and the 3+3 rules apply there; 0/3 or 1/3 at a dose whose next higher dose was too
  toxic adds three (the MTD is declared only with at most 1/6), >= 2 DLTs look one dose lower
  again, and below the lowest dose no dose is selected. So no untried dose is ever declared;
  from the lowest start dose this never happens and the rule is the classic one above.
3+3 follows its own rule and ignores ``max_patients``. A dose above c that holds patients marks
the de-escalation (or filling) phase, so the decision is a function of the state.
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.base import (
    CONTINUE,
    MTD_DECLARED,
    NO_DOSE,
    SAFETY,
    Actions,
    States,
)
from bayesdose.designs.titration import single_patient
from bayesdose.report.text import dlts
from bayesdose.schema import Design

_Action = tuple[int, int, int, int, str]  # next level, cohort size, stop reason, mtd, why


class ThreePlusThree:
    """3+3 as a simulated design; ``deescalation`` selects the variant ``3+3-deesc``."""

    max_cohort_size = 5  # filling a titration dose to 6

    def __init__(self, design: Design, deescalation: bool = False) -> None:
        self.deescalation = deescalation
        self.name = "3+3-deesc" if deescalation else "3+3"
        self.n_doses = len(design.levels)
        self.max_patients = 6 * self.n_doses
        self.start = design.start_level
        self.titration_until = design.cohorts.titration_until_level
        self.label = design.panel.label  # a dose level in the rule's words

    def decide(self, states: States) -> Actions:
        actions = Actions.empty(len(states))
        for i in range(len(states)):
            level, size, reason, mtd, _ = self.decide_one(
                states.n[i], states.dlt[i], int(states.last_level[i])
            )
            actions.next_level[i], actions.cohort_size[i] = level, size
            actions.stop_reason[i], actions.mtd[i] = reason, mtd
        return actions

    def decide_one(self, n: np.ndarray, dlt: np.ndarray, c: int) -> _Action:
        """The step from the current dose ``c`` (the last cohort's), with the rule in words."""
        if c < 0:
            return (*self._escalate_to(self.start, n, dlt, "no patients yet")[:4],
                    f"no patients yet: start at {self.label(self.start)}")
        above_tried = c + 1 < self.n_doses and n[c + 1] > 0
        seen = f"{dlts(int(dlt[c]))} in {n[c]} at {self.label(c)}"
        if n[c] == 1:  # titration patient
            if dlt[c]:
                return (c, 2, CONTINUE, NO_DOSE, f"a DLT in the titration patient at "
                        f"{self.label(c)}: two more at this dose make a cohort of three")
            return self._escalate_to(c + 1, n, dlt, "no DLT in the titration patient at "
                                     f"{self.label(c)}")
        if n[c] == 3:
            if dlt[c] == 0 and above_tried:  # reached by de-escalation below the start dose
                return (c, 3, CONTINUE, NO_DOSE, f"{seen}, and the dose above was too toxic: "
                        "three more at this dose before it is declared")
            if dlt[c] == 0:
                return self._escalate_to(c + 1, n, dlt, seen)
            if dlt[c] == 1:
                return (c, 3, CONTINUE, NO_DOSE, f"{seen}: three more at this dose")
            return self.declare_from(c - 1, n, seen, "the dose below")
        if dlt[c] <= 1:  # six patients at c (or any count off the 3+3 path)
            if above_tried:
                return (*_declared(c), f"{seen}, and the dose above has patients: this dose "
                        "is declared the MTD")
            return self._escalate_to(c + 1, n, dlt, seen)
        return self.declare_from(c - 1, n, seen, "the dose below")

    def _escalate_to(self, level: int, n: np.ndarray, dlt: np.ndarray, seen: str) -> _Action:
        if level >= self.n_doses:
            return self.declare_from(self.n_doses - 1, n, f"{seen}, and no dose above",
                                      "the highest dose")
        single = single_patient(int(dlt.sum()), level, self.titration_until)
        return (level, 1 if single else 3, CONTINUE, NO_DOSE,
                f"{seen}: escalate to {self.label(level)}, "
                + ("one patient (titration)" if single else "a cohort of three"))

    def declare_from(self, j: int, n: np.ndarray, seen: str, candidate: str) -> _Action:
        """Declare dose j the MTD, after adding patients where the variant requires it."""
        if j < 0:
            return (NO_DOSE, 0, SAFETY, NO_DOSE, f"{seen}: no dose below, stop for safety")
        candidate = f"{candidate}, {self.label(j)},"
        if n[j] == 0:  # below a start dose above the lowest: never declare an untried dose
            return (j, 3, CONTINUE, NO_DOSE, f"{seen}: {candidate} has no patients yet, "
                    "de-escalate and treat a cohort of three there")
        if n[j] == 1:
            return (j, 5, CONTINUE, NO_DOSE, f"{seen}: {candidate} has only its titration "
                    "patient, five more make six before it is declared")
        if n[j] == 3 and self.deescalation:
            return (j, 3, CONTINUE, NO_DOSE, f"{seen}: {candidate} has three, de-escalate: "
                    "three more there before it is declared")
        return (*_declared(j), f"{seen}: {candidate} is declared the MTD")


def _declared(level: int) -> tuple[int, int, int, int]:
    return (NO_DOSE, 0, MTD_DECLARED, level)
