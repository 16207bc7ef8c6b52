"""`bayesdose boundaries CONFIG` against R's BOIN 2.7.2 get.boundary
(tests/reference/boin/get_boundary.json, written by get_boundary.R next to it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.designs.boin.boundaries import boundaries_json, format_boundaries
from bayesdose.designs.boin.core import boundary_table
from bayesdose.schema import design_from_dict, load_design

REFERENCE = json.loads((Path(__file__).parent / "reference" / "boin" / "get_boundary.json")
                       .read_text())["cases"]


def protocol(target: float, size: int, max_patients: int, **boin: float):
    """A design whose get.boundary call is (target, max_patients / size, size, **boin)."""
    return design_from_dict({
        "doses": {"levels": [1, 2, 4, 8, 16], "reference": 4},
        "decision": {"target": target},
        "cohorts": {"size": size},
        "stopping": {"max_patients": max_patients},
        "designs": {"boin": boin},
    }, "protocol.toml")


XJ = load_design(CONFIGS / "xj-mk-002.toml")
CASES = {  # the reference case -> the protocol that makes that call
    "xj_mk_002_per_cohort": XJ,
    "standard_5dose": load_design(CONFIGS / "standard-5dose.toml"),
    "earlystop_12": protocol(0.3, 3, 30, n_earlystop=12),
    "cutoff_090": protocol(0.2, 2, 24, elimination_cutoff=0.9),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_json_is_get_boundary(case: str) -> None:
    ref, document = REFERENCE[case], boundaries_json(CASES[case])
    assert document["lambda_e"] == ref["lambda_e"] and document["lambda_d"] == ref["lambda_d"]
    assert document["boundary_tab"] == ref["boundary_tab"]
    if case != "xj_mk_002_per_cohort":  # (16 patients: the next test)
        assert document["full_boundary_tab"] == ref["full_boundary_tab"]


def test_sixteen_patients_in_cohorts_of_three_is_get_boundary_for_sixteen() -> None:
    """XJ-MK-002 takes 16 patients, not a multiple of 3: the full table runs to 16 as R's
    get.boundary(ncohort=16, cohortsize=1) gives it, the per-cohort one stops at 15."""
    document = boundaries_json(XJ)
    assert document["full_boundary_tab"] == REFERENCE["xj_mk_002_full"]["boundary_tab"]
    assert document["boundary_tab"]["n_patients"] == [3, 6, 9, 12, 15]


def test_deescalation_needs_a_rate_above_lambda_d_as_get_boundary() -> None:
    """p.tox chosen so that lambda_d = 1/3 to the last bit: 1 DLT in 3 is not above it, so
    get.boundary de-escalates from 2 (its round + 1 branch), not from ceiling(1) = 1."""
    ref = REFERENCE["tie_deescalation"]
    table = boundary_table(0.25, 12, p_tox=0.42430609056700125)
    assert table.lambda_d == ref["lambda_d"]
    assert list(table.deescalate) == ref["full_boundary_tab"]["deescalate_if_dlt_ge"]
    assert table.deescalate[2] == 2


def test_the_printed_tables_are_laid_out_as_r_prints_them() -> None:
    text = format_boundaries(XJ)
    # R: summary(get.boundary(target=0.25, ncohort=5, cohortsize=3)), the full table to 16
    assert """
This is equivalent to the following decision boundaries
Number of patients treated 3 6 9 12 15
Escalate if # of DLT <=    0 1 1  2  2
Deescalate if # of DLT >=  1 2 3  4  5
Eliminate if # of DLT >=   3 4 5  6  7

A more completed version of the decision boundaries is given by
Number of patients treated  1  2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
Escalate if # of DLT <=     0  0 0 0 0 1 1 1 1  1  2  2  2  2  2  3
Deescalate if # of DLT >=   1  1 1 2 2 2 3 3 3  3  4  4  4  5  5  5
Eliminate if # of DLT >=   NA NA 3 3 3 4 4 4 5  5  6  6  6  7  7  7
""" in text
    assert "<= 0.1968009 (lambda_e)" in text and "> 0.2983922 (lambda_d)" in text


def test_wide_tables_continue_in_blocks_as_r_wraps_them() -> None:
    """60 patients (the NBG example): R's console prints 18 cohorts, then the last 2."""
    text = format_boundaries(load_design(CONFIGS / "nbg-2008.toml"))
    assert ("Eliminate if # of DLT >=   3 4 5  6  7  8  9 10 11 12 13 14 15 16 16 17 18 19\n\n"
            "Number of patients treated 57 60\n") in text
    assert max(len(line) for line in text.splitlines()[5:]) < 80


def test_n_earlystop_ends_the_tables_and_is_said() -> None:
    text = format_boundaries(CASES["earlystop_12"])
    assert "Number of patients treated 3 6 9 12\n" in text
    assert "Stop when 12 patients at the current dose" in text


def test_cli_prints_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    result = CliRunner().invoke(main, ["boundaries", str(CONFIGS / "standard-5dose.toml"),
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Standard 5-dose design: BOIN boundaries for target 0.3, "
                                    "cohorts of 3, at most 30 patients")
    document = json.loads(out.read_text())
    assert document["boundary_tab"] == REFERENCE["standard_5dose"]["boundary_tab"]
    assert document["elimination_cutoff"] == 0.95 and document["n_earlystop"] == 100


def test_cli_refuses_an_unwritable_json_before_printing(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["boundaries", str(CONFIGS / "xj-mk-002.toml"),
                                       "--json", str(tmp_path / "missing" / "b.json")])
    assert result.exit_code == 2 and "cannot write the JSON output" in result.output
    assert "lambda_e" not in result.output


def test_a_target_boin_cannot_take_is_an_input_error(tmp_path: Path) -> None:
    """p.tox = 1.4 x 0.8 > 1: a clear error, for the table and for BOIN's step alike."""
    config = tmp_path / "high.toml"
    config.write_text((CONFIGS / "standard-5dose.toml").read_text()
                      .replace("target = 0.30", "target = 0.80")
                      .replace("target_interval = [0.20, 0.35]", "target_interval = [0.7, 0.9]"))
    data = tmp_path / "trial.csv"
    data.write_text("patient_id,cohort,dose,dlt\n1,1,1,0\n2,1,1,0\n3,1,1,0\n")
    for args in (["boundaries", str(config)],
                 ["recommend", str(config), str(data), "--design", "boin"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert ("[decision] target: BOIN needs a target below 1/1.4 = 0.714 (its p.tox is 1.4 "
                "times the target), got 0.8") in result.output
