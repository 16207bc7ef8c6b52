"""recommend --design: the other designs' next step on real trial data."""

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONFIGS
from scipy.stats import beta

from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.crm.core import crm_posterior, getprior
from bayesdose.errors import InputError
from bayesdose.schema import design_from_dict, load_design
from bayesdose.steps import rule_step, step_document

XJ = CONFIGS / "xj-mk-002.toml"
DATA = CONFIGS / "examples" / "xj-mk-002.csv"
DATED = CONFIGS / "examples" / "xj-mk-002-dated.csv"
REFERENCES = Path(__file__).parent
BOIN_REFERENCE = json.loads((REFERENCES / "reference" / "boin" / "get_boundary.json")
                            .read_text())["cases"]
CRM_REFERENCE = json.loads((REFERENCES / "data" / "reference" / "dfcrm_crm_empiric.json")
                           .read_text())


@pytest.fixture
def xj():
    return load_design(XJ)


def step(name, design, data):
    """The JSON document of ``recommend --design name``."""
    return step_document(name, design, data)[0]


def write(tmp_path, rows: str):
    path = tmp_path / "trial.csv"
    path.write_text("patient_id,cohort,dose,dlt\n" + rows)
    return path


def test_three_plus_three_adds_three_after_one_dlt_in_three(xj):
    doc = step("3+3", xj, read_trial_data(DATA, xj))
    assert (doc["next_dose"], doc["cohort_size"], doc["stop"]) == (3e8, 3, False)
    assert (doc["current_dose"], doc["direction"]) == (3e8, "stay")
    assert doc["reason"] == "1 DLT in 3 at 3x10^8 viable cells: three more at this dose"


def test_boin_de_escalates_after_one_dlt_in_three_at_target_025(xj):
    # BOIN's de-escalation boundary for target 0.25 is 0.298 < 1/3
    doc = step("boin", xj, read_trial_data(DATA, xj))
    assert (doc["next_dose"], doc["direction"]) == (1e8, "de-escalate")


def test_crm_reports_dfcrm_estimate_and_plug_in_probabilities(xj):
    doc = step("crm", xj, read_trial_data(DATA, xj))
    skeleton = getprior(0.05, 0.25, 2, 3)
    fit = crm_posterior(skeleton, [1, 2, 2, 2], [0, 0, 0, 1], 0.25)
    assert doc["crm"]["estimate"] == pytest.approx(fit.estimate, abs=1e-12)
    assert [d["p_dlt"] for d in doc["doses"]] == pytest.approx(list(fit.ptox), abs=1e-12)
    assert [d["skeleton"] for d in doc["doses"]] == pytest.approx(list(skeleton), abs=1e-15)
    assert doc["next_dose"] == 3e8  # 0.290 is closest to 0.25, no escalation after a DLT


def test_tite_crm_weights_the_pending_patient(xj):
    data = read_trial_data(DATED, xj, date(2025, 11, 3))
    doc = step("crm", xj, data)
    skeleton = getprior(0.05, 0.25, 2, 3)
    fit = crm_posterior(skeleton, [1, 2, 2, 2], [0, 0, 1, 0], 0.25, weights=[1, 1, 1, 0.5])
    assert doc["crm"]["estimate"] == pytest.approx(fit.estimate, abs=1e-12)
    assert doc["reason"].startswith("TITE-CRM, the patients in follow-up weighted by the days "
                                    "followed over the DLT window: the model P(DLT) closest to "
                                    "the target 0.25 is ")


def test_rule_based_designs_wait_for_pending_patients(xj):
    doc = step("3+3", xj, read_trial_data(DATED, xj, date(2025, 11, 3)))
    assert doc["wait"] and doc["next_dose"] is None and not doc["stop"]
    assert doc["direction"] == "wait"
    assert doc["reason"] == ("3+3 decides on complete cohorts: waiting for 1 patient still in "
                             "DLT follow-up")
    done = step("3+3", xj, read_trial_data(DATED, xj, date(2025, 11, 17)))
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
    assert doc["design"] == "crm" and "estimate" in doc["crm"] and "p_dlt" in doc["doses"][0]
    assert len(doc["inputs"]["data_sha256"]) == 64
    assert doc["reason"] in result.output


# -- each design's reason, with its numbers --------------------------------------------------


def test_boin_compares_the_rate_at_the_current_dose_with_its_boundaries(xj):
    """1 DLT in 3 at 3e8, target 0.25: lambda_e 0.197, lambda_d 0.298 (BOIN's get.boundary);
    with 3 patients escalate with 0 DLTs, de-escalate with 1, eliminate with 3."""
    doc = step("boin", xj, read_trial_data(DATA, xj))
    ref = BOIN_REFERENCE["xj_mk_002_full"]
    assert doc["boin"]["lambda_e"] == ref["lambda_e"]
    assert doc["boin"]["lambda_d"] == ref["lambda_d"]
    assert doc["boin"]["at_current_dose"] == {
        "n": 3, "dlt": 1, "dlt_rate": 1 / 3, "escalate_if_dlt_le": 0, "deescalate_if_dlt_ge": 1,
        "eliminate_if_dlt_ge": 3}
    assert doc["reason"] == ("1 DLT in 3 at 3x10^8 viable cells: the DLT rate 0.333 is > "
                             "lambda_d 0.298 (de-escalate with 1 or more DLTs in 3): "
                             "de-escalate")
    # P(DLT rate > 0.25) under the uniform prior: Beta(1 + y, 1 + n - y)
    assert [d["p_above_target"] for d in doc["doses"]] == pytest.approx(
        [beta.sf(0.25, 1, 2), beta.sf(0.25, 2, 3), None], abs=1e-14)
    assert [d["eliminated"] for d in doc["doses"]] == [False, False, False]


def test_boin_names_the_eliminated_doses_with_the_posterior_probability(xj, tmp_path):
    data = read_trial_data(write(tmp_path, "1,1,1e8,0\n2,2,3e8,1\n3,2,3e8,1\n4,2,3e8,1\n"),
                           xj)
    doc, details = step_document("boin", xj, data)
    assert [d["eliminated"] for d in doc["doses"]] == [False, True, True]
    assert doc["doses"][1]["p_above_target"] == pytest.approx(1 - 0.25**4, abs=1e-15)
    assert details.lines[1] == ("eliminated: 3x10^8 viable cells and every dose above (3 DLTs "
                                "in 3 at 3x10^8 viable cells: P(DLT rate > 0.25) = 0.996 > "
                                "0.95)")
    assert doc["next_dose"] == 1e8
    text = rule_step("boin", xj, data, "exact", 1).text
    assert "  3x10^8  3    3     1.000           0.996         yes" in text


def test_boin_says_when_elimination_and_not_the_rate_de_escalates(five_doses, tmp_path):
    """Target 0.3 with elimination_cutoff 0.6: 1 DLT in 3 (0.333) is below lambda_d (0.359),
    but P(DLT rate > 0.3) = 0.652 > 0.6 eliminates the dose: BOIN de-escalates for that."""
    design = five_doses(doses={"unit": "mg"}, decision={"target": 0.3,
                                                        "target_interval": [0.2, 0.35]},
                        designs={"boin": {"elimination_cutoff": 0.6}})
    data = read_trial_data(write(tmp_path, "1,1,1,0\n2,1,1,0\n3,1,1,0\n"
                                           "4,2,2,1\n5,2,2,0\n6,2,2,0\n"), design)
    doc = step("boin", design, data)
    assert doc["next_dose"] == 1 and doc["direction"] == "de-escalate"
    assert doc["reason"] == ("1 DLT in 3 at 2 mg: P(DLT rate > 0.3) = "
                             f"{beta.sf(0.3, 2, 3):.3f} > 0.6 eliminates it and every dose "
                             "above: de-escalate")


def test_boin_between_the_boundaries_stays(xj, tmp_path):
    rows = ("1,1,1e8,0\n2,2,3e8,0\n3,2,3e8,1\n4,2,3e8,0\n5,3,3e8,0\n6,3,3e8,1\n7,3,3e8,0\n"
            "8,4,3e8,0\n9,4,3e8,0\n10,4,3e8,0\n")  # 2 DLTs in 9 at 3e8: 0.222
    doc = step("boin", xj, read_trial_data(write(tmp_path, rows), xj))
    assert doc["next_dose"] == 3e8 and doc["direction"] == "stay"
    assert doc["reason"] == ("2 DLTs in 9 at 3x10^8 viable cells: the DLT rate 0.222 is "
                             "between lambda_e 0.197 and lambda_d 0.298 (escalate with at most "
                             "1, de-escalate with 3 or more DLTs in 9): stay")


def test_three_plus_three_says_the_rule_with_its_counts(xj, tmp_path):
    cases = {  # data rows -> (design, reason)
        "1,1,1e8,0\n2,2,3e8,0\n3,2,3e8,0\n4,2,3e8,0\n": (
            "3+3", "0 DLTs in 3 at 3x10^8 viable cells: escalate to 6x10^8 viable cells, a "
            "cohort of three"),
        "1,1,1e8,0\n2,2,3e8,1\n3,2,3e8,0\n4,2,3e8,0\n5,3,3e8,1\n6,3,3e8,0\n7,3,3e8,0\n": (
            "3+3", "2 DLTs in 6 at 3x10^8 viable cells: the dose below, 1x10^8 viable cells, has "
            "only its titration patient, five more make six before it is declared"),
        "1,1,1e8,0\n2,2,3e8,0\n3,2,3e8,0\n4,2,3e8,0\n5,3,6e8,1\n6,3,6e8,1\n7,3,6e8,0\n": (
            "3+3-deesc", "2 DLTs in 3 at 6x10^8 viable cells: the dose below, 3x10^8 viable "
            "cells, has three, de-escalate: three more there before it is declared"),
    }
    for rows, (name, reason) in cases.items():
        assert step(name, xj, read_trial_data(write(tmp_path, rows), xj))["reason"] == reason
    classic = step("3+3", xj, read_trial_data(write(tmp_path, list(cases)[2]), xj))
    assert classic["stop"] and classic["mtd"] == 3e8
    assert classic["reason"] == ("2 DLTs in 3 at 6x10^8 viable cells: the dose below, 3x10^8 "
                                 "viable cells, is declared the MTD")


def test_crm_reproduces_dfcrm_on_its_classic_example(tmp_path):
    """dfcrm's crm() on its help-page trial (10 patients, cohorts of one): the parameter's
    posterior mean and sd, and the plug-in P(DLT) with its 90% limits, as dfcrm prints them."""
    ref = CRM_REFERENCE["crm_empiric"]
    design = design_from_dict({
        "doses": {"levels": [1, 2, 3, 4, 5, 6], "reference": 3, "unit": "mg"},
        "decision": {"target": 0.2, "target_interval": [0.16, 0.33]},
        "cohorts": {"size": 1},
        "stopping": {"max_patients": 24},
        "designs": {"crm": {"skeleton": ref["dosescaled"]}},
    }, "dfcrm.toml")
    rows = "".join(f"{i},{i},{level},{tox}\n" for i, (level, tox) in enumerate(
        zip([3, 4, 4, 3, 3, 4, 3, 2, 2, 2], [0, 0, 1, 0, 0, 1, 1, 0, 0, 0], strict=True), 1))
    doc, details = step_document("crm", design, read_trial_data(write(tmp_path, rows), design))
    crm = doc["crm"]
    assert crm["estimate"] == pytest.approx(ref["estimate"], abs=1e-8)
    assert crm["estimate_sd"] == pytest.approx(ref["post.var"] ** 0.5, abs=1e-8)
    for key, name in (("p_dlt", "ptox"), ("p_dlt_lower", "ptoxL"), ("p_dlt_upper", "ptoxU")):
        assert [d[key] for d in doc["doses"]] == pytest.approx(ref[name], abs=1e-8)
    assert doc["next_dose"] == ref["mtd"] == 2
    assert doc["reason"] == "the model P(DLT) closest to the target 0.2 is 0.155, at 2 mg"
    assert details.lines[1].startswith("posterior of a given 10 patients: mean -0.2122, sd "
                                       "0.3970;")


def test_crm_names_the_restriction_that_applied(xj, tmp_path):
    after_dlt = step("crm", xj, read_trial_data(DATA, xj))  # model 3e8; 1/3 there
    assert after_dlt["reason"] == ("the model P(DLT) closest to the target 0.25 is 0.290, at "
                                   "3x10^8 viable cells")
    no_skip = step("crm", xj, read_trial_data(write(tmp_path, "1,1,1e8,0\n"), xj))
    assert no_skip["next_dose"] == 3e8
    assert no_skip["reason"] == ("the model P(DLT) closest to the target 0.25 is 0.224, at "
                                 "6x10^8 viable cells; no skipping: at most one dose above the "
                                 "last cohort's, 3x10^8 viable cells")
    rows = "1,1,1e8,0\n2,2,3e8,0\n3,2,3e8,0\n4,2,3e8,0\n5,3,6e8,0\n6,3,6e8,0\n7,3,6e8,0\n" \
           "8,4,3e8,1\n9,4,3e8,0\n10,4,3e8,0\n"
    held = step("crm", xj, read_trial_data(write(tmp_path, rows), xj))
    assert held["next_dose"] == 3e8 and held["direction"] == "stay"
    assert held["reason"].endswith("; the last cohort at 3x10^8 viable cells had a DLT rate of "
                                   "0.333 >= 0.25: no escalation right after it, stay")


def test_the_printed_step_has_the_design_numbers_and_the_reason(xj):
    text = rule_step("crm", xj, read_trial_data(DATA, xj), "exact", 1).text
    assert text.splitlines()[3:5] == [
        "dose (viable cells)  n  DLT  skeleton  model P(DLT)    90% interval",
        "             1x10^8  1    0     0.157         0.191  [0.015, 0.522]"]
    assert text.splitlines()[-1] == (
        "next: 3x10^8 viable cells, cohort of 3: stay at 3x10^8 viable cells — the model P(DLT) "
        "closest to the target 0.25 is 0.290, at 3x10^8 viable cells")


def test_the_words_name_the_branch_that_decided(xj, tmp_path):
    """The words come from the branch each design's decide took, also where an override wins
    over the rule: titration, the top dose, the lowest dose."""
    start = step("3+3", xj, read_trial_data(write(tmp_path, ""), xj))
    assert start["reason"] == "no patients yet: start at 1x10^8 viable cells"
    assert start["direction"] == "start" and start["current_dose"] is None
    titrated = read_trial_data(write(tmp_path, "1,1,1e8,0\n"), xj)
    assert step("boin", xj, titrated)["reason"] == (
        "the titration patient at 1x10^8 viable cells is the first of a cohort: 2 more there")
    assert step("3+3", xj, titrated)["reason"] == (
        "no DLT in the titration patient at 1x10^8 viable cells: escalate to 3x10^8 viable "
        "cells, a cohort of three")
    top = read_trial_data(write(tmp_path, "1,1,1e8,0\n2,2,3e8,0\n3,2,3e8,0\n4,2,3e8,0\n"
                                          "5,3,6e8,0\n6,3,6e8,0\n7,3,6e8,0\n"), xj)
    declared = step("3+3", xj, top)
    assert (declared["direction"], declared["mtd"]) == ("stop", 6e8)
    assert declared["reason"] == ("0 DLTs in 3 at 6x10^8 viable cells, and no dose above: the "
                                  "highest dose, 6x10^8 viable cells, is declared the MTD")
    assert step("boin", xj, top)["reason"] == (
        "0 DLTs in 3 at 6x10^8 viable cells: the DLT rate 0.000 is <= lambda_e 0.197 (escalate "
        "with at most 0 DLTs in 3), but no dose is above: stay")
    lowest = read_trial_data(write(tmp_path, "1,1,1e8,1\n2,1,1e8,1\n3,1,1e8,0\n"), xj)
    assert step("3+3", xj, lowest)["reason"] == (
        "2 DLTs in 3 at 1x10^8 viable cells: no dose below, stop for safety")
    assert step("boin", xj, lowest)["reason"] == (
        "2 DLTs in 3 at 1x10^8 viable cells: the DLT rate 0.667 is > lambda_d 0.298 "
        "(de-escalate with 1 or more DLTs in 3), but this is the lowest dose: stay")
    eliminated = read_trial_data(write(tmp_path, "1,1,1e8,1\n2,1,1e8,1\n3,1,1e8,1\n"), xj)
    safety = step("boin", xj, eliminated)
    assert (safety["stop_reason"], safety["mtd"]) == ("safety", None)
    assert safety["reason"] == (
        "3 DLTs in 3 at 1x10^8 viable cells, the lowest dose: P(DLT rate > 0.25) = 0.996 > "
        "0.95, so it and every dose above are eliminated: stop for safety, no MTD")


def test_off_path_counts_are_said_as_they_are(xj, tmp_path):
    """0/4 at 1e8 (titration + a cohort) after 2/3 above: 3+3 reads 4 as its six-patient
    branch and declares 1e8 because the dose above holds patients; the words say so rather
    than call the dose above too toxic."""
    toxic = write(tmp_path, "1,1,1e8,0\n2,2,3e8,1\n3,2,3e8,1\n4,2,3e8,0\n"
                            "5,3,1e8,0\n6,3,1e8,0\n7,3,1e8,0\n")
    doc = step("3+3", xj, read_trial_data(toxic, xj))
    assert doc["stop"] and doc["mtd"] == 1e8
    assert doc["reason"] == ("0 DLTs in 4 at 1x10^8 viable cells, and the dose above has "
                             "patients: this dose is declared the MTD")


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
