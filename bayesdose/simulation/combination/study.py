"""A two-drug simulation study: every matrix scenario x combination design, in chunks of trials
run in lockstep by the project's executors, with the project's common random numbers.

Patient i of trial t has the tolerance u of ``patients.tolerances`` and a DLT at pair (a, b)
iff u <= p_true[a, b], so every design and the optimal benchmark see the same patients; a
design's coin tosses (BOIN-comb's ties) are lane ``COIN_LANE`` of the same Philox streams.
The complete-information benchmark (``simulation.optimal``) runs over the flat pairs: each
pair's rate estimated from the same first max_patients patients, the pair closest to the
target selected (ties to the highest flat index below the target, else the lowest; none when
the lowest pair's estimate exceeds the target by more than 0.10).

As for one drug (``simulation.study``), every finished chunk is written to ``OUT/chunks/``
(``chunks.ChunkStore``: manifest, ``--resume``), then the summary (from exact integer
moments, ``metrics.Moments``) and ``results.nc`` (per-trial records, a 0/1 flag per selected
pair) are assembled in one pass over the chunk files, one chunk in memory at a time.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bayesdose import interrupt
from bayesdose.designs.base import NO_DOSE
from bayesdose.designs.registry import BENCHMARK, make_design
from bayesdose.record import remove_temporaries
from bayesdose.schema import Design
from bayesdose.simulation.chunks import (
    RECORD_TYPES,
    ChunkStore,
    chunk_ranges,
    design_sha256,
    make_manifest,
    optimal_key,
    record_key,
)
from bayesdose.simulation.combination.metrics import (
    Moments,
    operating_characteristics,
    pair_flags,
    trial_columns,
    truth_masks,
)
from bayesdose.simulation.combination.scenarios import MatrixScenario
from bayesdose.simulation.optimal import optimal_selection
from bayesdose.simulation.output import (
    TABLE_COLUMNS,
    cell_text,
    results_file,
    se_text,
    write_summary,
)
from bayesdose.simulation.patients import DLTTable, lane_uniforms, tolerances
from bayesdose.simulation.runner import TrialRecords
from bayesdose.simulation.study import chunk_trials, default_workers, run_chunks

COIN_LANE = 3  # lanes 0-2: tolerances, arrival and DLT days
# A two-drug run of at most this many trial-simulations stays in this process by default
# (``study.default_workers``): at 10,000-70,000 trials/s, a few seconds; a worker process
# costs about a second before its first trial (imports and numba's cached fit).
IN_PROCESS_TRIALS = 50_000
# Stored per trial: as for one drug, but a selection is a bit mask over the flat pairs.
STORED_TYPES = {**RECORD_TYPES, "selected": np.int64}


@lru_cache(maxsize=16)
def combination_design(design: Design, name: str) -> Any:
    """The simulated combination design (one per process, its caches kept across chunks)."""
    return make_design(name, design)


def patients_needed(design: Design, names: list[str]) -> int:
    most = max(combination_design(design, name).max_patients for name in names)
    return max(most, design.stopping.max_patients)


def chunk_records(design: Design, scenarios: list[MatrixScenario], names: list[str],
                  seed: int, first: int, stop: int,
                  types: dict[str, type] | None = None) -> dict[str, np.ndarray]:
    """Records of trials first .. stop - 1 of every scenario and design and the benchmark's
    selections as bit masks, named as in a chunk file (``chunks.record_key``,
    ``chunks.optimal_key``): with ``types`` those fields in those types, else every field
    of the records (R's kept counts too, ``kept_n``, where the design has them)."""
    u = tolerances(seed, first, stop, patients_needed(design, names))
    out: dict[str, np.ndarray] = {}
    for s, scenario in enumerate(scenarios):
        patients = DLTTable.of(u, scenario.matrix.ravel())
        for d, name in enumerate(names):
            sim = combination_design(design, name)
            coins = lane_uniforms(seed, first, stop, sim.draws, COIN_LANE)
            records = sim.simulate(patients, coins)
            for field in types or (*STORED_TYPES, "kept_n"):
                value = getattr(records, field)
                if value is not None:
                    out[record_key(field, s, d)] = value.astype(types[field]) if types else value
        best = optimal_selection(patients, design.stopping.max_patients, design.decision.target)
        out[optimal_key(s)] = np.where(best == NO_DOSE, 0, np.left_shift(1, np.maximum(best, 0)))
    return out


def run_chunk(design: Design, scenarios: list[MatrixScenario], names: list[str], seed: int,
              first: int, stop: int) -> tuple[int, int, dict[str, np.ndarray]]:
    """A chunk file's arrays: the stored fields in compact types."""
    return first, stop, chunk_records(design, scenarios, names, seed, first, stop,
                                      STORED_TYPES)


def simulate_records(design: Design, scenarios: list[MatrixScenario], names: list[str],
                     trials: int, seed: int, chunk_size: int = 5000,
                     ) -> dict[str, np.ndarray]:
    """Every trial's records in memory, chunk by chunk in this process (tests and
    benchmarks; ``combination_summary`` keeps them in chunk files)."""
    parts = [chunk_records(design, scenarios, names, seed, a, b)
             for a, b in chunk_ranges(trials, chunk_size)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def combination_summary(design: Design, scenarios: list[MatrixScenario], names: list[str],
                        trials: int, seed: int, workers: int | None = None, *,
                        scheduler: str | None = None, out: Path | None = None,
                        resume: bool = False, chunk_size: int | None = None,
                        progress: bool = False) -> dict[str, Any]:
    """The summary.json document of a two-drug study, its chunks (``chunk_size`` trials, by
    default the one-drug run's ``study.chunk_trials``) computed on ``workers`` local processes
    (by default ``default_workers``) or the Dask cluster at ``scheduler``. With an output
    folder ``out``: chunks in ``out/chunks`` (``resume`` continues an earlier run),
    ``out/results.nc`` and ``out/summary.json``; without one the chunks go to a temporary
    folder."""
    if out is not None:
        remove_temporaries(out)  # of a summary.json or results.nc cut short by a kill
    chunk_size = chunk_size or chunk_trials(trials)
    manifest = make_manifest(design, scenarios, names, trials, seed, chunk_size)
    with ExitStack() as stack:
        folder = out or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        store = ChunkStore(folder / "chunks", manifest)
        store.start(resume)
        jobs = [(design, scenarios, names, seed, a, b) for a, b in store.missing()]
        panel = design.pair_panel
        pairs = panel.shape[0] * panel.shape[1]
        with results_file(folder / "results.nc" if out is not None else None,
                          [s.name for s in scenarios], names, trials,
                          tuple(tuple(panel.doses(k).values()) for k in range(pairs)),
                          chunk_size, drugs=panel.names) as nc:
            counted = CountedRun(design, scenarios, names, nc)
            run_chunks(store, run_chunk, jobs, counted.add,
                       workers or default_workers(trials * len(scenarios) * len(names),
                                                  IN_PROCESS_TRIALS),
                       scheduler, progress)
    summary = {
        "method": "simulate", "combination": True, "drugs": list(panel.names),
        "doses": {name: [p.label(k) for k in range(len(p.levels))]
                  for name, p in zip(panel.names, panel.drugs, strict=True)},
        "scenarios": counted.entries(), "seed": seed, "designs": names,
        "design_sha256": design_sha256(design)}
    interrupt.check()  # a Ctrl-C swallowed on the way commits nothing
    if out is not None:
        write_summary(out / "summary.json", summary)
    return summary


class CountedRun:
    """The operating characteristics of a two-drug run, counted chunk by chunk in any order
    (exact integer ``Moments``), and its per-trial records written to the results file
    ``nc`` as they come."""

    def __init__(self, design: Design, scenarios: list[MatrixScenario], names: list[str],
                 nc: Any) -> None:
        self.design, self.scenarios, self.names, self.nc = design, scenarios, names, nc
        target = design.decision.target
        self.masks = [truth_masks(s.matrix, target) for s in scenarios]
        self.pairs = design.pair_panel.shape[0] * design.pair_panel.shape[1]
        self.moments = {(s, d): Moments() for s in range(len(scenarios))
                        for d in range(len(names) + 1)}  # the last: the benchmark

    def add(self, first: int, stop: int, arrays: dict[str, np.ndarray]) -> None:
        """Count the trials first .. stop - 1 of a chunk (and write their records)."""
        trials = slice(first, stop)
        for s, d in self.moments:
            if d == len(self.names):
                bench = arrays[optimal_key(s)]
                self.nc.put_optimal(s, trials, pair_flags(bench, self.pairs).astype(np.int8))
                self.moments[s, d].add(trial_columns(bench, self.masks[s]))
                continue
            records = TrialRecords(**{field: arrays[record_key(field, s, d)]
                                      for field in STORED_TYPES})
            flags = pair_flags(records.selected, self.pairs).astype(np.int8)
            self.nc.put(s, d, trials, {"selected": flags, "n": records.n, "dlt": records.dlt,
                                       "stop_reason": records.stop_reason})
            self.moments[s, d].add(trial_columns(records.selected, self.masks[s], records.n,
                                                 records.dlt, records.stop_reason))

    def entries(self) -> list[dict[str, Any]]:
        """The summary's scenario entries: truths, and each design's and the benchmark's
        operating characteristics."""
        cols = self.design.pair_panel.shape[1]
        entries = []
        for s, scenario in enumerate(self.scenarios):
            entry: dict[str, Any] = {
                "name": scenario.name, "p_true": [list(r) for r in scenario.p_true],
                "true_mtd_set": _pairs(self.masks[s]["mtd"], cols),
                "true_contour": _pairs(self.masks[s]["contour"], cols), "designs": {}}
            for d, name in enumerate([*self.names, BENCHMARK]):
                entry["designs"][name] = operating_characteristics(
                    self.moments[s, d], scenario.matrix, self.design.decision.target)
            entries.append(entry)
        return entries


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
