"""Simulated trials, all advancing in lockstep: one cohort per step for every running trial.

A step looks up each running trial's next dose and cohort size by state id, counts the
cohort's DLTs from the trial's own tolerances, and moves to the successor state. Everything per
trial is array arithmetic; only new states reach Python (see ``statespace``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.simulation.statespace import StateSpace


@dataclass(frozen=True)
class TrialRecords:
    """Per trial: selected dose (0-based, -1 none), patients and DLTs per dose, stop reason."""

    selected: np.ndarray  # (T,)
    n: np.ndarray  # (T, doses)
    dlt: np.ndarray  # (T, doses)
    stop_reason: np.ndarray  # (T,) codes of interface.STOP_REASONS


def simulate_trials(space: StateSpace, p_true: np.ndarray, u: np.ndarray) -> TrialRecords:
    """Run one trial per row of tolerances ``u`` (trials, patients) under rates ``p_true``."""
    trials, capacity = u.shape
    state = np.full(trials, space.root, np.int64)
    treated = np.zeros(trials, np.int64)
    running = np.arange(trials)
    offsets = np.arange(space.width - 1)
    while running.size:
        ids = state[running]
        level = space.next_level[ids]
        size = space.cohort_size[ids]
        column = treated[running, None] + offsets
        if np.any(treated[running] + size > capacity):
            raise RuntimeError("a trial needs more patients than were drawn for it")
        tox = u[running[:, None], np.minimum(column, capacity - 1)] <= p_true[level][:, None]
        dlts = (tox & (offsets < size[:, None])).sum(axis=1)
        state[running] = space.advance(ids, dlts)
        treated[running] += size
        running = running[~space.stopped(state[running])]
    return TrialRecords(
        space.mtd[state], space.n[state].astype(np.int64), space.dlt[state].astype(np.int64),
        space.stop_reason[state],
    )
