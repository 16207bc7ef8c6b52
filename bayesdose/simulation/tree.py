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
def _log_factorials(top: int) -> np.ndarray:
    """log(k!) for k = 0 .. top (``math.lgamma``, accurate to a few units in the last place)."""
    return np.array([math.lgamma(k + 1.0) for k in range(top + 1)])


def binomial_pmf(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """P(K = k) for K ~ binomial(n, p), elementwise with broadcasting; 0 outside 0 <= k <= n.

    In logs, so any n works (binomial coefficients overflow a float past n = 1029), with
    0 log 0 = 0 at p = 0 or 1. This keeps SciPy's ``stats`` (over a second to import) out of
    the simulator and its workers."""
    k, n, p = np.broadcast_arrays(np.asarray(k), np.asarray(n), np.asarray(p, float))
    inside = (k >= 0) & (k <= n)
    k, n = np.where(inside, k, 0), np.where(inside, n, 0)
    log_fact = _log_factorials(int(n.max(initial=0)))
    with np.errstate(divide="ignore", invalid="ignore"):  # log 0, and 0 x -inf (not used)
        log_p, log_q = np.log(p), np.log1p(-p)
        log_pmf = (log_fact[n] - log_fact[k] - log_fact[n - k]
                   + np.where(k > 0, k * log_p, 0.0) + np.where(n > k, (n - k) * log_q, 0.0))
    return np.where(inside, np.exp(log_pmf), 0.0)


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
