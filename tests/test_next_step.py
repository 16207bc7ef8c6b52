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
from bayesdose.next_step import next_step
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
