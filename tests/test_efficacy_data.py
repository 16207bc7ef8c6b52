"""Efficacy in the trial data: the response column, [efficacy] assessment_days, and responses
shown by recommend beside a decision they do not change."""

import json
import tomllib
from datetime import date

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.data import read_trial_data, trial_data_from_frame
from bayesdose.designs.blrm.recommendation import recommend, to_json
from bayesdose.errors import InputError
from bayesdose.schema import design_from_dict, load_design
from bayesdose.simulation.chunks import design_sha256
from bayesdose.steps import step_on_data

XJ = CONFIGS / "xj-mk-002.toml"
XJ_EFFICACY = CONFIGS / "xj-mk-002-efficacy.toml"
RESPONSES = CONFIGS / "examples" / "xj-mk-002-dated-response.csv"
AS_OF = date(2025, 12, 1)
HEADER = "patient_id,cohort,dose,dlt,enrolled,dlt_day,followup_end,evaluable,response\n"


@pytest.fixture(scope="module")
def xj():
    return load_design(XJ_EFFICACY)


def write(tmp_path, rows, header=HEADER):
    path = tmp_path / "data.csv"
    path.write_text(header + "".join(r + "\n" for r in rows))
    return path


def without_response(path, tmp_path):
    """The same trial data without its response column."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns="response")
    out = tmp_path / "no-response.csv"
    frame.to_csv(out, index=False)
    return out


def test_the_example_counts_responses_per_dose(xj):
    data = read_trial_data(RESPONSES, xj, AS_OF)
    np.testing.assert_array_equal(data.responses, [0, 2, 2])
    np.testing.assert_array_equal(data.assessed, [1, 3, 2])
    assert [p.patient_id for p in data.not_assessed] == ["XJ-07"]
    assert data.response_counts(2) == {"responses": 2, "assessed": 2}
    np.testing.assert_array_equal(data.n, [1, 3, 3])  # the toxicity counts as before
    np.testing.assert_array_equal(data.dlt, [0, 0, 1])


def test_without_the_column_there_are_no_response_counts(xj):
    data = read_trial_data(CONFIGS / "examples" / "xj-mk-002.csv", xj)
    assert not data.has_responses and data.response_counts(0) == {} and data.not_assessed == []


def test_undated_data_take_a_response_column(xj, tmp_path):
    path = write(tmp_path, ["A,1,1e8,0,1", "B,2,3e8,1,", "C,2,3e8,0,0"],
                 "patient_id,cohort,dose,dlt,response\n")
    data = read_trial_data(path, xj)
    np.testing.assert_array_equal(data.responses, [1, 0, 0])
    np.testing.assert_array_equal(data.assessed, [1, 1, 0])


def test_a_column_with_no_response_yet_counts_zero_of_zero(xj, tmp_path):
    path = write(tmp_path, ["A,1,1e8,0,"], "patient_id,cohort,dose,dlt,response\n")
    data = read_trial_data(path, xj)
    assert data.has_responses and data.response_counts(0) == {"responses": 0, "assessed": 0}


def test_a_patient_not_evaluable_for_dlt_still_counts_its_response(xj, tmp_path):
    path = write(tmp_path, ["A,1,1e8,0,2025-01-01,,2025-01-29,1,0",
                            "B,1,1e8,0,2025-01-02,,2025-01-20,0,1"])
    data = read_trial_data(path, xj, date(2025, 2, 1))
    assert data.n[0] == 1 and data.response_counts(0) == {"responses": 1, "assessed": 2}


@pytest.mark.parametrize("cell", ["yes", "2", "-1", "0.5", "1 1"])
def test_a_response_other_than_0_or_1_is_refused(xj, tmp_path, cell):
    path = write(tmp_path, [f"A,1,1e8,0,{cell}"], "patient_id,cohort,dose,dlt,response\n")
    with pytest.raises(InputError) as err:
        read_trial_data(path, xj)
    assert str(err.value) == (f"{path}, row 2, column 'response': expected 0 or 1 (empty while "
                              f"not yet assessed), got {cell!r}")


def test_a_response_before_its_assessment_day_is_an_error(xj, tmp_path):
    path = write(tmp_path, ["A,1,1e8,0,2025-01-01,,,1,1"])
    assert read_trial_data(path, xj, date(2025, 1, 8)).responses[0] == 1  # day 7: known
    with pytest.raises(InputError) as err:
        read_trial_data(path, xj, date(2025, 1, 7))  # day 6 of 7
    assert err.value.where == "row 2, column 'response'"
    assert "recorded 6 day(s) after dosing" in err.value.problem
    assert "[efficacy] assessment_days = 7" in err.value.problem


def test_without_an_assessment_day_a_response_counts_when_recorded(tmp_path):
    design = load_design(XJ)  # no [efficacy]: assessment_days = 0
    path = write(tmp_path, ["A,1,1e8,0,2025-01-01,,,1,1"])
    assert read_trial_data(path, design, date(2025, 1, 1)).responses[0] == 1


def test_aggregated_data_have_no_response_column(xj, tmp_path):
    path = write(tmp_path, ["1e8,3,0,1"], "dose,n,dlt,response\n")
    with pytest.raises(InputError, match="unexpected column 'response'"):
        read_trial_data(path, xj)


def test_a_data_frame_reads_missing_responses_as_not_assessed(xj):
    frame = pd.DataFrame({"patient_id": ["A", "B"], "cohort": [1, 2], "dose": [1e8, 3e8],
                          "dlt": [0, 0], "response": [1.0, float("nan")]})
    data = trial_data_from_frame(frame, xj)
    np.testing.assert_array_equal(data.assessed, [1, 0, 0])


def test_responses_change_no_blrm_decision(xj, tmp_path):
    with_column = recommend(xj, read_trial_data(RESPONSES, xj, AS_OF))
    without = recommend(xj, read_trial_data(without_response(RESPONSES, tmp_path), xj, AS_OF))
    a, b = to_json(with_column), to_json(without)
    for entry in a["doses"]:
        entry.pop("responses"), entry.pop("assessed")
    assert a == b
    assert a["next_dose"] == 3e8  # de-escalate from 6e8 (EWOC)


@pytest.mark.parametrize("name", ["boin", "3+3", "crm"])
def test_responses_change_no_rule_decision(xj, tmp_path, name):
    with_column = step_on_data(name, xj, read_trial_data(RESPONSES, xj, AS_OF)).document
    without = step_on_data(name, xj, read_trial_data(without_response(RESPONSES, tmp_path), xj,
                                                     AS_OF)).document
    assert [e.pop("responses") for e in with_column["doses"]] == [0, 2, 2]
    assert [e.pop("assessed") for e in with_column["doses"]] == [1, 3, 2]
    assert with_column.pop("obd")["dose"] == 3e8  # beside the decision (test_backfill_recommend)
    assert with_column == without


def test_recommend_shows_responses_in_its_table_and_json(tmp_path):
    out = tmp_path / "rec.json"
    result = CliRunner().invoke(main, ["recommend", str(XJ_EFFICACY), str(RESPONSES),
                                       "--as-of", "2025-12-01", "--json", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:5] == ["dose", "(viable", "cells)", "n", "DLT"]
    assert lines[1].split()[5] == "responses"
    assert [line.split()[3] for line in lines[2:5]] == ["0/1", "2/3", "2/2"]
    assert lines[5] == ("responses = responders / patients assessed; a response is known 7 "
                        "days after dosing ([efficacy] assessment_days = 7); not yet assessed: "
                        "XJ-07; responses change no toxicity decision")
    doses = json.loads(out.read_text())["doses"]
    assert [(d["responses"], d["assessed"]) for d in doses] == [(0, 1), (2, 3), (2, 2)]


def test_recommend_without_responses_shows_no_column():
    result = CliRunner().invoke(main, ["recommend", str(XJ), str(CONFIGS / "examples" /
                                                                   "xj-mk-002.csv")])
    assert "responses" not in result.output


def test_another_design_shows_the_responses_column():
    result = CliRunner().invoke(main, ["recommend", str(XJ_EFFICACY), str(RESPONSES),
                                       "--as-of", "2025-12-01", "--design", "3+3"])
    assert result.exit_code == 0, result.output
    table = [line.split() for line in result.output.splitlines() if line.strip().startswith(
        ("1x10^8", "3x10^8", "6x10^8"))]
    assert [row[3] for row in table] == ["0/1", "2/3", "2/2"]


def test_a_bad_response_exits_2(tmp_path):
    path = write(tmp_path, ["A,1,1e8,0,yes"], "patient_id,cohort,dose,dlt,response\n")
    result = CliRunner().invoke(main, ["recommend", str(XJ), str(path)])
    assert result.exit_code == 2
    assert "row 2, column 'response': expected 0 or 1" in result.output


def test_validate_counts_responses():
    result = CliRunner().invoke(main, ["validate", str(XJ_EFFICACY), str(RESPONSES),
                                       "--as-of", "2025-12-01"])
    assert result.output.splitlines()[-1].endswith("7 patients, 1 DLT, 4 response(s) of 6 "
                                                   "assessed")


@pytest.mark.parametrize(("efficacy", "where", "problem"), [
    ({"assessment_days": -1}, "[efficacy] assessment_days", "between 0 and 365"),
    ({"assessment_days": 400}, "[efficacy] assessment_days", "between 0 and 365"),
    ({"response": {"endpoint": "count"}}, "[efficacy.response] endpoint", "expected one of"),
    ({"response": {"time": "7"}}, "[efficacy.response] time", "such as '1h'"),
    ({"response": {"time": "0h"}}, "[efficacy.response] time", "within a year"),
    ({"response": {"time": "366d"}}, "[efficacy.response] time", "within a year"),
    ({"response": {"time": "7 d"}}, "[efficacy.response] time", "such as '1h'"),
    ({"response": {"threshold": "10"}}, "[efficacy.response] threshold", "expected a number"),
    ({"response": {"when": "7d"}}, "[efficacy.response] when", "unknown key"),
])
def test_bad_efficacy_settings_are_refused(efficacy, where, problem):
    raw = {"doses": {"levels": [1, 2, 4]}, "efficacy": efficacy}
    with pytest.raises(InputError) as err:
        design_from_dict(raw, "test.toml")
    assert err.value.where == where and problem in err.value.problem


def test_efficacy_is_hashed_only_when_set(xj):
    registered = load_design(XJ)
    raw = tomllib.loads(XJ.read_text())
    assert design_sha256(registered) == design_sha256(
        design_from_dict({**raw, "efficacy": {}}, str(XJ)))
    assert design_sha256(xj) != design_sha256(registered)


@pytest.mark.parametrize("name", ["blrm", "boin"])
def test_decision_pages_show_responses_in_a_real_browser(browser, tmp_path, name):
    page, js = tmp_path / "decision.html", tmp_path / "decision.json"
    result = CliRunner().invoke(main, ["recommend", str(XJ_EFFICACY), str(RESPONSES),
                                       "--as-of", "2025-12-01", "--design", name,
                                       "--html", str(page), "--json", str(js)])
    assert result.exit_code == 0, result.output
    doses = json.loads(js.read_text())["doses"]
    browser.get(page.as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    headers = browser.execute_script(
        "return [...document.querySelectorAll('thead th')].map(th => th.innerText)")
    assert headers[3].lower() == "responses"
    shown = browser.execute_script("""return [...document.querySelectorAll(
        'td[data-key="responses"]')].map(td => td.innerText)""")
    assert shown == [f"{d['responses']}/{d['assessed']}" for d in doses] == ["0/1", "2/3", "2/2"]
    text = browser.execute_script("return document.body.innerText")
    assert "not yet assessed: XJ-07" in text
