"""A two-drug simulation study: every matrix scenario x combination design, in chunks of trials
run in lockstep by the project's executors, with the project's common random numbers.

Patient i of trial t has the tolerance u of ``patients.tolerances`` and a DLT at pair (a, b)
iff u <= p_true[a, b], so every design and the optimal benchmark see the same patients; a
design's coin tosses (BOIN-comb's ties) are lane ``COIN_LANE`` of the same Philox streams.
The complete-information benchmark (``simulation.optimal``) runs over the flat pairs: each
pair's rate estimated from the same first max_patients patients, the pair closest to the
target selected (ties to the highest flat index below the target, else the lowest; none when
the lowest pair's estimate exceeds the target by more than 0.10).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bayesdose.designs.base import NO_DOSE
from bayesdose.designs.registry import BENCHMARK, make_design
from bayesdose.schema import Design
from bayesdose.simulation.chunks import chunk_ranges, design_sha256
from bayesdose.simulation.combination.metrics import operating_characteristics, truth_masks
from bayesdose.simulation.combination.scenarios import MatrixScenario
from bayesdose.simulation.executors import open_executor
from bayesdose.simulation.optimal import optimal_selection
from bayesdose.simulation.output import TABLE_COLUMNS, cell_text, se_text, write_summary
from bayesdose.simulation.patients import DLTTable, lane_uniforms, tolerances

COIN_LANE = 3  # lanes 0-2: tolerances, arrival and DLT days
CHUNK_TRIALS = 5000
FIELDS = ("selected", "n", "dlt", "stop_reason")


@lru_cache(maxsize=16)
def combination_design(design: Design, name: str) -> Any:
    """The simulated combination design (one per process, its caches kept across chunks)."""
    return make_design(name, design)


def patients_needed(design: Design, names: list[str]) -> int:
    most = max(combination_design(design, name).max_patients for name in names)
    return max(most, design.stopping.max_patients)


def run_chunk(design: Design, scenarios: list[MatrixScenario], names: list[str], seed: int,
              first: int, stop: int) -> tuple[int, dict[str, np.ndarray]]:
    """Records of trials first .. stop - 1 of every scenario and design, and the benchmark's
    selections, keyed ``field/scenario/design``."""
    u = tolerances(seed, first, stop, patients_needed(design, names))
    out: dict[str, np.ndarray] = {}
    for s, scenario in enumerate(scenarios):
        patients = DLTTable.of(u, scenario.matrix.ravel())
        for d, name in enumerate(names):
            sim = combination_design(design, name)
            coins = lane_uniforms(seed, first, stop, sim.draws, COIN_LANE)
            records = sim.simulate(patients, coins)
            for field in FIELDS:
                out[f"{field}/{s}/{d}"] = getattr(records, field)
            if records.kept_n is not None:
                out[f"kept_n/{s}/{d}"] = records.kept_n
        best = optimal_selection(patients, design.stopping.max_patients, design.decision.target)
        out[f"optimal/{s}"] = np.where(best == NO_DOSE, 0, np.left_shift(1, np.maximum(best, 0)))
    return first, out


def simulate_records(design: Design, scenarios: list[MatrixScenario], names: list[str],
                     trials: int, seed: int, workers: int = 1,
                     chunk_size: int = CHUNK_TRIALS) -> dict[str, np.ndarray]:
    """Every chunk's records, joined in trial order (chunking and workers change nothing)."""
    jobs = [(design, scenarios, names, seed, a, b) for a, b in chunk_ranges(trials, chunk_size)]
    parts: dict[int, dict[str, np.ndarray]] = {}
    with open_executor(workers if len(jobs) > 1 else 1) as executor:
        for first, arrays in executor.imap_unordered(run_chunk, jobs):
            parts[first] = arrays
    ordered = [parts[k] for k in sorted(parts)]
    return {key: np.concatenate([p[key] for p in ordered]) for key in ordered[0]}


def combination_summary(design: Design, scenarios: list[MatrixScenario], names: list[str],
                        trials: int, seed: int, workers: int | None = None,
                        out: Path | None = None,
                        chunk_size: int = CHUNK_TRIALS) -> dict[str, Any]:
    """The summary.json document of a two-drug study (written to ``out/summary.json``)."""
    records = simulate_records(design, scenarios, names, trials, seed,
                               workers or os.cpu_count() or 1, chunk_size)
    panel = design.pair_panel
    target = design.decision.target
    entries = []
    for s, scenario in enumerate(scenarios):
        p = scenario.matrix
        masks = truth_masks(p, target)
        entry: dict[str, Any] = {
            "name": scenario.name, "p_true": [list(r) for r in scenario.p_true],
            "true_mtd_set": _pairs(masks["mtd"], panel.shape[1]),
            "true_contour": _pairs(masks["contour"], panel.shape[1]), "designs": {}}
        for d, name in enumerate(names):
            entry["designs"][name] = operating_characteristics(
                records[f"selected/{s}/{d}"], p, target, records[f"n/{s}/{d}"],
                records[f"dlt/{s}/{d}"], records[f"stop_reason/{s}/{d}"])
        entry["designs"][BENCHMARK] = operating_characteristics(records[f"optimal/{s}"], p,
                                                                target)
        entries.append(entry)
    summary = {
        "method": "simulate", "combination": True, "drugs": list(panel.names),
        "doses": {name: [p.label(k) for k in range(len(p.levels))]
                  for name, p in zip(panel.names, panel.drugs, strict=True)},
        "scenarios": entries, "seed": seed, "designs": names,
        "design_sha256": design_sha256(design)}
    if out is not None:
        write_summary(out / "summary.json", summary)
    return summary


def _pairs(mask: np.ndarray, cols: int) -> list[list[int]]:
    """1-based [row, column] of each pair of a flat mask, as the summary writes pairs."""
    return [[int(k) // cols + 1, int(k) % cols + 1] for k in np.flatnonzero(mask)]


def format_combination_table(summary: dict, verbose: bool = False) -> str:
    """One row per scenario and design (the single-agent table's columns, pcs_contour
    beside pcs), then with ``verbose`` each design's selection and patients per pair."""
    columns = (TABLE_COLUMNS[0], ("pcs_contour", "P(contour)"), *TABLE_COLUMNS[1:])
    head = f"{'scenario':<10} {'design':<10} " + " ".join(f"{t:>10}" for _, t in columns)
    trials = summary["scenarios"][0]["designs"][summary["designs"][0]]["trials"]
    rows, cols = len(summary["scenarios"][0]["p_true"]), len(summary["scenarios"][0]["p_true"][0])
    drugs = summary["drugs"]
    lines = [f"method: simulate ({trials} trials per scenario); pairs [row, column]: rows "
             f"{drugs[0]}'s levels (1..{rows}), columns {drugs[1]}'s (1..{cols})", head,
             "-" * len(head)]
    for entry in summary["scenarios"]:
        lines.append(f"{entry['name']} (true MTD set: {_pair_text(entry['true_mtd_set'])}; "
                     f"contour: {_pair_text(entry['true_contour'])})")
        for name, oc in entry["designs"].items():
            cells = " ".join(f"{cell_text(key, oc.get(key)):>10}" for key, _ in columns)
            lines.append(f"{'':<10} {name:<10} " + cells)
            errors = [se_text(summary, key, oc) for key, _ in columns]
            lines.append(f"{'':<21} " + " ".join(f"{e:>10}" for e in errors))
    lines += ["", "P(correct)  P(selecting a pair of the true MTD set: true rate closest to "
              "the target, ties included)",
              "P(contour)  P(the selected pairs are exactly the true MTD contour)",
              "sel>MTD     P(selecting a pair whose true rate is above the MTD set's)",
              "pts>MTD     share of the patients treated at such pairs",
              "(...)       Monte Carlo standard error of the number above"]
    if verbose:
        lines += _per_pair(summary)
    return "\n".join(line.rstrip() for line in lines)


def _pair_text(pairs: list[list[int]]) -> str:
    return ", ".join(f"[{a},{b}]" for a, b in pairs) or "none"


def _per_pair(summary: dict) -> list[str]:
    lines = []
    for entry in summary["scenarios"]:
        for name, oc in entry["designs"].items():
            for what in ("select", "patients"):
                if what in oc:
                    lines += ["", f"{entry['name']} {name} {what} (rows {summary['drugs'][0]})"]
                    lines += ["  " + " ".join(f"{cell_text(what, v):>7}" for v in row)
                              for row in oc[what]]
    return lines
