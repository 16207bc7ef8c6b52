"""Co-data for two drugs: the two-drug historical CSV, the config keys, the joint hierarchical
model's log density (against the deterministic combination model, at random points), and the
MCMC fit against OncoBayes2 0.8-8's fit of its introduction vignette
(tests/reference/oncobayes2/codata_combo2.json; the full fits run with BAYESDOSE_SLOW=1)."""

import json
import math
import os
import shutil

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.errors import InputError
from bayesdose.historical import read_combination_history
from bayesdose.models.combination_hierarchy import CombinationHierarchy, joint_model
from bayesdose.schema import load_design

CONFIG = CONFIGS / "combination-codata.toml"
HISTORY = CONFIGS / "examples" / "combination-codata-history.csv"
REFERENCE = CONFIGS.parent / "tests" / "reference" / "oncobayes2" / "codata_combo2.json"
INTERVALS = {"p_underdose": "(0,0.16]", "p_target": "(0.16,0.33]", "p_overdose": "(0.33,1]"}
SLOW = pytest.mark.skipif(os.environ.get("BAYESDOSE_SLOW") != "1",
                          reason="a full MCMC fit of the joint model: BAYESDOSE_SLOW=1")


def test_the_vignettes_monotherapy_histories_are_read_by_trial_and_split_by_drug():
    history = read_combination_history(HISTORY, ("A", "B"))
    assert history.names == ("trial_A", "trial_B")
    assert history.doses[3] == (8.0, 0.0) and history.doses[10] == (0.0, 1120.0)
    assert sum(history.n) == 86 and sum(history.dlt) == 8
    drug_b = history.monotherapy(1)
    assert drug_b.names == ("trial_B",) and drug_b.dose[0] == 33.3
    assert drug_b.n == (3, 3, 4, 9, 15, 20, 17) and drug_b.dlt == (0, 0, 0, 0, 0, 2, 4)


@pytest.mark.parametrize("text, where, problem", [
    ("trial,dose_A,n,dlt\nX,1,3,0\n", "row 1", "missing column 'dose_B'"),
    ("trial,dose_A,dose_B,n,dlt\nX,0,0,3,0\n", "row 2, column 'dose_A'", "both doses are 0"),
    ("trial,dose_A,dose_B,n,dlt\nX,1,-1,3,0\n", "row 2, column 'dose_B'", "expected a dose >= 0"),
    ("trial,dose_a,dose_b,n,dlt\nX,1,2,3,0\nX,1,2.0,3,1\n", "row 3, column 'dose_A'",
     "has dose (1, 2) also in row 2"),
    ("trial,dose_A,dose_B,n,dlt\nX,1,0,3,4\n", "row 2, column 'dlt'", "more than n"),
])
def test_a_bad_two_drug_history_names_file_row_and_column(tmp_path, text, where, problem):
    path = tmp_path / "h.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_combination_history(path, ("A", "B"))
    assert err.value.where == where and problem in err.value.problem


def test_a_drug_without_monotherapy_rows_has_no_map_prior(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("trial,dose_A,dose_B,n,dlt\nX,1,0,3,0\nY,1,2,3,1\n")
    with pytest.raises(InputError, match="no monotherapy rows of drug B"):
        read_combination_history(path, ("A", "B")).monotherapy(1)


def _config(tmp_path, old: str = "", new: str = ""):
    text = CONFIG.read_text()
    assert old in text
    (tmp_path / "examples").mkdir(exist_ok=True)
    shutil.copy(HISTORY, tmp_path / "examples" / HISTORY.name)
    path = tmp_path / "c.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, where, problem", [
    ('[model.B]\nprior = "exnex"', '[model.B]\nprior = "normal"', "[model] prior",
     "give it to both or neither"),
    ('data = "examples/combination-codata-history.csv"', 'data = "examples/none.csv"',
     None, "file not found"),
    ("tau_mean = -0.6931", "tau_mean = -0.6931\nex_probability = 0",
     "[model.interaction.hierarchy] ex_probability", "must be in (0, 1]"),
    ("tau_sd = 0.3536                # log(2) / 1.96", "tau_sd = 0",
     "[model.interaction.hierarchy] tau_sd", "must be > 0"),
])
def test_bad_codata_settings_are_named(tmp_path, old, new, where, problem):
    with pytest.raises(InputError) as err:
        load_design(_config(tmp_path, old, new))
    assert err.value.where == where and problem in err.value.problem


def test_history_needs_a_borrowing_prior_and_the_interactions_hierarchy_needs_exnex(tmp_path):
    text = CONFIG.read_text().replace('prior = "exnex"', 'prior = "normal"')
    text = text.replace("ex_probability = 1.0\n", "")
    for table in ("[model.A.hierarchy]", "[model.B.hierarchy]"):
        start = text.index(table)
        text = text[:start] + text[text.index("\n\n", start) + 2:]
    path = _config(tmp_path)
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_design(path)
    assert err.value.where == "[historical] data"
    path.write_text(text.replace('[historical]\ndata = "examples/combination-codata-history.csv"',
                                 ""))
    with pytest.raises(InputError) as err:
        load_design(path)
    assert err.value.where == "[model.interaction.hierarchy]"


def _numpy_log_potentials(design, point: dict, arms: np.ndarray, n, dlt) -> tuple[float, float]:
    """The historical and current log-likelihood terms at one point of the joint model,
    computed with the deterministic combination model (``CombinationBlrm.log_odds``)."""
    h = CombinationHierarchy.of(design)
    history = design.historical_trials
    blrm = h.nex

    def loglik(theta, doses, counts, dlts):
        lp = blrm.log_odds(theta, blrm.covariates(doses))
        return float(np.sum(dlts * lp - counts * np.logaddexp(0.0, lp)))

    trial = np.asarray(history.trial)
    theta = np.column_stack([point["theta_trials_A"][trial], point["theta_trials_B"][trial],
                             point["eta_trials"][trial]])
    rows = np.asarray(history.doses)
    historical = sum(loglik(theta[k], rows[k:k + 1], np.array([history.n[k]]),
                            np.array([history.dlt[k]])) for k in range(len(rows)))
    terms = []
    for combination in h.combinations():
        a, b = (point[f"theta_{'ex' if ex else 'nex'}_{d}"] for d, ex
                in zip("AB", combination[:2], strict=True))
        eta = point["eta_ex" if combination[2] else "eta_nex"]
        terms.append(h.log_probability(combination)
                     + loglik(np.concatenate([a, b, [eta]]), arms, n, dlt))
    return historical, float(np.logaddexp.reduce(terms))


def test_the_joint_models_log_density_is_the_combination_blrms_across_trials(tmp_path):
    """At random points of the PyMC model, its two likelihood terms equal those computed with
    the deterministic combination model: every trial's rows with its own parameters, and the
    current trial's EX/NEX combinations (here all 8: ex_probability 0.7, 0.6, 0.9) summed."""
    path = _config(tmp_path)
    path.write_text(path.read_text().replace("ex_probability = 1.0", "ex_probability = 0.7", 1)
                    .replace("ex_probability = 1.0", "ex_probability = 0.6", 1)
                    .replace("tau_sd = 0.3536                # log(2) / 1.96",
                             "tau_sd = 0.3536\nex_probability = 0.9"))
    design = load_design(path)
    h = CombinationHierarchy.of(design)
    assert len(h.combinations()) == 8 and h.ex_probability == (0.7, 0.6, 0.9)
    assert math.exp(h.log_probability((True, False, True))) == pytest.approx(0.7 * 0.4 * 0.9)
    arms = np.array([[3.0, 400.0], [3.0, 800.0], [6.0, 400.0], [8.0, 0.0], [0.0, 800.0]])
    n, dlt = np.array([3.0, 6, 6, 3, 3]), np.array([0.0, 2, 1, 1, 0])
    model = joint_model(h, design.historical_trials, arms, n, dlt)
    names = ["theta_trials_A", "theta_trials_B", "eta_trials", "theta_ex_A", "theta_nex_A",
             "theta_ex_B", "theta_nex_B", "eta_ex", "eta_nex"]
    evaluate = model.compile_fn([*model.potentials, *(model[name] for name in names),
                                 model["w_combinations"]], inputs=model.value_vars,
                                on_unused_input="ignore")
    rng = np.random.default_rng(5)
    for _ in range(5):
        point = {k: v + rng.normal(0, 0.7, np.shape(v))
                 for k, v in model.initial_point().items()}
        historical, current, *values, w = evaluate(point)
        expected = _numpy_log_potentials(design, dict(zip(names, values, strict=True)), arms,
                                         n, dlt)
        assert historical == pytest.approx(expected[0], rel=1e-10)
        assert current == pytest.approx(expected[1], rel=1e-10)
        # the posterior probability of each EX/NEX combination: a distribution over the 8
        assert w.shape == (8,) and w.sum() == pytest.approx(1.0)


def _reference(fit: str) -> dict:
    return json.loads(REFERENCE.read_text())["fits"][fit]


def test_the_reference_is_oncobayes2s_vignette_fit_with_its_simplified_prior():
    """The committed numbers come from the vignette's calls, with the simplified prior the
    config spells out (OncoBayes2's own call recorded beside them)."""
    ref = json.loads(REFERENCE.read_text())
    start = ref["fits"]["start"]
    assert "simplified_prior = TRUE" in ref["vignette_calls"]["start"]
    assert "prior_EX_tau_sd_comp = matrix(log(c(4,      2))/1.96, nrow = 2L, ncol = 2)" in (
        start["call"])
    assert ref["mcmc"]["total_post_warmup_draws"] >= 40000
    for fit in ref["fits"].values():
        assert fit["sampler_diagnostics"]["divergent_transitions"] == 0
        assert fit["crosscheck"]["max_abs_diff_interval_vs_oncobayes2_summary"] < 1e-12
    assert start["data"]["num_patients"] == [3, 3, 6, 3, 3, 3, 4, 9, 15, 20, 17]


@SLOW
@pytest.mark.parametrize("fit, data", [
    ("start", []),
    ("histdata", [(3, 400, 3, 0), (3, 800, 3, 1), (6, 400, 3, 1)]),
])
def test_the_joint_fit_is_oncobayes2s(tmp_path, fit, data):
    """trial_AB's interval probabilities and mean P(DLT) at every pair within 4 combined MCSE
    (ours about 0.007 from 4 x 1,000 draws, OncoBayes2's about 0.002 from 4 x 10,000) plus
    0.005 for the different summaries (ours Rao-Blackwellised over EX/NEX: none here)."""
    from bayesdose.inference.combination_exnex import fit_codata

    design = load_design(CONFIG)
    pairs = design.pair_panel
    arms = tuple(range(pairs.arms))
    n, dlt = np.zeros(len(arms)), np.zeros(len(arms))
    for a, b, patients, dlts in data:
        arm = pairs.arm_index({"A": a, "B": b})
        n[arm], dlt[arm] = patients, dlts
    summary, diagnostics = fit_codata(design, arms, n, dlt, seed=11)
    assert diagnostics["diagnostics_ok"]
    expected = _reference(fit)["pairs"]
    for column, arm in enumerate(arms):
        doses = pairs.arm_doses(arm)
        ref = expected[f"{doses['A']:g},{doses['B']:g}"]
        for name, interval in INTERVALS.items():
            se = math.hypot(summary[f"mcse_{name}"].values[column],
                            ref["interval_prob_mcse"][interval])
            assert abs(summary[name].values[column] - ref["interval_prob"][interval]) <= (
                4 * se + 0.005), (doses, name)
        se = math.hypot(summary["mcse_mean"].values[column], ref["p_dlt"]["mcse_mean"])
        assert abs(summary["mean"].values[column] - ref["p_dlt"]["mean"]) <= 4 * se + 0.005
