"""`bayesdose simulate`: outputs, bad input, workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner

from bayesdose.cli import main
from bayesdose.schema import load_design
from bayesdose.simulation import study
from bayesdose.simulation.scenarios import load_scenarios

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "standard-5dose.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "standard-5dose.toml"
KEYS = {"trials", "select", "select_none", "pcs", "p_select_target_interval", "select_above_mtd",
        "patients", "p_at_mtd", "p_above_mtd", "n_mean", "dlt_mean", "dlt_rate", "early_stop",
        "accuracy_index", "se"}


def run(*args: str):
    return CliRunner().invoke(main, ["simulate", *map(str, args)])


def test_simulate_writes_summary_and_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3,3+3-deesc", "--trials",
                 300, "--seed", 4, "--out", out, "--method", "simulate", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "P(correct)" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "simulate"
    first = summary["scenarios"][0]
    assert first["name"] == "S1" and first["true_mtd"] == 3
    assert set(first["designs"]) == {"3+3", "3+3-deesc", "optimal"}
    assert set(first["designs"]["3+3"]) == KEYS
    assert first["designs"]["3+3"]["trials"] == 300
    assert summary["scenarios"][-1]["true_mtd"] is None
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        assert ds["n"].shape == (7, 2, 300, 5)
        sel = ds["selected"].sel(scenario="S1", design="3+3").values
    share = (sel == 3).mean()
    assert share == pytest.approx(first["designs"]["3+3"]["select"][2])


def test_exact_method(tmp_path: Path) -> None:
    result = run(CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["method"] == "exact"
    oc = summary["scenarios"][0]["designs"]["3+3"]
    assert oc["trials"] is None and oc["se"]["pcs"] == 0
    assert sum(oc["select"]) + oc["select_none"] == pytest.approx(1, abs=1e-12)
    assert not (tmp_path / "results.nc").exists()


@pytest.mark.parametrize(
    ("scenario_text", "designs", "message"),
    [
        ('[[scenario]]\nname = "A"\np_true = [0.1, 0.2]\n', "3+3", "dose panel has 5"),
        ('[[scenario]]\nname = "A"\np_true = [0.1, 0.2, 0.3, 0.2, 0.5]\n', "3+3", "decrease"),
        ('[[scenario]]\nname = "A"\np_true = [0.1, 0.2, 0.3, 0.4, 1.5]\n', "3+3", "[0, 1]"),
        ('[[scenario]]\nname = "A"\np_true = [0.1, 0.2, 0.3, 0.4, 0.5]\n', "3+3,crm9", "unknown"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, scenario_text: str, designs: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(scenario_text)
    result = run(CONFIG, "--scenarios", path, "--designs", designs, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_one_and_two_workers_identical(tmp_path: Path) -> None:
    design = load_design(CONFIG)
    scenarios = load_scenarios(SCENARIOS, 5)[:2]
    runs = [study.run_study(design, scenarios, ["blrm", "3+3"], 400, 9, "simulate",
                            workers=workers, out=tmp_path / str(workers), chunk_size=150)
            for workers in (1, 2)]
    assert json.dumps(runs[0].summary) == json.dumps(runs[1].summary)
    with (xr.open_dataset(tmp_path / "1" / "results.nc", engine="h5netcdf") as one,
          xr.open_dataset(tmp_path / "2" / "results.nc", engine="h5netcdf") as two):
        assert one.load().identical(two.load())
