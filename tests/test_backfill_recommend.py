"""recommend with [backfill] enabled: which doses are open for backfill today and why not
(backfill_today, every design), and the optimal biological dose on the data so far
(optimisation.obd_on_data), in the text, the JSON, the record and the decision pages."""

import json
from datetime import date

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.backfill_today import Closure, backfill_lines, backfill_section
from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.doseformat import rich_text
from bayesdose.schema import load_design
from bayesdose.steps import step_on_data

CONFIG = CONFIGS / "xj-mk-002-backfill.toml"
EXAMPLE = CONFIGS / "examples" / "xj-mk-002-dated-response.csv"
HEADER = "patient_id,cohort,dose,dlt,enrolled,dlt_day,followup_end,evaluable,response\n"
COMPLETE = ["A1,1,1e8,0,2025-01-01,,2025-01-29,1,1", "A2,1,1e8,0,2025-01-02,,2025-01-30,1,0",
            "A3,1,1e8,0,2025-01-03,,2025-01-31,1,0"]
"""Cohort 1 at 1e8: three patients, their 28-day window over, one response."""


@pytest.fixture(scope="module")
def design():
    return load_design(CONFIG)


def trial(tmp_path, rows, design, as_of=date(2025, 3, 1)):
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return read_trial_data(path, design, as_of)


def doses(step):
    return {entry["dose"]: entry for entry in step.document["backfill"]["doses"]}


def test_the_config_is_the_efficacy_design_with_backfill(design) -> None:
    efficacy = load_design(CONFIGS / "xj-mk-002-efficacy.toml")
    assert design.backfill.enabled and design.backfill.max_per_dose == 6
    assert design.backfill.require_response and design.backfill.close_on_dlt_rate is None
    assert design.optimisation.utility == (100, 60, 40, 0)
    assert design.cohorts.titration_until_level == 0
    assert (design.prior, design.decision, design.efficacy) == (
        efficacy.prior, efficacy.decision, efficacy.efficacy)


def test_a_cleared_dose_with_a_response_is_open(design, tmp_path) -> None:
    """Cohort 2 at 3e8 in follow-up: BLRM-EWOC stays at 3e8, so 1e8 (1 response, 3 of 6
    patients, EWOC far away) is open and takes the next backfill patient."""
    rows = [*COMPLETE, "B1,2,3e8,0,2025-02-10,,,1,", "B2,2,3e8,0,2025-02-11,,,1,",
            "B3,2,3e8,0,2025-02-12,,,1,"]
    step = step_on_data("blrm", design, trial(tmp_path, rows, design), "exact", 1)
    assert step.document["next_dose"] == 3e8
    section = step.document["backfill"]
    assert section["escalation_dose"] == 3e8 and section["next_backfill_dose"] == 1e8
    by_dose = doses(step)
    assert by_dose[1e8] == {"dose": 1e8, "treated": 3, "open": True, "reasons": []}
    assert by_dose[3e8]["reasons"] == ["the escalation dose", "no response known yet as of "
                                       "2025-03-01 (0 of 0 assessed responded)"]
    assert not by_dose[6e8]["open"] and by_dose[6e8]["reasons"][:1] == [
        "above the escalation dose 3x10^8 viable cells"]
    assert ("backfill: a new patient joins the escalation cohort at 3x10^8 viable cells while "
            "it has places, else the highest open dose, 1x10^8 viable cells.") in step.text
    assert "backfill at 1x10^8 viable cells: open" in step.text.splitlines()


def test_a_dose_with_max_per_dose_patients_is_closed(design, tmp_path) -> None:
    """Three backfill patients at 1e8 (cohort 1's number; one not evaluable for DLT still
    counts as treated) bring it to 6 = max_per_dose."""
    rows = [*COMPLETE, "C1,1,1e8,0,2025-02-13,,,1,", "C2,1,1e8,0,2025-02-14,,,1,",
            "C3,1,1e8,0,2025-02-15,,2025-02-16,0,", "B1,2,3e8,0,2025-02-10,,,1,",
            "B2,2,3e8,0,2025-02-11,,,1,", "B3,2,3e8,0,2025-02-12,,,1,"]
    step = step_on_data("blrm", design, trial(tmp_path, rows, design), "exact", 1)
    assert step.document["next_dose"] == 3e8
    assert doses(step)[1e8] == {"dose": 1e8, "treated": 6, "open": False,
                                "reasons": ["max_per_dose reached: 6 of 6 patients treated"]}
    assert step.document["backfill"]["next_backfill_dose"] is None


def test_a_dose_without_a_known_response_is_closed(design, tmp_path) -> None:
    """A1's response is not recorded yet: no response is known at 1e8."""
    rows = ["A1,1,1e8,0,2025-01-01,,2025-01-29,1,", *COMPLETE[1:],
            "B1,2,3e8,0,2025-02-10,,,1,", "B2,2,3e8,0,2025-02-11,,,1,",
            "B3,2,3e8,0,2025-02-12,,,1,"]
    step = step_on_data("blrm", design, trial(tmp_path, rows, design), "exact", 1)
    assert doses(step)[1e8]["reasons"] == ["no response known yet as of 2025-03-01 (0 of 2 "
                                           "assessed responded)"]


def test_ewoc_closes_a_dose_with_its_number(design) -> None:
    """The example as of 1 December: BLRM-EWOC de-escalates to 3e8; 1e8 has no response yet
    (0/1), 6e8 is above the escalation dose and EWOC applies there (P(overdosing) 0.525)."""
    data = read_trial_data(EXAMPLE, design, date(2025, 12, 1))
    step = step_on_data("blrm", design, data, "exact", 1)
    p_over = step.document["doses"][2]["p_overdose"]
    assert round(p_over, 3) == 0.525
    assert doses(step)[6e8]["reasons"] == [
        "above the escalation dose 3x10^8 viable cells",
        f"EWOC: P(overdosing) {p_over:.3f} >= 0.25"]
    assert doses(step)[1e8]["reasons"] == ["no response known yet as of 2025-12-01 (0 of 1 "
                                           "assessed responded)"]
    assert doses(step)[3e8]["reasons"] == ["the escalation dose"]


def test_a_closed_dose_closes_every_dose_above(design, tmp_path) -> None:
    """A closure at 1e8 (as EWOC's would be) closes 3e8 with it, saying where and why."""
    rows = [*COMPLETE, "B1,2,3e8,0,2025-01-10,,2025-02-07,1,1",
            "B2,2,3e8,0,2025-01-11,,2025-02-08,1,0", "B3,2,3e8,0,2025-01-12,,2025-02-09,1,0"]
    data = trial(tmp_path, rows, design)
    closure = Closure("closed where the rule applies", np.array([True, False, False]),
                      ("EWOC: P(overdosing) 0.300 >= 0.25", None, None))
    section = backfill_section("blrm", design, data, 2, closure)
    assert [e["open"] for e in section["doses"]] == [False, False, False]
    assert section["doses"][0]["reasons"] == ["EWOC: P(overdosing) 0.300 >= 0.25"]
    assert section["doses"][1]["reasons"] == [
        "closed with 1x10^8 viable cells below it (EWOC: P(overdosing) 0.300 >= 0.25)"]
    assert backfill_lines(design, section)[2] == (
        "backfill at 3x10^8 viable cells: closed: closed with 1x10^8 viable cells below it "
        "(EWOC: P(overdosing) 0.300 >= 0.25)")


def test_boin_de_escalation_closes_backfill(design, tmp_path) -> None:
    """BOIN at 6e8 after 0/3 stays (the top dose). 1e8 (1/3 >= d_3 = 1; with 3e8, 2/6 >=
    d_6 = 2) closes by BF-BOIN's rule, and 3e8 with it; its own 1/3 with 6e8's 0/3 pooled
    (1/6 < 2) would not close it."""
    rows = ["A1,1,1e8,1,2025-01-01,3,2025-01-29,1,1", *COMPLETE[1:],
            "B1,2,3e8,1,2025-01-10,4,2025-02-07,1,1", "B2,2,3e8,0,2025-01-11,,2025-02-08,1,0",
            "B3,2,3e8,0,2025-01-12,,2025-02-09,1,0", "D1,3,6e8,0,2025-01-20,,2025-02-17,1,",
            "D2,3,6e8,0,2025-01-21,,2025-02-18,1,", "D3,3,6e8,0,2025-01-22,,2025-02-19,1,"]
    step = step_on_data("boin", design, trial(tmp_path, rows, design), "exact", 1)
    assert step.document["next_dose"] == 6e8
    by_dose = doses(step)
    why = "BOIN de-escalates: 1/3 DLTs >= d = 1, and with the dose above 2/6 >= d = 2"
    assert by_dose[1e8]["reasons"] == [why]
    assert by_dose[3e8]["reasons"] == [f"closed with 1x10^8 viable cells below it ({why})"]
    assert by_dose[6e8]["reasons"][0] == "the escalation dose"
    assert "BOIN calls de-escalation (DLTs >= d_n)" in step.text


def test_a_stop_closes_backfill(design, tmp_path) -> None:
    """Three DLTs in three at 1e8: the BLRM stops for safety; backfill closes with it."""
    rows = [f"A{i},1,1e8,1,2025-01-0{i},2,2025-01-2{i},1,1" for i in (1, 2, 3)]
    step = step_on_data("blrm", design, trial(tmp_path, rows, design), "exact", 1)
    assert step.document["stop"]
    section = step.document["backfill"]
    assert section["escalation_dose"] is None and section["next_backfill_dose"] is None
    assert all(e["reasons"] == ["the escalation has ended: backfill closes with it"]
               for e in section["doses"])


def test_without_backfill_or_responses_the_document_has_neither(tmp_path) -> None:
    registered = load_design(CONFIGS / "xj-mk-002.toml")
    data = read_trial_data(CONFIGS / "examples" / "xj-mk-002.csv", registered)
    for name in ("blrm", "boin"):
        document = step_on_data(name, registered, data, "exact", 1).document
        assert "backfill" not in document and "obd" not in document


def test_the_obd_on_the_data_by_hand(design) -> None:
    """As of 1 December, up to the next dose 3e8: complete patients 0/1 and 0/3 DLTs, responses
    0/1 and 2/3. Beta(0.05, 0.05) means: p = 0.05/1.1, 0.05/3.1 (decreasing, so pooled with
    weights 1/var), q = 0.05/1.1, 2.05/3.1; U = 100 q (1 - p) + 60 q p + 40 (1 - q)(1 - p)."""
    data = read_trial_data(EXAMPLE, design, date(2025, 12, 1))
    obd = step_on_data("blrm", design, data, "exact", 1).document["obd"]

    def mean_var(y, n):
        return (y + 0.05) / (n + 0.1), (y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 1.1))

    (p1, v1), (p2, v2) = mean_var(0, 1), mean_var(0, 3)
    p = (p1 / v1 + p2 / v2) / (1 / v1 + 1 / v2)
    q = [0.05 / 1.1, 2.05 / 3.1]
    u = [100 * qk * (1 - p) + 60 * qk * p + 40 * (1 - qk) * (1 - p) for qk in q]
    assert obd["dose"] == 3e8 and obd["up_to"] == 3e8 and obd["basis"] == "the next dose"
    assert [e["dose"] for e in obd["doses"]] == [1e8, 3e8]
    assert [e["p_dlt"] for e in obd["doses"]] == pytest.approx([p, p], abs=1e-12)
    assert [e["p_response"] for e in obd["doses"]] == pytest.approx(q, abs=1e-12)
    assert [e["utility"] for e in obd["doses"]] == pytest.approx(u, abs=1e-9)
    assert u == pytest.approx([41.90, 78.85], abs=0.01)


def test_cli_json_record_and_text(tmp_path) -> None:
    js, records = tmp_path / "rec.json", tmp_path / "records"
    result = CliRunner().invoke(main, ["recommend", str(CONFIG), str(EXAMPLE), "--as-of",
                                       "2025-12-01", "--json", str(js), "--record-dir",
                                       str(records)])
    assert result.exit_code == 0, result.output
    document = json.loads(js.read_text())
    assert document["backfill"]["escalation_dose"] == 3e8
    assert document["obd"]["dose"] == 3e8
    record = json.loads(next(records.glob("*.json")).read_text())
    assert record["backfill"] == document["backfill"] and record["obd"] == document["obd"]
    assert ("optimal biological dose on the data so far: 3x10^8 viable cells, up to the next "
            "dose, 3x10^8 viable cells; expected utility 1x10^8: 41.9, 3x10^8: 78.8"
            ) in result.output


def test_decision_pages_in_a_real_browser(browser, tmp_path) -> None:
    """BLRM-EWOC's page and BOIN's show the backfill table and the OBD with the JSON's
    numbers."""
    for name in ("blrm", "boin"):
        page, js = tmp_path / f"{name}.html", tmp_path / f"{name}.json"
        result = CliRunner().invoke(main, ["recommend", str(CONFIG), str(EXAMPLE), "--as-of",
                                           "2025-12-30", "--design", name, "--html", str(page),
                                           "--json", str(js)])
        assert result.exit_code == 0, result.output
        document = json.loads(js.read_text())
        browser.get(page.as_uri())
        log = browser.get_log("browser")
        assert [e for e in log if e["level"] in ("SEVERE", "WARNING")] == []
        rows = browser.execute_script("""return [...document.querySelectorAll(
            '#backfill-table tbody tr')].map(tr => [...tr.children].map(c => c.innerText))""")
        expected = [[rich_text(f"{entry['dose'] / 1e8:g}x10^8 viable cells"),
                     str(entry["treated"]), "open" if entry["open"] else "closed",
                     rich_text("; ".join(entry["reasons"]))]
                    for entry in document["backfill"]["doses"]]
        assert rows == expected
        utilities = browser.execute_script("""return [...document.querySelectorAll(
            '#obd-table td[data-key=utility]')].map(td => td.innerText)""")
        assert utilities == [f"{e['utility']:.1f}" for e in document["obd"]["doses"]]
        obd = browser.execute_script(
            "return document.querySelector('#obd-summary td[data-key=obd]').innerText")
        assert obd == rich_text("3x10^8 viable cells")
        assert "the isotonic DLT rate p" in browser.execute_script(
            "return document.querySelector('#obd-rule').innerText")
