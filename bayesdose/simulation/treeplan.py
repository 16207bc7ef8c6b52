"""Exact final-state distributions of one design under many scenarios at once.

``tree.exact_final_states`` walks the tree of trial states for one scenario. The tree's shape
does not depend on the scenario: from a state treating m patients at dose k, every DLT count
0..m leads to a child, with probability binomial(m, p_true[k]) of that count, zero only at a
rate of 0 or 1. So the walk is done once (a ``TreePlan``: per step, each edge's parent, dose,
cohort size and DLT count, and which child it reaches), and the probabilities of S scenarios
then flow through it as (states, S) arrays, one array operation per step: a calibration's
hundreds of scenarios cost little more than one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.simulation.statespace import StateSpace
from bayesdose.simulation.tree import MAX_STATES, TreeTooLarge, binomial_pmf

SCENARIO_BLOCK = 256  # scenarios whose probabilities flow through the tree together


@dataclass(frozen=True)
class Step:
    """One cohort of every running trial: edge e leaves frontier state ``parent[e]`` with
    ``dlts[e]`` DLTs in a cohort of ``size[e]`` at dose ``level[e]``; the edges, sorted by the
    child they reach, start each child's run at ``starts``; ``order`` is that sort."""

    parent: np.ndarray
    level: np.ndarray
    size: np.ndarray
    dlts: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    stopped: np.ndarray  # per child: the trial ends there


@dataclass(frozen=True)
class TreePlan:
    """The steps of a design's tree and its final states (ids into the state space)."""

    steps: tuple[Step, ...]
    final_ids: np.ndarray
    max_size: int

    @classmethod
    def of(cls, space: StateSpace, max_states: int = MAX_STATES) -> TreePlan:
        """Walk every branch of ``space``'s tree once (deciding each state it reaches)."""
        frontier = np.array([space.root], np.int64)
        steps, final = [], []
        while frontier.size:
            size = space.cohort_size[frontier]
            parent = np.repeat(np.arange(frontier.size), size + 1)
            dlts = np.arange(parent.size) - np.repeat(np.cumsum(size + 1) - (size + 1), size + 1)
            children = space.advance(frontier[parent], dlts)
            if space.size > max_states:
                raise TreeTooLarge(f"more than {max_states} states")
            unique, inverse = np.unique(children, return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])
            stopped = space.stopped(unique)
            steps.append(Step(parent, space.next_level[frontier][parent], size[parent], dlts,
                              order, starts, stopped))
            final.append(unique[stopped])
            frontier = unique[~stopped]
        max_size = max(int(s.size.max()) for s in steps)
        return cls(tuple(steps), np.concatenate(final), max_size)

    def final_probabilities(self, p_true: np.ndarray) -> np.ndarray:
        """(final states, S): the probability of each final state (``final_ids``) under each
        scenario's true rates (``p_true``: S x doses)."""
        blocks = [self._flow(p_true[i : i + SCENARIO_BLOCK])
                  for i in range(0, p_true.shape[0], SCENARIO_BLOCK)]
        return np.concatenate(blocks, axis=1)

    def _flow(self, p_true: np.ndarray) -> np.ndarray:
        counts = np.arange(self.max_size + 1)
        # pmf[k, m, y, s]: y DLTs in a cohort of m at dose k under scenario s
        pmf = binomial_pmf(counts[None, None, :, None], counts[None, :, None, None],
                           p_true.T[:, None, None, :])
        weight = np.ones((1, p_true.shape[0]))
        final = []
        for step in self.steps:
            edge = weight[step.parent] * pmf[step.level, step.size, step.dlts]
            merged = np.add.reduceat(edge[step.order], step.starts, axis=0)
            final.append(merged[step.stopped])
            weight = merged[~step.stopped]
        return np.concatenate(final)
