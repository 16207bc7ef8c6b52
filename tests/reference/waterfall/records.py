"""Writes records.json: the waterfall's per-trial records (selected pairs as a bit mask, stop
reason, patients per pair as treated and as R keeps them) for configs/combination-3x5.toml,
its three scenarios, 200 trials, seed 11, as bayesdose computed them before the fit was
stopped early (commit 114045b). tests/test_waterfall_speed.py asserts the same records now.

    PYTHONPATH=. python tests/reference/waterfall/records.py
"""

import json
from pathlib import Path

from bayesdose.schema import load_design
from bayesdose.simulation.chunks import record_key
from bayesdose.simulation.combination.scenarios import load_matrix_scenarios
from bayesdose.simulation.combination.study import simulate_records

ROOT = Path(__file__).resolve().parents[3]
TRIALS, SEED = 200, 11


def main() -> None:
    design = load_design(ROOT / "configs" / "combination-3x5.toml")
    scenarios = load_matrix_scenarios(ROOT / "configs" / "scenarios" / "combination-3x5.toml",
                                      (3, 5), ("A", "B"))
    records = simulate_records(design, scenarios, ["waterfall"], TRIALS, SEED)
    out = {"trials": TRIALS, "seed": SEED, "commit": "114045b", "scenarios": {}}
    for s, scenario in enumerate(scenarios):
        out["scenarios"][scenario.name] = {
            field: records[record_key(field, s, 0)].tolist()
            for field in ("selected", "stop_reason", "n", "kept_n")}
    path = Path(__file__).with_name("records.json")
    path.write_text(json.dumps(out, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
