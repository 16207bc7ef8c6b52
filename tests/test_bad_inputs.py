"""Inputs that crashed, hung or were misread (issue 19, item 4): each is now refused with a
one-line error naming the file and the key or row, or read as meant."""

from __future__ import annotations

import os
import signal
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose import input_files
from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.blrm.crosscheck import comparison
from bayesdose.designs.registry import parse_design_names
from bayesdose.errors import InputError
from bayesdose.historical import read_historical
from bayesdose.input_files import read_input
from bayesdose.schema import design_from_dict, load_design
from bayesdose.simulation.scenarios import load_scenarios, scenarios_from_dict

STANDARD = CONFIGS / "standard-5dose.toml"
SCENARIOS = CONFIGS / "scenarios" / "standard-5dose.toml"
DATA = "patient_id,cohort,dose,dlt\n1,1,1,0\n2,1,1,0\n3,1,1,0\n"


@pytest.fixture
def standard():
    return load_design(STANDARD)


@pytest.fixture
def no_hang():
    """Fail instead of blocking forever (a FIFO that is never written)."""
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("blocked on the input"))
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def odd_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of path that is not a readable regular file, and the words refusing it."""
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    (tmp_path / "README.md").write_text("a file, not a folder\n")
    os.mkfifo(tmp_path / "fifo.csv")
    return {
        "symlink loop": (tmp_path / "loop-a", "(ELOOP)"),
        "path through a file": (tmp_path / "README.md" / "x.csv", "(ENOTDIR)"),
        "name over 255 bytes": (tmp_path / ("x" * 300 + ".csv"), "(ENAMETOOLONG)"),
        "device": (Path("/dev/zero"), "a character device, not a regular file"),
        "FIFO": (tmp_path / "fifo.csv", "a FIFO (named pipe), not a regular file"),
        "folder": (tmp_path, "a folder, not a regular file"),
    }


def test_every_odd_path_is_refused_before_reading(tmp_path, no_hang):
    for kind, (path, words) in odd_paths(tmp_path).items():
        with pytest.raises(InputError) as err:
            read_input(path)
        assert str(err.value) == f"{path}: {words}" or (
            str(err.value).startswith(f"{path}: cannot read the file: ")
            and str(err.value).endswith(words)), kind


@pytest.mark.parametrize("kind", ["symlink loop", "path through a file", "name over 255 bytes",
                                  "device", "FIFO"])
def test_the_command_line_refuses_odd_paths_everywhere(tmp_path, no_hang, kind):
    """As data, as the config, as scenarios and as historical data: exit 2, one line."""
    path, words = odd_paths(tmp_path)[kind]
    data = tmp_path / "data.csv"
    data.write_text(DATA)
    runs = [["validate", str(STANDARD), str(path)], ["validate", str(path)],
            ["simulate", str(STANDARD), "--scenarios", str(path), "--out",
             str(tmp_path / "sim")]]
    config = tmp_path / "map.toml"
    config.write_text(f'[doses]\nlevels = [1, 2]\n[model]\nprior = "map"\n'
                      f'[historical]\ndata = "{path}"\n')
    runs.append(["validate", str(config)])
    for args in runs:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and words in lines[0] and str(path) in lines[0], args


def test_a_file_over_the_size_limit_is_refused(tmp_path, monkeypatch, standard):
    data = tmp_path / "data.csv"
    data.write_text(DATA)
    monkeypatch.setattr(input_files, "MAX_INPUT_BYTES", len(DATA) - 1)
    with pytest.raises(InputError, match="larger than"):
        read_trial_data(data, standard)
    with pytest.raises(InputError, match="larger than"):
        read_historical(data)
    monkeypatch.setattr(input_files, "MAX_INPUT_BYTES", len(DATA))
    assert read_trial_data(data, standard).total_patients == 3


def test_verify_records_reports_a_fifo_as_unreadable(tmp_path, no_hang):
    os.mkfifo(tmp_path / "x.json")
    result = CliRunner().invoke(main, ["verify-records", str(tmp_path)])
    assert result.exit_code == 1 and "unreadable" in result.output and "FIFO" in result.output


@pytest.mark.parametrize(("cell", "column"), [("1_6", "dose"), ("0_1", "dlt"),
                                               ("1_0", "cohort")])
def test_numbers_with_underscores_are_refused(tmp_path, standard, cell, column):
    """Python's int() and float() read 1_6 as 16 and 0_1 as 1."""
    row = {"dose": "1", "dlt": "0", "cohort": "1"} | {column: cell}
    path = tmp_path / "data.csv"
    path.write_text(f"patient_id,cohort,dose,dlt\n1,{row['cohort']},{row['dose']},{row['dlt']}\n")
    with pytest.raises(InputError, match=f"row 2, column '{column}': expected .*'{cell}'"):
        read_trial_data(path, standard)
    path.write_text(f"dose,n,dlt\n{row['dose']},3,{row['dlt']}\n")
    if column != "cohort":
        with pytest.raises(InputError, match=f"column '{column}'"):
            read_trial_data(path, standard)


def test_doses_the_matching_cannot_tell_apart_are_refused():
    with pytest.raises(InputError, match=r"\[doses\] levels: doses 1 and 1.0000005 are too "
                       r"close"):
        design_from_dict({"doses": {"levels": [1, 1.0000005, 4, 8, 16]}})
    with pytest.raises(InputError, match="too close"):
        design_from_dict({"doses": {"levels": [3e8, 3.000003e8]}})
    # apart by more than twice the tolerance: each dose is matched to its own level
    design = design_from_dict({"doses": {"levels": [1, 1.0000021, 4]}})
    assert [design.panel.index(d) for d in (1, 1.0000021, 4)] == [0, 1, 2]


def test_a_toml_byte_order_mark_is_dropped_as_in_csv(tmp_path):
    config = tmp_path / "bom.toml"
    config.write_bytes(b"\xef\xbb\xbf" + STANDARD.read_bytes())
    assert load_design(config).levels == (1, 2, 4, 8, 16)
    scenarios = tmp_path / "scenarios.toml"
    scenarios.write_bytes(b"\xef\xbb\xbf" + SCENARIOS.read_bytes())
    assert len(load_scenarios(scenarios, 5)) == 7


@pytest.mark.parametrize("name", ["Trial\nerror: forged", "A\rB", "\x1b[31mred", "A\u2028B"])
def test_unprintable_strings_are_refused(tmp_path, standard, name):
    with pytest.raises(InputError, match=r"\[trial\] name: a (control character|line "
                       r"separator) U\+"):
        design_from_dict({"trial": {"name": name}, "doses": {"levels": [1, 2]}})
    with pytest.raises(InputError, match=r"\[doses\] unit"):
        design_from_dict({"doses": {"levels": [1, 2], "unit": name}})
    with pytest.raises(InputError, match="name: a "):
        scenarios_from_dict({"scenario": [{"name": name, "p_true": [0.1] * 5}]}, 5, "s.toml")
    path = tmp_path / "data.csv"
    path.write_text('patient_id,cohort,dose,dlt\n"' + name + '",1,1,0\n', newline="")
    with pytest.raises(InputError, match="row 2, column 'patient_id': a "):
        read_trial_data(path, standard)


def test_the_trial_name_cannot_forge_output_lines(tmp_path):
    config = tmp_path / "forged.toml"
    config.write_text('[trial]\nname = "X\\nerror: forged line"\n[doses]\nlevels = [1, 2]\n')
    result = CliRunner().invoke(main, ["validate", str(config)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "[trial] name" in result.stderr


def test_a_design_named_twice_is_refused():
    with pytest.raises(InputError, match="--designs, 'blrm': the design is named twice"):
        parse_design_names("blrm,blrm")
    with pytest.raises(InputError, match="named twice"):
        parse_design_names("3+3, crm,3+3")
    with pytest.raises(InputError, match=r"'a\\nb': unknown design"):
        parse_design_names("a\nb")  # quoted, so it cannot forge a line


def _summary(values: dict[str, list[float]]) -> xr.Dataset:
    return xr.Dataset({k: ("dose", np.array(v, float)) for k, v in values.items()})


def test_difference_in_mcse_ignores_degenerate_mcse():
    """No draw in the overdosing interval: MCMC's P(overdose) 0 with MCSE 0 against an exact
    1.2e-4 was reported as 119,731,133 MCSE (an MCSE floor of 1e-12)."""
    names = ["mean", "p_underdose", "p_target", "p_overdose"]
    exact = _summary({"mean": [0.05, 0.10], "p_underdose": [0.9, 0.8], "p_target": [0.1, 0.2],
                      "p_overdose": [1.2e-4, 0.0]})
    mcmc = _summary({"mean": [0.05, 0.11], "p_underdose": [0.9, 0.8], "p_target": [0.1, 0.2],
                     "p_overdose": [0.0, 0.0]} | {f"mcse_{n}": [0.0, 0.0] for n in names}
                    | {"mcse_mean": [0.002, 0.004]})
    result = comparison(exact, mcmc)
    assert result["max_difference_in_mcse"] == pytest.approx(0.01 / 0.004)
    assert result["max_abs_difference"] == pytest.approx(0.01)
    assert result["agree"]  # 0.01 <= 4 x 0.004 + 0.002; 1.2e-4 <= 0 + 0.002
    none = comparison(exact, mcmc.assign(mcse_mean=("dose", [0.0, 0.0])))
    assert none["max_difference_in_mcse"] is None
    assert not none["agree"]  # a difference of 0.01 with an MCSE of 0 is beyond the floor
    assert none["disagreements"] == [{"variable": "mean", "dose": 1.0, "exact": 0.10,
                                      "mcmc": 0.11, "mcse": 0.0,
                                      "difference": pytest.approx(0.01)}]


HEADER = "patient_id,cohort,dose,dlt,enrolled,dlt_day,followup_end\n"


def test_a_dlt_after_follow_up_ended_is_refused(tmp_path):
    xj = load_design(CONFIGS / "xj-mk-002.toml")
    path = tmp_path / "dated.csv"
    path.write_text(HEADER + "A,1,1e8,1,2025-01-01,20,2025-01-05\n")
    with pytest.raises(InputError, match="row 2, column 'dlt_day': day 20 after dosing is "
                       r"after follow-up ended on 2025-01-05 \(day 4\)"):
        read_trial_data(path, xj, date(2025, 2, 1))
    path.write_text(HEADER + "A,1,1e8,1,2025-01-01,4,2025-01-05\n")
    assert read_trial_data(path, xj, date(2025, 2, 1)).dlt[0] == 1


@pytest.mark.parametrize("column", ["dlt_day", "followup_end"])
def test_date_columns_need_enrolled(tmp_path, standard, column):
    path = tmp_path / "data.csv"
    path.write_text(f"patient_id,cohort,dose,dlt,{column}\n1,1,1,0,\n")
    with pytest.raises(InputError, match=f"column '{column}': the date columns need "
                       "'enrolled'"):
        read_trial_data(path, standard)
    path.write_text("patient_id,cohort,dose,dlt,evaluable\n1,1,1,0,0\n")  # fine without dates
    assert read_trial_data(path, standard).total_patients == 0


def test_a_count_too_large_for_the_arrays_is_refused(tmp_path, standard):
    """Found by the fuzz harness: a 400-digit n overflowed the count arrays (OverflowError)."""
    path = tmp_path / "data.csv"
    path.write_text(f"dose,n,dlt\n4,{'9' * 400},0\n")
    with pytest.raises(InputError, match="row 2, column 'n': 400-digit count: expected at "
                       "most 1,000,000"):
        read_trial_data(path, standard)
    path.write_text("dose,n,dlt\n4,1000000,0\n")
    assert read_trial_data(path, standard).total_patients == 1_000_000
