"""Trials per second of the two-drug designs BOIN-comb and waterfall (issue 15's target:
>= 50,000 trials/s beyond start-up), one process, 3 x 5 grid, cohorts of 3, and R's rate.

    PYTHONPATH=. python -m benchmarks.combination [TRIALS]

Start-up (imports, numba's compiled isotonic fit from its cache, the designs' tables) is timed
apart by a first small run; the rate is of a second run of TRIALS trials per scenario over the
scenarios of configs/scenarios/combination-3x5.toml. R's rate is get.oc.comb's, from the time
of tests/reference/boin/get_oc_comb.R when R is installed (R_LIBS=/tmp/rlib), else omitted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bayesdose.schema import load_design
from bayesdose.simulation.combination.scenarios import load_matrix_scenarios
from bayesdose.simulation.combination.study import simulate_records

ROOT = Path(__file__).resolve().parent.parent


def python_rate(name: str, trials: int) -> tuple[float, float]:
    """(start-up seconds, trials per second) of one design on one process."""
    design = load_design(ROOT / "configs" / "combination-3x5.toml")
    scenarios = load_matrix_scenarios(ROOT / "configs" / "scenarios" / "combination-3x5.toml",
                                      design.pair_panel.shape, design.drugs.names)
    start = time.perf_counter()
    simulate_records(design, scenarios[:1], [name], 100, 1, workers=1)
    startup = time.perf_counter() - start
    start = time.perf_counter()
    simulate_records(design, scenarios, [name], trials, 2, workers=1, chunk_size=trials)
    return startup, trials * len(scenarios) / (time.perf_counter() - start)


def r_rate(trials: int) -> float | None:
    """Trials per second of R's get.oc.comb (both designs, 2 scenarios), or None."""
    if shutil.which("Rscript") is None:
        return None
    script = ROOT / "tests" / "reference" / "boin" / "get_oc_comb.R"
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        done = subprocess.run(["Rscript", str(script), str(trials)], cwd=folder,
                              env={**os.environ, "R_LIBS": "/tmp/rlib"}, capture_output=True)
        seconds = time.perf_counter() - start
    return None if done.returncode else 4 * trials / seconds  # 2 scenarios x 2 designs


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for name in ("boin-comb", "waterfall"):
        startup, rate = python_rate(name, trials)
        print(f"{name:<10} start-up {startup:5.2f} s, {rate:9,.0f} trials/s "
              f"({trials} trials x 3 scenarios)")
    rate = r_rate(500)
    if rate is not None:
        print(f"R BOIN 2.7.2 get.oc.comb: {rate:,.0f} trials/s (500 trials x 2 scenarios x "
              "2 designs, both designs together)")


if __name__ == "__main__":
    main()
