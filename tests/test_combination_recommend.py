"""``bayesdose recommend`` on a two-drug config: [model.<drug>] and [model.interaction],
dose_<name> data (pairs and monotherapy rows), the decision on hand-made posterior tables
(EWOC, increment, skipping, both escalated, coherence, the tie rule, the stops), the JSON
document, the decision record and the HTML page in a real browser."""

from __future__ import annotations

import base64
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.base import NO_DOSE
from bayesdose.designs.blrm_comb.decision import current_pair, decide_pairs
from bayesdose.errors import InputError
from bayesdose.schema import design_from_dict, load_design
from bayesdose.simulation.chunks import design_sha256

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "combination-blrm.toml"
DATA = ROOT / "configs" / "examples" / "combination-blrm.csv"
RAW = tomllib.loads(CONFIG.read_text())


def _design(**changes):
    """The example design with sections replaced (``model={...}`` replaces [model])."""
    raw = {**RAW, **changes}
    return design_from_dict(raw, "combo.toml")


def _recommend(*args):
    return CliRunner().invoke(main, ["recommend", *map(str, args)])


# --- config ------------------------------------------------------------------------------------


def test_each_drugs_prior_and_the_interaction_are_read():
    design = load_design(CONFIG)
    a, b = design.drug_priors
    assert a.weights == pytest.approx((0.56206771, 0.43793229))
    assert b.components[2].mean == (-3.09269497, -0.08761646)
    model = design.combination_model
    assert model.reference == (80.0, 1.0)
    assert model.interaction.form == "saturating" and model.interaction.prior_sd == 1.121


def test_a_drug_without_a_prior_gets_the_one_derived_from_its_levels():
    design = _design(model={"A": {"prior_mean": [-1.0, 0.0], "prior_sd": [1.0, 0.5]}})
    assert design.drug_priors[0].mean == (-1.0, 0.0)
    assert design.drug_priors[1].derived and "derived from the dose panel" in (
        design.drug_priors[1].explanation)
    assert design.interaction.form == "saturating"  # OncoBayes2's vignette's default
    assert design.interaction.prior_sd == pytest.approx(np.log(9) / 1.96)


@pytest.mark.parametrize(("model", "where", "problem"), [
    ({"prior_mean": [0, 0]}, "[model] prior_mean", "expected [model.A], [model.B], "
     "[model.interaction]"),
    ({"C": {}}, "[model] C", "one table per drug and the interaction"),
    ({"interaction": {"form": "cubic"}}, "[model.interaction] form",
     "expected one of 'none', 'linear', 'saturating', got 'cubic'"),
    ({"interaction": {"prior_sd": 0}}, "[model.interaction] prior_sd", "must be >= 1e-06"),
    ({"interaction": {"prior_mean": "x"}}, "[model.interaction] prior_mean",
     "expected a number"),
    ({"A": {"prior": "map"}}, "[historical] data", "needs the historical trials' CSV"),
    ({"A": {"prior": "exnex"}}, "[model] prior", "give it to both or neither"),
    ({"B": {"prior_mean": [0, 0]}}, "[model.B]", "give both prior_mean and prior_sd"),
    ({"B": {"prior": "mixture", "components": [{"weight": 0.5, "mean": [0, 0],
                                                "sd": [1, 1]}]}},
     "[[model.B.components]] weight", "the weights must sum to 1"),
])
def test_model_errors_name_the_key(model, where, problem):
    with pytest.raises(InputError) as err:
        _design(model=model)
    assert err.value.source == "combo.toml" and err.value.where == where
    assert problem in err.value.problem


def test_a_config_error_exits_2_naming_file_and_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(CONFIG.read_text().replace('form = "saturating"', 'form = "log"'))
    result = _recommend(config, DATA)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {config}, [model.interaction] form: expected one")


def test_hashes_of_configs_without_the_new_keys_are_unchanged():
    """Single-agent hashes (and two drugs', whose priors are not simulated yet) as on main (moved
    once, by the recalibrated default prior and MTD declaration: issue 17)."""
    configs = ROOT / "configs"
    assert design_sha256(load_design(configs / "standard-5dose.toml")) == (
        "e25160f3eb8c7e55e33074fb547ecad6111fc29e30dde53090613d3ef4e28bfc")
    assert design_sha256(load_design(configs / "combination-3x5.toml")) == (
        "f09726535903dd5e971cc15cb2c8f7820979816d2e5e41b7ffd26e5164b36ea9")


# --- data --------------------------------------------------------------------------------------


def test_pairs_and_monotherapy_rows_are_counted_per_arm():
    design = load_design(CONFIG)
    trial = read_trial_data(DATA, design)
    pairs = design.pair_panel
    assert pairs.arms == 16 + 4 + 4 and trial.n.shape == (24,)
    assert trial.n[pairs.index(2, 1)] == 9 and trial.dlt[pairs.index(2, 1)] == 2
    assert trial.n[pairs.arm_index({"A": 25, "B": 0})] == 3  # A alone
    assert trial.n[pairs.arm_index({"A": 0, "B": 1})] == 3  # B alone
    assert trial.total_patients == 30 and trial.dlt.sum() == 5
    assert current_pair(pairs, trial) == (pairs.index(2, 1), 1)  # the last cohort: 80 + 1


def test_aggregated_data_and_header_case(tmp_path):
    path = tmp_path / "agg.csv"
    path.write_text("DOSE_a,Dose_B,n,dlt\n25,0.5,3,0\n50,0,3,1\n")
    design = load_design(CONFIG)
    trial = read_trial_data(path, design)
    assert trial.patients is None and trial.n.sum() == 6
    assert trial.dlt[design.pair_panel.arm_index({"A": 50, "B": 0})] == 1


@pytest.mark.parametrize(("text", "where", "problem"), [
    ("patient_id,cohort,dose_A,dose_B,dlt\nP1,1,30,0.5,0\n", "row 2, column 'dose_A'",
     "dose 30 is not one of A's levels (25, 50, 80, 100) nor 0 (not given)"),
    ("patient_id,cohort,dose_A,dose_B,dlt\nP1,1,0,0,0\n", "row 2, column 'dose_A'",
     "both doses are 0"),
    ("patient_id,cohort,dose_A,dose_B,dlt\nP1,1,25,-1,0\n", "row 2, column 'dose_B'",
     "expected a dose >= 0"),
    ("patient_id,cohort,dose_A,dose_B,dlt\nP1,1,25,0.5,0\nP2,1,50,0.5,0\n",
     "row 3, column 'dose_A'", "cohort 1 was given another dose in row 2"),
    ("patient_id,cohort,dose_A,dlt\nP1,1,25,0\n", "row 1", "missing column 'dose_B'"),
    ("patient_id,cohort,dose,dlt\nP1,1,25,0\n", "row 1", "unexpected column 'dose'"),
    ("dose,n,dlt\n25,3,0\n", "row 1", "unexpected column 'dose'"),
    ("dose_A,dose_B,n,dlt\n25,0.5,3,0\n25,0.5,3,1\n", "row 3, column 'dose_A'",
     "dose A 25 mg + B 0.5 mg also in row 2"),
    ("dose_A,dose_B,n,dlt\n25,0,3,4\n", "row 2, column 'dlt'", "dlt = 4 is more than n = 3"),
    ("patient_id,cohort,dose_A,dose_B,dlt,response\nP1,1,25,0.5,0,1\n",
     "column 'response'", "responses and backfill patients are read for one drug only"),
    ("patient_id,cohort,dose_A,dose_B,dlt,enrolled\nP1,1,25,0.5,0,2024-01-01\n",
     "column 'enrolled'", "dated data needs --as-of DATE"),
])
def test_data_errors_name_file_row_and_field(tmp_path, text, where, problem):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_trial_data(path, load_design(CONFIG))
    assert err.value.source == str(path) and err.value.where == where
    assert problem in err.value.problem


def test_a_data_error_exits_2_and_writes_nothing(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("patient_id,cohort,dose_A,dose_B,dlt\nP1,1,25,7,0\n")
    out = tmp_path / "out.json"
    result = _recommend(CONFIG, data, "--json", out, "--record-dir", tmp_path / "records")
    assert result.exit_code == 2 and "row 2, column 'dose_B'" in result.output
    assert not out.exists() and not (tmp_path / "records").exists()


# --- decisions on hand-made posterior tables ---------------------------------------------------


def _decide(p_target, p_over, n_pairs, current, last_dlt=0, total=None, **design):
    """decide_pairs on the example's 4 x 4 grid; ``n_pairs`` {(i, j): patients}."""
    d = _design(**design) if design else load_design(CONFIG)
    n = np.zeros((4, 4), dtype=int)
    for pair, count in n_pairs.items():
        n[pair] = count
    flat = NO_DOSE if current is None else d.pair_panel.index(*current)
    return d, decide_pairs(d, n, int(n.sum()) if total is None else total,
                           np.asarray(p_target, float), np.asarray(p_over, float), flat,
                           last_dlt)


def test_ewoc_bars_a_pair_whose_p_over_reaches_the_threshold():
    """(1, 0) has the highest P(target) but P(over) = 0.25 exactly (>= 0.25): barred; (0, 1)
    at 0.2499 is allowed and chosen."""
    p_target, p_over = np.full((4, 4), 0.1), np.zeros((4, 4))
    p_target[1, 0], p_over[1, 0] = 0.6, 0.25
    p_target[0, 1], p_over[0, 1] = 0.5, 0.2499
    design, d = _decide(p_target, p_over, {(0, 0): 3}, (0, 0))
    pairs = design.pair_panel
    assert d.barred_by[pairs.index(1, 0)] == "overdose_probability"
    assert d.why_barred[pairs.index(1, 0)] == "EWOC: P(overdosing) 0.250 >= 0.25"
    assert d.next_pair == pairs.index(0, 1) and d.direction == "escalate"
    assert d.reason.startswith("A 50 mg + B 0.5 mg (0.600) is barred (EWOC")


def test_increment_skipping_and_both_escalated_limits():
    """From (0, 0), everything safe, P(target) rising with both levels: (2, 0) is 80 > 2 x 25
    (increment), (0, 2) is 2 mg = 4 x 0.5 (increment), (1, 1) escalates both; with a 300%
    increment (2, 0) skips A's untried 50 mg. The next pair is (1, 0) or (0, 1): P(target)
    0.2 each, a tie broken by the lower level of A."""
    i, j = np.mgrid[0:4, 0:4]
    p_target = 0.1 * (i + j)
    design, d = _decide(p_target, np.zeros((4, 4)), {(0, 0): 3}, (0, 0))
    pairs = design.pair_panel
    assert d.barred_by[pairs.index(2, 0)] == "increment"
    assert d.why_barred[pairs.index(2, 0)] == (
        "increment: A 80 mg > 2 x 25 mg (its dose in the current pair)")
    assert d.barred_by[pairs.index(0, 2)] == "increment"
    assert d.barred_by[pairs.index(1, 1)] == "both_escalated"
    assert d.next_pair == pairs.index(0, 1)
    assert "tied with A 50 mg + B 0.5 mg (ties: the lower sum of levels, then the lower " \
           "level of drug A)" in d.reason
    _, wide = _decide(p_target, np.zeros((4, 4)), {(0, 0): 3}, (0, 0),
                      decision={**RAW["decision"], "max_increment": 3.0})
    assert wide.barred_by[pairs.index(2, 0)] == "skipping"
    assert wide.why_barred[pairs.index(2, 0)] == (
        "no skipping: A 80 mg is more than one level above its highest given")


def test_the_tie_rule_prefers_the_lower_sum_of_levels():
    """Equal P(target) at the current pair (1, 1) and at (0, 1) and (1, 0) (after a DLT, so
    only staying or de-escalating is allowed): the lower sum of levels wins over staying,
    then the lower level of A."""
    p_target = np.zeros((4, 4))
    p_target[0, 1] = p_target[1, 0] = p_target[1, 1] = 0.4
    design, d = _decide(p_target, np.zeros((4, 4)), {(0, 0): 3, (1, 1): 3}, (1, 1),
                        last_dlt=1)
    pairs = design.pair_panel
    assert d.barred_by[pairs.index(1, 1)] is None
    assert d.next_pair == pairs.index(0, 1) and d.direction == "de-escalate"
    assert d.reason.endswith("A 25 mg + B 1 mg has the highest P(target) (0.400) among "
                             "allowed pairs, tied with A 50 mg + B 0.5 mg, A 50 mg + B 1 mg "
                             "(ties: the lower sum of levels, then the lower level of drug A)")


def test_coherence_after_a_cohort_with_and_without_a_dlt():
    """At (1, 1): after a DLT no pair at or above it in both drugs, (1, 2) barred while the
    switch (0, 2) stays allowed; after none, no pair at or below it in both."""
    p_target = np.full((4, 4), 0.3)
    n = {(0, 0): 3, (1, 1): 3, (1, 0): 3, (0, 1): 3}
    design, after_dlt = _decide(p_target, np.zeros((4, 4)), n, (1, 1), last_dlt=1)
    pairs = design.pair_panel
    assert after_dlt.barred_by[pairs.index(1, 2)] == "coherence"
    assert after_dlt.why_barred[pairs.index(1, 2)] == (
        "coherence: no escalation right after a cohort with a DLT")
    assert after_dlt.barred_by[pairs.index(0, 2)] is None
    assert after_dlt.barred_by[pairs.index(0, 1)] is None
    _, none = _decide(p_target, np.zeros((4, 4)), n, (1, 1), last_dlt=0)
    assert none.barred_by[pairs.index(0, 1)] == "coherence"
    assert none.barred_by[pairs.index(1, 2)] is None
    _, unknown = _decide(p_target, np.zeros((4, 4)), n, (1, 1), last_dlt=None)
    assert "coherence" not in unknown.barred_by


def test_the_stops_and_the_mtd_set():
    p_target, p_over = np.full((4, 4), 0.2), np.full((4, 4), 0.1)
    p_target[1, 1], p_over[3, :] = 0.55, 0.5
    design, declared = _decide(p_target, p_over, {(0, 0): 3, (1, 1): 6, (0, 1): 3}, (1, 1))
    pairs = design.pair_panel
    assert declared.stop_reason == "mtd_declared" and declared.mtd_pair == pairs.index(1, 1)
    assert declared.next_pair is None and declared.cohort_size == 0
    assert declared.contour == (0, 1, 0, None)  # per row; row 3 all above EWOC
    _, full = _decide(p_target, p_over, {(0, 0): 3, (1, 1): 5, (0, 1): 3}, (1, 1), total=60)
    assert full.stop_reason == "max_patients" and full.mtd_pair == pairs.index(1, 1)
    _, safety = _decide(p_target, np.full((4, 4), 0.9), {(0, 0): 3}, (0, 0), last_dlt=2)
    assert safety.stop_reason == "safety" and safety.mtd_pair is None
    assert safety.reason.startswith("the lowest pair is too toxic: P(DLT rate there >= 0.33)"
                                    " = 0.900 > 0.8 with 3 patients")


def test_before_any_pair_the_start_pair():
    design, d = _decide(np.zeros((4, 4)), np.ones((4, 4)), {}, None, total=3)
    assert d.next_pair == design.start_pair == 0 and d.direction == "start"
    assert d.reason == "no patients at a pair yet: start at A 25 mg + B 0.5 mg"


# --- the command ---------------------------------------------------------------------------------


def test_recommend_json_document(tmp_path):
    out = tmp_path / "rec.json"
    result = _recommend(CONFIG, DATA, "--json", out)
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert len(document["doses"]) == 16 and len(document["monotherapy"]) == 2
    first = document["doses"][0]
    assert first["dose"] == {"A": 25.0, "B": 0.5} and first["level"] == [1, 1]
    assert {"n", "dlt", "mean", "sd", "p_underdose", "p_target", "p_overdose", "allowed",
            "barred_by", "why_barred", "borderline"} <= set(first)
    for entry in document["doses"]:
        total = entry["p_underdose"] + entry["p_target"] + entry["p_overdose"]
        assert total == pytest.approx(1, abs=1e-9)
        assert entry["allowed"] == (entry["barred_by"] is None)
        assert entry["allowed"] or entry["p_overdose"] < 0.25 or (
            entry["barred_by"] == "overdose_probability")
    assert document["monotherapy"][0]["dose"] == {"A": 25.0, "B": 0.0}
    assert "allowed" not in document["monotherapy"][0]
    assert document["next_dose"] == {"A": 80.0, "B": 0.5}
    assert document["current_dose"] == {"A": 80.0, "B": 1.0}
    assert document["direction"] == "de-escalate" and not document["stop"]
    assert document["unit"] == {"A": "mg", "B": "mg"} and document["drugs"] == ["A", "B"]
    allowed = [e for e in document["doses"] if e["allowed"]]
    best = max(allowed, key=lambda e: e["p_target"])
    assert best["dose"] == document["next_dose"]  # no tie here
    assert [m and m["dose"] for m in document["mtd_set"]] == [
        {"A": 25.0, "B": 3.0}, {"A": 50.0, "B": 2.0}, {"A": 80.0, "B": 0.5}, None]
    diagnostics = document["diagnostics"]
    assert diagnostics["resolved"] and diagnostics["error_bound"] == 0.003
    assert diagnostics["lines"] == 1024 and diagnostics["ess"] > 300
    assert document["prior"]["interaction"]["form"] == "saturating"
    assert len(document["prior"]["B"]["mixture"]) == 3
    assert document["inputs"]["config_sha256"] and document["tie_rule"].startswith("the next")
    assert "A 80 mg + B 0.5 mg has the highest P(target)" in result.output
    assert "combination engine (deterministic): resolved" in result.output


def test_the_answer_is_the_same_on_every_run(tmp_path):
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    for path in (first, second):
        assert _recommend(CONFIG, DATA, "--json", path).exit_code == 0
    strip = ("inputs",)
    one, two = (json.loads(p.read_text()) for p in (first, second))
    assert {k: v for k, v in one.items() if k not in strip} == {
        k: v for k, v in two.items() if k not in strip}


def test_the_decision_record_is_written_and_verified(tmp_path):
    records = tmp_path / "records"
    result = _recommend(CONFIG, DATA, "--record-dir", records)
    assert result.exit_code == 0, result.output
    files = list(records.glob("*.json"))
    assert len(files) == 1
    record = json.loads(files[0].read_text())
    assert record["config_content"] == CONFIG.read_text()
    assert record["next_dose"] == {"A": 80.0, "B": 0.5}
    verified = CliRunner().invoke(main, ["verify-records", str(records)])
    assert verified.exit_code == 0, verified.output
    assert "ok" in verified.output


def test_the_start_on_header_only_data(tmp_path):
    data = tmp_path / "none.csv"
    data.write_text("patient_id,cohort,dose_A,dose_B,dlt\n")
    result = _recommend(CONFIG, data)
    assert result.exit_code == 0, result.output
    assert ("next: A 25 mg + B 0.5 mg, cohort of 3: start — no patients at a pair yet: start "
            "at A 25 mg + B 0.5 mg") in result.output


def test_aggregated_data_say_coherence_was_not_applied(tmp_path):
    data = tmp_path / "agg.csv"
    data.write_text("dose_A,dose_B,n,dlt\n25,0.5,3,0\n50,0.5,3,0\n")
    result = _recommend(CONFIG, data)
    assert result.exit_code == 0, result.output
    assert "the coherence rule (which reads the last cohort) was not applied" in result.output
    assert "from A 50 mg + B 0.5 mg" in result.output  # the furthest pair given


@pytest.mark.parametrize(("options", "where"), [
    (("--design", "boin"), "--design boin: two drugs: only the combination BLRM"),
    (("--plot", "p.png"), "--plot: not built for two drugs"),
])
def test_what_is_not_built_is_a_clear_error(tmp_path, options, where):
    out = tmp_path / "rec.json"
    result = _recommend(CONFIG, DATA, *options, "--json", out)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {where}")
    assert not out.exists()


def test_the_html_page_in_a_real_browser(browser, tmp_path):
    """Self-contained, the heatmaps drawn, the table's numbers those of the JSON, the next
    pair's row marked, the engine's check and the reason shown."""
    page, js = tmp_path / "combo.html", tmp_path / "combo.json"
    result = _recommend(CONFIG, DATA, "--html", page, "--json", js)
    assert result.exit_code == 0, result.output
    document = json.loads(js.read_text())
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    assert browser.execute_script("return document.scripts.length") == 0
    images = browser.execute_script("""return [...document.images].map(i => {
        const r = i.getBoundingClientRect(); return [i.complete, i.naturalWidth, r.width,
        r.height];});""")
    assert len(images) == 1 and images[0][0] and images[0][1] > 0
    assert images[0][2] > 600 and images[0][3] > 250
    reason = browser.execute_script("return document.querySelector('#reason').innerText")
    assert reason == document["reason"]
    shown = browser.execute_script("""return [...document.querySelectorAll('td[data-key]')]
        .map(td => [td.dataset.key, td.innerText])""")
    keys = ("mean", "sd", "p_underdose", "p_target", "p_overdose")
    expected = [[key, f"{entry[key]:.3f}"] for entry in
                document["doses"] + document["monotherapy"] for key in keys]
    assert shown == expected
    marked = browser.execute_script("""return [...document.querySelectorAll('tr.next th')]
        .map(th => th.innerText)""")
    assert marked == ["80", "0.5"]
    engine = browser.execute_script("return document.querySelector('#engine').innerText")
    assert engine.startswith("combination engine (deterministic): resolved")
    encoded = page.read_text().split("data:image/svg+xml;base64,", 1)[1].split('"', 1)[0]
    svg = base64.b64decode(encoded).decode()
    assert ">P(overdosing)<" in svg and ">P(target)<" in svg
    barred = sum(not entry["allowed"] for entry in document["doses"])
    assert svg.count(">×<") == 2 * barred  # a cross on every barred pair of both maps
    assert svg.count(">0.691<") == 1  # the next pair's P(target), as the JSON has it


def test_validate_names_the_grid_the_priors_and_the_data():
    result = CliRunner().invoke(main, ["validate", str(CONFIG), str(DATA)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{CONFIG}: valid two-drug design 'Combination A + B (MAP priors)': A at 25, 50, 80, "
        "100 by B at 0.5, 1, 2, 3",
        "prior of A: mixture of 2 bivariate normals, weights 0.562068, 0.437932",
        "prior of B: mixture of 3 bivariate normals, weights 0.377487, 0.371308, 0.251205",
        "interaction: saturating, eta ~ N(0, 1.12^2)",
        f"{DATA}: valid patient level data, 30 patients, 5 DLTs",
    ]
