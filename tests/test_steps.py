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
from bayesdose.schema import load_design
from bayesdose.steps import step_document

XJ = CONFIGS / "xj-mk-002.toml"
DATA = CONFIGS / "examples" / "xj-mk-002.csv"
DATED = CONFIGS / "examples" / "xj-mk-002-dated.csv"


@pytest.fixture
def xj():
    return load_design(XJ)


def test_three_plus_three_adds_three_after_one_dlt_in_three(xj):
    step = step_document("3+3", xj, read_trial_data(DATA, xj))
    assert (step["next_dose"], step["cohort_size"], step["stop"]) == (3e8, 3, False)


def test_boin_de_escalates_after_one_dlt_in_three_at_target_025(xj):
    # BOIN's de-escalation boundary for target 0.25 is 0.298 < 1/3
    assert step_document("boin", xj, read_trial_data(DATA, xj))["next_dose"] == 1e8


def test_crm_reports_dfcrm_estimate_and_plug_in_probabilities(xj):
    step = step_document("crm", xj, read_trial_data(DATA, xj))
    skeleton = getprior(0.05, 0.25, 2, 3)
    fit = crm_posterior(skeleton, [1, 2, 2, 2], [0, 0, 0, 1], 0.25)
    assert step["estimate"] == pytest.approx(fit.estimate, abs=1e-12)
    assert [d["p_dlt"] for d in step["doses"]] == pytest.approx(list(fit.ptox), abs=1e-12)
    assert step["next_dose"] == 3e8  # 0.290 is closest to 0.25, no escalation after a DLT


def test_tite_crm_weights_the_pending_patient(xj):
    data = read_trial_data(DATED, xj, date(2025, 11, 3))
    step = step_document("crm", xj, data)
    skeleton = getprior(0.05, 0.25, 2, 3)
    fit = crm_posterior(skeleton, [1, 2, 2, 2], [0, 0, 1, 0], 0.25, weights=[1, 1, 1, 0.5])
    assert step["estimate"] == pytest.approx(fit.estimate, abs=1e-12)


def test_rule_based_designs_wait_for_pending_patients(xj):
    step = step_document("3+3", xj, read_trial_data(DATED, xj, date(2025, 11, 3)))
    assert step["wait"] and step["next_dose"] is None and not step["stop"]
    done = step_document("3+3", xj, read_trial_data(DATED, xj, date(2025, 11, 17)))
    assert not done["wait"] and done["next_dose"] == 3e8


def test_aggregated_counts_are_rejected(xj, tmp_path):
    path = tmp_path / "agg.csv"
    path.write_text("dose,n,dlt\n1e8,1,0\n")
    with pytest.raises(InputError, match="patient-level data"):
        step_document("boin", xj, read_trial_data(path, xj))


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
    three = step_document("3+3", xj, data)["explanation"]
    assert three == ("1 of 3 patient(s) at 3x10^8 viable cells, the last cohort's dose, have had "
                     "a DLT: 3 more at 3x10^8 viable cells (1 DLT(s) in 3: three more at this "
                     "dose)")
    boin = step_document("boin", xj, data)["explanation"]
    # target 0.25: lambda_e = 0.197, lambda_d = 0.298, so with 3 patients e = 0, d = 1
    assert boin.endswith("de-escalate to 1x10^8 viable cells (1 DLT(s) in 3 is at least 1, the "
                         "de-escalation boundary: de-escalate)")
    assert "closest to the target 0.25" in step_document("crm", xj, data)["explanation"]


def write(tmp_path, rows: str):
    path = tmp_path / "trial.csv"
    path.write_text("patient_id,cohort,dose,dlt\n" + rows)
    return path


def test_the_words_name_the_branch_that_decided(xj, tmp_path):
    """The words come from the branch each design's decide took, also where an override wins
    over the rule: titration, the top dose, the lowest dose."""
    start = step_document("3+3", xj, read_trial_data(write(tmp_path, ""), xj))
    assert start["explanation"] == "no patients yet: 3+3 starts at 1x10^8 viable cells"
    titrated = read_trial_data(write(tmp_path, "1,1,1e8,0\n"), xj)
    assert step_document("boin", xj, titrated)["explanation"].endswith(
        "2 more at 1x10^8 viable cells (the titration patient is the first of a cohort: 2 more "
        "at this dose)")
    assert step_document("3+3", xj, titrated)["explanation"].endswith(
        "(no DLT in the titration patient: escalate, a cohort of three)")
    top = read_trial_data(write(tmp_path, "1,1,1e8,0\n2,2,3e8,0\n3,2,3e8,0\n4,2,3e8,0\n"
                                          "5,3,6e8,0\n6,3,6e8,0\n7,3,6e8,0\n"), xj)
    assert step_document("3+3", xj, top)["explanation"].endswith(
        "stop (mtd_declared), MTD 6x10^8 viable cells (0 DLT(s) in 3, and no dose above: the "
        "highest dose is declared the MTD)")
    assert step_document("boin", xj, top)["explanation"].endswith(
        "(0 DLT(s) in 3 is at most 0, the escalation boundary, but no dose is above: stay)")
    lowest = read_trial_data(write(tmp_path, "1,1,1e8,1\n2,1,1e8,1\n3,1,1e8,0\n"), xj)
    assert step_document("3+3", xj, lowest)["explanation"].endswith(
        "(2 DLT(s) in 3: no dose below, stop for safety)")
    assert step_document("boin", xj, lowest)["explanation"].endswith(
        "(2 DLT(s) in 3 is at least 1, the de-escalation boundary, but this is the lowest "
        "dose: stay)")


def test_off_path_counts_are_said_as_they_are(xj, tmp_path):
    """0/4 at 1e8 (titration + a cohort) after 1/3 above: 3+3 reads 4 as its six-patient
    branch and declares 1e8 because the dose above holds patients; the words say so rather
    than call the dose above too toxic."""
    toxic = write(tmp_path, "1,1,1e8,0\n2,2,3e8,1\n3,2,3e8,1\n4,2,3e8,0\n"
                            "5,3,1e8,0\n6,3,1e8,0\n7,3,1e8,0\n")
    step = step_document("3+3", xj, read_trial_data(toxic, xj))
    assert step["stop"] and step["mtd"] == 1e8
    assert step["explanation"].endswith(
        "(0 DLT(s) in 4, and the dose above has patients: this dose is declared the MTD)")


def test_data_a_rule_cannot_read_is_refused(xj, tmp_path):
    lost = write(tmp_path, "1,1,1e8,0\n")
    lost.write_text(lost.read_text().replace("patient_id,cohort,dose,dlt",
                                             "patient_id,cohort,dose,dlt,evaluable")
                    .replace("1,1,1e8,0", "1,1,1e8,0,1") + "2,2,3e8,0,0\n")
    with pytest.raises(InputError, match="no evaluable patient"):
        step_document("3+3", xj, read_trial_data(lost, xj))
    crowded = write(tmp_path, "".join(f"{i},1,1e8,0\n" for i in range(20)))
    with pytest.raises(InputError, match="more than the boin design takes"):
        step_document("boin", xj, read_trial_data(crowded, xj))
