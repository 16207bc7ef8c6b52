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

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from bayesdose.designs.backfill import with_backfill_room
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
CALLS = ("escalate", "stay", "de-escalate", "eliminate")


class BfBoin:
    """BOIN's escalation, conflict resolution and backfill closure with backfill data."""

    def __init__(self, design: Design) -> None:
        self.max_patients = design.stopping.max_patients
        self.boin = BoinDesign(with_backfill_room(design))

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

    def layers(self, state: States) -> Callable[[Any], None]:
        """What the step's figure adds over the observed rates of one trial (``state``: its
        pooled complete counts): BOIN's boundaries and the doses eliminated on those data."""
        from bayesdose.designs.boin.step import draw_boundaries

        eliminated = np.flatnonzero(self.boin.eliminated(state.n, state.dlt)[0])
        return functools.partial(draw_boundaries, self.boin, [int(k) for k in eliminated])

    def reason(self, state: States, label: Callable[[int], str]) -> str:
        """The step of one trial (``state``: its pooled complete counts and the current dose)
        in words: each dose's call up to the current one, and whether a conflict between them
        pooled the data (``steps``)."""
        b = self.boin
        n, y, last = state.n[0], state.dlt[0], int(state.last_level[0])
        if last < 0:
            return f"no patients yet: start at {label(b.start)}"
        calls = self.calls(n, y)
        said = ", ".join(f"{label(k)} {y[k]}/{n[k]} {CALLS[calls[k]]}" for k in range(last + 1))
        text = f"BOIN's call on each dose's complete data: {said}"
        conflict = self._conflicts(calls, last)
        if conflict.size:
            b_star = int(conflict[-1])
            pooled_n, pooled_y = int(n[b_star:last + 1].sum()), int(y[b_star:last + 1].sum())
            text += (f"; conflict: {label(b_star)} calls {CALLS[calls[b_star]]} while "
                     f"{label(last)} calls {CALLS[calls[last]]}, so the data of "
                     f"{label(b_star)} to {label(last)} pooled, {pooled_y}/{pooled_n}, decide "
                     f"(escalate with at most {b.escalate[pooled_n]} DLTs, de-escalate with "
                     f"{b.deescalate[pooled_n]} or more, to the highest dose whose data "
                     f"pooled from {label(b_star)} stay below the de-escalation boundary)")
        else:
            text += f"; no conflict with the doses below: the call at {label(last)} decides"
        _, stop = self.steps(n[None], y[None], np.array([last]))
        if stop[0] == MTD_DECLARED:
            text += (f"; the rule stays with {n[last]} patients at {label(last)}, which reach "
                     f"n_earlystop = {b.n_earlystop}: stop, the MTD by select.mtd")
        return text

    @staticmethod
    def _conflicts(calls: np.ndarray, last: int) -> np.ndarray:
        """The doses below ``last`` whose calls conflict with its call (``steps``)."""
        below = calls[:last]
        if calls[last] == ESCALATE:
            return np.flatnonzero(below != ESCALATE)
        return np.flatnonzero(below >= DEESCALATE)

    def select(self, states: States) -> np.ndarray:
        """select.mtd on the pooled data of each state (0-based, -1 for none)."""
        return select_mtd_levels(self.boin.target, states.n, states.dlt, self.boin.cutoff)

    def decide(self, states: States) -> Actions:
        """bfboin's step after a cohort, for every state at once (see the module)."""
        level, reason = self.steps(states.n, states.dlt, states.last_level)
        actions = Actions.empty(len(states))
        going, declared = reason == CONTINUE, reason == MTD_DECLARED
        actions.stop_reason[:] = reason
        actions.next_level[going], actions.cohort_size[going] = level[going], self.boin.cohort
        actions.mtd[declared] = self.select(States(states.n[declared], states.dlt[declared],
                                                   states.last_level[declared],
                                                   states.last_dlt[declared]))
        return actions

    def steps(self, n: np.ndarray, y: np.ndarray, last: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray]:
        """(next level, stop reason) of each state after a cohort at dose ``last``."""
        b, rows, cols = self.boin, np.arange(n.shape[0]), np.arange(n.shape[1])
        c = np.maximum(last, 0)
        calls = self.calls(n, y)
        here = calls[rows, c]
        below = cols < c[:, None]
        meets = y >= b.eliminate[np.maximum(n, 1)]
        up = np.minimum(c + 1, cols[-1])  # the dose above is eliminated iff its counts meet
        can_escalate = (c < cols[-1]) & ~meets[rows, up]  # the rule (doses above it go too)
        stay_reason = np.where(n[rows, c] >= b.n_earlystop, MTD_DECLARED, CONTINUE)
        eliminated_lowest = (c == 0) & (here == ELIMINATE)
        clear_up = (here == ESCALATE) & ((calls == ESCALATE) | ~below).all(axis=1)
        clear_down = (here != ESCALATE) & ((calls <= STAY) | ~below).all(axis=1)
        clear_stays = (here == STAY) | ((here == DEESCALATE) & (c == 0))
        pooled = ~eliminated_lowest & ~clear_up & ~clear_down
        up, stay, to, safety = self._pooled(n, y, c, calls, here, pooled,
                                            can_escalate & (here != ELIMINATE))
        up |= clear_up & can_escalate
        stay |= (clear_up & ~can_escalate) | (clear_down & clear_stays)
        down = clear_down & ~clear_stays & ~eliminated_lowest
        safety |= eliminated_lowest
        level = np.select([safety, up, stay, down, pooled], [NO_DOSE, c + 1, c, c - 1, to])
        reason = np.select([safety, stay], [SAFETY, stay_reason], CONTINUE)
        start = last < 0
        level[start], reason[start] = b.start, CONTINUE
        return level, reason

    def _pooled(self, n: np.ndarray, y: np.ndarray, c: np.ndarray, calls: np.ndarray,
                here: np.ndarray, conflict_rows: np.ndarray, can_escalate: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """BF-BOIN's decision on the data of doses b* .. c pooled, in the rows of a conflict:
        masks (escalate, stay, safety stop) and the dose to go to otherwise."""
        b, rows, cols = self.boin, np.arange(n.shape[0]), np.arange(n.shape[1])
        conflict = (cols < c[:, None]) & np.where((here == ESCALATE)[:, None],
                                                   calls != ESCALATE, calls >= DEESCALATE)
        b_star = cols[-1] - np.argmax(conflict[:, ::-1], axis=1)
        window = (cols >= b_star[:, None]) & (cols <= c[:, None])
        y_cum = np.cumsum(np.where(window, y, 0), axis=1)
        n_cum = np.cumsum(np.where(window, n, 0), axis=1)
        y_pool, n_pool = y_cum[rows, c], n_cum[rows, c]
        escalate = y_pool <= b.escalate[n_pool]
        deescalate = ~escalate & (y_pool >= b.deescalate[n_pool])
        safe = window & (y_cum < b.deescalate[n_cum])
        any_safe = safe.any(axis=1)
        j = cols[-1] - np.argmax(safe[:, ::-1], axis=1)
        up = conflict_rows & escalate & can_escalate
        stay = conflict_rows & ((escalate & ~can_escalate) | (~escalate & ~deescalate)
                                | (deescalate & any_safe & (j == c)))
        lowest_eliminated = y[:, 0] >= b.eliminate[n[:, 0]]
        safety = conflict_rows & deescalate & ~any_safe & (b_star == 0) & lowest_eliminated
        to = np.where(any_safe, j, np.maximum(b_star - 1, 0))
        return up, stay, to, safety
