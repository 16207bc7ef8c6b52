"""Cost of the combination engine (bayesdose.inference.combination): milliseconds per
posterior and seconds per 1,000 data sets (a batch of 200 here; the cost is linear in the
batch), with the load average (the machine is shared), on the
4 x 3 grid of OncoBayes2's MAP vignette (drug A 25-100 mg, drug B 0.5-3 mg, with the
monotherapy pairs: 19 pairs) under its MAP mixtures. The data sets are random trial
states: 1-10 cohorts of 3 at random pairs of the grid, DLTs at P(DLT) 0.1-0.4.
Run: PYTHONPATH=. python benchmarks/combination_engine.py
     PYTHONPATH=. python benchmarks/combination_engine.py ab OTHER_CHECKOUT [REPEATS]

The first data set is computed before the clock starts (the point sets; numba's compiled
kernels loaded from their on-disk cache, or compiled). ``ab`` alternates fresh processes of
this checkout and another (e.g. ``git clone . /tmp/old && git -C /tmp/old checkout REV``),
each running its own copy of this script, with the load average (the machine is shared).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_combination_engine import ORACLE, _engine  # noqa: E402

BATCH = 200
ROOT = Path(__file__).resolve().parents[1]


def random_states(pairs: int, count: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = np.zeros((count, pairs))
    dlt = np.zeros((count, pairs))
    for k in range(count):
        for _ in range(rng.integers(1, 11)):
            j = rng.integers(0, 12)  # a grid pair
            n[k, j] += 3
            dlt[k, j] += rng.binomial(3, rng.uniform(0.1, 0.4))
    return n, dlt


def ab(other: Path, repeats: int) -> None:
    """Alternate fresh processes of ``other`` and this checkout, printing each one's line."""
    for _ in range(repeats):
        for root in (other, ROOT):
            done = subprocess.run([sys.executable, "benchmarks/combination_engine.py"],
                                  cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                                  capture_output=True, text=True, check=True)
            print(f"{str(root):<22} {done.stdout.strip()}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "ab":
        ab(Path(sys.argv[2]).resolve(), int(sys.argv[3]) if len(sys.argv) > 3 else 3)
        return
    engine = _engine(ORACLE["cases"]["prior_map"])
    n, dlt = random_states(engine.n_pairs, BATCH)
    engine.summarise(n[:1], dlt[:1])  # the point set is built once per process
    t0 = time.perf_counter()
    _, diagnostics = engine.summarise(n, dlt)
    seconds = time.perf_counter() - t0
    lines, count = np.unique(diagnostics.lines, return_counts=True)
    print(f"{BATCH} data sets: {seconds:.1f} s ({1000 * seconds / BATCH:.1f} ms per posterior, "
          f"{1000 * seconds / BATCH:.0f} s per 1,000); load average {os.getloadavg()[0]:.1f}; "
          f"lines used: {dict(zip(lines.tolist(), count.tolist(), strict=True))}; "
          f"unresolved: {int((~diagnostics.resolved).sum())}; "
          f"median ESS {np.median(diagnostics.ess):.0f}")


if __name__ == "__main__":
    main()
