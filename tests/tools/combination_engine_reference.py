"""The combination engine's own numbers on fixed data sets, for checking that a faster
implementation computes the same thing (tests/test_combination_engine.py reads them).

The reference was written by the NumPy engine before the compiled kernels (commit 003e1a4):

    git clone . /tmp/numpy-engine && git -C /tmp/numpy-engine checkout 003e1a4
    PYTHONPATH=/tmp/numpy-engine python tests/tools/combination_engine_reference.py

(run from this checkout: the data sets are this file's; the engine is the one on PYTHONPATH).
Data sets, on the oracle's grid and priors (tests/reference/combination_oracle.json): the six
oracle cases, eight random trial states under the vignette's MAP mixtures (1-10 cohorts of 3,
benchmarks/combination_engine.py's generator, seed 11), six DLTs in six patients at the
lowest pair (conflicting with the prior), and two states with patients in follow-up (a 7-day
window).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
OUT = TESTS / "reference" / "combination_engine.json"
FIELDS = ("mean", "sd", "p_underdose", "p_target", "p_overdose")


def data_sets(oracle: dict, pairs: int) -> list[dict]:
    """Each data set: its oracle case (the model), n, dlt and pending (or None)."""
    sys.path.insert(0, str(TESTS.parent / "benchmarks"))
    from combination_engine import random_states

    sets = [{"case": name, "n": case["data"]["n"], "dlt": case["data"]["dlt"], "pending": None}
            for name, case in oracle["cases"].items()]
    n, dlt = random_states(pairs, 8, seed=11)
    sets += [{"case": "prior_map", "n": n[k].tolist(), "dlt": dlt[k].tolist(), "pending": None}
             for k in range(8)]
    conflict = np.zeros(pairs)
    conflict[0] = 6
    sets.append({"case": "prior_map", "n": conflict.tolist(), "dlt": conflict.tolist(),
                 "pending": None})
    for k in [k for k in range(8) if (n[k] - dlt[k] >= 2).any()][:2]:
        pending = np.zeros((pairs, 7))
        pending[np.flatnonzero(n[k] - dlt[k] >= 2)[0], [2, 5]] = 1
        sets.append({"case": "prior_map", "n": n[k].tolist(), "dlt": dlt[k].tolist(),
                     "pending": pending.tolist()})
    return sets


def main() -> None:
    sys.path.insert(0, str(TESTS))
    from test_combination_engine import ORACLE, _engine

    engine_root = os.environ.get("PYTHONPATH", ".")
    commit = subprocess.run(["git", "-C", engine_root, "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    sets = data_sets(ORACLE, len(ORACLE["pairs"]))
    for s in sets:
        pending = None if s["pending"] is None else np.array(s["pending"])[None]
        summary, _ = _engine(ORACLE["cases"][s["case"]]).summarise(s["n"], s["dlt"], pending)
        s["result"] = {k: getattr(summary, k)[0].tolist() for k in FIELDS}
    OUT.write_text(json.dumps({"engine_commit": commit, "data_sets": sets}, indent=1) + "\n")


if __name__ == "__main__":
    main()
