"""The speed a user gets: ``bayesdose simulate`` from the command line, cold, in a new process.

What issue 17 measures: for each design, the time of ``bayesdose simulate`` at 200,000 trials
minus its time at 2,000 (5 doses, 30 patients, one scenario, ``--method simulate``), so the
rate is what a longer run costs beyond start-up (imports, the config, the states a short run
already decides); the exact operating characteristics of the BLRM beyond those of 3+3 (whose
exact run is the same start-up and output with a trivial tree); and R's BOIN ``get.oc`` where
R and BOIN are installed (``R_LIBS``, default ``/tmp/rlib``: ``../shared/r/install.sh``).
Each difference is the median over pairs of runs back to back, in alternating order
(``paired_seconds``), so a drift in the machine's load falls on both of its sides.

The commands run as a user runs them: the installed ``bayesdose`` script, this environment
without the benchmarks' BLAS pinning, default workers. ``python -m benchmarks.simulation``
puts this section first on ``docs/simulation-benchmarks.md``; on its own,
``python -m benchmarks.cli_speed`` prints it.

On a shared machine the absolute rates follow the load, not the code. To compare two versions
of the code, ``python -m benchmarks.cli_speed --against OLD [--designs blrm,crm] [--repeats N]``
runs the same commands from the source tree ``OLD`` (e.g. ``git worktree add /tmp/old main``)
and from this one, alternated (old, new, then new, old, ...) so both see the same load, and
prints each side's time beyond start-up (for ``exact``: beyond 3+3's exact run), the ratio of
the medians and the paired ratios, with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, THREAD_VARIABLES, fmt_rate

CONFIG = ROOT / "configs" / "standard-5dose.toml"
SCENARIO = '[[scenario]]\nname = "S1"\np_true = [0.05, 0.15, 0.30, 0.45, 0.60]\n'
SHORT, LONG = 2_000, 200_000
DESIGNS = ("blrm", "crm", "boin", "3+3")
TARGETS = {"blrm": 400_000, "crm": 400_000, "boin": 800_000, "3+3": 800_000}
EXACT_TARGET = 0.3  # seconds beyond start-up, the BLRM's exact OCs
R_TRIALS = 10_000
R_CALL = ("library(BOIN); t <- system.time(get.oc(target = 0.3, p.true = c(0.05, 0.15, 0.3, "
          "0.45, 0.6), ncohort = 10, cohortsize = 3, ntrial = {trials}, seed = 1))[['elapsed']]; "
          "cat(t)")


def bayesdose_script() -> str:
    """The ``bayesdose`` entry point beside this Python (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("bayesdose")
    return str(beside) if beside.exists() else "bayesdose"


def user_env() -> dict[str, str]:
    """This environment without the BLAS pinning the benchmark harness sets for itself, and
    with Python's bytecode cache, as a user's Python has it (pip compiles a package's modules
    when it installs them): these machines set PYTHONDONTWRITEBYTECODE, which would make every
    run compile bayesdose's sources again (0.2-0.4 s, more for the modules the BLRM loads than
    for those 3+3 loads)."""
    return {k: v for k, v in os.environ.items()
            if k not in (*THREAD_VARIABLES, "PYTHONDONTWRITEBYTECODE")}


def run_seconds(args: list[str], tree: Path | None = None) -> float:
    """Wall time of one ``bayesdose`` command in a new process (its output discarded): the
    installed command, or with ``tree`` this Python's ``-m bayesdose.cli`` on that source
    tree."""
    command, env = [bayesdose_script()], user_env()
    if tree is not None:
        command, env = [sys.executable, "-m", "bayesdose.cli"], dict(env, PYTHONPATH=str(tree))
    start = time.perf_counter()
    subprocess.run([*command, *args], env=env, check=True, cwd=tree,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def simulate_args(folder: Path, design: str, trials: int, method: str) -> list[str]:
    out = folder / f"{design}-{trials}-{method}"
    shutil.rmtree(out, ignore_errors=True)
    return ["simulate", str(CONFIG), "--scenarios", str(folder / "s1.toml"), "--designs",
            design, "--trials", str(trials), "--method", method, "--out", str(out), "--quiet"]


def paired_seconds(folder: Path, first: tuple[str, int, str], second: tuple[str, int, str],
                   repeats: int) -> tuple[float, float, float]:
    """Median times of two commands (design, trials, method) and the median of their paired
    differences (first - second), the two run alternately (first then second, then second
    then first, ...): a drift in the machine's load falls on both sides of a difference."""
    pairs = []
    for r in range(repeats):
        order = (first, second) if r % 2 == 0 else (second, first)
        times = {run: run_seconds(simulate_args(folder, *run)) for run in order}
        pairs.append((times[first], times[second]))
    a, b = zip(*pairs, strict=True)
    return (statistics.median(a), statistics.median(b),
            statistics.median(x - y for x, y in pairs))


def r_boin_rate() -> float | None:
    """Trials per second of R's BOIN ``get.oc`` (inside R, ``system.time``), or None."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    env = dict(os.environ, R_LIBS=os.environ.get("R_LIBS", "/tmp/rlib"))
    done = subprocess.run([rscript, "-e", R_CALL.format(trials=R_TRIALS)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None
    return R_TRIALS / float(done.stdout.strip().split()[-1])


def measure(repeats: int = 3) -> dict:
    """Every figure of the section, with the load average before and after."""
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "s1.toml").write_text(SCENARIO)
        for design, method in [(d, "simulate") for d in DESIGNS] + [("blrm", "exact")]:
            run_seconds(simulate_args(folder, design, SHORT, method))  # writes the caches
        rows = {}
        for design in DESIGNS:
            long, short, beyond = paired_seconds(folder, (design, LONG, "simulate"),
                                                 (design, SHORT, "simulate"), repeats)
            rows[design] = (short, long, (LONG - SHORT) / max(beyond, 1e-9))
        exact = paired_seconds(folder, ("blrm", SHORT, "exact"), ("3+3", SHORT, "exact"),
                               repeats)
    return {"rows": rows, "exact": exact, "r_boin": r_boin_rate(),
            "repeats": repeats, "load": (load_start, os.getloadavg()[0])}


def section(result: dict) -> str:
    """The page's leading section, in Markdown."""
    short_n, long_n = fmt_rate(SHORT), fmt_rate(LONG)
    load_start, load_end = result["load"]
    lines = [
        "`bayesdose simulate` as a user runs it: the installed command, cold, in a new process, "
        "default workers, no BLAS pinning, Python's bytecode cache written by a first run (as pip "
        "writes it at install); `configs/standard-5dose.toml` (5 doses, cohorts of "
        f"3, 30 patients), scenario S1, `--method simulate`. Rate = {fmt_rate(LONG - SHORT)} / "
        f"(time at {long_n} trials - time at {short_n}): what a longer run costs beyond "
        f"start-up, the median of {result['repeats']} paired differences (the two runs of a "
        "pair back to back, in alternating order; the columns give each side's median); load "
        "average (1 min) "
        f"{load_start:.2f} at start, {load_end:.2f} at end. The rates follow the machine's "
        "load; to compare two versions of the code, `python -m benchmarks.cli_speed --against "
        "OLD_TREE` alternates their runs and prints the ratios. The command keeps freed memory "
        "for reuse (glibc's malloc top pad, `bayesdose.memory`): on these virtual machines a "
        "page written for the first time costs more than the work done on it.",
        "",
        f"| design | {short_n} trials | {long_n} trials | trials/s beyond start-up "
        "| issue 17 target |",
        "|---|---:|---:|---:|---:|",
    ]
    for design, (short, long, rate) in result["rows"].items():
        lines.append(f"| `{design}` | {short:.2f} s | {long:.2f} s | {fmt_rate(rate)} "
                     f"| {fmt_rate(TARGETS[design])} |")
    blrm, base, beyond = result["exact"]
    lines += [
        "",
        f"Exact operating characteristics of the BLRM (`--method exact`): {blrm:.2f} s, against "
        f"{base:.2f} s for 3+3's (the same start-up and output, a trivial tree): "
        f"{beyond:.2f} s beyond start-up (target < {EXACT_TARGET} s).",
        "",
    ]
    r_rate = result["r_boin"]
    if r_rate is None:
        lines.append("R's BOIN: not measured (Rscript or the BOIN package not found).")
    else:
        boin = result["rows"]["boin"][2]
        lines.append(
            f"R's BOIN 2.7.2 `get.oc` on the same curve (10 cohorts of 3, "
            f"{fmt_rate(R_TRIALS)} trials, timed inside R): {fmt_rate(r_rate)} trials/s; "
            f"`bayesdose simulate` runs BOIN {boin / r_rate:,.0f} times as fast beyond start-up.")
    return "\n".join(lines)


def beyond_start_up(folder: Path, design: str, tree: Path) -> float:
    """One measurement from ``tree``: the time at LONG trials minus at SHORT (``exact``: the
    BLRM's exact run minus 3+3's)."""
    if design == "exact":
        return (run_seconds(simulate_args(folder, "blrm", SHORT, "exact"), tree)
                - run_seconds(simulate_args(folder, "3+3", SHORT, "exact"), tree))
    return (run_seconds(simulate_args(folder, design, LONG, "simulate"), tree)
            - run_seconds(simulate_args(folder, design, SHORT, "simulate"), tree))


def compare(old: Path, designs: list[str], repeats: int) -> None:
    """Alternated A/B of the time beyond start-up, the source tree ``old`` against this one."""
    trees = {"old": old.resolve(), "new": ROOT}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "s1.toml").write_text(SCENARIO)
        for design in designs:
            load = os.getloadavg()[0]
            times: dict[str, list[float]] = {"old": [], "new": []}
            for r in range(repeats):
                for side in ("old", "new") if r % 2 == 0 else ("new", "old"):
                    times[side].append(beyond_start_up(folder, design, trees[side]))
            old_s, new_s = (statistics.median(times[k]) for k in ("old", "new"))
            paired = " ".join(f"{a / b:.2f}" for a, b in zip(times["old"], times["new"],
                                                              strict=True))
            print(f"{design}: beyond start-up, median of {repeats}: old {old_s:.3f} s, new "
                  f"{new_s:.3f} s, old/new {old_s / new_s:.2f} (paired: {paired}); load "
                  f"{load:.2f} -> {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="A/B against the source tree OLD")
    parser.add_argument("--designs", default="blrm,crm,boin,3+3,exact",
                        help="with --against: designs, or exact (the BLRM's exact OCs)")
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    if args.against is None:
        print(section(measure()))
    else:
        compare(args.against, args.designs.split(","), args.repeats)


if __name__ == "__main__":
    main()
