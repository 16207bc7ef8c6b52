"""The 3+3 with backfill cohorts (``3+3+backfill``, ``3+3-deesc+backfill``).

A dose closes to backfill, with every dose above it, when the 3+3 would de-escalate from it:
two or more DLTs among its complete patients (at 3 or 6 patients the 3+3's own rule, and the
rule it applies to any other count). The escalation is the 3+3's own on the pooled complete
data, except that a dose below the current one that backfill DLTs close is treated as the 3+3
treats a current dose with two DLTs: the trial stops escalating and the MTD is sought from the
dose below it (three more there first in ``3+3-deesc``). The 3+3 ignores ``max_patients``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bayesdose.designs.base import Actions, States
from bayesdose.designs.three_plus_three.simulated import ThreePlusThree
from bayesdose.schema import Design

TOO_TOXIC = 2  # DLTs at a dose from which the 3+3 de-escalates


class ThreePlusThreeBackfill:
    """The 3+3's steps on pooled data, de-escalating from a dose closed by backfill DLTs."""

    def __init__(self, design: Design, deescalation: bool = False) -> None:
        self.rule = ThreePlusThree(design, deescalation)
        self.max_patients = self.rule.max_patients

    closes = "closed where the 3+3 de-escalates: two or more DLTs among its complete patients"

    def unsafe(self, n: np.ndarray, dlt: np.ndarray, level: np.ndarray) -> np.ndarray:
        """(S, K) doses with two or more DLTs."""
        return dlt >= TOO_TOXIC

    def explain(self, n: np.ndarray, dlt: np.ndarray, k: int) -> str:
        """Why ``unsafe`` closes dose ``k`` (counts per dose of one trial)."""
        return f"the 3+3 de-escalates: {dlt[k]}/{n[k]} DLTs >= {TOO_TOXIC}"

    def decide(self, states: States) -> Actions:
        actions = self.rule.decide(states)
        closed = self.unsafe(states.n, states.dlt, states.last_level)
        first = np.where(closed.any(axis=1), np.argmax(closed, axis=1), states.n.shape[1])
        for i in np.flatnonzero(first < states.last_level):
            level, size, reason, mtd, _ = self._from_closed(int(first[i]), states.n[i])
            actions.next_level[i], actions.cohort_size[i] = level, size
            actions.stop_reason[i], actions.mtd[i] = reason, mtd
        return actions

    def _from_closed(self, first: int, n: np.ndarray) -> tuple[int, int, int, int, str]:
        """The 3+3's step when backfill DLTs close dose ``first`` below the current one."""
        return self.rule.declare_from(first - 1, n, "DLTs in backfill", "the dose below")

    def reason(self, state: States, label: Callable[[int], str]) -> str:
        """The step of one trial in words (``state``: its pooled complete counts and the
        current dose; the 3+3 words doses with its own ``label``, as BfBoin's with the one
        given): the 3+3's own rule, or its MTD search below a dose that backfill DLTs closed."""
        n, dlt, last = state.n[0], state.dlt[0], int(state.last_level[0])
        closed = np.flatnonzero(self.unsafe(n[None], dlt[None], np.array([last]))[0])
        if closed.size and closed[0] < last:
            return (f"{self.explain(n, dlt, int(closed[0]))} at {self.rule.label(closed[0])}: "
                    f"{self._from_closed(int(closed[0]), n)[4]}")
        return self.rule.decide_one(n, dlt, last)[4]

    def select(self, states: States) -> np.ndarray:
        """The highest treated dose below the first closed one (-1: none)."""
        closed = np.logical_or.accumulate(self.unsafe(states.n, states.dlt, states.last_level),
                                          axis=1)
        given = (states.n > 0) & ~closed
        top = given.shape[1] - 1 - np.argmax(given[:, ::-1], axis=1)
        return np.where(given.any(axis=1), top, -1)
