"""A simulation study: every scenario x design, simulated in chunks of trials or exactly.

Simulated trials are grouped in chunks (a chunk only groups trials: trial t's numbers depend on
the seed and t alone), run by an executor (this process, local worker processes or a Dask
cluster); each worker keeps one state space per design across chunks and scenarios. Every
finished chunk is written to ``OUT/chunks/`` at once (see ``chunks``), so a killed run resumes.
The summary and ``results.nc`` are then assembled in one pass over the chunk files, one chunk
in memory at a time: the operating characteristics need only each distinct final record and how
many trials ended in it (a Tally), so memory is flat in the number of trials. The exact method
walks each design's state tree instead. A study runs in time, every design on the same
arrivals (``withtime``), when the config states time or a time-aware design (``tite-blrm``,
``tite-crm``) is compared. Designs that wait for complete follow-up decide in time as without
it, so a study of them alone keeps its exact operating characteristics where the exact method
applies and takes only the durations from the simulation in time (``with_durations``).
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bayesdose import interrupt
from bayesdose.defaults import DEFAULT_METHOD
from bayesdose.designs.base import NO_DOSE
from bayesdose.designs.registry import BENCHMARK, is_backfill, make_design
from bayesdose.errors import InputError
from bayesdose.record import remove_temporaries
from bayesdose.schema import Design
from bayesdose.simulation import withtime
from bayesdose.simulation.chunks import (
    BACKFILL_RECORD_TYPES,
    EFFICACY_RECORD_TYPES,
    OPTIMAL_TYPE,
    RECORD_TYPES,
    ChunkStore,
    design_sha256,
    has_efficacy,
    make_manifest,
    optimal_key,
    record_key,
)
from bayesdose.simulation.distinct import distinct_rows
from bayesdose.simulation.executors import open_executor
from bayesdose.simulation.metrics import (
    Efficacy,
    Outcomes,
    Truth,
    add_efficacy,
    operating_characteristics,
)
from bayesdose.simulation.optimal import exact_optimal_selection, optimal_selection
from bayesdose.simulation.output import results_file, write_summary
from bayesdose.simulation.patients import DLTTable, lane_uniforms, tolerances
from bayesdose.simulation.runner import simulate_trials
from bayesdose.simulation.scenarios import Scenario, true_mtd
from bayesdose.simulation.statespace import StateSpace
from bayesdose.simulation.tree import MAX_STATES, TreeTooLarge, exact_final_states

# Trials per chunk: an eighth of the run, at least 5,000 (a short run still spreads over the
# cores) and at most 25,000 (memory: every scenario and design of a chunk is held at once).
# Each chunk costs a file, an HDF5 write per variable and a merge of the tallies: 200,000
# trials in 8 chunks instead of 40 run in 0.6 s instead of 1.0 s (BOIN, one process).
CHUNK_TRIALS = (5_000, 25_000)


def chunk_trials(trials: int) -> int:
    """The chunk size of a run of ``trials`` trials (it depends on nothing else, so a run
    resumes with any number of workers)."""
    return min(max(trials // 8, CHUNK_TRIALS[0]), CHUNK_TRIALS[1])


@dataclass
class StudyResult:
    """The summary (the summary.json document); per-trial records of a simulated run are in
    ``results.nc`` when the run had an output folder."""

    summary: dict


@lru_cache(maxsize=16)
def state_space(design: Design, name: str) -> StateSpace:
    """The state space of a design (one per process, reused by every chunk and scenario)."""
    return StateSpace(make_design(name, design), len(design.levels))


def truth_of(design: Design, scenario: Scenario) -> Truth:
    target = design.decision.target
    return Truth(np.array(scenario.p_true), target, design.decision.target_interval,
                 true_mtd(scenario.p_true, target))


def run_study(design: Design, scenarios: list[Scenario], names: list[str], trials: int,
              seed: int, method: str = "auto", workers: int = 1, *,
              scheduler: str | None = None, out: Path | None = None, resume: bool = False,
              chunk_size: int | None = None, progress: bool = False,
              time: bool = True) -> StudyResult:
    """Operating characteristics of ``names`` in every scenario (in time when the config
    states it, unless ``time`` is False, or a time-aware design is compared).

    Simulated runs use ``workers`` local processes, or the Dask cluster at ``scheduler``; with
    an output folder ``out`` they keep their chunks in ``out/chunks`` (``resume`` continues an
    earlier run there) and write ``out/results.nc``; without one the chunks go to a temporary
    folder. ``progress`` shows a progress bar on stderr when it is a terminal.
    """
    if out is not None:
        remove_temporaries(out)  # of a summary.json or results.nc cut short by a kill
    withtime.check_timed(design, names, method, time)
    timed = withtime.is_timed(design, names, time)
    exact = None
    check_exact(scenarios, method)
    if method in ("auto", "exact") and not withtime.time_aware(names) \
            and not has_efficacy(scenarios):
        try:
            exact = _exact_study(design, scenarios, names)
        except (TreeTooLarge, MemoryError):
            if method == "exact":
                raise
        if exact is not None and not timed:
            return _with_doses(design, exact)
    run = SimulatedRun(design, scenarios, names, trials, seed,
                       chunk_size or chunk_trials(trials), timed)
    with ExitStack() as stack:
        folder = out or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        store = ChunkStore(folder / "chunks", run.manifest())
        store.start(resume)
        simulated = run.run(store, workers, scheduler, progress,
                            folder / "results.nc" if out is not None else None)
    return _with_doses(design, simulated if exact is None else with_durations(exact, simulated))


def check_exact(scenarios: list[Scenario], method: str) -> None:
    """An InputError for ``--method exact`` on scenarios with response rates: each design's
    responses and the OBD it selects need simulated trials (the exact method walks states of
    DLT counts; ``auto`` simulates such a study)."""
    if method == "exact" and has_efficacy(scenarios):
        raise InputError("--method exact", None, "the scenarios give p_response: every "
                         "design's responses and the optimal biological dose it selects need "
                         "simulated trials, which the exact method does not cover; use "
                         "--method simulate (or auto), or leave out p_response")


def _with_doses(design: Design, result: StudyResult) -> StudyResult:
    """The summary with the dose labels, as the table prints them (``doses``)."""
    labels = [design.panel.label(k) for k in range(len(design.levels))]
    return StudyResult(dict(result.summary, doses=labels))


def with_durations(exact: StudyResult, simulated: StudyResult) -> StudyResult:
    """The exact operating characteristics with the durations of the same designs simulated in
    time (designs that wait decide in time as without it: only the duration needs time)."""
    summary = copy.deepcopy(exact.summary)
    first = simulated.summary["scenarios"][0]["designs"]
    trials = next(oc["trials"] for name, oc in first.items() if name != BENCHMARK)
    summary["timeline"] = dict(simulated.summary["timeline"], simulated_trials=trials)
    for entry, timed in zip(summary["scenarios"], simulated.summary["scenarios"], strict=True):
        for name, oc in entry["designs"].items():
            if name == BENCHMARK:
                continue
            source = timed["designs"][name]
            for key in withtime.TIMED_RECORD_TYPES:
                oc[key], oc["se"][key] = source[key], source["se"][key]
    return StudyResult(summary)


def study_summary(design: Design, scenarios: list[Scenario], names: list[str], trials: int,
                  seed: int, method: str = DEFAULT_METHOD, workers: int | None = None, *,
                  scheduler: str | None = None, out: Path | None = None, resume: bool = False,
                  chunk_size: int | None = None, progress: bool = False,
                  time: bool = True) -> dict[str, Any]:
    """``run_study`` (on ``default_workers`` unless ``workers`` or ``scheduler`` say
    otherwise) and its summary.json document: the operating characteristics with the seed,
    the designs and the design's hash; written to ``out/summary.json`` when there is an
    ``out`` folder. What ``bayesdose simulate``, ``bayesdose.simulate`` and ``bayesdose
    report`` run."""
    result = run_study(design, scenarios, names, trials, seed, method,
                       workers or default_workers(
                           trials * len(scenarios) * len(names),
                           0 if withtime.is_timed(design, names, time) else IN_PROCESS_TRIALS),
                       scheduler=scheduler, out=out,
                       resume=resume, chunk_size=chunk_size, progress=progress, time=time)
    summary = dict(result.summary, seed=seed, designs=names, design_sha256=design_sha256(design))
    interrupt.check()  # a Ctrl-C swallowed on the way commits nothing
    if out is not None:
        write_summary(out / "summary.json", summary)
    return summary


def _scenario_entry(design: Design, scenario: Scenario) -> dict:
    """A scenario's truth (1-based levels); with response rates, its OBD as well."""
    mtd = true_mtd(scenario.p_true, design.decision.target)
    entry = {"name": scenario.name, "p_true": list(scenario.p_true),
             "true_mtd": None if mtd is None else mtd + 1}
    if scenario.p_response is not None:
        from bayesdose.optimisation import true_obd  # SciPy: a worker imports it only if used

        obd = true_obd(scenario.p_true, scenario.p_response, mtd, design.optimisation.utility)
        entry |= {"p_response": list(scenario.p_response),
                  "true_obd": None if obd < 0 else obd + 1}
    return entry | {"designs": {}}


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


def patients_needed(design: Design, names: list[str], timed: bool = False) -> int:
    if timed:
        return withtime.patients_needed(design, names)
    most = max(state_space(design, name).design.max_patients for name in names)
    return max(most, design.stopping.max_patients)


def record_fields(name: str, timed: bool, efficacy: bool = False) -> list[str]:
    """The per-trial fields of a design in a study's chunks (and tallies), in order
    (``efficacy``: the scenarios give response rates)."""
    fields = list(RECORD_TYPES)
    if timed:
        fields += list(withtime.TIMED_RECORD_TYPES)
    if efficacy:
        fields += list(EFFICACY_RECORD_TYPES)
    if is_backfill(name):
        fields += list(BACKFILL_RECORD_TYPES)
    return fields


FIELD_TYPES = (RECORD_TYPES | withtime.TIMED_RECORD_TYPES | EFFICACY_RECORD_TYPES
               | BACKFILL_RECORD_TYPES)
PER_DOSE = ("n", "dlt", "n_backfill", "response")  # fields with one column per dose


def run_chunk(design: Design, scenarios: list[Scenario], names: list[str], seed: int,
              first: int, stop: int, timed: bool = False,
              ) -> tuple[int, int, dict[str, np.ndarray]]:
    """Records of trials first .. stop - 1 for every scenario and design (in time if
    ``timed``; a backfill design on its own arrivals, ``backfillrunner``), and the benchmark's
    selections, in compact types, named as in a chunk file (``chunks.record_key``). When the
    scenarios give response rates, every design's responses per dose (patient i responds at
    dose k iff v_i <= p_response[k], v on the Philox lane of backfill designs' responses) and
    the OBD it selects."""
    u = tolerances(seed, first, stop, patients_needed(design, names, timed))
    clock = withtime.chunk_timeline(design, seed, first, stop, u.shape[1]) if timed else None
    efficacy = has_efficacy(scenarios)
    v = _response_uniforms(seed, first, stop, u.shape[1]) if efficacy else None
    out: dict[str, np.ndarray] = {}
    for s, scenario in enumerate(scenarios):
        p_true = np.array(scenario.p_true)
        p_response = np.array(scenario.p_response) if efficacy else None
        patients = DLTTable.of(u, p_true)
        responses = DLTTable.of(v, p_response) if efficacy and not timed else None
        for d, name in enumerate(names):
            if is_backfill(name):
                from bayesdose.simulation.backfilloc import chunk_records  # SciPy: only if used

                records = chunk_records(design, name, p_true, p_response, seed, first, stop)
            elif timed:
                records = dict(vars(withtime.simulate_chunk_design(design, name, p_true, u, clock,
                                                                   v, p_response)))
            else:
                records = dict(vars(simulate_trials(state_space(design, name), patients,
                                                    responses=responses)))
            if efficacy:
                records["obd"] = _obd(design, records)
            for key in record_fields(name, timed, efficacy):
                out[record_key(key, s, d)] = records[key].astype(FIELD_TYPES[key])
        bench = optimal_selection(patients, design.stopping.max_patients, design.decision.target)
        out[optimal_key(s)] = bench.astype(OPTIMAL_TYPE)
    return first, stop, out


def _response_uniforms(seed: int, first: int, stop: int, patients: int) -> np.ndarray:
    """The response uniforms of the trials' patients (``backfillrunner.RESPONSE_LANE``)."""
    from bayesdose.simulation.backfillrunner import RESPONSE_LANE

    return lane_uniforms(seed, first, stop, patients, RESPONSE_LANE)


def _obd(design: Design, records: dict[str, np.ndarray]) -> np.ndarray:
    """The OBD each trial selects (``optimisation.estimated_obd_rows``)."""
    from bayesdose.optimisation import estimated_obd_rows  # SciPy: only when used

    return estimated_obd_rows(records["n"], records["dlt"], records["response"],
                              records["selected"], design.optimisation.utility)


@dataclass(frozen=True)
class SimulatedRun:
    """A simulated study: its chunks are computed into a ChunkStore, then summarized."""

    design: Design
    scenarios: list[Scenario]
    names: list[str]
    trials: int
    seed: int
    chunk_size: int
    timed: bool = False

    def manifest(self) -> dict:
        return make_manifest(self.design, self.scenarios, self.names, self.trials, self.seed,
                             self.chunk_size, self.timed)

    def run(self, store: ChunkStore, workers: int, scheduler: str | None, progress: bool,
            results: Path | None) -> StudyResult:
        """Compute the missing chunks, writing each to ``store`` as it finishes, and the
        operating characteristics of all of them (and the per-trial records copied into
        ``results``, if given)."""
        jobs = [(self.design, self.scenarios, self.names, self.seed, a, b, self.timed)
                for a, b in store.missing()]
        with self._summary(results) as summary:
            run_chunks(store, run_chunk, jobs, summary.add, workers, scheduler, progress)
        return summary.result()

    @contextmanager
    def _summary(self, results: Path | None) -> Iterator[RunSummary]:
        """A RunSummary writing per-trial records into ``results`` (a file only when the
        block ends without an error)."""
        with results_file(results, [s.name for s in self.scenarios], self.names, self.trials,
                          self.design.levels, self.chunk_size, timed=self.timed,
                          backfill=any(map(is_backfill, self.names)),
                          efficacy=has_efficacy(self.scenarios)) as nc:
            yield RunSummary(self, nc)


class RunSummary:
    """The operating characteristics of a simulated run, counted chunk by chunk in any order
    (``Tally``), and its per-trial records written to the results file as they come."""

    def __init__(self, run: SimulatedRun, nc: Any) -> None:
        self.run, self.nc = run, nc
        self.pairs = [(s, d) for s in range(len(run.scenarios)) for d in range(len(run.names))]
        self.tallies = {pair: Tally() for pair in self.pairs}
        self.optimal = [Tally() for _ in run.scenarios]
        self.fields = [record_fields(name, run.timed, has_efficacy(run.scenarios))
                       for name in run.names]

    def add(self, first: int, stop: int, arrays: dict[str, np.ndarray]) -> None:
        """Count the trials first .. stop - 1 of a chunk (and write their records)."""
        trials = slice(first, stop)
        for s, d in self.pairs:
            values = {field: arrays[record_key(field, s, d)] for field in self.fields[d]}
            self.nc.put(s, d, trials, values)
            self.tallies[s, d].add(np.column_stack(list(values.values())))
        for s, tally in enumerate(self.optimal):
            bench = arrays[optimal_key(s)]
            self.nc.put_optimal(s, trials, bench)
            tally.add(bench[:, None])

    def result(self) -> StudyResult:
        """The operating characteristics of every scenario and design, and the benchmark."""
        run = self.run
        summary: dict = {"scenarios": [], "method": "simulate"}
        if run.timed:
            summary["timeline"] = withtime.timeline_summary(run.design)
        for s, scenario in enumerate(run.scenarios):
            entry = _scenario_entry(run.design, scenario)
            truth = truth_of(run.design, scenario)
            for d, name in enumerate(run.names):
                entry["designs"][name] = self._characteristics(self.tallies[s, d],
                                                               self.fields[d], truth, scenario,
                                                               name)
            entry["designs"][BENCHMARK] = operating_characteristics(
                Outcomes(self.optimal[s].rows[:, 0], self.optimal[s].weight()), truth,
                run.trials)
            summary["scenarios"].append(entry)
        return StudyResult(summary)

    def _characteristics(self, tally: Tally, fields: list[str], truth: Truth,
                         scenario: Scenario, name: str) -> dict[str, Any]:
        """The operating characteristics of a design from its tally of final records."""
        run = self.run
        columns = split_columns(tally.rows, fields, len(run.design.levels))
        outcomes = Outcomes(columns["selected"], tally.weight(), columns["n"], columns["dlt"],
                            columns["stop_reason"], columns.get("duration"),
                            columns.get("pending_treated"))
        oc = operating_characteristics(outcomes, truth, run.trials)
        if "obd" in columns:
            from bayesdose.optimisation import true_obd

            best = true_obd(scenario.p_true, scenario.p_response, truth.mtd,
                            run.design.optimisation.utility)
            add_efficacy(oc, outcomes, Efficacy(columns["response"], columns["obd"], best),
                         run.trials)
        if is_backfill(name):
            from bayesdose.simulation.backfilloc import add_backfill

            add_backfill(oc, outcomes, columns["n_backfill"], columns["late"], run.trials)
        return oc


def split_columns(rows: np.ndarray, fields: list[str], doses: int) -> dict[str, np.ndarray]:
    """The fields of tallied rows, by name (a per-dose field is ``doses`` columns wide)."""
    columns, at = {}, 0
    for field in fields:
        if field in PER_DOSE:
            columns[field], at = rows[:, at : at + doses], at + doses
        else:
            columns[field], at = rows[:, at], at + 1
    return columns


def run_chunks(store: ChunkStore, chunk: Callable[..., tuple[int, int, dict]],
               jobs: list[tuple], add: Callable[[int, int, dict], None], workers: int,
               scheduler: str | None, progress: bool) -> None:
    """Count every chunk of ``store`` with ``add(first, stop, arrays)``: the chunks of an
    earlier run (``--resume``) read once, then the missing ones computed (``chunk(*job)`` for
    each of ``jobs``) on ``workers`` local processes or the Dask cluster at ``scheduler``,
    each saved as it finishes and counted as it arrives, while the workers compute the next
    ones; a progress bar on stderr (``progress``, on a terminal). After a Ctrl-C or a kill
    the saved chunks stay for --resume."""
    from tqdm import tqdm

    missing = store.missing()
    with tqdm(total=len(store.ranges), initial=len(store.ranges) - len(missing), unit="chunk",
              desc="simulate", file=sys.stderr, disable=None if progress else True) as bar:
        for first, stop, arrays in store.read([r for r in store.ranges if r not in missing]):
            add(first, stop, arrays)
        if jobs:
            with open_executor(workers if len(jobs) > 1 else 1, scheduler) as executor:
                for first, stop, arrays in executor.imap_unordered(chunk, jobs):
                    store.save(first, stop, arrays)
                    add(first, stop, arrays)
                    bar.update()
                    interrupt.check()


class Tally:
    """Distinct rows of per-trial integers (a trial's final record) and how many trials ended
    in each. Operating characteristics need no more, and there are no more distinct final
    records than reachable final states, so memory stays flat however many trials run. Rows
    are kept in lexicographic order and counts are exact integers: the tally does not depend on
    the chunking."""

    def __init__(self) -> None:
        self.rows = np.empty((0, 0), np.int64)
        self.counts = np.empty(0, np.int64)

    def add(self, rows: np.ndarray) -> None:
        """Count one trial per row of ``rows`` (trials, fields)."""
        new, counts = distinct_rows(np.asarray(rows))
        if self.counts.size:
            new, counts = distinct_rows(np.concatenate([self.rows, new]),
                                        np.concatenate([self.counts, counts]))
        self.rows, self.counts = new, counts

    def weight(self) -> np.ndarray:
        """The share of the trials in each row."""
        return self.counts / self.counts.sum()


# A run of at most this many trial-simulations (trials x scenarios x designs), without time,
# stays in this process by default: a worker process imports bayesdose and decides every
# state it meets itself (about 0.5-1 s before its first trial), more than it saves on a run
# that one process finishes in about a second or two (docs/simulation-benchmarks.md).
IN_PROCESS_TRIALS = 1_000_000


def default_workers(simulations: int, in_process: int = IN_PROCESS_TRIALS) -> int:
    """Local processes for a run of ``simulations`` trial-simulations (trials x scenarios x
    designs) when ``--workers`` is not given: this process alone up to ``in_process`` of them,
    else all cores."""
    return 1 if simulations <= in_process else os.cpu_count() or 1
