"""Backfill patients marked in the trial data (the ``backfill`` column: ``max_patients``
counts escalation patients, every DLT counts) and ``recommend --design NAME+backfill``
(BF-BOIN's escalation on the pooled complete data, against R's bfboin decision block:
tests/reference/bfboin/decision.R)."""

import json
from datetime import date

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, ROOT

from bayesdose.cli import main
from bayesdose.data import over_enrolment, read_trial_data
from bayesdose.designs.base import CONTINUE, SAFETY, States
from bayesdose.designs.boin.backfill import BfBoin
from bayesdose.errors import InputError
from bayesdose.schema import load_design
from bayesdose.steps import step_on_data

BF_BOIN = CONFIGS / "bf-boin.toml"
XJ = CONFIGS / "xj-mk-002-backfill.toml"
HEADER = "patient_id,cohort,dose,dlt,backfill,response\n"
# Three escalation cohorts (1, 2, 3 at levels 1, 2, 2), two backfill patients at level 1 with
# two DLTs, and cohort 4 at level 3.
ROWS = ["P01,1,1,0,,1", "P02,1,1,0,,0", "P03,1,1,0,,0", "P04,2,2,0,,1", "P05,2,2,1,,0",
        "P06,2,2,0,,0", "P07,3,2,0,,0", "P08,3,2,0,,0", "P09,3,2,0,,1", "B01,3,1,1,1,0",
        "B02,3,1,1,1,1", "P10,4,3,1,,0", "P11,4,3,0,,0", "P12,4,3,0,,"]


@pytest.fixture(scope="module")
def bf():
    return load_design(BF_BOIN)


def write(tmp_path, rows, header=HEADER):
    path = tmp_path / "data.csv"
    path.write_text(header + "".join(r + "\n" for r in rows))
    return path


def test_backfill_patients_count_in_n_but_not_as_escalation(bf, tmp_path) -> None:
    data = read_trial_data(write(tmp_path, ROWS), bf)
    np.testing.assert_array_equal(data.n, [5, 6, 3, 0, 0])
    np.testing.assert_array_equal(data.dlt, [2, 1, 1, 0, 0])
    assert data.escalated == 12 and data.backfilled
    assert data.last_cohort == (2, 1)  # cohort 4 at level 3, not the backfill rows


def test_a_backfill_patient_may_share_a_cohort_number_at_another_dose(bf, tmp_path) -> None:
    """B01 and B02 are in cohort 3 (the escalation cohort in follow-up when they came) at level
    1, cohort 3's escalation patients at level 2: no error; an escalation patient would be."""
    read_trial_data(write(tmp_path, ROWS), bf)
    with pytest.raises(InputError) as err:
        read_trial_data(write(tmp_path, [*ROWS[:9], "B01,3,1,1,0,0"]), bf)
    assert err.value.where == "row 11, column 'dose'"


@pytest.mark.parametrize("cell", ["2", "yes", "-1", "true"])
def test_a_backfill_value_other_than_0_1_or_empty_is_refused(bf, tmp_path, cell) -> None:
    path = write(tmp_path, [*ROWS[:9], f"B01,3,1,1,{cell},0"])
    with pytest.raises(InputError) as err:
        read_trial_data(path, bf)
    assert str(err.value) == (f"{path}, row 11, column 'backfill': expected 1 (a backfill "
                              "patient) or 0 / empty (an escalation patient), got "
                              f"{cell!r}")


def test_a_backfill_patient_must_be_below_the_escalation(bf, tmp_path) -> None:
    path = write(tmp_path, [*ROWS[:3], "B01,1,1,0,1,0"])
    with pytest.raises(InputError) as err:
        read_trial_data(path, bf)
    assert str(err.value) == (f"{path}, row 5, column 'backfill': a backfill patient at dose "
                              "1, which is not below the escalation's: the highest dose an "
                              "escalation cohort was given is 1 (backfill enrols at doses the "
                              "escalation has cleared)")


def test_two_drug_data_refuse_the_backfill_column(tmp_path) -> None:
    design = load_design(CONFIGS / "combination-blrm.toml")
    names = design.drugs.names
    path = write(tmp_path, [], f"patient_id,cohort,dose_{names[0]},dose_{names[1]},dlt,"
                 "backfill\n")
    with pytest.raises(InputError) as err:
        read_trial_data(path, design)
    assert err.value.where == "column 'backfill'"


def test_over_enrolment_counts_escalation_patients(tmp_path) -> None:
    """max_patients 30: 30 escalation patients and two backfill patients are not over it;
    31 escalation patients are."""
    design = load_design(BF_BOIN)
    rows = [f"E{i:02d},{i // 3 + 1},{min(i // 3 + 1, 5) if i < 12 else 5},0,," for i in
            range(30)]
    rows += ["B1,10,1,0,1,", "B2,10,2,0,1,"]
    assert over_enrolment(design, read_trial_data(write(tmp_path, rows), design)) is None
    rows.append("E30,11,5,0,,")
    note = over_enrolment(design, read_trial_data(write(tmp_path, rows), design))
    assert "hold 31 escalation patients (backfill patients come on top), more than " \
           "[stopping] max_patients = 30" in note


def test_validate_says_how_many_patients_are_backfill(bf, tmp_path) -> None:
    """``validate`` splits the patients into escalation and backfill when the data mark
    backfill patients, and says nothing of backfill when they do not."""
    result = CliRunner().invoke(main, ["validate", str(BF_BOIN), str(write(tmp_path, ROWS))])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].endswith(
        "valid patient level data, 14 patients (escalation 12, backfill 2), 4 DLTs, "
        "4 response(s) of 13 assessed")
    plain = write(tmp_path, [row for row in ROWS if not row.startswith("B")])
    result = CliRunner().invoke(main, ["validate", str(BF_BOIN), str(plain)])
    assert result.output.splitlines()[-1].endswith(
        "valid patient level data, 12 patients, 2 DLTs, 3 response(s) of 11 assessed")


def test_blrm_max_patients_counts_escalation_patients(tmp_path) -> None:
    """XJ-MK-002 with backfill: max_patients 16. Fifteen escalation patients and three
    backfill patients: the BLRM goes on with a cohort of one (16 - 15), where without the
    backfill column the eighteen patients would stop it."""
    design = load_design(XJ)
    rows = [f"E{i:02d},{i // 3 + 1},{1e8 if i < 3 else 3e8},0,,1" for i in range(15)]
    rows += [f"B{i},5,1e8,0,1,0" for i in range(3)]
    step = step_on_data("blrm", design, read_trial_data(write(tmp_path, rows), design))
    assert not step.document["stop"] and step.document["cohort_size"] == 1
    plain = write(tmp_path, [*rows[:15], *(f"B{i},6,1e8,0,,0" for i in range(3))])
    step = step_on_data("blrm", design, read_trial_data(plain, design))
    assert step.document["stop_reason"] == "max_patients"


def test_bf_boin_decision_equals_bfboins_decision_block(bf) -> None:
    """3,000 random states (pooled complete counts, current dose): BfBoin's next dose, stop
    and MTD are those of bfboin 0.1.1's decision block, evaluated by R."""
    ref = json.loads((ROOT / "tests/reference/bfboin/decision.json").read_text())
    cases = ref["cases"]
    n, y = np.array([c["n"] for c in cases]), np.array([c["y"] for c in cases])
    d = np.array([c["d"] for c in cases]) - 1
    actions = BfBoin(bf).decide(States(n, y, d, np.zeros_like(d)))
    got = [{"next_d": None if r != CONTINUE else int(level) + 1, "stopped": r != CONTINUE,
            "safety": r == SAFETY, "mtd": None if r in (CONTINUE, SAFETY) else
            (int(mtd) + 1 if mtd >= 0 else 99)}
           for level, r, mtd in zip(actions.next_level, actions.stop_reason, actions.mtd,
                                    strict=True)]
    assert got == [{k: c[k] for k in ("next_d", "stopped", "safety", "mtd")} for c in cases]
    assert sum(c["stopped"] for c in cases) > 800 and sum(c["safety"] for c in cases) > 300


def test_recommend_boin_backfill_on_pooled_data(bf, tmp_path) -> None:
    """Level 1 2/5 calls de-escalation and conflicts with level 3's 1/3: pooled 4/14 lies
    between e_14 = 2 and d_14 = 5, so stay at level 3; levels 1 and 2 have responses and
    stay open (level 1's 2/5 with level 2's 1/6 pooled, 3/11, is below d_11 = 4)."""
    step = step_on_data("boin+backfill", bf, read_trial_data(write(tmp_path, ROWS), bf))
    doc = step.document
    assert (doc["next_dose"], doc["cohort_size"], doc["direction"]) == (3, 3, "stay")
    assert doc["escalation_patients"] == 12
    assert [(e["complete"], e["backfill"]) for e in doc["doses"]][:3] == [(5, 2), (6, 0),
                                                                         (3, 0)]
    assert "conflict: 1 level calls de-escalate while 3 level calls de-escalate, so the data " \
           "of 1 level to 3 level pooled, 4/14, decide" in doc["reason"]
    assert doc["backfill"]["next_backfill_dose"] == 2
    assert [e["open"] for e in doc["backfill"]["doses"]] == [True, True, False, False, False]


def test_plain_boin_refuses_data_with_backfill_patients(bf, tmp_path) -> None:
    with pytest.raises(InputError) as err:
        step_on_data("boin", bf, read_trial_data(write(tmp_path, ROWS), bf))
    assert "use --design boin+backfill" in err.value.problem


def test_backfill_design_waits_for_its_escalation_cohort_only(tmp_path) -> None:
    """Dated XJ-MK-002 data: a backfill patient in follow-up is left out of the complete data
    (no wait); an escalation patient in follow-up makes the design wait."""
    design = load_design(XJ)
    header = ("patient_id,cohort,dose,dlt,enrolled,dlt_day,followup_end,evaluable,backfill,"
              "response\n")
    done = ["A1,1,1e8,0,2025-01-01,,2025-01-29,1,,1", "A2,1,1e8,0,2025-01-02,,2025-01-30,1,,0",
            "A3,1,1e8,0,2025-01-03,,2025-01-31,1,,0",
            "C1,2,3e8,0,2025-02-03,,2025-03-03,1,,0", "C2,2,3e8,0,2025-02-04,,2025-03-04,1,,0",
            "C3,2,3e8,0,2025-02-05,,2025-03-05,1,,1"]
    backfill = "B1,2,1e8,0,2025-03-01,,,1,1,"
    data = read_trial_data(write(tmp_path, [*done, backfill], header), design, date(2025, 3, 10))
    step = step_on_data("boin+backfill", design, data)
    assert not step.document["wait"] and step.document["doses"][0]["complete"] == 3
    assert step.document["doses"][0]["n"] == 4
    pending = "C4,3,6e8,0,2025-03-08,,,1,,"
    data = read_trial_data(write(tmp_path, [*done, backfill, pending], header), design,
                           date(2025, 3, 10))
    assert step_on_data("boin+backfill", design, data).document["wait"]


def test_cli_recommend_boin_backfill(tmp_path) -> None:
    out = tmp_path / "step.json"
    result = CliRunner().invoke(main, ["recommend", str(BF_BOIN), str(write(tmp_path, ROWS)),
                                       "--design", "boin+backfill", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "12 escalation patients of [stopping] max_patients = 30" in result.output
    assert json.loads(out.read_text())["design"] == "boin+backfill"
    bad = CliRunner().invoke(main, ["recommend", str(BF_BOIN), str(write(tmp_path, ROWS)),
                                    "--design", "boin"])
    assert bad.exit_code == 2 and "use --design boin+backfill" in bad.output


def test_blrm_backfill_is_the_blrms_own_recommendation(tmp_path) -> None:
    """Every design is NAME+backfill in simulate; in recommend blrm+backfill is the BLRM's
    step (it reads backfill patients itself): the same text and document as --design blrm."""
    runs = {}
    for name in ("blrm", "blrm+backfill"):
        out = tmp_path / f"{name}.json"
        result = CliRunner().invoke(main, ["recommend", str(BF_BOIN), str(write(tmp_path, ROWS)),
                                           "--design", name, "--json", str(out)])
        assert result.exit_code == 0, result.output
        runs[name] = result.output, json.loads(out.read_text())
    assert runs["blrm"][0] == runs["blrm+backfill"][0]
    drop = {"created", "inputs"}
    assert ({k: v for k, v in runs["blrm"][1].items() if k not in drop}
            == {k: v for k, v in runs["blrm+backfill"][1].items() if k not in drop})
    assert "backfill at" in runs["blrm+backfill"][0]


def test_three_plus_three_backfill_de_escalates_on_backfill_dlts(tmp_path) -> None:
    """XJ-MK-002: 0/3 at 1e8, 0/3 at 3e8, then two backfill DLTs at 1e8 (2/5): the 3+3 with
    backfill closes 1e8 and declares the MTD below it (none), as two DLTs at the current dose
    would; the plain 3+3 refuses the data."""
    design = load_design(XJ)
    rows = ["A1,1,1e8,0,,1", "A2,1,1e8,0,,0", "A3,1,1e8,0,,0", "B1,2,3e8,0,,0",
            "B2,2,3e8,0,,0", "B3,2,3e8,0,,0", "C1,2,1e8,1,1,0", "C2,2,1e8,1,1,0"]
    data = read_trial_data(write(tmp_path, rows), design)
    doc = step_on_data("3+3+backfill", design, data).document
    assert doc["stop"] and doc["mtd"] is None
    assert doc["reason"] == ("the 3+3 de-escalates: 2/5 DLTs >= 2 at 1x10^8 viable cells: DLTs "
                             "in backfill: no dose below, stop for safety")
    assert doc["backfill"]["escalation_dose"] is None
    with pytest.raises(InputError, match="use --design 3\\+3\\+backfill"):
        step_on_data("3+3", design, data)


def test_decision_page_of_bf_boin(tmp_path) -> None:
    page = tmp_path / "step.html"
    result = CliRunner().invoke(main, ["recommend", str(BF_BOIN), str(write(tmp_path, ROWS)),
                                       "--design", "boin+backfill", "--html", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "BOIN + backfill" in html and "conflict: 1 level calls de-escalate" in html


@pytest.mark.parametrize(("backfill", "reason"), [
    (["C1,2,1e8,1,1,0", "C2,2,1e8,0,1,1"],
     "the model P(DLT) closest to the target 0.25 is 0.220, at 1x10^8 viable cells"),
    (["C1,2,1e8,0,1,0", "C2,2,1e8,0,1,1", "C3,2,1e8,0,1,0"],
     "the model P(DLT) closest to the target 0.25 is 0.256, at 6x10^8 viable cells; the last "
     "cohort at 3x10^8 viable cells had a DLT rate of 0.333 >= 0.25: no escalation right "
     "after it, stay"),
])
def test_crm_backfill_gives_the_crms_own_reason(tmp_path, backfill, reason) -> None:
    """XJ-MK-002: 0/3 at 1e8, then 1/3 at 3e8, with backfill patients at 1e8. crm+backfill's
    reason is the CRM's (``recommend --design crm``) on the pooled complete data: word for word
    that of the plain CRM on the same patients as escalation patients, the last cohort the
    same; the restriction after a DLT in the last cohort included."""
    design = load_design(XJ)
    escalation = ["A1,1,1e8,0,,1", "A2,1,1e8,0,,0", "A3,1,1e8,0,,0", "B1,3,3e8,0,,0",
                  "B2,3,3e8,1,,1", "B3,3,3e8,0,,0"]
    data = read_trial_data(write(tmp_path, [*escalation, *backfill]), design)
    doc = step_on_data("crm+backfill", design, data).document
    assert doc["reason"] == reason
    as_escalation = [",".join([*row.split(",")[:4], "", row.split(",")[5]]) for row in backfill]
    plain = [*escalation[:3], *as_escalation, *escalation[3:]]  # cohort 2 at 1e8, then 3
    same = step_on_data("crm", design, read_trial_data(write(tmp_path, plain), design))
    assert same.document["reason"] == reason
    assert (doc["next_dose"], doc["direction"]) == (same.document["next_dose"],
                                                    same.document["direction"])
