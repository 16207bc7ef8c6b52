"""Benchmark of backfill designs in time (BF-BOIN ``boin+backfill``, ``blrm+backfill``);
prints the rates.

Run from the repository root::

    .venv/bin/python -m benchmarks.backfill            # 12 scenarios x 5,000 trials
    .venv/bin/python -m benchmarks.backfill --quick    # 2 scenarios

Rate: simulated trials per second of ``backfilloc.simulate_backfill_design`` on
``configs/bf-boin.toml`` (``blrm+backfill``: with the BLRM's default prior) and the BF-BOIN
publication's Table 3 scenarios with their response rates, per design (one process, the exact
engine on one thread, as the simulator's worker processes run it; the first scenario's run
includes deciding the states, later ones reuse the caches as a study does). bfboin's rate is
measured beside it when R and bfboin are installed (``R_LIBS``, default ``/tmp/rlib_bf:/tmp/rlib``:
bfboin and the packages ``../shared/r/install.sh`` puts in ``/tmp/rlib``): ``get.oc.bf`` on
scenario 2, 500 trials.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from bayesdose.inference.exact import set_engine_threads
from bayesdose.schema import load_design
from bayesdose.simulation.backfilloc import simulate_backfill_design

ROOT = Path(__file__).parent.parent
REFERENCE = ROOT / "tests" / "reference" / "bfboin" / "get_oc_bf_table3.json"
R_CALL = ("library(bfboin); t <- system.time(get.oc.bf(ntrial = 500, seed = 1, target = 0.25, "
          "p.true = c(0.12, 0.25, 0.42, 0.49, 0.55), ncohort = 10, cohortsize = 3, "
          "n.earlystop = 9, cutoff.eli = 0.95, n.cap = 12, n.per.month = 3, dlt.window = 1, "
          "p.response.true = c(0.2, 0.3, 0.4, 0.5, 0.6), accrual = 'poisson')); "
          "cat(500 / t[['elapsed']])")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--designs", default="boin+backfill,blrm+backfill")
    args = parser.parse_args()
    set_engine_threads(1)
    design = load_design(ROOT / "configs" / "bf-boin.toml")
    scenarios = json.loads(REFERENCE.read_text())["scenarios"][: 2 if args.quick else None]
    for name in args.designs.split(","):
        total, start = 0, time.perf_counter()
        for entry in scenarios:
            began = time.perf_counter()
            simulate_backfill_design(design, name, entry["p_true"], entry["p_response"],
                                     args.trials, 1)
            seconds = time.perf_counter() - began
            total += args.trials
            print(f"{name} scenario {entry['scenario']}: {args.trials / seconds:,.0f} trials/s")
        print(f"{name}: {total / (time.perf_counter() - start):,.0f} trials/s over "
              f"{len(scenarios)} scenarios (load average {os.getloadavg()[0]:.2f})")
    try:
        env = dict(os.environ, R_LIBS=os.environ.get("R_LIBS", "/tmp/rlib_bf:/tmp/rlib"))
        rate = subprocess.run(["Rscript", "-e", R_CALL], capture_output=True, text=True,
                              check=True, timeout=600, env=env).stdout.strip()
        print(f"bfboin get.oc.bf: {float(rate):,.0f} trials/s")
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        print(f"bfboin not measured: {err}")


if __name__ == "__main__":
    main()
