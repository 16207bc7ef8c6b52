"""A simulation study: every scenario x design, simulated in chunks of trials or exactly.

Simulated trials are grouped in chunks (a chunk only groups trials: trial t's numbers depend on
the seed and t alone), run in local worker processes; each worker keeps one state space per
design across chunks and scenarios. The exact method walks each design's state tree instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_context

import numpy as np

from bayesdose.design import Design
from bayesdose.simulation.exact import MAX_STATES, TreeTooLarge, exact_final_states
from bayesdose.simulation.interface import NO_DOSE
from bayesdose.simulation.metrics import Outcomes, Truth, operating_characteristics
from bayesdose.simulation.optimal import exact_optimal_selection, optimal_selection
from bayesdose.simulation.patients import tolerances
from bayesdose.simulation.registry import BENCHMARK, make_design
from bayesdose.simulation.runner import TrialRecords, simulate_trials
from bayesdose.simulation.scenarios import Scenario, true_mtd
from bayesdose.simulation.statespace import StateSpace

CHUNK_TRIALS = 5000
METHODS = ("auto", "exact", "simulate")


@dataclass
class StudyResult:
    """Summary (the summary.json document) and, for simulated runs, per-trial records:
    ``records[scenario][design]`` and ``optimal[scenario]`` (selected doses)."""

    summary: dict
    records: dict[str, dict[str, TrialRecords]] = field(default_factory=dict)
    optimal: dict[str, np.ndarray] = field(default_factory=dict)


@lru_cache(maxsize=16)
def state_space(design: Design, name: str) -> StateSpace:
    """The state space of a design (one per process, reused by every chunk and scenario)."""
    return StateSpace(make_design(name, design), len(design.levels))


def truth_of(design: Design, scenario: Scenario) -> Truth:
    target = design.decision.target
    return Truth(np.array(scenario.p_true), target, design.decision.target_interval,
                 true_mtd(scenario.p_true, target))


def run_study(design: Design, scenarios: list[Scenario], names: list[str], trials: int,
              seed: int, method: str = "auto", workers: int = 1) -> StudyResult:
    """Operating characteristics of ``names`` in every scenario."""
    if method in ("auto", "exact"):
        try:
            return _exact_study(design, scenarios, names)
        except (TreeTooLarge, MemoryError):
            if method == "exact":
                raise
    return _simulated_study(design, scenarios, names, trials, seed, workers)


def _scenario_entry(design: Design, scenario: Scenario) -> dict:
    mtd = true_mtd(scenario.p_true, design.decision.target)
    return {"name": scenario.name, "p_true": list(scenario.p_true),
            "true_mtd": None if mtd is None else mtd + 1, "designs": {}}


# -- exact -------------------------------------------------------------------------------


def _exact_study(design: Design, scenarios: list[Scenario], names: list[str]) -> StudyResult:
    entries = []
    for scenario in scenarios:
        entry = _scenario_entry(design, scenario)
        truth = truth_of(design, scenario)
        for name in names:
            space = state_space(design, name)
            final = exact_final_states(space, truth.p_true, MAX_STATES)
            outcomes = Outcomes(
                space.mtd[final.ids], final.probability, space.n[final.ids].astype(np.int64),
                space.dlt[final.ids].astype(np.int64), space.stop_reason[final.ids],
            )
            entry["designs"][name] = operating_characteristics(outcomes, truth, None)
        pick = exact_optimal_selection(truth.p_true, design.stopping.max_patients, truth.target)
        selected = np.append(np.arange(truth.p_true.size), NO_DOSE)
        entry["designs"][BENCHMARK] = operating_characteristics(
            Outcomes(selected, pick), truth, None
        )
        entries.append(entry)
    return StudyResult({"scenarios": entries, "method": "exact"})


# -- simulation ----------------------------------------------------------------------------


def chunks(trials: int, size: int | None = None) -> Iterator[tuple[int, int]]:
    """Trial ranges [first, stop): chunks only group trials."""
    size = size or CHUNK_TRIALS
    for first in range(0, trials, size):
        yield first, min(first + size, trials)


def patients_needed(design: Design, names: list[str]) -> int:
    most = max(state_space(design, name).design.max_patients for name in names)
    return max(most, design.stopping.max_patients)


def run_chunk(design: Design, scenarios: list[Scenario], names: list[str], seed: int,
              first: int, stop: int) -> dict:
    """Records of trials first .. stop - 1 for every scenario and design, and the benchmark."""
    u = tolerances(seed, first, stop, patients_needed(design, names))
    out: dict = {}
    for scenario in scenarios:
        p_true = np.array(scenario.p_true)
        per_design = {name: simulate_trials(state_space(design, name), p_true, u)
                      for name in names}
        bench = optimal_selection(u[:, : design.stopping.max_patients], p_true,
                                  design.decision.target)
        out[scenario.name] = (per_design, bench)
    return out


def _limit_threads() -> None:
    """One BLAS thread per worker process."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _chunk_results(design: Design, scenarios: list[Scenario], names: list[str], trials: int,
                   seed: int, workers: int) -> list[dict]:
    jobs = list(chunks(trials))
    if workers <= 1 or len(jobs) == 1:
        return [run_chunk(design, scenarios, names, seed, a, b) for a, b in jobs]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                             initializer=_limit_threads) as pool:
        futures = [pool.submit(run_chunk, design, scenarios, names, seed, a, b)
                   for a, b in jobs]
        return [f.result() for f in futures]


def _concat(parts: list[TrialRecords]) -> TrialRecords:
    return TrialRecords(*(np.concatenate([getattr(p, f) for p in parts])
                          for f in ("selected", "n", "dlt", "stop_reason")))


def _simulated_study(design: Design, scenarios: list[Scenario], names: list[str], trials: int,
                     seed: int, workers: int) -> StudyResult:
    results = _chunk_results(design, scenarios, names, trials, seed, workers)
    result = StudyResult({"scenarios": [], "method": "simulate"})
    weight = np.full(trials, 1.0 / trials)
    for scenario in scenarios:
        entry = _scenario_entry(design, scenario)
        truth = truth_of(design, scenario)
        records = {name: _concat([r[scenario.name][0][name] for r in results]) for name in names}
        bench = np.concatenate([r[scenario.name][1] for r in results])
        for name, rec in records.items():
            outcomes = Outcomes(rec.selected, weight, rec.n, rec.dlt, rec.stop_reason)
            entry["designs"][name] = operating_characteristics(outcomes, truth, trials)
        entry["designs"][BENCHMARK] = operating_characteristics(
            Outcomes(bench, weight), truth, trials
        )
        result.summary["scenarios"].append(entry)
        result.records[scenario.name] = records
        result.optimal[scenario.name] = bench
    return result


def default_workers() -> int:
    return os.cpu_count() or 1
