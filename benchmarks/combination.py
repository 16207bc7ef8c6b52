"""Trials per second of the two-drug designs BOIN-comb and waterfall (issue 15's target:
>= 50,000 trials/s beyond start-up), one process, 3 x 5 grid, cohorts of 3, beside R's; and of
the combination BLRM (target >= 2,000 trials/s) with 30 patients; all three also through the
CLI in a new process at 2,000, 20,000 and 200,000 trials of the first scenario (the BLRM's
rate grows with the trials: later trials mostly meet states whose posteriors are computed
already), and the BLRM in-process with the distinct posteriors it computed.

    PYTHONPATH=. python -m benchmarks.combination [TRIALS]   (TRIALS: the in-process runs of
                                                              BOIN-comb and the waterfall)
    PYTHONPATH=. python -m benchmarks.combination ab OTHER_CHECKOUT [TRIALS] [DESIGN]

Start-up (imports, numba's compiled isotonic fit loaded from its on-disk cache, the designs'
tables) is timed apart by a first small run; the rate is of a second run of TRIALS trials per
scenario over the scenarios of configs/scenarios/combination-3x5.toml, in wall-clock and in
CPU seconds (the machine is shared: its load average is printed). numba compiles the fit at
first use and caches it on disk (``cache=True``): the compile is timed in a fresh process with
an empty cache (NUMBA_CACHE_DIR), beside a fresh process with the cache. R's rate is
get.oc.comb's on the same grid and settings (the package's example scenario; R_LIBS=/tmp/rlib),
when R is installed.

``ab`` compares this checkout with another (e.g. ``git worktree add /tmp/old HEAD~1``) on the
shared machine: fresh processes alternating between the two, three times each, the wall-clock
rate of each run beside the load average (CPU time under load has misled). DESIGN ``blrm``
compares the combination BLRM's rate (TRIALS trials, 30 patients, after a 5-trial warm-up in
the same process: numba's kernels loaded or compiled).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bayesdose.schema import load_design
from bayesdose.simulation.combination.scenarios import load_matrix_scenarios
from bayesdose.simulation.combination.study import combination_design, simulate_records
from benchmarks.cli_speed import run_seconds

ROOT = Path(__file__).resolve().parent.parent
CLI_TRIALS = (2000, 20000, 200000)
R_CALL = {"boin-comb": "ncohort = 20", "waterfall": "ncohort = c(10, 5, 5), mtd.contour = TRUE"}


def python_rate(name: str, trials: int) -> tuple[float, float, float]:
    """(start-up seconds, trials per wall-clock second, trials per CPU second) of one design
    on one process."""
    design = load_design(ROOT / "configs" / "combination-3x5.toml")
    scenarios = load_matrix_scenarios(ROOT / "configs" / "scenarios" / "combination-3x5.toml",
                                      design.pair_panel.shape, design.drugs.names)
    start = time.perf_counter()
    simulate_records(design, scenarios[:1], [name], 100, 1)
    startup = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    simulate_records(design, scenarios, [name], trials, 2, chunk_size=5000)
    total = trials * len(scenarios)
    return startup, total / (time.perf_counter() - start), total / (time.process_time() - cpu)


def blrm_rate(trials: int) -> tuple[float, float, int]:
    """(trials per wall-clock second, per CPU second, distinct posteriors computed) of the
    combination BLRM, 30 patients, one process, the first scenario."""
    design = load_design(ROOT / "configs" / "combination-3x5.toml")
    design = replace(design, stopping=replace(design.stopping, max_patients=30))
    scenarios = load_matrix_scenarios(ROOT / "configs" / "scenarios" / "combination-3x5.toml",
                                      design.pair_panel.shape, design.drugs.names)
    start, cpu = time.perf_counter(), time.process_time()
    simulate_records(design, scenarios[:1], ["blrm"], trials, 2, chunk_size=trials)
    return (trials / (time.perf_counter() - start), trials / (time.process_time() - cpu),
            combination_design(design, "blrm").posteriors)


def cli_seconds(design: str, trials: tuple[int, ...] = CLI_TRIALS,
                max_patients: int = 60) -> dict[int, float]:
    """Seconds of ``bayesdose simulate --designs DESIGN`` in a new process (as a user runs it,
    ``cli_speed.run_seconds``) at each number of trials: the 3 x 5 grid (the combination BLRM
    with ``max_patients``), the first scenario, one process (``--workers 1``: the engine's
    threads, no worker processes)."""
    with tempfile.TemporaryDirectory() as folder:
        config, scenarios = Path(folder) / "config.toml", Path(folder) / "s1.toml"
        config.write_text((ROOT / "configs" / "combination-3x5.toml").read_text().replace(
            "max_patients = 60", f"max_patients = {max_patients}"))
        first = (ROOT / "configs" / "scenarios" / "combination-3x5.toml").read_text()
        scenarios.write_text(first[:first.index("[[scenario]]", first.index("[[scenario]]") + 1)])
        return {t: run_seconds(["simulate", str(config), "--scenarios", str(scenarios),
                                "--designs", design, "--trials", str(t), "--workers", "1",
                                "--out", str(Path(folder) / f"out-{t}"), "--quiet"])
                for t in trials}


def print_cli(design: str, seconds: dict[int, float], what: str) -> None:
    """Each run's time and rate, and the rate beyond start-up (the most trials against the
    fewest)."""
    for t, spent in seconds.items():
        print(f"{design:<10} CLI {t:7,} trials: {spent:6.1f} s whole process, {t / spent:9,.0f} "
              f"trials/s ({what}); load average {os.getloadavg()[0]:.2f}")
    low, high = min(seconds), max(seconds)
    print(f"{design:<10} CLI beyond start-up ({high:,} against {low:,} trials): "
          f"{(high - low) / (seconds[high] - seconds[low]):,.0f} trials/s")


def first_fit_seconds(cache: str | None) -> float:
    """Seconds for a fresh process to import the isotonic fit and fit once (numba's cache in
    ``cache``, or where numba keeps it by default)."""
    code = ("import time; t = time.perf_counter(); import numpy as np; "
            "from bayesdose.designs.boin_comb.isotonic import biviso; "
            "biviso(np.ones((2, 2)), np.ones((2, 2))); print(time.perf_counter() - t)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)} | ({"NUMBA_CACHE_DIR": cache} if cache else {})
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    return float(done.stdout)


def r_rate(name: str, trials: int) -> float | None:
    """Trials per second of R's get.oc.comb for one design (the package's example), or None."""
    if shutil.which("Rscript") is None:
        return None
    code = ("suppressMessages(library(BOIN)); p <- matrix(c(0.01,0.03,0.10,0.20,0.30, "
            "0.03,0.05,0.15,0.30,0.60, 0.08,0.10,0.30,0.60,0.75), byrow = TRUE, ncol = 5); "
            "cat(system.time(get.oc.comb(target = 0.3, p.true = p, cohortsize = 3, "
            f"n.earlystop = 12, startdose = c(1, 1), ntrial = {trials}, seed = 6, "
            f"{R_CALL[name]}))[['elapsed']])")
    done = subprocess.run(["Rscript", "-e", code], env={**os.environ, "R_LIBS": "/tmp/rlib"},
                          capture_output=True, text=True)
    return None if done.returncode else trials / float(done.stdout)


def ab(other: Path, trials: int, name: str, repeats: int = 3) -> None:
    """Alternate fresh processes of this checkout and ``other``, printing each one's rate."""
    rate = (f"blrm_rate(5); wall, cpu, _ = blrm_rate({trials})" if name == "blrm" else
            f"s, wall, cpu = python_rate({name!r}, {trials})")
    code = ("from benchmarks.combination import blrm_rate, python_rate; "
            f"{rate}; print(f'{{wall:.1f}} {{cpu:.1f}}')")
    for _ in range(repeats):
        for root in (other, ROOT):
            done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                                  env={**os.environ, "PYTHONPATH": str(root)}, text=True,
                                  check=True)
            wall, cpu = (float(v) for v in done.stdout.split())
            print(f"{str(root):<40} {name} {wall:9,.1f} trials/s wall, {cpu:9,.1f} trials/s "
                  f"CPU, load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "ab":
        ab(Path(sys.argv[2]).resolve(), int(sys.argv[3]) if len(sys.argv) > 3 else 20000,
           sys.argv[4] if len(sys.argv) > 4 else "waterfall")
        return
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as empty:
        compiled = first_fit_seconds(empty)
    print(f"first fit in a fresh process: {first_fit_seconds(None):.2f} s with numba's cache, "
          f"{compiled:.2f} s compiling (empty cache)")
    for name in ("boin-comb", "waterfall"):
        startup, wall, cpu = python_rate(name, trials)
        r = r_rate(name, 1000)
        beside = f"; R get.oc.comb {r:,.0f} trials/s" if r else ""
        print(f"{name:<10} start-up {startup:5.2f} s, {wall:7,.0f} trials/s wall, "
              f"{cpu:7,.0f} trials/s CPU ({trials} trials x 3 scenarios){beside}")
    for name in ("boin-comb", "waterfall"):
        print_cli(name, cli_seconds(name), "one scenario")
    print_cli("blrm", cli_seconds("blrm", max_patients=30), "30 patients, one scenario")
    for t in CLI_TRIALS:
        combination_design.cache_clear()
        wall, cpu, posteriors = blrm_rate(t)
        print(f"blrm       {t:7,} trials in-process: {wall:7,.0f} trials/s wall, {cpu:7,.0f} "
              f"trials/s CPU, {posteriors:,} distinct posteriors ({posteriors / t:.3f} per "
              f"trial); load average {os.getloadavg()[0]:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
