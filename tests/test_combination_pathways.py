"""Dose-transition pathways of the combination BLRM (``recommend --pathway-cohorts``): after a
DLT-free cohort the next pair is one drug one level up within the increment limit, after a
cohort of DLTs it is lower or the trial stops, and every step is what ``recommend`` says on the
same data."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bayesdose.cli import main
from bayesdose.data import TrialData, read_trial_data
from bayesdose.designs.blrm_comb.pathways import (
    pathway_json,
    pathway_lines,
    pathway_tree,
)
from bayesdose.designs.blrm_comb.recommendation import recommend_combination
from bayesdose.hypothetical import Cohort, with_cohorts
from bayesdose.schema import load_design

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "combination-blrm.toml"
FIRST_COHORT = "patient_id,cohort,dose_A,dose_B,dlt\nP1,1,25,0.5,0\nP2,1,25,0.5,0\nP3,1,25,0.5,0\n"


@pytest.fixture(scope="module")
def design():
    return load_design(CONFIG)


@pytest.fixture(scope="module")
def first_cohort(design, tmp_path_factory) -> TrialData:
    """0/3 at the start pair A 25 mg + B 0.5 mg: the next pair is A 50 mg + B 0.5 mg."""
    path = tmp_path_factory.mktemp("data") / "first.csv"
    path.write_text(FIRST_COHORT)
    return read_trial_data(path, design)


@pytest.fixture(scope="module")
def tree(design, first_cohort):
    return pathway_tree(design, first_cohort, 1)


def _levels(design, step):
    return design.pair_panel.pair(step.rec.decision.next_pair)


def test_one_cohort_deep_has_every_outcome_at_the_next_pair(design, tree):
    pairs = design.pair_panel
    assert pairs.label(tree.rec.decision.next_pair) == "A 50 mg + B 0.5 mg"
    assert [c.cohorts for c in tree.children] == [
        (Cohort(pairs.index(1, 0), 3, y),) for y in range(4)]
    assert all(not c.children for c in tree.children)


def test_a_dlt_free_cohort_escalates_one_drug_within_the_limits(design, tree):
    pairs = design.pair_panel
    clean = tree.children[0]
    d = clean.rec.decision
    assert d.direction == "escalate" and d.current_pair == pairs.index(1, 0)
    (ci, cj), (ni, nj) = pairs.pair(d.current_pair), _levels(design, clean)
    assert (ni - ci) + (nj - cj) == 1  # one level of one drug
    here, there = pairs.doses(d.current_pair), pairs.doses(d.next_pair)
    assert all(there[k] <= 2 * here[k] for k in here)  # [decision] max_increment = 1
    assert pairs.label(d.next_pair) == "A 80 mg + B 0.5 mg"
    assert clean.at_next("p_overdose") < 0.25


def test_dlts_in_every_patient_de_escalate(design, tree):
    worst = tree.children[3]
    d = worst.rec.decision
    assert d.direction == "de-escalate"
    assert design.pair_panel.label(d.next_pair) == "A 25 mg + B 0.5 mg"
    # and the P(target) / P(over) shown are the posterior's at that pair
    assert worst.at_next("p_target") == worst.rec.summary.p_target[0, d.next_pair]


def test_dlts_at_the_lowest_pair_stop_for_safety(design, tmp_path):
    """4/6 at the lowest pair, then 3/3 there: no pair meets EWOC, and with 9 patients at the
    lowest pair (>= safety_min_patients) the trial stops for safety."""
    rows = ["patient_id,cohort,dose_A,dose_B,dlt"] + [
        f"P{i},{i // 3 + 1},25,0.5,{int(i in (0, 1, 3, 4))}" for i in range(6)]
    path = tmp_path / "toxic.csv"
    path.write_text("\n".join(rows) + "\n")
    root = pathway_tree(design, read_trial_data(path, design), 1)
    assert root.rec.decision.next_pair == 0 and not root.rec.decision.stop
    last = root.children[3].rec.decision
    assert last.stop_reason == "safety" and last.next_pair is None
    assert root.children[3].at_next("p_target") is None


def test_every_step_is_what_recommend_says_on_that_data(design, first_cohort, tree):
    for child in tree.children:
        alone = recommend_combination(design, with_cohorts(first_cohort, child.cohorts))
        assert alone.decision == child.rec.decision
        for key in ("mean", "p_target", "p_overdose"):
            np.testing.assert_allclose(getattr(child.rec.summary, key),
                                       getattr(alone.summary, key), rtol=0, atol=1e-12)


def test_hypothetical_cohorts_follow_the_real_ones(design, first_cohort):
    data = with_cohorts(first_cohort, (Cohort(4, 3, 1), Cohort(5, 2, 2)))
    assert data.n[0] == 3 and data.n[4] == 3 and data.n[5] == 2
    assert data.dlt[4] == 1 and data.dlt[5] == 2 and data.total_patients == 8
    assert [p.cohort for p in data.patients] == [1, 1, 1, 2, 2, 2, 3, 3]
    assert [p.dlt for p in data.patients[3:]] == [1, 0, 0, 1, 1]


def test_with_aggregated_data_the_last_cohort_is_the_hypothetical_one(design, tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("dose_A,dose_B,n,dlt\n25,0.5,3,0\n50,0.5,3,0\n")
    data = read_trial_data(path, design)
    assert data.patients is None
    assert recommend_combination(design, data).decision.current_pair == 4  # A 50 + B 0.5
    grown = with_cohorts(data, (Cohort(1, 3, 0),))  # at A 25 mg + B 1 mg
    rec = recommend_combination(design, grown)
    assert rec.decision.current_pair == 1 and grown.n[1] == 3 and grown.total_patients == 9
    assert not any("aggregated" in note for note in rec.notes)


def test_the_text_and_the_json_of_the_tree(design, tree):
    lines = pathway_lines(tree, 1)
    assert len(lines) == 5 and lines[0].startswith("pathways: what recommend would say")
    assert lines[1] == ("  1. 0/3 at A 50 mg + B 0.5 mg -> A 80 mg + B 0.5 mg (escalate), "
                        f"P(target) {tree.children[0].at_next('p_target'):.3f}, "
                        f"P(over) {tree.children[0].at_next('p_overdose'):.3f}")
    document = pathway_json(tree, 1)
    assert document["cohorts"] == 1 and len(document["then"]) == 4
    first = document["then"][0]
    assert first["dose"] == {"A": 50.0, "B": 0.5} and (first["n"], first["dlt"]) == (3, 0)
    assert first["next_dose"] == {"A": 80.0, "B": 0.5} and first["then"] == []
    json.dumps(document)  # plain JSON types


def test_recommend_prints_and_writes_the_pathways(tmp_path):
    data = tmp_path / "first.csv"
    data.write_text(FIRST_COHORT)
    out = tmp_path / "rec.json"
    result = CliRunner().invoke(main, ["recommend", str(CONFIG), str(data), "--json", str(out),
                                       "--pathway-cohorts", "1"])
    assert result.exit_code == 0, result.output
    assert "  1. 3/3 at A 50 mg + B 0.5 mg -> A 25 mg + B 0.5 mg (de-escalate)" in result.output
    document = json.loads(out.read_text())
    assert [s["dlt"] for s in document["pathways"]["then"]] == [0, 1, 2, 3]
    assert document["next_dose"] == {"A": 50.0, "B": 0.5}


def test_pathways_on_a_single_agent_config_are_an_input_error():
    result = CliRunner().invoke(main, [
        "recommend", str(ROOT / "configs" / "xj-mk-002.toml"),
        str(ROOT / "configs" / "examples" / "xj-mk-002.csv"), "--pathway-cohorts", "1"])
    assert result.exit_code == 2
    assert "--pathway-cohorts" in result.output and "bayesdose report" in result.output


def test_the_pathway_tree_on_the_html_page_in_a_real_browser(browser, tmp_path):
    """``recommend --html --pathway-cohorts 2``: the tree drawn beside the pathway lines, one
    box per step with its next pair or stop as the JSON has it, every branch's DLTs."""
    data = tmp_path / "first.csv"
    data.write_text(FIRST_COHORT)
    page, out = tmp_path / "combo.html", tmp_path / "combo.json"
    result = CliRunner().invoke(main, ["recommend", str(CONFIG), str(data), "--pathway-cohorts",
                                       "2", "--html", str(page), "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    browser.get(page.as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    size = browser.execute_script("""const i = document.querySelector('#pathways-figure');
        const r = i.getBoundingClientRect(); return [i.complete, i.naturalWidth, r.width,
        r.height];""")
    assert size[0] and size[1] > 0 and size[2] > 600 and size[3] > 250
    text = browser.execute_script("return document.querySelector('#pathways-text').innerText")
    assert text.splitlines() == result.output.split("pathways: what recommend", 1)[1] \
        .splitlines()[1:]
    encoded = page.read_text().split('id="pathways-figure" src="data:image/svg+xml;base64,',
                                      1)[1].split('"', 1)[0]
    svg = base64.b64decode(encoded).decode()

    def box(step: dict) -> str:
        if step["stop_reason"] is None:
            return (f"A {step['next_dose']['A']:g} + B {step['next_dose']['B']:g} × "
                    f"{step['cohort_size']}")
        mtd = step["mtd"]
        return ("STOP: safety" if step["stop_reason"] == "safety"
                else f"STOP: MTD A {mtd['A']:g} + B {mtd['B']:g}")

    steps, stack = [], list(document["pathways"]["then"])
    while stack:
        step = stack.pop()
        steps.append(step)
        stack += step["then"]
    assert len(steps) == 4 + 4 * sum(s["stop_reason"] is None
                                     for s in document["pathways"]["then"])
    boxes = [box(s) for s in steps]
    root = f"now: A {document['next_dose']['A']:g} + B {document['next_dose']['B']:g} × 3"
    assert svg.count(f">{root}<") == 1
    for label in set(boxes):
        assert svg.count(f">{label}<") == boxes.count(label), label
    branches = [f">{s['dlt']}/{s['n']}<" for s in steps]
    for label in set(branches):
        assert svg.count(label) == branches.count(label)
