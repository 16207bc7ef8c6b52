"""Exact operating characteristics: the distribution of a design's final trial states.

Every design here decides from a finite trial state, so the trial is a Markov chain on states:
from a state that treats a cohort of m at dose k, the next state follows a binomial(m,
p_true[k]) number of DLTs. Walking the tree of reachable states step by step, merging equal
states (their probabilities add), gives the probability of every final state with no Monte
Carlo error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bayesdose.simulation.statespace import StateSpace

MAX_STATES = 1_000_000


class TreeTooLarge(Exception):
    """The state tree exceeds the limit: simulate instead."""


@dataclass(frozen=True)
class FinalStates:
    """Final states (ids into the state space) and their probabilities."""

    ids: np.ndarray
    probability: np.ndarray


@lru_cache(maxsize=8)
def _binomial_coefficients(top: int) -> np.ndarray:
    """(top + 1, top + 1): C(n, k), exact integers rounded once to floats (0 for k > n)."""
    return np.array([[math.comb(n, k) for k in range(top + 1)] for n in range(top + 1)], float)


def binomial_pmf(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """P(K = k) for K ~ binomial(n, p), elementwise with broadcasting; 0 outside 0 <= k <= n.

    Cohorts and trials are small, so the coefficients are exact integers; this keeps SciPy's
    ``stats`` (over a second to import) out of the simulator and its workers."""
    k, n, p = np.broadcast_arrays(np.asarray(k), np.asarray(n), np.asarray(p, float))
    inside = (k >= 0) & (k <= n)
    k = np.where(inside, k, 0)
    coefficient = _binomial_coefficients(int(n.max(initial=0)))[n, k]
    return np.where(inside, coefficient * p**k * (1.0 - p) ** (n - k), 0.0)


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
        branch = binomial_pmf(outcomes[None, :], size[:, None], p[:, None])  # 0 beyond the size
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
