"""`bayesdose simulate`: outputs, bad input, workers."""

from __future__ import annotations

import json
import re
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


# -- the terminal table (issue 18, item 9) ----------------------------------------------------


def table_lines(output: str) -> list[str]:
    return output.splitlines()


def test_exact_table_names_the_true_mtd_and_explains_its_columns(tmp_path: Path) -> None:
    result = run(CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    lines = table_lines(result.output)
    assert lines[0] == "method: exact (no Monte Carlo error)"
    assert "S1 (true MTD: 4 mg, level 3)" in lines
    assert not any(line.strip().startswith("(") for line in lines)  # exact: no standard errors
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["doses"] == ["1 mg", "2 mg", "4 mg", "8 mg", "16 mg"]
    assert "sel>MTD     P(selecting a dose above the true MTD; any dose when none is right)" \
        in lines
    assert "pts>MTD     share of the patients treated above the true MTD (all when none is " \
        "right)" in lines
    assert "none        P(no dose selected)" in lines
    assert not any(line.startswith("(...)") for line in lines)
    del summary["doses"]  # a summary written before the doses were kept: the level only
    from bayesdose.simulation.output import format_table

    assert "S1 (true MTD: level 3)" in format_table(summary).splitlines()


def test_simulated_table_shows_standard_errors_and_verbose_per_dose(tmp_path: Path) -> None:
    result = run(CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3", "--trials", 400,
                 "--seed", 4, "--out", tmp_path, "--method", "simulate", "--workers", 1,
                 "--verbose")
    assert result.exit_code == 0, result.output
    lines = table_lines(result.output)
    assert lines[0] == "method: simulate (400 trials per scenario)"
    oc = json.loads((tmp_path / "summary.json").read_text())["scenarios"][0]["designs"]["3+3"]
    row = lines.index("S1 (true MTD: 4 mg, level 3)") + 1
    assert lines[row].split()[:2] == ["3+3", f"{oc['pcs']:.3f}"]
    errors = lines[row + 1].split()
    assert errors[:3] == [f"({oc['se'][k]:.3f})" for k in ("pcs", "select_none",
                                                           "select_above_mtd")]
    assert errors[4] == f"({oc['se']['n_mean']:.2f})"
    assert float(errors[0].strip("()")) == pytest.approx((0.3 * 0.7 / 400) ** 0.5, abs=0.01)
    assert "(...)       Monte Carlo standard error of the number above" in lines
    assert ("per dose: level 1 = 1 mg, level 2 = 2 mg, level 3 = 4 mg, level 4 = 8 mg, "
            "level 5 = 16 mg") in lines
    select = next(i for i, line in enumerate(lines) if line.startswith("S1         3+3  "))
    assert lines[select].split()[3:] == [f"{v:.3f}" for v in [*oc["select"], oc["select_none"]]]
    assert lines[select + 1].split() == [f"({v:.3f})" for v in [*oc["se"]["select"],
                                                               oc["se"]["select_none"]]]
    assert lines[select + 2].split()[2:] == [f"{v:.2f}" for v in oc["patients"]]
    plain = run(CONFIG, "--scenarios", SCENARIOS, "--designs", "3+3", "--trials", 400,
                "--seed", 4, "--out", tmp_path, "--method", "simulate", "--workers", 1)
    assert "per dose:" not in plain.output


def test_verbose_per_dose_table_aligns_long_scenario_names(tmp_path: Path) -> None:
    """A scenario name longer than 10 characters widens the scenario column: every number of
    the per-dose table (and its standard error) ends under its column's title."""
    scenarios = tmp_path / "long.toml"
    scenarios.write_text('[[scenario]]\nname = "S1"\np_true = [0.05, 0.15, 0.30, 0.45, 0.60]\n'
                         '[[scenario]]\nname = "steep-curve-at-dose-two"\n'
                         'p_true = [0.10, 0.30, 0.55, 0.70, 0.80]\n')
    result = run(CONFIG, "--scenarios", scenarios, "--designs", "3+3", "--trials", 200,
                 "--seed", 4, "--out", tmp_path / "out", "--method", "simulate", "--workers", 1,
                 "--verbose")
    assert result.exit_code == 0, result.output
    lines = table_lines(result.output)
    head = next(i for i, line in enumerate(lines) if line.startswith("scenario ")
                and "level 1" in line)
    assert lines[head].startswith("scenario                design ")  # the longest name
    ends = {m.end() for m in re.finditer(r"level \d|none", lines[head])}
    rows = [line for line in lines[head + 2:] if line.strip()]
    assert rows[0].startswith("S1                      3+3 ")
    assert any(line.startswith("steep-curve-at-dose-two 3+3 ") for line in rows)
    assert len(rows) == 12  # per scenario: 3+3 select, patients; optimal select; their errors
    for line in rows:
        numbers = [m.end() for m in re.finditer(r"\(?\d+\.\d+\)?", line)]
        assert len(numbers) >= 5 and set(numbers) <= ends, line
