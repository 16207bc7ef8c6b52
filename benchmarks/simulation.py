"""Benchmarks of simulation studies; writes ``docs/simulation-benchmarks.md``.

Run from the repository root::

    .venv/bin/python -m benchmarks.simulation            # the full run, about 6-7 minutes
    .venv/bin/python -m benchmarks.simulation --quick    # one repeat, for checking the script

The page leads with the speed a user gets from the command line (``benchmarks.cli_speed``:
``bayesdose simulate`` cold in a new process, as a user runs it). Every other rate is trials
per second of ``bayesdose.simulation.study.run_study`` (the ``simulate``
method: tolerances, every trial, the optimal benchmark and the operating characteristics) in
this process, i.e. beyond process start-up and imports. "Cold" clears the per-process caches
first (each design's state space and the exact engine), so the run also builds every trial state
it reaches and asks the design for its decision (for the BLRM, the exact engine's posterior of
every new count vector); "warm" repeats the same run, so every state it reaches is cached and
only the per-trial array work remains, as in the later chunks of a long run.

BLAS is pinned to one thread (here and in every subprocess and worker). The page is written
atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

# isort: off
import benchmarks.common  # noqa: F401  (first: pins BLAS to one thread before NumPy loads)
# isort: on

import argparse  # noqa: E402
import copy  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bayesdose.designs.registry import DESIGNS  # noqa: E402
from bayesdose.schema import Design, design_from_dict, read_toml  # noqa: E402
from bayesdose.simulation import study  # noqa: E402
from bayesdose.simulation.optimal import optimal_selection  # noqa: E402
from bayesdose.simulation.patients import DLTTable, philox_key, tolerances  # noqa: E402
from bayesdose.simulation.runner import simulate_trials  # noqa: E402
from bayesdose.simulation.scenarios import Scenario, load_scenarios  # noqa: E402
from benchmarks import cli_speed  # noqa: E402
from benchmarks.common import (  # noqa: E402
    NUMPY_WAS_IMPORTED,
    ROOT,
    THREAD_VARIABLES,
    Timing,
    blas_threads,
    fmt_rate,
    fmt_time,
    git_state,
    load_average,
    machine_stamp,
    subprocess_env,
    table,
    time_calls,
    timed,
    timed_cpu,
    versions_text,
    write_atomically,
)

# The command-line rates are differences of two noisy cold-start times: more runs than the
# in-process sections (their start-up alone varies by about 0.1 s between runs).
CLI_REPEATS = 9

OUTPUT = ROOT / "docs" / "simulation-benchmarks.md"
CONFIG = "configs/standard-5dose.toml"
SCENARIOS = "configs/scenarios/standard-5dose.toml"
SCENARIO = "S1"
SEED = 20240601
TRIAL_COUNTS = (100, 1_000, 10_000, 100_000)
DOSE_COUNTS = (3, 5, 10, 15)
SAMPLE_SIZES = (15, 30, 60)
PAGE_PACKAGES = ("bayesdose", "numpy", "scipy")  # versions stamped on the page
SWEEP_TRIALS = 10_000  # trials per run in the dose and sample-size sweeps
TARGETS = {"blrm": 100_000, "3+3": 200_000, "3+3-deesc": 200_000, "boin": 200_000}
CRM_HALFWIDTH = 0.05  # the derived CRM skeleton where the config gives none


# -- helpers ------------------------------------------------------------------------------


def fmt_count(n: int) -> str:
    return f"{n:,}"


def clear_caches() -> None:
    """Forget every cache of bayesdose in this process (state spaces, exact engines, the CRM's
    posterior means, BOIN's selections, ...): the next run is cold."""
    for name, module in list(sys.modules.items()):
        if name.startswith("bayesdose."):
            for value in vars(module).values():
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def chunk_ranges(trials: int) -> list[tuple[int, int]]:
    """The chunks of a run, as ``run_study`` cuts them."""
    size = study.chunk_trials(trials)
    return [(a, min(a + size, trials)) for a in range(0, trials, size)]


def design_names() -> list[str]:
    return list(DESIGNS)


# -- designs and scenarios ----------------------------------------------------------------


def raw_config(doses: int = 5, patients: int = 30) -> dict:
    """The standard config, with ``doses`` doubling doses (1, 2, 4, ...; the standard panel at
    5) and ``patients`` as max_patients; a CRM skeleton derived (getprior) where none fits."""
    raw = copy.deepcopy(read_toml(ROOT / CONFIG))
    raw["doses"]["levels"] = [float(2**k) for k in range(doses)]
    raw["stopping"]["max_patients"] = patients
    crm = raw.setdefault("designs", {}).setdefault("crm", {})
    given = crm.get("skeleton") is not None or crm.get("halfwidth") is not None
    if not given or doses != 5:
        crm.pop("skeleton", None)
        crm.update(halfwidth=CRM_HALFWIDTH, prior_mtd_level=(doses + 1) // 2)
    return raw


def crm_note() -> str:
    crm = read_toml(ROOT / CONFIG).get("designs", {}).get("crm", {})
    if crm.get("skeleton") is not None or crm.get("halfwidth") is not None:
        return "the CRM as the config sets it at 5 doses"
    return (f"the config sets no CRM skeleton, so the CRM's is derived as dfcrm's getprior "
            f"(half-width {CRM_HALFWIDTH}, prior MTD level (doses + 1) // 2)")


def make_design(doses: int = 5, patients: int = 30) -> Design:
    return design_from_dict(raw_config(doses, patients), f"{CONFIG} (benchmark variant)")


def base_scenario() -> Scenario:
    scenarios = load_scenarios(ROOT / SCENARIOS, 5)
    return next(s for s in scenarios if s.name == SCENARIO)


def stretched_scenario(doses: int) -> Scenario:
    """S1's curve stretched over ``doses`` doses (linear interpolation; S1 itself at 5)."""
    p = np.interp(np.linspace(0, 4, doses), np.arange(5), base_scenario().p_true)
    return Scenario(f"{SCENARIO}x{doses}", tuple(round(float(x), 4) for x in p))


def simulate(design: Design, scenario: Scenario, name: str, trials: int,
             workers: int = 1) -> dict:
    result = study.run_study(design, [scenario], [name], trials, SEED, method="simulate",
                             workers=workers)
    return result.summary


def run_time(design: Design, scenario: Scenario, name: str, trials: int,
             repeats: int) -> dict:
    """Cold and warm wall times of ``repeats`` runs (each cold run followed by a warm one)."""
    cold, warm, warm_cpu = [], [], []
    summary: dict = {}
    for _ in range(repeats):
        clear_caches()
        seconds, summary = timed(lambda: simulate(design, scenario, name, trials))
        cold.append(seconds)
        seconds, cpu, _ = timed_cpu(lambda: simulate(design, scenario, name, trials))
        warm.append(seconds)
        warm_cpu.append(cpu)
    space = study.state_space(design, name)
    oc = summary["scenarios"][0]["designs"][name]
    return {"cold": Timing(tuple(cold)), "warm": Timing(tuple(warm)),
            "warm_cpu": Timing(tuple(warm_cpu)), "states": space.size,
            "n_mean": oc["n_mean"], "trials": trials}


def guarded(label: str, errors: list[str], call: Callable[[], object]) -> object | None:
    """Run one measurement; a design that fails is reported, not fatal."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - any failure of a design under development
        errors.append(f"{label}: {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        return None


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- 1. trials ---------------------------------------------------------------------------


def bench_trials(names: list[str], repeats: int, counts: tuple[int, ...],
                 errors: list[str]) -> dict:
    design, scenario = make_design(), base_scenario()
    out: dict = {}
    for name in names:
        for trials in counts:
            log(f"trials: {name} {trials}")
            r = guarded(f"{name}, {trials} trials", errors,
                        lambda name=name, trials=trials: run_time(design, scenario, name,
                                                                  trials, repeats))
            if r is not None:
                out[name, trials] = r
    return out


# -- 2. doses and 3. sample size ----------------------------------------------------------


def bench_sweep(names: list[str], repeats: int, trials: int, errors: list[str],
                variants: list[tuple[int, int]]) -> dict:
    out: dict = {}
    for doses, patients in variants:
        design, scenario = make_design(doses, patients), stretched_scenario(doses)
        for name in names:
            log(f"sweep: {name} {doses} doses {patients} patients")
            r = guarded(f"{name}, {doses} doses, {patients} patients", errors,
                        lambda design=design, scenario=scenario, name=name: run_time(
                            design, scenario, name, trials, repeats))
            if r is not None:
                r["p_true"] = scenario.p_true
                out[name, doses, patients] = r
    clear_caches()
    return out


# -- 4. two workers -----------------------------------------------------------------------


def _warm_worker(design: Design, scenario: Scenario, names: list[str], trials: int) -> None:
    """Worker start: one BLAS thread, then a warm state space: every reachable state, built by
    the exact walk (every chunk of the run once instead, if the tree is too large)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    try:
        study.run_study(design, [scenario], names, 0, SEED, method="exact")
    except Exception:  # noqa: BLE001 - e.g. a tree too large: warm up by simulating instead
        for first, stop in chunk_ranges(trials):
            study.run_chunk(design, [scenario], names, SEED, first, stop)


def _worker_pid(_: int = 0) -> int:
    time.sleep(0.05)
    return os.getpid()


def _wait_for_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """Return once ``workers`` distinct workers have run a task (their warm-up is done)."""
    seen: set[int] = set()
    for _ in range(100):
        seen.update(pool.map(_worker_pid, range(2 * workers)))
        if len(seen) >= workers:
            return
    raise RuntimeError(f"only {len(seen)} of {workers} workers answered")


def import_time(repeats: int) -> Timing:
    """Wall time of a fresh interpreter importing what a worker needs to run a chunk."""
    cmd = [sys.executable, "-c", "import bayesdose.simulation.study"]
    env = subprocess_env(repo_on_path=True)
    return time_calls(lambda: subprocess.run(cmd, cwd=ROOT, env=env, check=True), repeats,
                      warmup=0)


def bench_workers(names: list[str], repeats: int, trials: int, errors: list[str]) -> dict:
    """run_study with 2 workers end to end (a new pool of spawned, cold workers each run), and
    the chunks alone on a persistent pool of 2 warm workers."""
    design, scenario = make_design(), base_scenario()
    out: dict = {"import": import_time(repeats)}
    jobs = list(chunk_ranges(trials))
    for name in names:
        log(f"workers: {name}")

        def one(name: str = name) -> dict:
            end_to_end = [timed(lambda: simulate(design, scenario, name, trials, 2))[0]
                          for _ in range(repeats)]
            with ProcessPoolExecutor(2, mp_context=get_context("spawn"),
                                     initializer=_warm_worker,
                                     initargs=(design, scenario, [name], trials)) as pool:
                _wait_for_workers(pool, 2)
                pooled = []
                for _ in range(repeats):
                    seconds, _ = timed(lambda: [f.result() for f in [
                        pool.submit(study.run_chunk, design, [scenario], [name], SEED, a, b)
                        for a, b in jobs]])
                    pooled.append(seconds)
            return {"end_to_end": Timing(tuple(end_to_end)), "pooled": Timing(tuple(pooled))}

        r = guarded(f"{name}, 2 workers", errors, one)
        if r is not None:
            out[name] = r
    return out


# -- 5. where the time goes ---------------------------------------------------------------


def bench_parts(names: list[str], repeats: int, trials: int, errors: list[str]) -> dict:
    """Warm, one process: the run's time split into tolerances, trials, benchmark and rest."""
    design, scenario = make_design(), base_scenario()
    p_true = np.array(scenario.p_true)
    jobs = list(chunk_ranges(trials))
    out: dict = {}
    for name in names:
        log(f"parts: {name}")

        def one(name: str = name) -> dict:
            simulate(design, scenario, name, trials)  # warm
            space = study.state_space(design, name)
            patients = study.patients_needed(design, [name])
            parts: dict[str, list[float]] = {"total": [], "tolerances": [], "table": [],
                                             "trials": [], "benchmark": [], "chunks": []}
            for _ in range(repeats):
                parts["chunks"].append(timed(lambda: [study.run_chunk(
                    design, [scenario], [name], SEED, a, b) for a, b in jobs])[0])
                parts["total"].append(timed(lambda: simulate(design, scenario, name,
                                                             trials))[0])
                seconds, us = timed(lambda: [tolerances(SEED, a, b, patients)
                                             for a, b in jobs])
                parts["tolerances"].append(seconds)
                seconds, tables = timed(lambda us=us: [DLTTable.of(u, p_true) for u in us])
                parts["table"].append(seconds)
                parts["trials"].append(timed(lambda t=tables: [simulate_trials(space, table)
                                                               for table in t])[0])
                parts["benchmark"].append(timed(lambda t=tables: [optimal_selection(
                    table, design.stopping.max_patients, design.decision.target)
                    for table in t])[0])
            return {k: Timing(tuple(v)) for k, v in parts.items()} | {"patients": patients}

        r = guarded(f"{name}, time split", errors, one)
        if r is not None:
            out[name] = r
    return out


# -- 6. exact -----------------------------------------------------------------------------


def bench_exact(names: list[str], repeats: int, errors: list[str]) -> dict:
    design, scenario = make_design(), base_scenario()
    out: dict = {}
    for name in names:
        log(f"exact: {name}")

        def one(name: str = name) -> dict:
            cold, warm = [], []
            for _ in range(repeats):
                clear_caches()

                def run() -> object:
                    return study.run_study(design, [scenario], [name], 0, SEED, method="exact")

                cold.append(timed(run)[0])
                warm.append(timed(run)[0])
            return {"cold": Timing(tuple(cold)), "warm": Timing(tuple(warm)),
                    "states": study.state_space(design, name).size}

        r = guarded(f"{name}, exact", errors, one)
        if r is not None:
            out[name] = r
    clear_caches()
    return out


# -- 7. memory ----------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(name: str, trials: int) -> None:
    """In a fresh process: resident memory after imports and set-up, then the peak of one cold
    run of ``trials`` trials (the high-water mark reset just before it)."""
    design, scenario = make_design(), base_scenario()
    gc.collect()
    imports_peak = _status_kib("VmHWM")
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    seconds, _ = timed(lambda: simulate(design, scenario, name, trials))
    print(json.dumps({"imports_peak_kib": imports_peak, "before_kib": before,
                      "peak_kib": _status_kib("VmHWM"),
                      "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "seconds": seconds}))


def bench_memory(names: list[str], counts: tuple[int, ...], errors: list[str]) -> dict:
    out: dict = {}
    for name in names:
        for trials in counts:
            log(f"memory: {name} {trials}")
            cmd = [sys.executable, "-m", "benchmarks.simulation", "--memory-child", name,
                   str(trials)]
            proc = subprocess.run(cmd, cwd=ROOT, env=subprocess_env(repo_on_path=True),
                                  text=True, capture_output=True)
            if proc.returncode != 0:
                errors.append(f"{name}, memory, {trials} trials: {proc.stderr.strip()[-300:]}")
                continue
            out[name, trials] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# -- 8. the tolerance generator ------------------------------------------------------------


def seedsequence_tolerances(seed: int, first: int, stop: int, patients: int) -> np.ndarray:
    """The former generator: one ``default_rng(SeedSequence(seed, spawn_key=(t,)))`` per trial."""
    out = np.empty((stop - first, patients))
    for row, t in enumerate(range(first, stop)):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(t,)))
        out[row] = rng.random(patients)
    return out


def numpy_philox_tolerances(seed: int, first: int, stop: int, patients: int) -> np.ndarray:
    """The streams' definition, one NumPy ``Philox`` bit generator per trial and block."""
    key = np.array(philox_key(seed), np.uint64)
    out = np.empty((stop - first, patients))
    for row, t in enumerate(range(first, stop)):
        for i in range(0, patients, 4):
            counter = (t + (i // 4) * 2**64 - 1) % 2**256  # NumPy steps it before each block
            words = np.random.Philox(key=key, counter=counter).random_raw(4)
            out[row, i : i + 4] = (words[: min(4, patients - i)] >> np.uint64(11)) * 2.0**-53
    return out


NOW = "NumPy's Philox, one call per block of 4 patients (now)"


def bench_generator(repeats: int, quick: bool) -> dict:
    old_label = "SeedSequence per trial (first version)"
    runs = [  # (label, generator, trials, repeats)
        (old_label, seedsequence_tolerances, 10_000, repeats),
        (old_label, seedsequence_tolerances, 100_000, 1),
        ("NumPy Philox per trial and block", numpy_philox_tolerances, 10_000, repeats),
        (NOW, tolerances, 10_000, repeats),
        (NOW, tolerances, 100_000, repeats),
        (NOW, tolerances, 1_000_000, repeats),
    ]
    out: dict = {}
    for label, generate, trials, reps in runs:
        if quick and trials > 10_000:
            continue
        log(f"generator: {label} {trials}")
        times = [timed(lambda g=generate, t=trials: g(SEED, 0, t, 30))[0] for _ in range(reps)]
        out[label, trials] = Timing(tuple(times))
    same = np.array_equal(numpy_philox_tolerances(SEED, 0, 2_000, 30),
                          tolerances(SEED, 0, 2_000, 30))
    return {"timings": out, "identical": same}


# -- page ---------------------------------------------------------------------------------


def rate(trials: int, seconds: float) -> float:
    return trials / seconds if seconds > 0 else float("inf")


def section_targets(trials_r: dict, exact_r: dict, names: list[str]) -> str:
    big = max(TRIAL_COUNTS)
    rows = []
    verdicts = []
    for name in names:
        r = trials_r.get((name, big))
        if r is None:
            continue
        warm, cold = rate(big, r["warm"].median), rate(big, r["cold"].median)
        best, cpu = rate(big, min(r["warm"].times)), rate(big, r["warm_cpu"].median)
        target = TARGETS.get(name)
        if target is None:
            met = "–"
        else:
            met = ", ".join(label for label, value in
                            (("median", warm), ("best run", best), ("CPU time", cpu))
                            if value >= target) or "**no**"
            verdicts.append(f"`{name}` {fmt_rate(warm)} (median), {fmt_rate(best)} (best "
                            f"run), {fmt_rate(cpu)} (CPU time) against {fmt_rate(target)}")
        rows.append([f"`{name}`", "–" if target is None else fmt_rate(target), fmt_rate(warm),
                     fmt_rate(best), fmt_rate(cpu), fmt_rate(cold), met])
    text = table(["design", "issue 3 target", "warm: median", "warm: best run",
                  "warm: per CPU second", "cold: median", "target met by (warm)"], rows,
                 "lrrrrrl")
    text += ("\n\nTrials per second. \"Per CPU second\" divides by this process's CPU time "
             "(`time.process_time`) instead of the wall time: it is what the run costs when "
             "nothing else competes for the 2 cores, but it leaves out waiting for the disk "
             "(the chunk files are written with `fsync`).")
    if verdicts:
        text += " Warm, one process: " + "; ".join(verdicts) + "."
    e = exact_r.get("blrm")
    if e is not None:
        text += (f" Exact OCs of the BLRM (target < 1 s): {fmt_time(e['cold'].median)} cold "
                 f"(building {fmt_count(e['states'])} states), {fmt_time(e['warm'].median)} "
                 "warm (section 6).")
    return text


def section_trials(trials_r: dict, names: list[str], counts: tuple[int, ...]) -> str:
    rows = []
    for name in names:
        for trials in counts:
            r = trials_r.get((name, trials))
            if r is None:
                continue
            rows.append([f"`{name}`", fmt_count(trials), fmt_time(r["cold"].median),
                         fmt_rate(rate(trials, r["cold"].median)), fmt_time(r["warm"].median),
                         fmt_rate(rate(trials, r["warm"].median)),
                         fmt_rate(rate(trials, min(r["warm"].times))),
                         fmt_rate(rate(trials, r["warm_cpu"].median)), fmt_count(r["states"]),
                         f"{r['n_mean']:.1f}"])
    lines = [table(["design", "trials", "cold: time", "cold: trials/s", "warm: time",
                    "warm: trials/s", "warm: best run", "warm: per CPU second", "states",
                    "mean patients"], rows)]
    notes = []
    small, big = min(counts), max(counts)
    for name in names:
        a, b = trials_r.get((name, small)), trials_r.get((name, big))
        if a is None or b is None:
            continue
        growth = b["warm"].median / a["warm"].median
        build = b["cold"].median - b["warm"].median
        cost = (f"about {fmt_time(build)} once" if build > 0.1 * b["warm"].median
                else "less than the run-to-run noise")
        notes.append(f"`{name}`: warm time x{growth:,.0f} for x{big // small:,} trials; "
                     f"building its {fmt_count(b['states'])} states costs {cost}")
    if notes:
        lines.append("")
        lines.append("Time grows linearly in the number of trials once the fixed cost per run "
                     "is paid (small runs are dominated by it); the cold-warm difference is the "
                     "one-off cost of the state space. " + "; ".join(notes) + ".")
    return "\n".join(lines)


def section_sweep(sweep: dict, names: list[str], key: str, values: tuple[int, ...],
                  fixed: int, trials: int) -> str:
    rows = []
    for name in names:
        for v in values:
            doses, patients = (v, fixed) if key == "doses" else (fixed, v)
            r = sweep.get((name, doses, patients))
            if r is None:
                continue
            rows.append([f"`{name}`", str(v), fmt_time(r["cold"].median),
                         fmt_rate(rate(trials, r["cold"].median)), fmt_time(r["warm"].median),
                         fmt_rate(rate(trials, r["warm"].median)),
                         fmt_rate(rate(trials, r["warm_cpu"].median)), fmt_count(r["states"]),
                         f"{r['n_mean']:.1f}"])
    header = ["design", "doses" if key == "doses" else "max patients", "cold: time",
              "cold: trials/s", "warm: time", "warm: trials/s", "warm: per CPU second",
              "states", "mean patients"]
    return table(header, rows)


def sweep_interpretation(sweep: dict, names: list[str], key: str, values: tuple[int, ...],
                         fixed: int) -> str:
    parts = []
    for name in names:
        first_v, last_v = values[0], values[-1]
        a = sweep.get((name, *((first_v, fixed) if key == "doses" else (fixed, first_v))))
        b = sweep.get((name, *((last_v, fixed) if key == "doses" else (fixed, last_v))))
        if a is None or b is None:
            continue
        parts.append(f"`{name}` warm CPU time x{b['warm_cpu'].median / a['warm_cpu'].median:.1f}"
                     f" (mean patients {a['n_mean']:.1f} -> {b['n_mean']:.1f}), cold time "
                     f"x{b['cold'].median / a['cold'].median:.1f} (states "
                     f"{fmt_count(a['states'])} -> {fmt_count(b['states'])})")
    what = "doses" if key == "doses" else "max patients"
    return (f"From {values[0]} to {values[-1]} {what}: " + "; ".join(parts) + ". Warm work "
            "grows with the patients treated per trial (one lockstep step per cohort, a wider "
            "benchmark with more doses) and stays within about a factor of 2; cold time grows "
            "with the number of distinct states, each decided once. The wall-time columns "
            "carry the noise of a shared machine; the CPU-time column is steadier.") \
        if parts else ""


def section_workers(workers_r: dict, parts_r: dict, trials_r: dict, names: list[str],
                    trials: int) -> str:
    rows = []
    notes = []
    for name in names:
        r, p, t = workers_r.get(name), parts_r.get(name), trials_r.get((name, trials))
        if r is None or p is None:
            continue
        serial, pooled = p["chunks"].median, r["pooled"].median
        one_cold = "–" if t is None else fmt_rate(rate(trials, t["cold"].median))
        rows.append([f"`{name}`", one_cold, fmt_rate(rate(trials, r["end_to_end"].median)),
                     fmt_rate(rate(trials, serial)), fmt_rate(rate(trials, pooled)),
                     f"{serial / pooled:.2f}"])
        notes.append(f"`{name}` x{serial / pooled:.2f}")
    text = table(["design", "run_study, 1 worker, cold", "run_study, 2 workers",
                  "warm chunks, 1 process", "warm chunks, 2 workers", "chunk speed-up"], rows)
    if notes:
        started = workers_r.get("import")
        start_text = ("" if started is None else
                      f" (a fresh interpreter importing `bayesdose.simulation.study` takes "
                      f"{fmt_time(started.median)} here)")
        above = [n for n in names if n in workers_r and n in parts_r
                 and parts_r[n]["chunks"].median / workers_r[n]["pooled"].median > 2.05]
        caveat = ("" if not above else
                  "; above 2 for " + ", ".join(f"`{n}`" for n in above) + ": other work "
                  "slowed the single-process timing")
        slower = [n for n in names if n in workers_r and (n, trials) in trials_r
                  and workers_r[n]["end_to_end"].median > trials_r[n, trials]["cold"].median]
        verdict = ("at this size one worker is faster end to end for "
                   + ", ".join(f"`{n}`" for n in slower)) if slower else (
                   "2 workers are faster end to end for every design")
        text += ("\n\nTrials per second. Speed-up of the warm chunks from 1 process to 2 "
                 "workers: " + ", ".join(notes) + " (at most 2 on 2 cores, less when other "
                 f"work shares the machine{caveat}). A single `run_study` call with 2 workers "
                 f"also starts the workers{start_text}, builds a cold state space in each, and "
                 f"the parent still writes and reads every chunk file alone: {verdict}.")
    return text


PARTS = ("tolerances", "table", "trials", "benchmark")


def section_parts(parts_r: dict, names: list[str], trials: int) -> str:
    rows = []
    for name in names:
        r = parts_r.get(name)
        if r is None:
            continue
        total = r["total"].median
        times = [r[part].median for part in PARTS]
        rest = max(total - sum(times), 0.0)

        def cell(x: float, total: float = total) -> str:
            return f"{fmt_time(x)} ({100 * x / total:.0f}%)"

        rows.append([f"`{name}`", str(r["patients"]), fmt_time(total),
                     *(cell(x) for x in times), cell(rest)])
    return table(["design", "patients drawn per trial", "run_study (warm)", "tolerances",
                  "DLT table (DLTTable.of)", "trials (simulate_trials)", "optimal benchmark",
                  "rest (chunk files, OCs)"], rows)


def parts_interpretation(parts_r: dict, names: list[str]) -> str:
    shares = {name: {k: parts_r[name][k].median / parts_r[name]["total"].median
                     for k in PARTS}
              for name in names if name in parts_r}
    if not shares:
        return ""

    def span(values: list[float]) -> str:
        return f"{100 * min(values):.0f}-{100 * max(values):.0f}%"

    shared = [v["tolerances"] + v["table"] for v in shares.values()]
    rest = [1 - sum(v.values()) for v in shares.values()]
    return (f"Drawing the tolerances and tabulating every patient's DLTs at every dose take "
            f"{span(shared)} of a warm run together (once per chunk, and the table once per "
            "scenario: shared by every design of the run; the optimal benchmark reads its "
            "estimates from the same table). The rest "
            f"({span(rest)}) is the study's own work beyond the chunk arithmetic: writing each "
            "chunk to its file and reading it back, and the operating characteristics.")


def section_exact(exact_r: dict, names: list[str]) -> str:
    rows = []
    for name in names:
        r = exact_r.get(name)
        if r is None:
            continue
        rows.append([f"`{name}`", fmt_time(r["cold"].median), fmt_time(r["warm"].median),
                     fmt_count(r["states"]), "yes" if r["cold"].median < 1.0 else "no"])
    return table(["design", "cold", "warm", "states", "cold < 1 s"], rows, "lrrrl")


def section_memory(mem_r: dict, names: list[str], counts: tuple[int, ...]) -> str:
    rows = []
    notes = []
    for name in names:
        cells = [mem_r.get((name, trials)) for trials in counts]
        if any(c is None for c in cells):
            continue
        row = [f"`{name}`", f"{cells[0]['before_kib'] / 1024:.0f} MiB"]
        for r in cells:
            row += [f"{r['peak_kib'] / 1024:.0f} MiB",
                    f"+{(r['peak_kib'] - r['before_kib']) / 1024:.1f} MiB"]
        rows.append(row)
        rise = [(c["peak_kib"] - c["before_kib"]) / 1024 for c in cells]
        notes.append(f"`{name}` +{rise[0]:.1f} -> +{rise[-1]:.1f} MiB")
    header = ["design", "after imports"]
    for trials in counts:
        header += [f"{fmt_count(trials)} trials: peak", "rise"]
    text = table(header, rows)
    if notes:
        text += (
            "\n\nResident memory of a fresh process (one per cell) after imports and design "
            "set-up, and its peak during one cold `run_study`; the peak is the kernel's "
            "high-water mark `VmHWM`, reset (`/proc/self/clear_refs`) just before the run. "
            "`ru_maxrss` cannot be used as is here: the kernel carries the high-water mark of "
            "the process a program was started from over `exec` into `ru_maxrss`, and this "
            "benchmark's parent is larger than anything the child does. Rise of the peak from "
            f"{fmt_count(counts[0])} to {fmt_count(counts[-1])} trials: " + "; ".join(notes)
            + ". The rise includes the state space (built cold in the run) and one chunk's "
            "working set; what else grows with the number of trials is the run's per-trial "
            "records, assembled one scenario x design at a time."
        )
    return text


def section_generator(gen: dict) -> str:
    rows = []
    timings = gen["timings"]
    for (label, trials), t in timings.items():
        rows.append([label, fmt_count(trials), fmt_time(t.median),
                     fmt_rate(rate(trials, t.median)), str(len(t.times))])
    text = table(["generator", "trials (30 patients each)", "time", "trials/s", "runs"], rows,
                 "lrrrr")
    old = timings.get(("SeedSequence per trial (first version)", 10_000))
    new = timings.get((NOW, 10_000))
    million = timings.get((NOW, 1_000_000))
    if old is not None and new is not None:
        text += (f"\n\nAt 10,000 trials drawing a whole chunk with one generator call per block "
                 f"is {old.median / new.median:.0f} times as fast as a SeedSequence per trial, "
                 "and gives exactly the numbers of the streams' definition, one NumPy `Philox` "
                 "per trial and block ("
                 + ("checked here on 2,000 trials: identical" if gen["identical"]
                    else "**not identical here: a bug**")
                 + "; `tests/test_patients.py` checks it bit for bit, and the Random123 known "
                 "answers).")
    if million is not None:
        text += (" The million-trial row is one call returning a 229 MiB array; a run draws "
                 "one 5,000-trial chunk at a time.")
    return text


def render(ctx: dict) -> str:
    names = ctx["names"]
    stamp = ctx["machine"]
    scenario = base_scenario()
    repeats = ctx["repeats"]
    lines = [
        "# Simulation benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks.simulation`; do not edit by hand. -->",
        "",
        "How fast `bayesdose simulate` runs each design, and how its time grows with the number "
        "of trials, doses and patients; the exact method; memory; and the tolerance generator. "
        "Reproduce with `cd <repo> && .venv/bin/python -m benchmarks.simulation` (this run took "
        f"{ctx['runtime'] / 60:.1f} minutes); it rewrites this page."
        + (" **This was a `--quick` run (one repeat, fewer sizes).**" if ctx["quick"] else ""),
        "",
        f"- Date: {ctx['date']} (UTC); repository at {ctx['git']}",
        f"- Machine: {stamp['cpu']}, {stamp['nproc']} CPUs available (nproc), {stamp['ram']} "
        f"RAM; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {ctx['versions']}",
        "- BLAS pinned to one thread: "
        + ", ".join(f"`{v}=1`" for v in THREAD_VARIABLES)
        + " set before numpy is imported, inherited by every worker and subprocess "
        f"(threadpoolctl: {ctx['blas']})."
        + (" **numpy was imported before the pinning: BLAS threads may not be pinned.**"
           if NUMPY_WAS_IMPORTED else ""),
        f"- Load average (1 min) at start {ctx['load_start']}, at end {ctx['load_end']}: other "
        "work may share the machine; each figure is the median of "
        f"{repeats} run{'s' if repeats > 1 else ''} (`time.perf_counter`).",
        "",
        "## The speed a user gets: `bayesdose simulate` from the command line",
        "",
        cli_speed.section(ctx["cli"]),
        "",
        "The sections below measure the simulator inside one process (warm and cold), where "
        "the parts of a run can be told apart.",
        "",
        "## Set-up",
        "",
        f"- Design: `{CONFIG}` (5 doses 1-16 mg, cohorts of 3 from the lowest dose, at most 30 "
        f"patients, target 0.30); {crm_note()}. Designs measured: "
        + ", ".join(f"`{n}`" for n in names) + " (all of `registry.DESIGNS` at run time).",
        f"- Scenario: `{SCENARIOS}` {SCENARIO}, p_true = {list(scenario.p_true)} (true MTD: "
        "dose 3). Seed " + str(SEED) + "; chunks of an eighth of the trials, 5,000 to 25,000 "
        "(`study.chunk_trials`).",
        "- Rate = trials / wall time of one `run_study(..., method=\"simulate\", workers=1)` "
        "call in this process: tolerances, every trial, the optimal benchmark and the "
        "operating characteristics, beyond process start-up and imports.",
        "- **Cold**: every cache of bayesdose in the process is cleared first (each "
        "`lru_cache`: state spaces, exact engines, the CRM's posterior means, BOIN's "
        "selections), so the run also builds the state space: every distinct trial state it "
        "reaches is created and decided once (for the BLRM, the exact engine's posterior of "
        "every new count vector); the first chunk builds most of it, later chunks add the rare "
        "states. **Warm**: the same run repeated, every state it reaches already cached, as in "
        "the later chunks of a long run: only per-trial array work remains.",
        "",
        "## Summary: the targets of issue 3",
        "",
        "5 doses, cohorts of 3, 30 patients, simulated, one process, "
        f"{fmt_count(max(TRIAL_COUNTS))} trials.",
        "",
        section_targets(ctx["trials"], ctx["exact"], names),
        "",
        "## 1. Trials per second against the number of trials",
        "",
        section_trials(ctx["trials"], names, ctx["trial_counts"]),
        "",
        "## 2. Against the number of doses",
        "",
        f"{fmt_count(ctx['sweep_trials'])} trials, at most 30 patients, doses doubling "
        "(1, 2, 4, ... mg; the standard panel at 5) with the default prior derived from the "
        "panel, and S1's curve stretched over the panel (linear interpolation of "
        f"{list(scenario.p_true)}; S1 itself at 5 doses, the MTD in the middle).",
        "",
        section_sweep(ctx["sweep"], names, "doses", DOSE_COUNTS, 30, ctx["sweep_trials"]),
        "",
        sweep_interpretation(ctx["sweep"], names, "doses", DOSE_COUNTS, 30),
        "",
        "## 3. Against the sample size",
        "",
        f"{fmt_count(ctx['sweep_trials'])} trials, 5 doses, S1, `[stopping] max_patients` as "
        "given (3+3 follows its own rule and ignores it).",
        "",
        section_sweep(ctx["sweep"], names, "patients", SAMPLE_SIZES, 5, ctx["sweep_trials"]),
        "",
        sweep_interpretation(ctx["sweep"], names, "patients", SAMPLE_SIZES, 5),
        "",
        f"## 4. Two workers, {fmt_count(ctx['worker_trials'])} trials",
        "",
        "`run_study(..., workers=2)` end to end starts a pool of 2 spawned processes for the "
        "call, each importing bayesdose and building its own state space (cold); compare the "
        "1-worker cold run of section 1. The chunk columns time only the "
        f"{len(chunk_ranges(ctx['worker_trials']))} chunks (`study.run_chunk`: tolerances, "
        "DLT table, trials, benchmark) on warm state spaces: in this process, then on a "
        "persistent pool of 2 spawned workers whose state spaces hold every reachable state "
        "(built by the exact walk when they start).",
        "",
        section_workers(ctx["workers"], ctx["parts"], ctx["trials"], names,
                        ctx["worker_trials"]),
        "",
        f"## 5. Where the time goes (warm, one process, {fmt_count(ctx['worker_trials'])} "
        "trials)",
        "",
        section_parts(ctx["parts"], names, ctx["worker_trials"]),
        "",
        parts_interpretation(ctx["parts"], names),
        "",
        "## 6. Exact operating characteristics",
        "",
        "`run_study(..., method=\"exact\")` for S1: walking the tree of reachable states, "
        "merging equal states. Cold includes building the state space (for the BLRM the exact "
        "engine's posterior of every reachable count vector, and the engine itself; the engine "
        "computes a batch's 16-row chunks on a thread per core); warm repeats the walk with the "
        "states cached. Both include the exact optimal benchmark. The issue's target is < 1 s.",
        "",
        section_exact(ctx["exact"], names),
        "",
        "## 7. Peak memory",
        "",
        section_memory(ctx["memory"], names, ctx["memory_counts"]),
        "",
        "## 8. The tolerance generator alone",
        "",
        "30 patients per trial, one process. Trial t's stream is Philox4x64-10 with key "
        "`SeedSequence(seed).generate_state(2, uint64)` and counter (t, block, 0, 0) "
        "(`bayesdose/simulation/patients.py`): block j of a chunk's trials is one run of "
        "consecutive counters, drawn by NumPy's `Philox` bit generator in one call. The first "
        "version made a `default_rng(SeedSequence(seed, spawn_key=(t,)))` per trial.",
        "",
        section_generator(ctx["generator"]),
    ]
    if ctx["errors"]:
        lines += ["", "## Failures", "", "These measurements failed and are missing above:", ""]
        lines += [f"- {e}" for e in ctx["errors"]]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, fewer sizes")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--designs", help="comma-separated subset of the registry's designs")
    parser.add_argument("--memory-child", nargs=2, metavar=("DESIGN", "TRIALS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return
    started = time.perf_counter()
    load_start = load_average()
    names = design_names()
    if args.designs:
        names = [n for n in args.designs.split(",") if n in DESIGNS]
    repeats = 1 if args.quick else 3
    trial_counts = TRIAL_COUNTS[:3] if args.quick else TRIAL_COUNTS
    sweep_trials = 5_000 if args.quick else SWEEP_TRIALS
    worker_trials = 20_000 if args.quick else 100_000
    memory_counts = (10_000, 100_000)
    errors: list[str] = []

    # one untimed run of every design first: lazy imports and first-call costs
    for name in names:
        guarded(f"{name}, warm-up", errors,
                lambda name=name: simulate(make_design(), base_scenario(), name, 1_000))
    ctx = {
        "names": names, "repeats": repeats, "quick": args.quick, "trial_counts": trial_counts,
        "sweep_trials": sweep_trials, "worker_trials": worker_trials,
        "memory_counts": memory_counts,
    }
    sections: list[tuple[str, Callable[[], object]]] = [
        ("cli", lambda: cli_speed.measure(max(repeats, CLI_REPEATS))),
        ("trials", lambda: bench_trials(names, repeats, trial_counts, errors)),
        ("sweep", lambda: bench_sweep(names, repeats, sweep_trials, errors,
                                      [(d, 30) for d in DOSE_COUNTS]
                                      + [(5, p) for p in SAMPLE_SIZES if p != 30])),
        ("exact", lambda: bench_exact(names, repeats, errors)),
        ("parts", lambda: bench_parts(names, repeats, worker_trials, errors)),
        ("workers", lambda: bench_workers(names, repeats, worker_trials, errors)),
        ("memory", lambda: bench_memory(names, memory_counts, errors)),
        ("generator", lambda: bench_generator(repeats, args.quick)),
    ]
    for key, run in sections:
        seconds, ctx[key] = timed(run)
        log(f"section {key}: {seconds:.0f} s")
    clear_caches()
    ctx.update(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"), git=git_state(),
        machine=machine_stamp(), versions=versions_text(PAGE_PACKAGES), blas=blas_threads(),
        load_start=load_start, load_end=load_average(),
        runtime=time.perf_counter() - started, errors=errors,
    )
    write_atomically(args.out, render(ctx))
    log(f"wrote {args.out} in {ctx['runtime']:.0f} s")


if __name__ == "__main__":
    main()
