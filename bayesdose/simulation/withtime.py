"""Simulation studies with time: which designs run how, and one chunk of trials.

A study runs in time when the config states time (``[simulation] accrual`` or
``accrual_gap_days``; ``simulate --no-time`` leaves it out) or when it compares a time-aware
design (``tite-blrm``, ``tite-crm``, which need time); then every design of the study does, on
the same patients, arrivals and DLT days (``timeline``, ``[simulation]`` in the config):

- ``tite-blrm``: BLRM-EWOC deciding at each cohort's arrival, pending patients weighted by days
  followed (``[cohorts] followup = "tite"``);
- ``blrm``: BLRM-EWOC waiting for complete follow-up (``followup = "complete"``);
- ``tite-crm``: dfcrm's TITE-CRM, decided per cohort;
- ``3+3``, ``3+3-deesc``, ``crm``, ``boin``: wait for complete follow-up;
- ``NAME+backfill``: the design's escalation with backfill patients at cleared doses while
  its cohort is in follow-up (``backfillrunner``, on its own draws of the same seed: arrivals
  a patient at a time, referred away when no dose is open), which needs time too.
A design that waits decides on complete data only, so in time it makes the decisions it makes
without time, trial by trial: its operating characteristics but the duration are those without
time. A study of such designs alone keeps them exact where the exact method applies (the study
adds the durations of a simulation in time); the exact method walks trial states without dates,
so a study with a time-aware design is simulated.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from bayesdose.designs.base import TimedDesign, require_window
from bayesdose.designs.registry import TIME_AWARE, hook, is_backfill, make_design
from bayesdose.designs.waiting import Waiting
from bayesdose.errors import InputError
from bayesdose.schema import DAYS_PER_MONTH, Design
from bayesdose.simulation.backfillrunner import backfill_cache, per_dose
from bayesdose.simulation.timedrunner import TimedRecords, simulate_timed
from bayesdose.simulation.timedstates import TimedCache
from bayesdose.simulation.timeline import Timeline, mean_gap_days, timeline

# Per-trial fields a study with time adds to the chunk files, with their stored types.
TIMED_RECORD_TYPES = {"duration": np.int32, "pending_treated": np.int16}


def time_aware(names: list[str]) -> list[str]:
    """The designs of these that decide or dose with patients in follow-up (they need time):
    the time-aware ones and those with backfill."""
    return [name for name in names if name in TIME_AWARE or is_backfill(name)]


def is_timed(design: Design, names: list[str], time: bool = True) -> bool:
    """Whether a study of these designs runs in time: the config states time (unless
    ``time`` is False), or a time-aware design is compared."""
    return (time and design.simulation.stated) or bool(time_aware(names))


def check_timed(design: Design, names: list[str], method: str, time: bool = True) -> None:
    """An InputError when a study with time-aware designs cannot run as asked."""
    aware = time_aware(names)
    if not aware:
        return
    if not time:
        raise InputError("--no-time", None, f"{', '.join(aware)} decide(s) or dose(s) with "
                         "patients in follow-up, which needs time: leave out --no-time or "
                         "the design")
    require_window(design, aware[0])
    for name in filter(is_backfill, aware):
        backfill_cache(design, name)  # the design's checks, before any worker starts
    if method == "exact":
        raise InputError("--method exact", None,
                         f"{', '.join(aware)} simulate(s) time, which the exact method does "
                         "not cover; use --method simulate")


def timed_design(design: Design, name: str) -> TimedDesign:
    """The design ``name`` as it runs in time."""
    if name in TIME_AWARE:
        return make_design(name, design)
    own_form = hook(name, "in_time")
    return own_form(design) if own_form is not None else Waiting(make_design(name, design))


@lru_cache(maxsize=16)
def timed_cache(design: Design, name: str) -> TimedCache:
    """The decision cache of a design in time (one per process, reused by every chunk)."""
    return TimedCache(timed_design(design, name), len(design.levels),
                      design.cohorts.dlt_window_days)


def patients_needed(design: Design, names: list[str]) -> int:
    """Patients drawn per trial for the designs (a backfill design draws its own arrivals)."""
    most = [timed_cache(design, name).design.max_patients for name in names
            if not is_backfill(name)]
    return max([*most, design.stopping.max_patients])


def chunk_timeline(design: Design, seed: int, first: int, stop: int, patients: int) -> Timeline:
    """Arrivals of one more patient than treated: the date the trial would dose next."""
    return timeline(design, seed, first, stop, patients + 1)


def simulate_chunk_design(design: Design, name: str, p_true: np.ndarray, u: np.ndarray,
                          clock: Timeline, v: np.ndarray | None = None,
                          p_response: np.ndarray | None = None) -> TimedRecords:
    """A chunk of trials of a design in time; with the response uniforms ``v`` (laid out as
    ``u``) and rates ``p_response``, each trial's responses per dose (patient i responds at
    dose k iff v_i <= p_response[k])."""
    run = simulate_timed(timed_cache(design, name), p_true, u, clock)
    if v is None or p_response is None:
        return run.records
    level = run.histories.level
    responded = (level >= 0) & (v <= p_response[np.maximum(level, 0)])
    return dataclasses.replace(run.records,
                               response=per_dose(level, responded, len(design.levels)))


def timeline_summary(design: Design) -> dict:
    """The assumptions of a study with time, for summary.json (the study adds which numbers
    are simulated)."""
    sim = design.simulation
    gap = mean_gap_days(design)
    return {"accrual": sim.arrivals, "mean_gap_days": gap,
            "arrivals_per_month": DAYS_PER_MONTH / gap, "dlt_time": sim.dlt_time,
            "dlt_window_days": design.cohorts.dlt_window_days}
