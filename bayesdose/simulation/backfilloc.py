"""Designs with backfill (``NAME+backfill``) in a simulation study: a chunk's per-trial records
and the operating characteristics they add.

A chunk stores, besides the usual fields (selection, patients and DLTs per dose, stop reason,
duration; ``pending_treated``: the backfill patients, every one dosed while the escalation
cohort was in follow-up) and every design's responses per dose and selected OBD
(``optimisation.estimated_obd_rows``, ``metrics.add_efficacy``), per dose the backfill patients
and ``late`` (backfill patients still in follow-up when the escalation ended). The operating
characteristics add, per dose, escalation and backfill patients, and per trial the mean
backfill patients and ``late``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayesdose.schema import Design
from bayesdose.simulation.backfillrunner import BackfillRecords, run_backfill
from bayesdose.simulation.metrics import Outcomes, _Estimator

CHUNK = 5000


def simulate_backfill_design(design: Design, name: str, p_true: list[float],
                             p_response: list[float], trials: int, seed: int,
                             ) -> BackfillRecords:
    """Every trial's records, in chunks of ``CHUNK`` trials (a trial's numbers depend on the
    seed and its index alone)."""
    parts = [run_backfill(design, name, np.asarray(p_true), np.asarray(p_response), seed,
                          first, min(first + CHUNK, trials))
             for first in range(0, trials, CHUNK)]
    return BackfillRecords(*(np.concatenate([getattr(p, f) for p in parts])
                             for f in BackfillRecords.__dataclass_fields__))


def chunk_records(design: Design, name: str, p_true: np.ndarray, p_response: np.ndarray,
                  seed: int, first: int, stop: int) -> dict[str, np.ndarray]:
    """Trials first .. stop - 1 of ``NAME+backfill`` as a study's chunk stores them (the
    study adds the OBD, as for every design)."""
    rec = run_backfill(design, name, p_true, p_response, seed, first, stop)
    return {"selected": rec.selected, "n": rec.n, "dlt": rec.dlt,
            "stop_reason": rec.stop_reason, "duration": rec.duration,
            "pending_treated": rec.n_backfill.sum(axis=1), "n_backfill": rec.n_backfill,
            "response": rec.response, "late": rec.late}


def add_backfill(oc: dict[str, Any], out: Outcomes, n_backfill: np.ndarray, late: np.ndarray,
                 trials: int) -> None:
    """Add to a backfill design's entry its escalation and backfill patients per dose
    (``patients_escalation``, ``patients_backfill``), its mean backfill patients per trial
    (``backfill_mean``) and those still in follow-up when the escalation ended (``late``);
    its responses and OBD are every design's (``metrics.add_efficacy``)."""
    est = _Estimator(out.weight, trials)
    assert out.n is not None
    doses = range(out.n.shape[1])
    for key, values in (
            ("patients_escalation", [est.mean(out.n[:, j] - n_backfill[:, j]) for j in doses]),
            ("patients_backfill", [est.mean(n_backfill[:, j]) for j in doses])):
        oc[key], oc["se"][key] = [m for m, _ in values], [s for _, s in values]
    for key, value in (("backfill_mean", est.mean(n_backfill.sum(axis=1))),
                       ("late", est.mean(late))):
        oc[key], oc["se"][key] = value
