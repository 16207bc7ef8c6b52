"""Common random numbers in time: each simulated patient's arrival day and DLT day.

Patient i of trial t (the patient whose tolerance is ``patients.tolerances``' column i) also has
two uniforms from the same Philox4x64-10 key and trial counter, on their own counter lanes so
they never overlap the tolerances (lane 0): word ``i % 4`` of block ``i // 4`` of
``philox4x64_10((t, i // 4, lane, 0), key)``, with lane 1 for arrivals and lane 2 for DLT times
(``patients.lane_uniforms``).
Like the tolerances, they are functions of (seed, t, i) alone, whatever the chunking.

- Arrivals (``[simulation] accrual``): the first patient arrives on day 0; gap i (before patient
  i) is ``accrual_gap_days`` (or 30.4375 / ``accrual_rate_per_month``) for fixed accrual, or
  exponential with that mean, ``-mean log(1 - v_i)``, for Poisson accrual (as R's dfcrm
  ``titesim`` draws arrivals). A patient arriving at time a (days, continuous) is available from
  day ``floor(a)``: every date in the simulator is a whole day, as in dated trial data.
- DLT times (``[simulation] dlt_time``): a patient who has a DLT has it on day
  ``d = min(floor(s T) + 1, T)`` of the T-day window, s = F^-1(w) for the patient's uniform w:
  F(s) = s ('uniform', as titesim's ``runif(0, obswin)``), 1 - (1 - s)^2 ('early') or s^2
  ('late'). The DLT is known d days after dosing, so days 1 .. T.
Whether a patient has a DLT at all is the tolerance's business (u <= p_true[dose]), so the same
patients are toxic with and without time; time only adds when the outcome is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.schema import DAYS_PER_MONTH, Design
from bayesdose.simulation.patients import lane_uniforms

ARRIVAL_LANE, DLT_TIME_LANE = 1, 2


@dataclass(frozen=True)
class Timeline:
    """Per trial (rows) and patient (columns): ``arrival`` day (int, non-decreasing, day 0 for
    the first patient) and ``dlt_day`` (1 .. ``window``: when a DLT, if the patient has one, is
    known after dosing)."""

    arrival: np.ndarray
    dlt_day: np.ndarray
    window: int


def mean_gap_days(design: Design) -> float:
    """Mean days between arrivals."""
    sim = design.simulation
    if sim.arrivals == "fixed" and sim.accrual_gap_days is not None:
        return sim.accrual_gap_days
    return DAYS_PER_MONTH / sim.accrual_rate_per_month


def arrival_days(design: Design, v: np.ndarray) -> np.ndarray:
    """Arrival days from the lane-1 uniforms ``v`` (trials, patients); column 0 is day 0."""
    mean = mean_gap_days(design)
    poisson = design.simulation.arrivals == "poisson"
    gaps = -mean * np.log1p(-v) if poisson else np.full(v.shape, mean)
    gaps[:, 0] = 0.0
    return np.floor(np.cumsum(gaps, axis=1)).astype(np.int64)


def dlt_days(design: Design, w: np.ndarray) -> np.ndarray:
    """Days after dosing on which DLTs are known, from the lane-2 uniforms ``w``."""
    shape = design.simulation.dlt_time
    if shape == "early":
        s = 1.0 - np.sqrt(1.0 - w)
    elif shape == "late":
        s = np.sqrt(w)
    else:
        s = w
    window = design.cohorts.dlt_window_days
    return np.minimum(np.floor(s * window).astype(np.int64) + 1, window)


def timeline(design: Design, seed: int, first: int, stop: int, patients: int) -> Timeline:
    """Arrival and DLT days of trials first .. stop - 1, ``patients`` per trial."""
    v = lane_uniforms(seed, first, stop, patients, ARRIVAL_LANE)
    w = lane_uniforms(seed, first, stop, patients, DLT_TIME_LANE)
    return Timeline(arrival_days(design, v), dlt_days(design, w),
                    design.cohorts.dlt_window_days)
