"""How often plain BLRM-EWOC (``[decision] coherence = false``) would break coherence:
``python -m benchmarks.research.coherence [--trials N]``.

Simulates the standard scenarios (configs/standard-5dose.toml, configs/scenarios/) with the
coherence rule off and counts the decisions that escalate right after a cohort with a DLT or
de-escalate right after one without (those the rule changes: EWOC still allowing the last dose),
and the share of trials with at least one. Uses the simulator's own state space and patients.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from bayesdose.designs.registry import make_design
from bayesdose.posterior import exact_engine
from bayesdose.schema import Design, load_design
from bayesdose.simulation.patients import DLTTable, tolerances
from bayesdose.simulation.runner import simulate_trials
from bayesdose.simulation.scenarios import load_scenarios
from bayesdose.simulation.statespace import StateSpace
from benchmarks.common import ROOT


def incoherent_states(space: StateSpace, design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Per state: (escalates after a DLT, de-escalates after none although EWOC allows)."""
    ids = np.arange(space.size)
    level, dlts = space.last[ids, 0].astype(np.int64), space.last[ids, 1].astype(np.int64)
    going = (space.stop_reason[ids] == 0) & (level >= 0)
    nxt = space.next_level[ids]
    up = going & (dlts > 0) & (nxt > level)
    p_over = exact_engine(design).batch(space.n[ids], space.dlt[ids]).p_overdose
    allowed = p_over[ids, np.maximum(level, 0)] < design.decision.max_overdose_probability
    down = going & (dlts == 0) & (nxt < level) & allowed
    return up, down


def measure(trials: int = 2000, seed: int = 1) -> list[dict]:
    design = load_design(ROOT / "configs" / "standard-5dose.toml")
    plain = dataclasses.replace(
        design, decision=dataclasses.replace(design.decision, coherence=False))
    scenarios = load_scenarios(ROOT / "configs" / "scenarios" / "standard-5dose.toml",
                               len(design.levels))
    space = StateSpace(make_design("blrm", plain), len(design.levels))
    u = tolerances(seed, 0, trials, design.stopping.max_patients)
    rows = []
    for scenario in scenarios:
        p_true = np.array(scenario.p_true)
        visited: list[np.ndarray] = []

        def record(trial: np.ndarray, ids: np.ndarray, into: list = visited) -> None:
            into.append(np.column_stack([trial, ids]))

        simulate_trials(space, DLTTable.of(u, p_true), record)
        up, down = incoherent_states(space, plain)
        steps = np.concatenate(visited)
        decisions = ~space.stopped(steps[:, 1])
        bad_up, bad_down = up[steps[:, 1]], down[steps[:, 1]]
        trials_bad = np.unique(steps[bad_up | bad_down, 0]).size
        rows.append({"scenario": scenario.name, "decisions": int(decisions.sum()),
                     "escalations_after_dlt": int(bad_up.sum()),
                     "deescalations_after_no_dlt": int(bad_down.sum()),
                     "trials": trials, "trials_affected": trials_bad})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print("scenario  decisions  escalate-after-DLT  de-escalate-after-none  trials-affected")
    for r in measure(args.trials, args.seed):
        print(f"{r['scenario']:<9} {r['decisions']:>9}  {r['escalations_after_dlt']:>18}  "
              f"{r['deescalations_after_no_dlt']:>22}  {r['trials_affected']:>6} / {r['trials']}")


if __name__ == "__main__":
    main()
