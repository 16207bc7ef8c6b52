"""recommend --design: the other designs' next step on real trial data."""

import json
from datetime import date

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.crm.core import crm_posterior, getprior
from bayesdose.errors import InputError
from bayesdose.steps import next_step
from bayesdose.schema import load_design

XJ = CONFIGS / "xj-mk-002.toml"
DATA = CONFIGS / "examples" / "xj-mk-002.csv"
DATED = CONFIGS / "examples" / "xj-mk-002-dated.csv"


@pytest.fixture
def xj():
    return load_design(XJ)


def test_three_plus_three_adds_three_after_one_dlt_in_three(xj):
    step = next_step("3+3", xj, read_trial_data(DATA, xj))
    assert (step["next_dose"], step["cohort_size"], step["stop"]) == (3e8, 3, False)


def test_boin_de_escalates_after_one_dlt_in_three_at_target_025(xj):
    # BOIN's de-escalation boundary for target 0.25 is 0.298 < 1/3
    assert next_step("boin", xj, read_trial_data(DATA, xj))["next_dose"] == 1e8


def test_crm_reports_dfcrm_estimate_and_plug_in_probabilities(xj):
    step = next_step("crm", xj, read_trial_data(DATA, xj))
    skeleton = getprior(0.05, 0.25, 2, 3)
    fit = crm_posterior(skeleton, [1, 2, 2, 2], [0, 0, 0, 1], 0.25)
    assert step["estimate"] == pytest.approx(fit.estimate, abs=1e-12)
    assert [d["p_dlt"] for d in step["doses"]] == pytest.approx(list(fit.ptox), abs=1e-12)
    assert step["next_dose"] == 3e8  # 0.290 is closest to 0.25, no escalation after a DLT


def test_tite_crm_weights_the_pending_patient(xj):
    data = read_trial_data(DATED, xj, date(2025, 11, 3))
    step = next_step("crm", xj, data)
    skeleton = getprior(0.05, 0.25, 2, 3)
    fit = crm_posterior(skeleton, [1, 2, 2, 2], [0, 0, 1, 0], 0.25, weights=[1, 1, 1, 0.5])
    assert step["estimate"] == pytest.approx(fit.estimate, abs=1e-12)


def test_rule_based_designs_wait_for_pending_patients(xj):
    step = next_step("3+3", xj, read_trial_data(DATED, xj, date(2025, 11, 3)))
    assert step["wait"] and step["next_dose"] is None and not step["stop"]
    done = next_step("3+3", xj, read_trial_data(DATED, xj, date(2025, 11, 17)))
    assert not done["wait"] and done["next_dose"] == 3e8


def test_aggregated_counts_are_rejected(xj, tmp_path):
    path = tmp_path / "agg.csv"
    path.write_text("dose,n,dlt\n1e8,1,0\n")
    with pytest.raises(InputError, match="patient-level data"):
        next_step("boin", xj, read_trial_data(path, xj))


def test_cli_design_option_writes_json(tmp_path):
    out = tmp_path / "crm.json"
    result = CliRunner().invoke(main, ["recommend", str(XJ), str(DATA), "--design", "crm",
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["design"] == "crm" and "estimate" in doc and "p_dlt" in doc["doses"][0]
    assert len(doc["inputs"]["data_sha256"]) == 64


def test_each_step_says_why_in_words(xj):
    data = read_trial_data(DATA, xj)  # 1 at 1e8, then 1 DLT in 3 at 3e8
    three = next_step("3+3", xj, data)["explanation"]
    assert three.startswith("1 of 3 patient(s) at 3e+08 viable cells")
    assert three.endswith(": 3 more at 3e+08 viable cells (1/3: three more)")
    boin = next_step("boin", xj, data)["explanation"]
    # target 0.25: lambda_e = 0.197, lambda_d = 0.298; elimination at 3/3 (P(p > 0.25) = 0.98)
    assert boin.endswith("de-escalate to 1e+08 viable cells (BOIN with 3 patient(s) there: "
                         "escalate at <= 0 DLTs, de-escalate at >= 1, eliminate at >= 3)")
    assert "closest to the target 0.25" in next_step("crm", xj, data)["explanation"]


def test_the_words_follow_the_start_and_a_stop(xj, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("patient_id,cohort,dose,dlt\n")
    start = next_step("3+3", xj, read_trial_data(empty, xj))
    assert start["explanation"] == "no patients yet: 3+3 starts at 1e+08 viable cells"
    toxic = tmp_path / "toxic.csv"
    toxic.write_text("patient_id,cohort,dose,dlt\n1,1,1e8,0\n2,2,3e8,1\n3,2,3e8,1\n4,2,3e8,0\n"
                     "5,3,1e8,0\n6,3,1e8,0\n7,3,1e8,0\n")
    step = next_step("3+3", xj, read_trial_data(toxic, xj))
    assert step["stop"] and step["mtd"] == 1e8
    assert step["explanation"] == (
        "0 of 4 patient(s) at 1e+08 viable cells, the last cohort's dose, have had a DLT: stop "
        "(mtd_declared), MTD 1e+08 viable cells (0/4: escalate, or declare this dose once the "
        "dose above was too toxic)")
