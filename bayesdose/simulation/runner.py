"""Simulated trials, all advancing in lockstep: one cohort per step for every running trial.

A step looks up each running trial's next dose and cohort size by state id, reads the cohort's
DLTs from the trial's own patients (a ``DLTTable``), and moves to the successor state. Everything
per trial is array arithmetic; only new states reach Python (see ``statespace``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bayesdose.simulation.patients import DLTTable
from bayesdose.simulation.statespace import StateSpace


@dataclass(frozen=True)
class TrialRecords:
    """Per trial: selected dose (0-based, -1 none), patients and DLTs per dose, stop reason;
    responses per dose when the patients' responses were given."""

    selected: np.ndarray  # (T,)
    n: np.ndarray  # (T, doses)
    dlt: np.ndarray  # (T, doses)
    stop_reason: np.ndarray  # (T,) codes of designs.base.STOP_REASONS
    response: np.ndarray | None = field(default=None, kw_only=True)  # (T, doses)


def simulate_trials(space: StateSpace, patients: DLTTable,
                    on_step: Callable[[np.ndarray, np.ndarray], None] | None = None,
                    responses: DLTTable | None = None) -> TrialRecords:
    """Run one trial per column of ``patients`` (each trial's DLTs at every dose);
    ``on_step(trials, states)``, if given, sees the state each running trial reaches at every
    step (a benchmark's view of the decisions made). ``responses``, if given, holds the same
    patients' responses as a DLTTable holds DLTs: each cohort's are counted per dose (they
    change no decision)."""
    final = np.empty(patients.counts.shape[2], np.int64)
    trial = np.arange(final.size)
    ids = np.full(final.size, space.root, np.int64)
    treated = np.zeros(final.size, np.int64)
    responded = None if responses is None else np.zeros((final.size, space.n.shape[1]), np.int64)
    while trial.size:
        size = space.cohort_size[ids]
        stop = treated + size
        if stop.max() > patients.patients:
            raise RuntimeError("a trial needs more patients than were drawn for it")
        level = space.next_level[ids]
        dlts = patients.cohort_dlts(trial, level, treated, stop)
        if responded is not None:  # (a running trial's next level is a dose)
            responded[trial, level] += responses.cohort_dlts(trial, level, treated, stop)
        ids = space.advance(ids, dlts)
        if on_step is not None:
            on_step(trial, ids)
        treated = stop
        done = space.stopped(ids)
        if done.any():  # index arrays: each mask is scanned once, not once per array
            ended, going = np.flatnonzero(done), np.flatnonzero(~done)
            final[trial[ended]] = ids[ended]
            trial, ids, treated = trial[going], ids[going], treated[going]
    return TrialRecords(
        space.mtd[final], space.n[final].astype(np.int64), space.dlt[final].astype(np.int64),
        space.stop_reason[final], response=responded,
    )
