"""Dated trial data: follow-up weights as of a date, pending patients, and bad dates."""

import json
from datetime import date

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.blrm.recommendation import recommend
from bayesdose.errors import InputError
from bayesdose.schema import design_from_dict, load_design

XJ = CONFIGS / "xj-mk-002.toml"
DATED = CONFIGS / "examples" / "xj-mk-002-dated.csv"
HEADER = "patient_id,cohort,dose,dlt,enrolled,dlt_day,followup_end,evaluable\n"


@pytest.fixture
def xj():
    return load_design(XJ)


def write(tmp_path, rows):
    path = tmp_path / "dated.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_weights_pending_and_excluded(xj):
    data = read_trial_data(DATED, xj, date(2025, 11, 3))
    np.testing.assert_array_equal(data.n, [1, 3, 0])  # XJ-05 is not evaluable
    assert [p.patient_id for p in data.excluded] == ["XJ-05"]
    (pending,) = data.pending_patients
    assert (pending.patient_id, pending.days_followed) == ("XJ-04", 14)
    assert data.pending[1, 14] == 1 and data.pending.sum() == 1
    np.testing.assert_array_equal(data.complete, [1, 2, 0])


def test_a_later_date_completes_follow_up(xj):
    data = read_trial_data(DATED, xj, date(2025, 11, 17))  # XJ-04: 28 days
    assert data.pending.sum() == 0 and data.pending_patients == []


def test_pending_patient_changes_the_posterior_by_its_weight(xj, tmp_path):
    path = write(tmp_path, ["A,1,1e8,0,2025-01-01,,2025-01-29,1", "B,2,3e8,1,2025-02-01,5,,1",
                            "C,2,3e8,0,2025-02-02,,,1"])
    early = recommend(xj, read_trial_data(path, xj, date(2025, 2, 8)))  # C: 6 days
    late = recommend(xj, read_trial_data(path, xj, date(2025, 3, 8)))  # C complete
    # more follow-up without a DLT lowers the estimated DLT rate at 3e8
    assert late.summary["mean"].values[1] < early.summary["mean"].values[1]


def test_complete_followup_mode_leaves_pending_patients_out(xj, tmp_path):
    raw = {"doses": {"levels": [1e8, 3e8, 6e8], "reference": 3e8},
           "model": {"prior_mean": list(xj.prior.mean), "prior_sd": list(xj.prior.sd)},
           "cohorts": {"dlt_window_days": 28, "followup": "complete", "start_dose": 1e8}}
    design = design_from_dict(raw)
    dated = recommend(design, read_trial_data(DATED, design, date(2025, 11, 3)))
    plain_rows = "patient_id,cohort,dose,dlt\nXJ-01,1,1e8,0\nXJ-02,2,3e8,0\nXJ-03,2,3e8,1\n"
    (tmp_path / "plain.csv").write_text(plain_rows)
    plain = recommend(design, read_trial_data(tmp_path / "plain.csv", design))
    np.testing.assert_allclose(dated.summary["p_overdose"], plain.summary["p_overdose"])
    assert any("not yet counted" in note for note in dated.notes)


def test_escalation_to_an_untried_dose_waits_for_complete_follow_up(xj, tmp_path):
    path = write(tmp_path, ["A,1,1e8,0,2025-01-01,,,1"])
    waiting = recommend(xj, read_trial_data(path, xj, date(2025, 1, 20)))  # 19 days
    assert waiting.decision.barred_by[1] == "followup"
    assert waiting.decision.next_level == 0
    done = recommend(xj, read_trial_data(path, xj, date(2025, 1, 29)))  # 28 days
    assert done.decision.barred_by[1] is None and done.decision.next_level == 1


@pytest.mark.parametrize(
    ("rows", "where", "problem"),
    [
        (["A,1,1e8,1,2025-01-01,30,,1"], "column 'dlt_day'", "after the 28-day DLT window"),
        (["A,1,1e8,1,2025-01-01,-2,,1"], "column 'dlt_day'", "whole number >= 0"),
        (["A,1,1e8,1,2025-01-01,,,1"], "column 'dlt_day'", "a DLT needs its day"),
        (["A,1,1e8,0,2025-01-01,3,,1"], "column 'dlt_day'", "dlt is 0"),
        (["A,1,1e8,1,2025-01-25,10,,1"], "column 'dlt_day'", "after --as-of"),
        (["A,1,1e8,0,2025-03-01,,,1"], "column 'enrolled'", "after --as-of"),
        (["A,1,1e8,0,2025/01/01,,,1"], "column 'enrolled'", "YYYY-MM-DD"),
        (["A,1,1e8,0,2025-01-05,,2025-01-01,1"], "column 'followup_end'", "before dosing"),
        (["A,1,1e8,0,2025-01-05,,2025-03-01,1"], "column 'followup_end'", "after --as-of"),
        (["A,1,1e8,0,2025-01-05,,,2"], "column 'evaluable'", "expected 0 or 1"),
    ],
)
def test_bad_dates(xj, tmp_path, rows, where, problem):
    path = write(tmp_path, rows)
    with pytest.raises(InputError) as err:
        read_trial_data(path, xj, date(2025, 2, 1))
    assert f"row 2, {where}" in str(err.value) and problem in str(err.value)


def test_dates_need_as_of_and_a_window(tmp_path, xj):
    path = write(tmp_path, ["A,1,1e8,0,2025-01-01,,,1"])
    with pytest.raises(InputError, match="needs --as-of"):
        read_trial_data(path, xj)
    no_window = design_from_dict({"doses": {"levels": [1e8, 3e8]}})
    with pytest.raises(InputError, match="dlt_window_days"):
        read_trial_data(path, no_window, date(2025, 2, 1))


def test_cli_as_of_json_and_record(tmp_path):
    out, records = tmp_path / "rec.json", tmp_path / "records"
    result = CliRunner().invoke(main, ["recommend", str(XJ), str(DATED), "--as-of",
                                       "2025-11-03", "--json", str(out), "--record-dir",
                                       str(records)])
    assert result.exit_code == 0, result.output
    assert "pending: XJ-04 at 3x10^8 viable cells, 14 of 28 days" in result.output
    doc = json.loads(out.read_text())
    assert doc["as_of"] == "2025-11-03" and doc["excluded"] == ["XJ-05"]
    assert doc["pending"] == [{"patient_id": "XJ-04", "dose": 3e8, "days_followed": 14,
                               "weight": 0.5}]
    (record,) = records.glob("*.json")
    assert json.loads(record.read_text())["pending"][0]["patient_id"] == "XJ-04"
    missing = CliRunner().invoke(main, ["recommend", str(XJ), str(DATED)])
    assert missing.exit_code == 2 and "needs --as-of" in missing.output
