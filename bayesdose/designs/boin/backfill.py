"""BF-BOIN: BOIN's rule with backfill data (Zhao, Yuan, Korn & Freidlin 2024), as R's bfboin
0.1.1 ``sim.one.trial`` applies it after each escalation cohort.

Counts are the pooled complete data (escalation and backfill) per dose; c is the escalation dose.
Each dose k <= c gets BOIN's call on its own data: escalate (y <= e_n), eliminate (y >= the
elimination count), de-escalate (y >= d_n) or stay.

- No conflict (every dose below c escalates, or calls stay or escalate when c does not
  escalate): BOIN's move at c; elimination at c eliminates c and every dose above and
  de-escalates; at the lowest dose, elimination stops the trial for safety.
- Conflict (c escalates but a dose below does not; or c stays, de-escalates or is eliminated
  while a dose below de-escalates or is eliminated): b* is the highest such dose below; the data
  of b* .. c pooled decide: escalate if y <= e_n, else if y >= d_n go to the highest dose j in
  b* .. c whose cumulative data from b* stay below d_n (b* - 1 when none is; below the lowest
  dose, stop for safety if the lowest dose meets the elimination rule, else stay there),
  else stay.
- Every "stay" stops the trial when the dose holds ``n_earlystop`` complete patients; the MTD is
  then ``select.mtd`` on the pooled data, as at the end.
Eliminated doses: every dose above c from the lowest one whose counts meet the elimination rule
(bfboin remembers the eliminations it made, which are these: an eliminated dose is never
treated again; it differs only if pending backfill patients at an eliminated dose later pull
its counts below the rule). A dose closes to backfill when its own data call de-escalation and
so do its data pooled with the dose above (bfboin's backfill condition; bfboin pools the dose
just below c with the escalation data at c only, this code with all complete data at c).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from bayesdose.designs.base import (
    CONTINUE,
    MTD_DECLARED,
    NO_DOSE,
    SAFETY,
    Actions,
    States,
)
from bayesdose.designs.boin.core import select_mtd_levels
from bayesdose.designs.boin.simulated import BoinDesign
from bayesdose.schema import Design

ESCALATE, STAY, DEESCALATE, ELIMINATE = range(4)


class BfBoin:
    """BOIN's escalation, conflict resolution and backfill closure with backfill data."""

    def __init__(self, design: Design) -> None:
        most = design.stopping.max_patients + len(design.levels) * design.backfill.max_per_dose
        widened = dataclasses.replace(
            design, stopping=dataclasses.replace(design.stopping, max_patients=most))
        self.boin = BoinDesign(widened)  # its tables reach every count a dose can hold

    def calls(self, n: np.ndarray, y: np.ndarray) -> np.ndarray:
        """BOIN's call on each dose's own data (arrays alike)."""
        b, m = self.boin, np.maximum(n, 1)
        return np.select([y <= b.escalate[m], y >= b.eliminate[m], y >= b.deescalate[m]],
                         [ESCALATE, ELIMINATE, DEESCALATE], STAY)

    def unsafe(self, n: np.ndarray, dlt: np.ndarray, level: np.ndarray) -> np.ndarray:
        """(S, K) doses whose data, alone and pooled with the dose above, call de-escalation."""
        d = self.boin.deescalate
        own = dlt >= d[np.maximum(n, 1)]
        n_up = np.hstack([n[:, 1:] + n[:, :-1], n[:, -1:]])
        y_up = np.hstack([dlt[:, 1:] + dlt[:, :-1], dlt[:, -1:]])
        return own & (y_up >= d[np.maximum(n_up, 1)])

    closes = ("closed where BOIN calls de-escalation (DLTs >= d_n) on its complete data, "
              "alone and pooled with the dose above (BF-BOIN)")

    def explain(self, n: np.ndarray, dlt: np.ndarray, k: int) -> str:
        """Why ``unsafe`` closes dose ``k`` (counts per dose of one trial), with the numbers."""
        d = self.boin.deescalate
        text = f"BOIN de-escalates: {dlt[k]}/{n[k]} DLTs >= d = {d[max(n[k], 1)]}"
        if k + 1 < n.size:
            pooled_n, pooled_y = n[k] + n[k + 1], dlt[k] + dlt[k + 1]
            text += (f", and with the dose above {pooled_y}/{pooled_n} >= "
                     f"d = {d[max(pooled_n, 1)]}")
        return text

    def select(self, states: States) -> np.ndarray:
        """select.mtd on the pooled data of each state (0-based, -1 for none)."""
        return select_mtd_levels(self.boin.target, states.n, states.dlt, self.boin.cutoff)

    def decide(self, states: States) -> Actions:
        actions = Actions.empty(len(states))
        calls = self.calls(states.n, states.dlt)  # once for the batch
        meets = states.dlt >= self.boin.eliminate[np.maximum(states.n, 1)]
        for i in range(len(states)):
            level, reason = self.step(states.n[i], states.dlt[i], int(states.last_level[i]),
                                      calls[i], meets[i])
            actions.stop_reason[i] = reason
            if reason == CONTINUE:
                actions.next_level[i], actions.cohort_size[i] = level, self.boin.cohort
            elif reason == MTD_DECLARED:
                actions.mtd[i] = self.select(States(states.n[i : i + 1], states.dlt[i : i + 1],
                                                    states.last_level[i : i + 1],
                                                    states.last_dlt[i : i + 1]))[0]
        return actions

    def step(self, n: np.ndarray, y: np.ndarray, c: int, call: np.ndarray | None = None,
             meets: np.ndarray | None = None) -> tuple[int, int]:
        """(next level, stop reason) after a cohort at dose c, as bfboin (``call`` and
        ``meets``, BOIN's calls and the elimination rule per dose, when already known)."""
        if c < 0:
            return self.boin.start, CONTINUE
        call = self.calls(n, y) if call is None else call
        meets = y >= self.boin.eliminate[np.maximum(n, 1)] if meets is None else meets
        lower, here = call[:c], int(call[c])
        top = n.size - 1
        can_escalate = c < top and not meets[c + 1 :].any()
        if here == ELIMINATE and c == 0:
            return NO_DOSE, SAFETY
        if here == ESCALATE and np.all(lower == ESCALATE):
            return self._up_or_stay(n, c, can_escalate)
        if here != ESCALATE and np.all(lower <= STAY):  # every dose below escalates or stays
            if here == STAY or (here == DEESCALATE and c == 0):
                return self._stay(n, c)
            return c - 1, CONTINUE  # de-escalate; elimination also closes c and above
        conflict = (lower != ESCALATE) if here == ESCALATE else (lower >= DEESCALATE)
        b_star = int(np.flatnonzero(conflict).max())
        return self._pooled(n, y, b_star, c, can_escalate and here != ELIMINATE)

    def _up_or_stay(self, n: np.ndarray, c: int, can_escalate: bool) -> tuple[int, int]:
        return (c + 1, CONTINUE) if can_escalate else self._stay(n, c)

    def _stay(self, n: np.ndarray, c: int) -> tuple[int, int]:
        return (c, MTD_DECLARED) if n[c] >= self.boin.n_earlystop else (c, CONTINUE)

    def _pooled(self, n: np.ndarray, y: np.ndarray, b_star: int, c: int,
                can_escalate: bool) -> tuple[int, int]:
        """BF-BOIN's decision on the data of doses b* .. c pooled."""
        b = self.boin
        y_pool, n_pool = int(y[b_star : c + 1].sum()), int(n[b_star : c + 1].sum())
        if y_pool <= b.escalate[n_pool]:
            return self._up_or_stay(n, c, can_escalate)
        if y_pool < b.deescalate[n_pool]:
            return self._stay(n, c)
        safe = np.cumsum(y[b_star : c + 1]) < b.deescalate[np.cumsum(n[b_star : c + 1])]
        if not safe.any():
            if b_star > 0:
                return b_star - 1, CONTINUE
            if y[0] >= b.eliminate[n[0]]:
                return NO_DOSE, SAFETY
            return 0, CONTINUE
        j = b_star + int(np.flatnonzero(safe).max())
        return self._stay(n, c) if j == c else (j, CONTINUE)
