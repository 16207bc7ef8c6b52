"""Exact operating characteristics: the distribution of a design's final trial states.

Every design here decides from a finite trial state, so the trial is a Markov chain on states:
from a state that treats a cohort of m at dose k, the next state follows a binomial(m,
p_true[k]) number of DLTs. Walking the tree of reachable states step by step, merging equal
states (their probabilities add), gives the probability of every final state with no Monte
Carlo error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from bayesdose.simulation.statespace import StateSpace

MAX_STATES = 1_000_000


class TreeTooLarge(Exception):
    """The state tree exceeds the limit: simulate instead."""


@dataclass(frozen=True)
class FinalStates:
    """Final states (ids into the state space) and their probabilities."""

    ids: np.ndarray
    probability: np.ndarray


def exact_final_states(
    space: StateSpace, p_true: np.ndarray, max_states: int = MAX_STATES
) -> FinalStates:
    """Probability of every final state of the design under true rates ``p_true``."""
    frontier = np.array([space.root], np.int64)
    weight = np.array([1.0])
    final_ids, final_w = [], []
    outcomes = np.arange(space.width)
    while frontier.size:
        size = space.cohort_size[frontier]
        p = p_true[space.next_level[frontier]]
        branch = binom.pmf(outcomes[None, :], size[:, None], p[:, None])  # 0 beyond the size
        parent, dlts = np.nonzero(branch > 0)
        children = space.advance(frontier[parent], dlts)
        if space.size > max_states:
            raise TreeTooLarge(f"more than {max_states} states")
        child_w = weight[parent] * branch[parent, dlts]
        unique, inverse = np.unique(children, return_inverse=True)
        merged = np.bincount(inverse, weights=child_w)
        stop = space.stopped(unique)
        final_ids.append(unique[stop])
        final_w.append(merged[stop])
        frontier, weight = unique[~stop], merged[~stop]
    ids = np.concatenate(final_ids)
    probability = np.concatenate(final_w)
    unique, inverse = np.unique(ids, return_inverse=True)
    return FinalStates(unique, np.bincount(inverse, weights=probability))
