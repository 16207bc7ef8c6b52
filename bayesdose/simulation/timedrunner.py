"""Simulated trials in time, all advancing in lockstep: one decision per step for each trial.

Patients arrive on their days (``timeline``) and queue; a design's cohort is the next patients in
the queue. A step takes each running trial's decision date, the trial's state on that date
(``timedstates``), and the cached decision:

- the decision date is the day the next patient in the queue arrives, or later while the trial
  waits: a waiting design (``waits``) decides only when every treated patient's outcome is final
  (a DLT known, or the whole window followed), so patients who arrive meanwhile queue;
- a patient dosed on day a with a DLT on day d of the window is known to have it from day a + d;
  until then, and until the window ends on day a + T, the patient is pending with now - a whole
  days followed;
- a cohort of m is given the dose decided, each patient on the later of the decision date and
  their arrival day (the first one on the decision date);
- a stop is final only on complete data: a TITE design that would stop while patients are
  pending suspends accrual until their outcomes are final and then decides again (so the MTD is
  always chosen from complete data, as dfcrm's ``titesim`` chooses it from all outcomes); a
  trial that has treated the design's maximum number of patients can only stop, so it goes
  straight to that date;
- the trial ends when the last treated patient's outcome is final; its duration is that day
  minus the first dosing day.
Time adds no randomness of its own to the outcome: patient i is toxic at dose k iff u_i <=
p_true[k], as without time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.designs.base import CONTINUE, NO_DOSE
from bayesdose.simulation.runner import TrialRecords
from bayesdose.simulation.timedstates import SENTINEL, TimedCache, encode
from bayesdose.simulation.timeline import Timeline


@dataclass(frozen=True)
class TimedRecords(TrialRecords):
    """Per trial, besides the final records: ``duration`` (days from the first dosing to the
    last outcome) and ``pending_treated`` (patients dosed while a patient of an earlier cohort
    was still in DLT follow-up)."""

    duration: np.ndarray
    pending_treated: np.ndarray


@dataclass(frozen=True)
class Histories:
    """Per trial (rows) and patient (columns, in arrival order; -1 / 0 when never dosed):
    dose ``level``, ``dosed`` day, ``cohort`` (1-based), ``tox`` and the day a DLT is known
    (``dlt_day``, from the timeline)."""

    level: np.ndarray
    dosed: np.ndarray
    cohort: np.ndarray
    tox: np.ndarray
    dlt_day: np.ndarray

    def resolved(self, window: int) -> np.ndarray:
        """Day each patient's outcome is final (dosing + DLT day, or + window)."""
        return self.dosed + np.where(self.tox, self.dlt_day, window)


@dataclass(frozen=True)
class TimedRun:
    """A run's final records, and every patient's history (for checks and tests)."""

    records: TimedRecords
    histories: Histories


class _Trials:
    """The mutable per-trial arrays of a run."""

    def __init__(self, trials: int, capacity: int, dlt_day: np.ndarray) -> None:
        self.level = np.full((trials, capacity), NO_DOSE, np.int64)
        self.dosed = np.zeros((trials, capacity), np.int64)
        self.cohort = np.zeros((trials, capacity), np.int64)
        self.tox = np.zeros((trials, capacity), bool)
        self.dlt_day = dlt_day
        self.treated = np.zeros(trials, np.int64)
        self.cohorts = np.zeros(trials, np.int64)
        self.ready = np.zeros(trials, np.int64)  # no decision before this day
        self.state = np.full(trials, -1, np.int64)

    def histories(self) -> Histories:
        return Histories(self.level, self.dosed, self.cohort, self.tox, self.dlt_day)


def state_keys(t: _Trials, rows: np.ndarray, now: np.ndarray, n_doses: int,
               window: int) -> tuple[np.ndarray, np.ndarray]:
    """Key rows of trials ``rows`` on days ``now``, and whether anyone is pending."""
    level, dosed, tox = t.level[rows], t.dosed[rows], t.tox[rows]
    given = level >= 0
    followed = now[:, None] - dosed
    known = given & tox & (t.dlt_day[rows] <= followed)
    pending = given & ~known & (followed < window)
    flat = np.arange(rows.size)[:, None] * n_doses + np.maximum(level, 0)
    size = rows.size * n_doses
    n = np.bincount(flat[given], minlength=size).reshape(-1, n_doses)
    dlt = np.bincount(flat[known], minlength=size).reshape(-1, n_doses)
    last = np.column_stack([
        np.where(t.cohorts[rows] > 0, _last_level(level, t.cohort[rows], t.cohorts[rows]),
                 NO_DOSE),
        (known & (t.cohort[rows] == t.cohorts[rows][:, None]) & given).sum(axis=1),
    ])
    codes = np.where(pending, level * window + followed, SENTINEL)
    return encode(n, dlt, last, codes), pending.any(axis=1)


def _last_level(level: np.ndarray, cohort: np.ndarray, last: np.ndarray) -> np.ndarray:
    member = np.argmax(cohort == last[:, None], axis=1)
    return level[np.arange(level.shape[0]), member]


def simulate_timed(cache: TimedCache, p_true: np.ndarray, u: np.ndarray,
                   clock: Timeline) -> TimedRun:
    """Run one trial per row of tolerances ``u`` (trials, patients) under rates ``p_true``,
    with arrivals and DLT days from ``clock`` (at least one more arrival than patients)."""
    trials, capacity = u.shape
    if clock.arrival.shape != (trials, capacity + 1):
        raise ValueError("the timeline needs one arrival more than patients, for every trial")
    window, n_doses, waits = clock.window, cache.n_doses, cache.design.waits
    cache.trim()
    t = _Trials(trials, capacity, clock.dlt_day[:, :capacity])
    running = np.arange(trials)
    full = cache.design.max_patients
    while running.size:
        # waiting designs, and any trial that has treated its maximum (it can only stop),
        # decide when every outcome is final
        wait_all = running if waits else running[t.treated[running] >= full]
        t.ready[wait_all] = _last_outcome(t, wait_all, window)
        now = np.maximum(clock.arrival[running, t.treated[running]], t.ready[running])
        keys, pending = state_keys(t, running, now, n_doses, window)
        ids = cache.lookup(keys)
        t.state[running] = ids
        stop = cache.stop_reason[ids] != CONTINUE
        wait = stop & pending  # a stop is final on complete data only
        t.ready[running[wait]] = _last_outcome(t, running[wait], window)
        go = ~stop
        _dose(t, running[go], now[go], cache.next_level[ids[go]], cache.cohort_size[ids[go]],
              u, clock.arrival, p_true)
        running = running[go | wait]
    return TimedRun(_records(t, cache, window), t.histories())


def _last_outcome(t: _Trials, rows: np.ndarray, window: int) -> np.ndarray:
    """Day the last treated patient's outcome is final (0 before anyone is treated)."""
    resolved = t.dosed[rows] + np.where(t.tox[rows], t.dlt_day[rows], window)
    return np.where(t.level[rows] >= 0, resolved, 0).max(axis=1, initial=0)


def _dose(t: _Trials, rows: np.ndarray, now: np.ndarray, level: np.ndarray, size: np.ndarray,
          u: np.ndarray, arrival: np.ndarray, p_true: np.ndarray) -> None:
    """Give the next ``size`` patients of each trial in ``rows`` dose ``level``."""
    if np.any(t.treated[rows] + size > u.shape[1]):
        raise RuntimeError("a trial needs more patients than were drawn for it")
    t.cohorts[rows] += 1
    for j in range(int(size.max(initial=0))):
        sub = j < size
        r, col = rows[sub], t.treated[rows[sub]] + j
        t.level[r, col] = level[sub]
        t.dosed[r, col] = np.maximum(arrival[r, col], now[sub])
        t.cohort[r, col] = t.cohorts[r]
        t.tox[r, col] = u[r, col] <= p_true[level[sub]]
    t.treated[rows] += size


def _records(t: _Trials, cache: TimedCache, window: int) -> TimedRecords:
    ids = t.state
    given = t.level >= 0
    n_doses = cache.n_doses
    flat = np.arange(ids.size)[:, None] * n_doses + np.maximum(t.level, 0)
    size = ids.size * n_doses
    n = np.bincount(flat[given], minlength=size).reshape(-1, n_doses)
    dlt = np.bincount(flat[given & t.tox], minlength=size).reshape(-1, n_doses)
    rows = np.arange(ids.size)
    duration = _last_outcome(t, rows, window) - t.dosed[:, 0]
    # a design that waits never doses while anyone is pending (and the count costs O(N^2))
    pending = (np.zeros(ids.size, np.int64) if cache.design.waits
               else _pending_treated(t, window))
    return TimedRecords(cache.mtd[ids], n, dlt, cache.stop_reason[ids], duration, pending)


def _pending_treated(t: _Trials, window: int) -> np.ndarray:
    """Per trial: patients dosed while a patient of an earlier cohort was still pending."""
    given = t.level >= 0
    resolved = t.histories().resolved(window)
    earlier = given[:, None, :] & (t.cohort[:, None, :] < t.cohort[:, :, None])
    open_then = (t.dosed[:, None, :] <= t.dosed[:, :, None]) & (
        t.dosed[:, :, None] < resolved[:, None, :])
    return (given & (earlier & open_then).any(axis=2)).sum(axis=1)
