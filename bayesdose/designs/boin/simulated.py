"""The Bayesian optimal interval (BOIN) design as a simulated design, as R's BOIN 2.7.2
``get.oc`` runs it.

Liu & Yuan (2015), JRSS-C 64:507-523; Yan et al. (2020), JSS 94(13). The statistics are
``bayesdose.designs.boin.core`` (checked against BOIN); the trial, after each cohort at dose c with
y DLTs in the n patients there:

- the trial ends once ``[stopping] max_patients`` are treated (the last cohort cut to fit),
  before any other rule (get.oc's last cohort breaks out of its loop);
- elimination: a dose with n >= 3 and P(p > target | y, n) > ``[designs.boin]
  elimination_cutoff`` (Beta(1, 1) prior) is eliminated with every dose above it; if the lowest
  dose is eliminated the trial stops with no MTD. (get.oc checks the current dose only and
  remembers; an eliminated dose is never treated again, so this is a function of the counts.)
- ``n_earlystop``: with n >= n_earlystop at c the trial stops when the rule would stay at c
  (y strictly between the boundaries, de-escalation called for at the lowest dose, or
  escalation called for with nothing to escalate to), as get.oc 2.7.2 does;
- escalate if y <= floor(lambda_e n) and the next dose exists and is not eliminated (else
  stay); de-escalate if y >= the de-escalation count (ceiling(lambda_d n), capped at the
  elimination count) and c is not the lowest dose; otherwise stay;
- the MTD at the end (any stop but elimination of the lowest dose): ``select.mtd``;
- accelerated titration: single patients one level apart until the first DLT or the titration
  level; then, as get.oc, the last titration patient is the first of a full cohort at his dose
  (``size - 1`` more patients there) before the rule decides.

Decisions are vectorised over the batch of distinct states; ``select.mtd`` runs once per final
counts.
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.base import (
    CONTINUE,
    MAX_PATIENTS,
    MTD_DECLARED,
    NO_DOSE,
    SAFETY,
    Actions,
    States,
)
from bayesdose.designs.boin.boundaries import design_table
from bayesdose.designs.boin.core import select_mtd_levels
from bayesdose.designs.titration import Titration
from bayesdose.schema import Design

_NEVER = 1 << 30  # a DLT count no dose reaches: "no elimination" in the lookup tables
# Which branch decided a step (``BoinDesign.plan``); in words in ``step.WHY``.
BRANCHES = ("start", "titration", "fill", "full", "eliminated", "early_stop", "escalate",
            "no_higher", "higher_eliminated", "deescalate", "lowest", "stay")
(START, TITRATION, FILL, FULL, ELIMINATED, EARLY_STOP, ESCALATE, NO_HIGHER, HIGHER_ELIMINATED,
 DEESCALATE, LOWEST, STAY) = range(len(BRANCHES))


class BoinDesign:
    """BOIN (get.oc's trial) with an optional accelerated-titration start."""

    name = "boin"

    def __init__(self, design: Design) -> None:
        boin = design.designs.boin
        self.target = design.decision.target
        self.cutoff = boin.elimination_cutoff
        self.n_earlystop = boin.n_earlystop
        self.cohort = design.cohorts.size
        self.max_cohort_size = design.cohorts.size
        self.max_patients = design.stopping.max_patients
        self.start = design.start_level
        self.titration = Titration(design)
        table = design_table(design, self.max_patients)
        self.lambda_e, self.lambda_d = table.lambda_e, table.lambda_d
        # lookups by the number of patients at a dose (index 0: no patients, never decided)
        self.escalate = np.array([-1, *table.escalate])
        self.deescalate = np.array([_NEVER, *table.deescalate])
        self.eliminate = np.array([_NEVER, *(_NEVER if e is None else e
                                             for e in table.eliminate)])

    def eliminated(self, n: np.ndarray, dlt: np.ndarray) -> np.ndarray:
        """(S, K) mask: the lowest dose meeting the elimination rule and every dose above."""
        return np.logical_or.accumulate(dlt >= self.eliminate[n], axis=1)

    def decide(self, states: States) -> Actions:
        """BOIN's rule, overridden in turn by the first cohort, titration, the cohort completing
        the last titration dose, and the end at ``max_patients``."""
        level, size, reason, _ = self.plan(states)
        return self._actions(states, level, size, reason)

    def plan(self, states: States) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per state: next level, cohort size, stop reason, and which branch decided it (an
        index into ``BRANCHES``)."""
        first = states.last_level < 0
        titrate = self.titration.continues(states)
        fill = self.titration.last_was_titration(states) & ~titrate & (self.cohort > 1)
        level, reason, why = self._rule(states)
        size = np.full(len(states), self.cohort)
        level[first], size[first] = self.start, 1 if self.titration.starts else self.cohort
        level[titrate], size[titrate] = states.last_level[titrate] + 1, 1
        level[fill], size[fill] = states.last_level[fill], self.cohort - 1
        reason[first | titrate | fill] = CONTINUE
        why[first], why[titrate], why[fill] = START, TITRATION, FILL
        treated = states.n.sum(axis=1)
        reason[treated >= self.max_patients] = MAX_PATIENTS
        why[treated >= self.max_patients] = FULL
        size = np.minimum(size, self.max_patients - treated)
        return level, size, reason, why

    def _rule(self, states: States) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BOIN's move after a cohort at the current dose: (next level, stop reason, branch)."""
        rows = np.arange(len(states))
        c = np.maximum(states.last_level, 0)
        n, y = states.n[rows, c], states.dlt[rows, c]
        eliminated = self.eliminated(states.n, states.dlt)
        top = states.n.shape[1] - 1
        can_escalate = (c < top) & ~eliminated[rows, np.minimum(c + 1, top)]
        up = y <= self.escalate[n]
        down = (y >= self.deescalate[n]) & ~up
        level = np.where(up & can_escalate, c + 1, np.where(down & (c > 0), c - 1, c))
        stays = (~up & ~down) | (down & (c == 0)) | (up & ~can_escalate)
        early = (n >= self.n_earlystop) & stays
        reason = np.where(early, MTD_DECLARED, CONTINUE)
        reason = np.where(eliminated[:, 0], SAFETY, reason)
        why = np.select(
            [eliminated[:, 0], early, up & can_escalate, up & (c == top), up, down & (c > 0),
             down], [ELIMINATED, EARLY_STOP, ESCALATE, NO_HIGHER, HIGHER_ELIMINATED,
                     DEESCALATE, LOWEST], STAY)
        return level, reason, why

    def _actions(self, states: States, level: np.ndarray, size: np.ndarray,
                 reason: np.ndarray) -> Actions:
        stop = reason != CONTINUE
        mtd = np.full(len(states), NO_DOSE)
        final = np.flatnonzero(stop & (reason != SAFETY))
        mtd[final] = select_mtd_levels(self.target, states.n[final], states.dlt[final],
                                       self.cutoff)
        return Actions(
            next_level=np.where(stop, NO_DOSE, level).astype(np.int64),
            cohort_size=np.where(stop, 0, size).astype(np.int64),
            stop_reason=reason.astype(np.int64),
            mtd=mtd.astype(np.int64),
        )
