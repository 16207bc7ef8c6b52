"""Designs with backfill (``NAME+backfill``) in a simulation study: a chunk's per-trial records
and the operating characteristics they add.

A chunk stores, besides the usual fields (selection, patients and DLTs per dose, stop reason,
duration; ``pending_treated``: the backfill patients, every one dosed while the escalation
cohort was in follow-up), per dose the backfill patients and responses, ``late`` (backfill
patients still in follow-up when the escalation ended) and the OBD the trial selects
(``optimisation.estimated_obd_rows``). The operating characteristics add, per dose, escalation
and backfill patients, responses and OBD selections; per trial the mean backfill patients,
responses and ``late``; and P(selecting the scenario's true OBD), or no OBD when the scenario
has no true MTD (as P(correct) counts no dose then).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesdose.optimisation import estimated_obd_rows, true_obd
from bayesdose.schema import Design
from bayesdose.simulation.backfillrunner import BackfillRecords, run_backfill
from bayesdose.simulation.metrics import Outcomes, Truth, _Estimator, operating_characteristics

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
    """Trials first .. stop - 1 of ``NAME+backfill`` as a study's chunk stores them."""
    rec = run_backfill(design, name, p_true, p_response, seed, first, stop)
    obd = estimated_obd_rows(rec.n, rec.dlt, rec.response, rec.selected,
                             design.optimisation.utility)
    return {"selected": rec.selected, "n": rec.n, "dlt": rec.dlt,
            "stop_reason": rec.stop_reason, "duration": rec.duration,
            "pending_treated": rec.n_backfill.sum(axis=1), "n_backfill": rec.n_backfill,
            "response": rec.response, "late": rec.late, "obd": obd}


@dataclass(frozen=True)
class BackfillOutcomes:
    """The backfill fields of the rows of ``metrics.Outcomes`` (same rows, same weights)."""

    n_backfill: np.ndarray
    response: np.ndarray
    late: np.ndarray
    obd: np.ndarray


def backfill_characteristics(design: Design, out: Outcomes, extra: BackfillOutcomes,
                             truth: Truth, p_response: tuple[float, ...],
                             trials: int) -> dict[str, Any]:
    """The summary entry of a backfill design in one scenario."""
    oc = operating_characteristics(out, truth, trials)
    est = _Estimator(out.weight, trials)

    def put(key: str, value: tuple[float | None, float]) -> None:
        oc[key], oc["se"][key] = value

    def per_dose(key: str, values: list[tuple[float, float]]) -> None:
        oc[key], oc["se"][key] = [m for m, _ in values], [s for _, s in values]

    assert out.n is not None
    doses = range(out.n.shape[1])
    per_dose("patients_escalation", [est.mean(out.n[:, j] - extra.n_backfill[:, j])
                                     for j in doses])
    per_dose("patients_backfill", [est.mean(extra.n_backfill[:, j]) for j in doses])
    per_dose("responses", [est.mean(extra.response[:, j]) for j in doses])
    per_dose("select_obd", [est.mean(extra.obd == j) for j in doses])
    put("backfill_mean", est.mean(extra.n_backfill.sum(axis=1)))
    put("responses_mean", est.mean(extra.response.sum(axis=1)))
    put("late", est.mean(extra.late))
    best = true_obd(truth.p_true, p_response, truth.mtd, design.optimisation.utility)
    put("p_select_obd", est.mean(extra.obd == best))  # no OBD when no dose is right
    return oc
