"""Checks across fields and files (issue 18, item 5): combinations that were accepted silently
are refused with a one-line error naming the file and the key (exit 2), or, where the
combination is legitimate, named in a note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.blrm.recommendation import recommend
from bayesdose.errors import InputError
from bayesdose.schema import load_design

XJ = CONFIGS / "xj-mk-002.toml"
XJ_DATA = CONFIGS / "examples" / "xj-mk-002.csv"
SCENARIOS = CONFIGS / "scenarios" / "xj-mk-002.toml"


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def eighteen_patients(tmp_path: Path) -> Path:
    """Six cohorts of three at 1e8 without a DLT: two more patients than max_patients = 16."""
    rows = [f"P{i + 1},{i // 3 + 1},1e8,0" for i in range(18)]
    path = tmp_path / "eighteen.csv"
    path.write_text("patient_id,cohort,dose,dlt\n" + "\n".join(rows) + "\n")
    return path


def test_more_patients_than_max_patients_is_a_note_everywhere(tmp_path: Path) -> None:
    """Over-enrolment happens (a replaced patient, a cohort enrolled at once): the data are
    analysed, and the note says the trial passed its maximum sample size."""
    data = eighteen_patients(tmp_path)
    want = (f"the data ({data}) hold 18 patients, more than [stopping] max_patients = 16 of "
            f"{XJ}: the trial has enrolled past its maximum sample size")
    validated = run("validate", XJ, data)
    assert validated.exit_code == 0 and f"note: {want}" in validated.output
    recommended = run("recommend", XJ, data, "--json", tmp_path / "r.json")
    assert recommended.exit_code == 0, recommended.output
    assert f"note: {want}" in recommended.output
    assert "STOP (max patients)" in recommended.output
    notes = json.loads((tmp_path / "r.json").read_text())["notes"]
    assert any(note.startswith(want) for note in notes)
    three = run("recommend", XJ, data, "--design", "3+3")  # its own rule goes on
    assert three.exit_code == 0 and f"note: {want}" in three.output
    design = load_design(XJ)
    sixteen = read_trial_data(XJ_DATA, design)
    assert not any("max_patients" in n for n in recommend(design, sixteen).notes)


def test_a_point_target_outside_the_interval_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "xj.toml"
    config.write_text(XJ.read_text().replace("target = 0.25 ", "target = 0.40 "))
    result = run("validate", config)
    assert result.exit_code == 2
    assert result.output == (
        f"error: {config}, [decision] target: 0.4 is outside target_interval [0.16, 0.33): "
        "the BLRM aims at the interval while CRM, BOIN and the true MTD of simulations use the "
        "point target, so it must lie in the interval (the default target is 0.25)\n")


@pytest.mark.parametrize("value", ["yes", "Y", "true", "2", "0.5"])
def test_a_dlt_that_is_not_0_or_1_names_the_two_values(tmp_path: Path, value: str) -> None:
    data = tmp_path / "d.csv"
    data.write_text(f"patient_id,cohort,dose,dlt\nA,1,1e8,{value}\n")
    shown = value if value.isdecimal() else repr(value)
    with pytest.raises(InputError) as err:
        read_trial_data(data, load_design(XJ))
    assert str(err.value) == f"{data}, row 2, column 'dlt': expected 0 or 1, got {shown}"


@pytest.mark.parametrize("command", [
    ["recommend", XJ_DATA, XJ], ["validate", XJ_DATA, XJ],
    ["simulate", XJ_DATA, "--scenarios", SCENARIOS, "--out", "never"],
])
def test_data_given_first_is_named_as_data(command: list[object]) -> None:
    result = run(*command)
    assert result.exit_code == 2
    assert result.output == (
        f"error: {XJ_DATA}: this is trial data (a CSV), not a design config: give the design "
        "config (TOML) first, then the data, as in bayesdose recommend CONFIG DATA\n")
    assert not Path("never").exists()


def test_a_config_given_as_data_is_named_as_a_config() -> None:
    result = run("recommend", XJ, XJ)
    assert result.exit_code == 2
    assert result.output == (
        f"error: {XJ}: this is a design config (TOML), not trial data: give the design "
        "config first, then the data, as in bayesdose recommend CONFIG DATA\n")
    broken = run("validate", CONFIGS / "scenarios" / "xj-mk-002.toml", XJ)  # not trial data
    assert broken.exit_code == 2 and "not a design config" not in broken.output


@pytest.mark.parametrize("where", ["missing folder", "a file as folder"])
def test_a_plot_that_cannot_be_written_leaves_no_record(tmp_path: Path, where: str) -> None:
    """The plot's folder is checked before anything is computed: exit 2, no record, no JSON."""
    (tmp_path / "file").write_text("a file\n")
    folder = tmp_path / ("missing" if where == "missing folder" else "file")
    records, out = tmp_path / "records", tmp_path / "r.json"
    result = run("recommend", XJ, XJ_DATA, "--plot", folder / "p.png", "--record-dir", records,
                 "--json", out)
    assert result.exit_code == 2
    problem = f"no folder {folder}" if where == "missing folder" else f"{folder} is not a folder"
    assert result.output == f"error: {folder / 'p.png'}: cannot write the plot: {problem}\n"
    assert not records.exists() and not out.exists()


def test_a_plot_failing_while_written_leaves_no_record(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a plot that fails after the checks (a full disk) stops before the record."""
    import bayesdose.report.render as render

    def full_disk(path: Path, content: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(render, "atomic_write", full_disk)
    records = tmp_path / "records"
    result = run("recommend", XJ, XJ_DATA, "--plot", tmp_path / "p.png", "--record-dir", records)
    assert result.exit_code == 2
    assert "cannot write the plot: No space left on device" in result.output
    assert not records.exists() or not any(records.iterdir())
