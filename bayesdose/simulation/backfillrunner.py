"""Simulated trials with backfill cohorts, in time, all advancing in lockstep: step i handles
arrival i of every running trial (``bayesdose.designs.backfill`` states the rules).

Arrival i of a trial (day ``arrival[:, i]``, tolerance ``u[:, i]``, DLT day, response uniform
``v[:, i]``) is, in this order:

- the next patient of the escalation cohort, while the cohort has room;
- else, when every patient of the cohort has a final outcome, the patient on whose arrival the
  design decides, on the complete data of that day: a stop ends the trial (the arrival is not
  enrolled), otherwise the patient is the first of the next cohort;
- else (the cohort is full and in follow-up) a backfill patient at the highest open dose, or
  referred away (not enrolled) when no dose is open.
Unlike ``timedrunner``, where patients queue for the next cohort, a patient who cannot be
treated on arrival is lost, as in bfboin and the BF-BOIN publication.

A patient at dose k has a DLT iff u <= p_true[k] and a response iff v <= p_response[k] (common
random numbers, as ``patients``: the response uniform is lane 3 of the trial's Philox stream).
The trial ends when the escalation stops; its duration is the last escalation patient's final
outcome day minus the first dosing day. Backfill patients still in follow-up then are treated
(and counted) but their outcomes are not in the final selection (``late``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bayesdose.designs.backfill import Backfill, BackfillStates, highest
from bayesdose.designs.base import CONTINUE, NO_DOSE
from bayesdose.schema import Design
from bayesdose.simulation.patients import lane_uniforms, tolerances
from bayesdose.simulation.timedstates import TimedCache
from bayesdose.simulation.timeline import Timeline, mean_gap_days, timeline

RESPONSE_LANE = 3
NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class BackfillRecords:
    """Per trial: selected MTD (0-based, -1 none); per dose ``n`` (all treated),
    ``n_backfill``, ``dlt`` and ``response`` (all treated patients); stop reason; ``duration``
    (days); ``late`` (backfill patients in follow-up when the escalation ended); and
    ``enrolled_day`` of each patient (-1: referred away) for checks."""

    selected: np.ndarray
    n: np.ndarray
    n_backfill: np.ndarray
    dlt: np.ndarray
    response: np.ndarray
    stop_reason: np.ndarray
    duration: np.ndarray
    late: np.ndarray


class BackfillCache(TimedCache):
    """Escalation decisions by state: key rows ``n, dlt, level, last_dlt, escalated``."""

    def __init__(self, design: Backfill, n_doses: int, window: int) -> None:
        super().__init__(design, n_doses, window)  # type: ignore[arg-type]

    def states_of(self, keys: np.ndarray) -> BackfillStates:  # type: ignore[override]
        k = self.n_doses
        rows = keys.astype(np.int64)
        return BackfillStates(rows[:, :k], rows[:, k : 2 * k], rows[:, 2 * k],
                              rows[:, 2 * k + 1], rows[:, 2 * k + 2])


@lru_cache(maxsize=16)
def backfill_cache(design: Design, name: str) -> BackfillCache:
    """The decision cache of ``NAME+backfill`` (one per process, reused by every chunk)."""
    return BackfillCache(Backfill(design, name), len(design.levels),
                         design.cohorts.dlt_window_days)


def arrivals_needed(design: Design) -> int:
    """Arrivals drawn per trial: the escalation patients, and per cohort the arrivals of
    four DLT windows and ten more (Poisson arrivals exceed this with negligible
    probability; a trial that needs more is an error, never a silent cut)."""
    cohorts = -(-design.stopping.max_patients // design.cohorts.size)
    per_window = design.cohorts.dlt_window_days / mean_gap_days(design)
    return design.stopping.max_patients + cohorts * (int(np.ceil(4 * per_window)) + 10)


class ShortOfArrivals(RuntimeError):
    """A trial needed more arrivals than were drawn for the run."""


def run_backfill(design: Design, name: str, p_true: np.ndarray, p_response: np.ndarray,
                 seed: int, first: int, stop: int) -> BackfillRecords:
    """Trials first .. stop - 1 of ``NAME+backfill`` in one scenario, on the common random
    numbers of the seed (tolerances lane 0, arrivals and DLT days lanes 1 and 2, responses
    lane 3). Half of ``arrivals_needed`` are drawn first (trials mostly need far fewer: no
    patient beyond arrival 75 of 250 in BF-BOIN's study, and drawing and scanning arrivals no
    trial reaches was a tenth of the run); should a trial need more, the run is repeated on
    all of them. The results are the same either way: a patient's numbers depend on the
    seed, the trial and the arrival's index alone."""
    needed = arrivals_needed(design)
    try:
        return _run(design, name, p_true, p_response, seed, first, stop, needed // 2)
    except ShortOfArrivals:
        return _run(design, name, p_true, p_response, seed, first, stop, needed)


def _run(design: Design, name: str, p_true: np.ndarray, p_response: np.ndarray, seed: int,
         first: int, stop: int, arrivals: int) -> BackfillRecords:
    """``run_backfill`` on ``arrivals`` arrivals per trial."""
    u = tolerances(seed, first, stop, arrivals)
    v = lane_uniforms(seed, first, stop, arrivals, RESPONSE_LANE)
    clock = timeline(design, seed, first, stop, arrivals)
    return simulate_backfill(backfill_cache(design, name), np.asarray(p_true, float),
                             np.asarray(p_response, float), u, v, clock)


class _Trials:
    """The mutable arrays of a run: per patient (trials, capacity) and per trial."""

    def __init__(self, trials: int, capacity: int, doses: int) -> None:
        self.level = np.full((trials, capacity), NO_DOSE, np.int64)
        self.resolved = np.zeros((trials, capacity), np.int64)  # day the outcome is final
        self.tox = np.zeros((trials, capacity), bool)
        self.response = np.zeros((trials, capacity), bool)
        self.backfill = np.zeros((trials, capacity), bool)
        self.dosed = np.zeros((trials, capacity), np.int64)
        self.count = np.zeros((trials, doses), np.int64)  # patients treated per dose
        self.count_dlt = np.zeros((trials, doses), np.int64)  # their DLTs, known or not
        self.response_known = np.full((trials, doses), NEVER)  # first day a response is known
        self.dose = np.full(trials, NO_DOSE, np.int64)  # escalation dose
        self.room = np.zeros(trials, np.int64)  # places left in the escalation cohort
        self.ready = np.zeros(trials, np.int64)  # the cohort's outcomes are final from then
        self.cohort_dlt = np.zeros(trials, np.int64)
        self.escalated = np.zeros(trials, np.int64)
        self.selected = np.full(trials, NO_DOSE, np.int64)
        self.stop_reason = np.zeros(trials, np.int64)
        self.end = np.zeros(trials, np.int64)


def simulate_backfill(cache: BackfillCache, p_true: np.ndarray, p_response: np.ndarray,
                      u: np.ndarray, v: np.ndarray, clock: Timeline) -> BackfillRecords:
    """Run one trial per row of ``u`` (trials, arrivals); see the module."""
    trials, capacity = u.shape
    design: Backfill = cache.design  # type: ignore[assignment]
    cache.trim()
    t = _Trials(trials, capacity, cache.n_doses)
    draws = _Draws(p_true, p_response, u, v, clock, design.responded_days)
    running = np.arange(trials)
    lag = settled_lag(clock.arrival, clock.window)
    for i in range(capacity):
        if not running.size:
            break
        day = clock.arrival[running, i]
        free = t.room[running] == 0
        rows, today = running[free], day[free]
        n, dlt = _complete(t, rows, today, max(i - lag + 1, 0), i)
        due = today >= t.ready[rows]
        design.expect(n[due], dlt[due])  # decided with the backfill's closure (disjoint rows)
        _backfill(design, t, draws, rows[~due], today[~due], n[~due], dlt[~due], i)
        stopped = _decide(cache, t, rows[due], n[due], dlt[due])
        going = rows[due][~stopped]
        cohort = np.concatenate([running[~free], going])
        _treat(t, draws, cohort, i, t.dose[cohort],
               np.concatenate([day[~free], today[due][~stopped]]), backfill=False)
        running = np.setdiff1d(running, rows[due][stopped], assume_unique=True)
    if running.size:
        raise ShortOfArrivals("a backfill trial needs more arrivals than were drawn for it")
    return _records(t, cache.n_doses)


@dataclass(frozen=True)
class _Draws:
    """What the scenario and the random numbers fix about every arrival."""

    p_true: np.ndarray
    p_response: np.ndarray
    u: np.ndarray
    v: np.ndarray
    clock: Timeline
    responded_days: int


def settled_lag(arrival: np.ndarray, window: int) -> int:
    """The fewest arrivals L such that in every trial arrival i - L came a whole ``window``
    or more before arrival i: from then on its outcome is final."""
    lag = 1
    while lag < arrival.shape[1] and (arrival[:, lag:] - arrival[:, :-lag] < window).any():
        lag += 1
    return lag


def _complete(t: _Trials, rows: np.ndarray, day: np.ndarray, lo: int,
              i: int) -> tuple[np.ndarray, np.ndarray]:
    """Complete patients and their DLTs per dose on ``day`` (among the first i arrivals;
    those before ``lo`` are all complete): all treated less those still pending."""
    level = t.level[rows, lo:i]
    pending = (level >= 0) & (t.resolved[rows, lo:i] > day[:, None])
    k = t.count.shape[1]
    return (t.count[rows] - per_dose(level, pending, k),
            t.count_dlt[rows] - per_dose(level, pending & t.tox[rows, lo:i], k))


def per_dose(level: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """(rows, k): patients in ``mask`` per dose (``level``: each patient's, -1 none)."""
    flat = np.arange(level.shape[0])[:, None] * k + np.maximum(level, 0)
    return np.bincount(flat[mask], minlength=level.shape[0] * k).reshape(-1, k)


def _decide(cache: BackfillCache, t: _Trials, rows: np.ndarray, n: np.ndarray,
            dlt: np.ndarray) -> np.ndarray:
    """The escalation decision of ``rows``; returns which stopped (their records are set)."""
    keys = np.column_stack([n, dlt, t.dose[rows], t.cohort_dlt[rows], t.escalated[rows]])
    ids = cache.lookup(keys.astype(np.int16))
    stop = cache.stop_reason[ids] != CONTINUE
    done, go = rows[stop], rows[~stop]
    t.selected[done], t.stop_reason[done] = cache.mtd[ids[stop]], cache.stop_reason[ids[stop]]
    t.end[done] = t.ready[done]
    t.dose[go], t.room[go] = cache.next_level[ids[~stop]], cache.cohort_size[ids[~stop]]
    t.ready[go], t.cohort_dlt[go] = 0, 0
    return stop


def _treat(t: _Trials, draws: _Draws, rows: np.ndarray, i: int, level: np.ndarray,
           day: np.ndarray, backfill: bool) -> None:
    """Dose arrival i of ``rows`` at ``level`` on ``day`` (an escalation patient fills the
    cohort and moves its last outcome day)."""
    tox = draws.u[rows, i] <= draws.p_true[level]
    resolved = day + np.where(tox, draws.clock.dlt_day[rows, i], draws.clock.window)
    t.level[rows, i], t.dosed[rows, i], t.tox[rows, i] = level, day, tox
    t.resolved[rows, i] = resolved
    t.response[rows, i] = draws.v[rows, i] <= draws.p_response[level]
    t.backfill[rows, i] = backfill
    t.count[rows, level] += 1
    t.count_dlt[rows, level] += tox
    known = np.where(t.response[rows, i], day + draws.responded_days, NEVER)
    t.response_known[rows, level] = np.minimum(t.response_known[rows, level], known)
    if not backfill:
        t.room[rows] -= 1
        t.escalated[rows] += 1
        t.cohort_dlt[rows] += tox
        t.ready[rows] = np.maximum(t.ready[rows], resolved)


def _backfill(design: Backfill, t: _Trials, draws: _Draws, rows: np.ndarray, day: np.ndarray,
              n: np.ndarray, dlt: np.ndarray, i: int) -> None:
    """Arrival i of ``rows`` (their cohorts in follow-up) to the highest open dose, if any."""
    if not rows.size:
        return
    responded = t.response_known[rows] <= day[:, None]
    target = highest(design.open_doses(n, dlt, t.count[rows], responded, t.dose[rows]))
    going = target >= 0
    _treat(t, draws, rows[going], i, target[going], day[going], backfill=True)


def _records(t: _Trials, k: int) -> BackfillRecords:
    given = t.level >= 0
    late = (t.backfill & given & (t.resolved > t.end[:, None])).sum(axis=1)
    return BackfillRecords(
        t.selected, per_dose(t.level, given, k), per_dose(t.level, t.backfill & given, k),
        per_dose(t.level, given & t.tox, k), per_dose(t.level, given & t.response, k),
        t.stop_reason, t.end - t.dosed[:, 0], late)
