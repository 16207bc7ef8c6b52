"""Operating characteristics of a design with backfill in one scenario (``simulate`` with a
``NAME+backfill`` design, and the BF-BOIN reproduction).

Besides the usual ones (``metrics.operating_characteristics``: selection, patients and DLTs,
duration), per dose: escalation and backfill patients, responses; ``late``, the backfill
patients still in follow-up when the escalation ended; and dose optimisation: the OBD selected
(``optimisation.estimated_obd``) per dose and P(selecting the true OBD).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayesdose.optimisation import estimated_obd, true_obd
from bayesdose.schema import Design
from bayesdose.simulation.backfillrunner import BackfillRecords, run_backfill
from bayesdose.simulation.metrics import Outcomes, Truth, _Estimator, operating_characteristics
from bayesdose.simulation.scenarios import true_mtd

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


def backfill_oc(design: Design, records: BackfillRecords, p_true: list[float],
                p_response: list[float]) -> dict[str, Any]:
    """The summary entry of a backfill design in one scenario."""
    trials = records.selected.size
    target = design.decision.target
    mtd = true_mtd(p_true, target)
    truth = Truth(np.asarray(p_true), target, design.decision.target_interval, mtd)
    weight = np.full(trials, 1.0 / trials)
    oc = operating_characteristics(
        Outcomes(records.selected, weight, records.n, records.dlt, records.stop_reason,
                 records.duration, records.late), truth, trials)
    oc["late"], oc["se"]["late"] = oc.pop("pending_treated"), oc["se"].pop("pending_treated")
    est = _Estimator(weight, trials)

    def put(key: str, values: list[tuple[float, float]]) -> None:
        oc[key], oc["se"][key] = [m for m, _ in values], [s for _, s in values]

    k = records.n.shape[1]
    put("patients_backfill", [est.mean(records.n_backfill[:, j]) for j in range(k)])
    put("patients_escalation", [est.mean(records.n[:, j] - records.n_backfill[:, j])
                                for j in range(k)])
    put("responses", [est.mean(records.response[:, j]) for j in range(k)])
    utility = tuple(design.optimisation.utility)
    obd = np.array([estimated_obd(tuple(n), tuple(y), tuple(r), int(m), utility)
                    for n, y, r, m in zip(records.n.tolist(), records.dlt.tolist(),
                                          records.response.tolist(),
                                          records.selected.tolist(), strict=True)])
    put("select_obd", [est.mean(obd == j) for j in range(k)])
    best = true_obd(p_true, p_response, mtd, utility)
    oc["true_obd"] = None if best < 0 else best + 1
    oc["p_select_obd"], oc["se"]["p_select_obd"] = est.mean(obd == best)
    return oc
