"""`bayesdose calibrate`: exact measures of many scenarios, the search, its outputs, bad input.

Small designs (3 doses, at most 12 patients) keep every exact tree small and the tests fast."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import bayesdose
from bayesdose.calibration.knobs import Knob, apply, parse_knobs
from bayesdose.calibration.objective import Evaluator, ScenarioSet
from bayesdose.calibration.run import Calibration, calibrate, write_outputs
from bayesdose.calibration.search import Setting
from bayesdose.calibration.toml_edit import set_keys
from bayesdose.cli import main
from bayesdose.errors import InputError
from bayesdose.models.prior import DEFAULT_RULE, DerivationRule, derive_prior
from bayesdose.schema import load_design
from bayesdose.simulation.random_scenarios import random_scenarios
from bayesdose.simulation.scenarios import Scenario
from bayesdose.simulation.study import run_study, state_space
from bayesdose.simulation.tree import exact_final_states
from bayesdose.simulation.treeplan import TreePlan

CONFIG_TEXT = """\
# A small design for calibration tests.
[trial]
name = "Three doses"

[doses]
levels = [1, 2, 4]

[decision]
target = 0.3
target_interval = [0.2, 0.35]

[cohorts]
size = 3

[stopping]
max_patients = 12
mtd_min_patients = 6   # kept with its comment
"""
SCENARIOS = [Scenario("low", (0.05, 0.1, 0.3)), Scenario("middle", (0.1, 0.3, 0.5)),
             Scenario("high", (0.3, 0.45, 0.6)), Scenario("toxic", (0.5, 0.6, 0.7)),
             Scenario("flat", (0.0, 0.0, 1.0))]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(CONFIG_TEXT)
    return path


def mean_oc(design, scenarios, name):
    """The four measures averaged over scenarios by the simulation study's exact method."""
    entries = run_study(design, scenarios, [name], 0, 1, "exact").summary["scenarios"]
    return {k: np.mean([e["designs"][name][k] for e in entries])
            for k in ("pcs", "select_above_mtd", "p_above_mtd", "n_mean")}


# -- exact measures of many scenarios ------------------------------------------------------


@pytest.mark.parametrize("name", ["blrm", "boin", "3+3"])
def test_one_walk_gives_each_scenarios_exact_final_states(config, name):
    design = load_design(config)
    space = state_space(design, name)
    plan = TreePlan.of(space)
    p_true = np.array([s.p_true for s in SCENARIOS])
    weight = plan.final_probabilities(p_true)
    assert np.allclose(weight.sum(axis=0), 1.0, atol=1e-12)
    for s, scenario in enumerate(SCENARIOS):
        single = exact_final_states(space, np.array(scenario.p_true))
        by_id = dict(zip(plan.final_ids, weight[:, s], strict=True))
        assert all(abs(by_id[i] - w) < 1e-13 for i, w in zip(single.ids, single.probability,
                                                              strict=True))
        assert sum(by_id[i] for i in single.ids) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", ["blrm", "boin"])
def test_exact_means_are_the_simulation_studys_and_simulation_is_close(config, name):
    design = load_design(config)
    expected = mean_oc(design, SCENARIOS, name)
    exact, how = Evaluator(ScenarioSet.of(SCENARIOS, 0.3), "exact", 0, 1).evaluate(design, name)
    assert how == "exact"
    assert exact == pytest.approx(expected, abs=1e-12)
    simulated, how = Evaluator(ScenarioSet.of(SCENARIOS, 0.3), "simulate", 4000,
                               1).evaluate(design, name)
    assert how == "simulate"
    assert simulated["pcs"] == pytest.approx(expected["pcs"], abs=0.02)
    assert simulated["n_mean"] == pytest.approx(expected["n_mean"], abs=0.2)


# -- the search ----------------------------------------------------------------------------


def test_the_search_finds_the_best_feasible_value_of_a_dense_grid(config):
    """One whole-number knob, mtd_min_patients in 3..9: the grid of all seven values, computed
    exactly, has a best feasible PCS; the search's choice must have it."""
    design = load_design(config)
    scenarios = random_scenarios(30, 3, 0.3, 2)
    knob = parse_knobs(["stopping.mtd_min_patients=3:9"], design)
    result = calibrate(design, ScenarioSet.of(scenarios, 0.3), knob, "boin", budget=7, seed=1,
                       method="exact", trials=0)
    reference = mean_oc(design, scenarios, "boin")
    grid = {}
    for value in range(3, 10):
        oc = mean_oc(apply(design, knob, [value]), scenarios, "blrm")
        if (oc["select_above_mtd"] <= reference["select_above_mtd"] + 1e-9
                and oc["p_above_mtd"] <= reference["p_above_mtd"] + 1e-9):
            grid[value] = oc["pcs"]
    assert grid, "the test needs a feasible value"
    chosen = result.settings[result.chosen]
    assert chosen.measures["pcs"] == pytest.approx(max(grid.values()), abs=1e-12)
    assert chosen.values[0] in [v for v, pcs in grid.items() if pcs == max(grid.values())]


def test_the_chosen_setting_is_no_worse_than_the_reference_and_best_of_those_tried(config):
    design = load_design(config)
    scenarios = random_scenarios(20, 3, 0.3, 4, "pseudo-uniform")
    knobs = parse_knobs([], design)  # the default: prior means and sds, MTD declaration
    assert [k.name for k in knobs] == [
        "model.prior_mean[0]", "model.prior_mean[1]", "model.prior_sd[0]", "model.prior_sd[1]",
        "stopping.mtd_min_patients", "stopping.mtd_min_p_target"]
    result = calibrate(design, ScenarioSet.of(scenarios, 0.3), knobs, "3+3", budget=8, seed=3,
                       method="exact", trials=0)
    assert len(result.settings) == 8 and result.settings[0].stage == "input"
    assert {s.stage for s in result.settings[1:]} == {"space-filling", "refinement"}
    chosen = result.settings[result.chosen]
    again = mean_oc(result.calibrated, scenarios, "blrm")  # recomputed from the design
    assert again == pytest.approx(chosen.measures, abs=1e-12)
    reference = mean_oc(design, scenarios, "3+3")
    assert again["select_above_mtd"] <= reference["select_above_mtd"] + 1e-9
    assert again["p_above_mtd"] <= reference["p_above_mtd"] + 1e-9
    feasible = [s for s in result.settings if s.excess(result.reference) == 0]
    assert chosen.measures["pcs"] == max(s.measures["pcs"] for s in feasible)
    infeasible = [s for s in result.settings if s.excess(result.reference) > 0]
    assert all(s.score(result.reference) > 1 for s in infeasible)


# -- outputs ---------------------------------------------------------------------------------


def test_cli_writes_the_calibrated_config_the_document_and_the_figure(config, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "calibrate", str(config), "--random", "12", "--seed", "2", "--budget", "5", "--tune",
        "model.prior_mean[0]=-3:0", "--tune", "stopping.mtd_min_p_target=0.3:0.7", "--out",
        str(out)])
    assert result.exit_code == 0, result.output
    assert "against boin: 5 settings" in result.output
    document = json.loads((out / "calibration.json").read_text())
    assert [k["name"] for k in document["knobs"]] == ["model.prior_mean[0]",
                                                      "stopping.mtd_min_p_target"]
    assert len(document["settings"]) == 5 and document["scenarios"]["count"] == 12
    assert document["scenarios"]["curves"][0]["name"] == "random-1"
    assert set(document["against"]) >= {"design", "pcs", "select_above_mtd", "p_above_mtd"}
    chosen = document["settings"][document["chosen"]]
    assert chosen["feasible"]
    for measure in ("select_above_mtd", "p_above_mtd"):
        assert chosen[measure] <= document["against"][measure] + 1e-9
        front = document["front"][measure]
        assert document["chosen"] in front or any(
            document["settings"][i]["pcs"] > chosen["pcs"] for i in front)
    text = (out / "calibrated.toml").read_text()
    calibrated = load_design(out / "calibrated.toml")
    assert calibrated.model.prior_mean[0] == chosen["values"]["model.prior_mean[0]"]
    assert calibrated.stopping.mtd_min_p_target == chosen["values"]["stopping.mtd_min_p_target"]
    derived = load_design(config).mean_prior  # the derived prior is written out whole
    assert calibrated.model.prior_mean[1] == derived.mean[1]
    assert calibrated.model.prior_sd == derived.sd
    assert "[0] calibrated: best of 5 settings over [-3, 0] (bayesdose calibrate)" in text
    assert "mtd_min_patients = 6   # kept with its comment" in text
    assert text.startswith("# A small design for calibration tests.")
    assert (out / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "front.svg").read_text()


def test_the_derived_rule_is_tuned_and_written_out_as_the_prior_it_derives(config, tmp_path):
    """``derived.*`` knobs tune the rule that derives the prior from the panel: each setting's
    design has exactly the prior derive_prior gives for its rule, and calibrated.toml states
    that prior and the rule's values."""
    design = load_design(config)
    knobs = parse_knobs(["derived.p_lowest=0.01:0.08", "derived.p_highest=0.1:0.4",
                         "derived.sd[1]=0.4:1"], design)
    tuned = apply(design, knobs, [0.02, 0.15, 0.5])
    sd = (DEFAULT_RULE.sd[0], 0.5)  # sd[0] is not tuned: the default rule's
    prior = derive_prior((1, 2, 4), 4, 0.0, DerivationRule(0.02, 0.15, sd))
    assert tuned.mean_prior.mean == prior.mean and tuned.mean_prior.sd == sd
    # logit 0.15 at the reference (highest) dose; beta = (logit 0.15 - logit 0.02) / log 4
    assert prior.mean[0] == pytest.approx(-1.7346, abs=1e-4)
    assert prior.mean[1] == pytest.approx(math.log((-1.7346 + 3.8918) / math.log(4)), abs=1e-4)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "calibrate", str(config), "--random", "12", "--seed", "2", "--budget", "4",
        *[a for k in ("derived.p_lowest=0.01:0.08", "derived.p_highest=0.1:0.4")
          for a in ("--tune", k)], "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "calibration.json").read_text())
    values = document["settings"][document["chosen"]]["values"]
    assert document["settings"][0]["values"] == {"derived.p_lowest": DEFAULT_RULE.p_lowest,
                                                 "derived.p_highest": DEFAULT_RULE.p_highest}
    rule = DerivationRule(values["derived.p_lowest"], values["derived.p_highest"])
    calibrated = load_design(out / "calibrated.toml")
    assert calibrated.mean_prior.mean == derive_prior((1, 2, 4), 4, 0.0, rule).mean
    text = (out / "calibrated.toml").read_text()
    assert (f"derived from the dose panel by the calibrated rule derived.p_lowest = "
            f"{values['derived.p_lowest']:g}, derived.p_highest = "
            f"{values['derived.p_highest']:g} (best of 4 settings") in text


def test_without_a_feasible_setting_no_calibrated_config_is_left(config, tmp_path):
    design = load_design(config)
    knob = [Knob(("stopping", "mtd_min_p_target"), None, 0.3, 0.7, False)]
    measures = {"pcs": 0.5, "select_above_mtd": 0.2, "p_above_mtd": 0.3, "n_mean": 12.0}
    reference = dict(measures, select_above_mtd=0.1)
    result = Calibration(design, knob, ScenarioSet.of(SCENARIOS, 0.3), "boin", reference,
                         "exact", [Setting((0.5,), "input", measures, "exact")], None, 1.0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "calibrated.toml").write_text("an earlier run's")
    write_outputs(result, CONFIG_TEXT, {"file": "x"}, out)
    assert not (out / "calibrated.toml").exists()
    document = json.loads((out / "calibration.json").read_text())
    assert document["chosen"] is None and not document["settings"][0]["feasible"]


def test_api_calibrate_returns_the_document_the_toml_and_the_design(config):
    result = bayesdose.calibrate(config, SCENARIOS, tune=["stopping.mtd_min_p_target=0.3:0.7"],
                                 budget=3, progress=False)
    assert len(result.document["settings"]) == 3
    assert result.design.stopping.mtd_min_p_target == result.document["settings"][
        result.document["chosen"]]["values"]["stopping.mtd_min_p_target"]
    assert tomllib.loads(result.toml)["stopping"]["mtd_min_p_target"] == \
        result.design.stopping.mtd_min_p_target
    assert "against boin: 3 settings" in str(result)


# -- the config's text ------------------------------------------------------------------------


def test_set_keys_replaces_adds_and_keeps_everything_else():
    text = ("# head\n[model]\nprior_mean = [\n  -1.0,\n  0.0,\n]  # elicited\nprior_sd = [2.0, 1.0]"
            "\n\n[model.hierarchy]\n\n[stopping]\nmax_patients = 30\n")
    changes = {("model", "prior_mean"): ((-0.5, 0.1), "new"),
               ("model", "prior_correlation"): (0.2, "added"),
               ("stopping", "mtd_min_p_target"): (0.4, "added too"),
               ("decision", "max_overdose_probability"): (0.3, "a new table")}
    edited = set_keys(text, changes)
    assert edited.splitlines()[:5] == ["# head", "[model]", "prior_mean = [-0.5, 0.1]  # new",
                                       "prior_sd = [2.0, 1.0]", "prior_correlation = 0.2  # added"]
    parsed = tomllib.loads(edited)
    assert parsed["stopping"] == {"max_patients": 30, "mtd_min_p_target": 0.4}
    assert parsed["decision"] == {"max_overdose_probability": 0.3}
    assert parsed["model"]["hierarchy"] == {}


def test_set_keys_refuses_a_key_it_cannot_place():
    with pytest.raises(ValueError, match="dotted key"):
        set_keys("stopping.max_patients = 30\n", {("stopping", "max_patients"): (20, "x")})


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("tune", "message"), [
    ("model.nope=0:1", "unknown key 'nope' in model"),
    ("stopping.mtd_min_p_target=0.7:0.3", "LOW must be below HIGH (got 0.7:0.3)"),
    ("stopping.mtd_min_p_target=0.5:0.5", "LOW must be below HIGH"),
    ("decision.allow_skipping=0:1", "not a number (now False)"),
    ("model.prior_mean=0:1", "a list of 2 numbers: name one element, [0] to [1]"),
    ("decision.target=0.2:0.4", "not a knob: the BLRM is tuned by the keys of [model]"),
    ("designs.crm.halfwidth=0.02:0.08", "other than decision.target and stopping.max_patients"),
    ("stopping.mtd_min_patients=3:7.5", "whole-number LOW and HIGH"),
    ("stopping.mtd_min_p_target", "expected SECTION.KEY=LOW:HIGH"),
    ("stopping.mtd_min_p_target=a:b", "expected LOW:HIGH, two numbers"),
    ("model.prior_sd[0]=-1:2", "-1 is not a valid value"),
    ("derived.p_lowest=0.05:0.95", "derived.p_lowest=0.95: the ranges allow an invalid rule: "
     "a derived prior needs 0 < p_lowest < p_highest < 1"),
    ("derived.sd=0.5:2", "sd is a pair (name sd[0] or sd[1])"),
    ("derived.p_middle=0.1:0.2", "the derived prior's rule has p_lowest, p_highest"),
])
def test_bad_tune_is_exit_2_and_nothing_is_written(config, tmp_path, tune, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["calibrate", str(config), "--random", "3", "--tune", tune,
                                       "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.startswith("error: --tune")
    assert not out.exists()


def test_calibrate_needs_exactly_one_scenario_source(config, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["calibrate", str(config), "--out", str(out)])
    assert result.exit_code == 2 and "give either a scenario file" in result.output
    assert not out.exists()


def test_a_key_calibrated_toml_cannot_set_is_refused_before_computing(tmp_path):
    path = tmp_path / "inline.toml"
    path.write_text("stopping = { max_patients = 12, mtd_min_p_target = 0.5 }\n"
                    "[doses]\nlevels = [1, 2, 4]\n[decision]\ntarget = 0.3\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["calibrate", str(path), "--random", "3", "--tune",
                                       "stopping.mtd_min_p_target=0.3:0.7", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "calibrated.toml could not be written" in result.output and not out.exists()


def test_the_rule_ranges_must_make_a_valid_rule_at_every_corner(config, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["calibrate", str(config), "--random", "3", "--tune",
                                       "derived.p_lowest=0.05:0.2", "--tune",
                                       "derived.p_highest=0.15:0.4", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert ("derived.p_lowest=0.2, derived.p_highest=0.15: the ranges allow an invalid rule"
            in result.output) and not out.exists()


def test_the_rule_is_tuned_only_where_the_prior_is_derived(tmp_path):
    path = tmp_path / "given.toml"
    path.write_text(CONFIG_TEXT + "\n[model]\nprior_mean = [-1.0, 0.0]\nprior_sd = [2.0, 1.0]\n")
    with pytest.raises(InputError, match="this config gives its own prior"):
        parse_knobs(["derived.p_highest=0.1:0.4"], load_design(path))


def test_default_knobs_need_a_normal_prior(tmp_path):
    path = tmp_path / "mixture.toml"
    path.write_text(CONFIG_TEXT + "\n[model]\nprior = 'mixture'\n[[model.components]]\n"
                    "weight = 1.0\nmean = [-1.0, 0.0]\nsd = [2.0, 1.0]\n")
    with pytest.raises(InputError, match="tuned for a normal prior"):
        parse_knobs([], load_design(path))
