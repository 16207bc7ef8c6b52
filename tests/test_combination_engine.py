"""The two-drug BLRM (bayesdose.models.combination) and its deterministic engine
(bayesdose.inference.combination) against independent answers:

- a high-precision oracle (tests/tools/combination_oracle.py: 2^22 pseudo-random importance
  draws per case, coded apart; its standard errors <= 5e-4, asserted), on six data sets: no
  data, weak, informative, monotherapy rows only, a strong linear interaction, many patients
  with correlated priors, within the issue's accuracy: 3e-3 in interval probabilities
  (ERROR_BOUND) and 2e-3 in posterior means of P(DLT);
- OncoBayes2 0.8-8's NUTS fits of the same model (tests/reference/oncobayes2/combo_blrm.json);
- the prior table printed in OncoBayes2's MAP vignette (map_vignette_combo.json);
- its own numbers before its compiled kernels (combination_engine.json: the NumPy engine of
  commit 003e1a4, tests/tools/combination_engine_reference.py), within 1e-12."""

import json
import math

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.inference import combination
from bayesdose.inference.combination import ERROR_BOUND, CombinationEngine
from bayesdose.models.combination import CombinationBlrm, Interaction
from bayesdose.models.prior import BivariateNormal, mixture_of

REFERENCE = CONFIGS.parent / "tests" / "reference"
ORACLE = json.loads((REFERENCE / "combination_oracle.json").read_text())
OB2 = json.loads((REFERENCE / "oncobayes2" / "combo_blrm.json").read_text())
VIGNETTE = json.loads((REFERENCE / "oncobayes2" / "map_vignette_combo.json").read_text())
NUMPY_ENGINE = json.loads((REFERENCE / "combination_engine.json").read_text())
INTERVALS = ("p_underdose", "p_target", "p_overdose")


def _prior(spec):
    return mixture_of(spec["weights"], [
        BivariateNormal(tuple(c["mean"]), tuple(c["sd"]), c["correlation"])
        for c in spec["components"]])


def _engine(case, pairs=ORACLE["pairs"]):
    it = case["interaction"]
    model = CombinationBlrm(tuple(ORACLE["reference"]), _prior(case["prior_a"]),
                            _prior(case["prior_b"]), Interaction(it["form"], it["mean"], it["sd"]))
    return CombinationEngine(model, np.array(pairs), tuple(ORACLE["target_interval"]))


@pytest.mark.parametrize("name", list(ORACLE["cases"]))
def test_the_engine_is_within_the_issues_accuracy_of_the_oracle(name):
    case = ORACLE["cases"][name]
    expected = case["result"]
    assert max(max(v) for v in expected["se"].values()) <= 5e-4  # the oracle's own error
    summary, diagnostics = _engine(case).summarise(case["data"]["n"], case["data"]["dlt"])
    assert diagnostics.resolved.all()
    assert np.abs(summary.mean[0] - expected["mean"]).max() <= 2e-3
    assert np.abs(summary.sd[0] - expected["sd"]).max() <= 2e-3
    assert ERROR_BOUND <= 3e-3  # the issue's target
    for key in INTERVALS:
        assert np.abs(getattr(summary, key)[0] - expected[key]).max() <= ERROR_BOUND, key


def test_the_shipped_outer_points_are_scipys_sobol_lines():
    """The engine's outer points (shipped, so that no SciPy is loaded and no release changes
    them) are SciPy's scrambled Sobol points with the engine's seed through the normal
    quantile, bit for bit, and every shorter set is a prefix of them, as a fresh Sobol
    sequence of 2^m points is."""
    from scipy import stats
    from scipy.stats import qmc

    for m in (combination.PRE_M, 10, int(math.log2(combination.MAX_LINES))):
        u = qmc.Sobol(d=4, scramble=True, seed=combination.SOBOL_SEED).random_base2(m)
        z, log_q = combination.outer_points(m)
        assert np.array_equal(z, stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12)))
        assert np.allclose(log_q, stats.norm.logpdf(z).sum(axis=1), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="at most 4096 lines"):
        combination.outer_points(13)


def test_the_same_numbers_on_every_run_and_in_any_batch():
    """No seed: a data set gives bit-for-bit the same numbers alone, again, and in a batch
    (each data set's Laplace step, frame and lines are its own), among them random trial
    states whose Laplace steps once stopped together in a shared batch."""
    sets = [s for s in NUMPY_ENGINE["data_sets"] if s["case"] in ("prior_map", "weak_map",
                                                                   "monotherapy_only")
            and s["pending"] is None]
    assert len(sets) >= 10
    engine = _engine(ORACLE["cases"]["prior_map"])  # the same model, different data
    n = np.array([s["n"] for s in sets])
    dlt = np.array([s["dlt"] for s in sets])
    together, _ = engine.summarise(n, dlt)
    backwards, _ = engine.summarise(n[::-1], dlt[::-1])
    for k in range(len(sets)):
        alone, _ = _engine(ORACLE["cases"]["prior_map"]).summarise(n[k], dlt[k])
        for key in ("mean", "sd", *INTERVALS):
            assert np.array_equal(getattr(alone, key)[0], getattr(together, key)[k])
            assert np.array_equal(getattr(alone, key)[0], getattr(backwards, key)[-1 - k])


def test_the_numbers_are_the_numpy_engines():
    """The compiled kernels compute what the NumPy engine before them computed (commit
    003e1a4: the same method and point sets), to 1e-12 on every summary of the 17 data sets
    of combination_engine.json (oracle cases, random trial states, conflicting data, patients
    in follow-up). Measured: 3e-14 at most (an sd, from a difference of two moments)."""
    for s in NUMPY_ENGINE["data_sets"]:
        pending = None if s["pending"] is None else np.array(s["pending"])[None]
        summary, diagnostics = _engine(ORACLE["cases"][s["case"]]).summarise(
            s["n"], s["dlt"], pending)
        assert diagnostics.resolved.all()
        for key, expected in s["result"].items():
            assert np.abs(getattr(summary, key)[0] - expected).max() <= 1e-12, (s["case"], key)


def test_the_kernels_log_odds_are_the_models_at_extremes():
    """The kernels compute P(DLT) per pair from each drug's P(DLT) (combination_kernels);
    their log-odds equal the model's (models.combination) to 1e-12 relative, also where p0
    underflows (both linear predictors near -800) or 1 - p0 does (near +800)."""
    from bayesdose.inference import combination_kernels as kernels

    engine = _engine(ORACLE["cases"]["informative_saturating"])
    rng = np.random.default_rng(4)
    theta = np.vstack([rng.normal([-1.5, 0.0, -2.0, 0.0, 0.0], 1.5, (40, 5)),
                       [[-800.0, 0.5, -810.0, 0.2, 0.3], [800.0, 0.1, 790.0, 0.0, -0.4],
                        [-800.0, 0.0, 5.0, 0.0, 1.0], [30.0, 1.0, -900.0, 0.5, 0.0]]])
    arrays = engine.arrays
    levels = kernels._level_buffers(arrays, len(theta))
    for i, t in enumerate(theta):
        kernels._drug_levels(t[0], np.exp(t[1]), arrays[0], *levels[0:3, i])
        kernels._drug_levels(t[2], np.exp(t[3]), arrays[1], *levels[3:6, i])
    ours = np.array([[kernels._logit(i, j, arrays[2][j], arrays[3][j], levels, theta[:, 4],
                                     arrays[4]) for j in range(engine.n_pairs)]
                     for i in range(len(theta))])
    np.testing.assert_allclose(ours, engine.model.log_odds(theta, engine.cov), rtol=1e-12,
                               atol=1e-12)


def test_the_vignettes_prior_table_within_its_monte_carlo_error():
    """OncoBayes2's MAP vignette: drug A 25-100 mg by drug B 0.5-3 mg under the printed MAP
    mixtures and eta ~ N(0, (log 9 / 1.96)^2), saturating. Its numbers come from 2,000 NUTS
    draws printed to 2 decimals: Monte Carlo error up to ~0.01 on a mean or sd (0.31 /
    sqrt(~1,000 effective draws)) and ~0.016 on a probability, plus 0.005 rounding; its own
    MAP and MAC columns (the same prior, two runs) differ by up to 0.02. Tolerances: 0.02 on
    mean and sd, 0.04 on P(DLT rate > 0.33)."""
    mix = {}
    for drug in ("A", "B"):
        m = VIGNETTE[f"map_mix_{drug}"]
        mix[drug] = mixture_of(m["w"], [
            BivariateNormal((a, b), (sa, sb), r) for a, b, sa, sb, r in zip(
                m["m_intercept"], m["m_log_slope"], m["s_intercept"], m["s_log_slope"],
                m["rho"], strict=True)])
    model = CombinationBlrm((80.0, 1.0), mix["A"], mix["B"],
                            Interaction("saturating", 0.0, math.log(9) / 1.96))
    rows = VIGNETTE["table"]
    pairs = np.array([[r["drug_A"], r["drug_B"]] for r in rows])
    summary, _ = CombinationEngine(model, pairs, (0.16, 0.33)).summarise(
        np.zeros(len(rows)), np.zeros(len(rows)))
    for k, r in enumerate(rows):
        assert summary.mean[0, k] == pytest.approx(r["mean"], abs=0.02)
        assert summary.sd[0, k] == pytest.approx(r["sd"], abs=0.02)
        assert summary.p_overdose[0, k] == pytest.approx(r["p_overdose"], abs=0.04)
    # the printed mixtures are the oracle's prior_map case: the engine is also within 3e-3 there
    assert ORACLE["cases"]["prior_map"]["prior_a"]["weights"] == VIGNETTE["map_mix_A"]["w"]


@pytest.mark.parametrize("name", ["saturating", "linear"])
def test_the_posterior_is_oncobayes2s(name):
    """OncoBayes2 0.8-8 (4 x 20,000 NUTS draws) on trial data with monotherapy rows: within
    4 Monte Carlo standard errors plus the engine's error bound. Its own summary() equals the
    P(DLT) our formula gives on its draws (crosscheck ~1e-16): the model is OncoBayes2's."""
    case = OB2["cases"][name]
    assert case["crosscheck"]["max_abs_diff_mean_vs_oncobayes2_summary"] < 1e-12
    inputs = OB2["inputs"]
    model = CombinationBlrm(
        (inputs["reference_doses"]["A"], inputs["reference_doses"]["B"]),
        *(BivariateNormal(tuple(inputs["prior_mu_mean"][d]), tuple(inputs["prior_mu_sd"][d]), 0.0)
          for d in ("A", "B")),
        Interaction(case["form"], case["eta_prior"]["mean"], case["eta_prior"]["sd"]))
    pairs = [[p["drug_A"], p["drug_B"]] for p in case["pairs"].values()]
    n, dlt = np.zeros(len(pairs)), np.zeros(len(pairs))
    data = case["data"]
    for a, b, k, y in zip(data["drug_A"], data["drug_B"], data["num_patients"],
                          data["num_toxicities"], strict=True):
        i = pairs.index([a, b])
        n[i], dlt[i] = n[i] + k, dlt[i] + y
    summary, _ = CombinationEngine(model, np.array(pairs), (0.16, 0.33)).summarise(n, dlt)
    names = dict(zip(INTERVALS, ("(0,0.16]", "(0.16,0.33]", "(0.33,1]"), strict=True))
    for k, ref in enumerate(case["pairs"].values()):
        tol = 4 * (ref["p_dlt"]["mcse_mean"] or 0.0) + 2e-3
        assert summary.mean[0, k] == pytest.approx(ref["p_dlt"]["mean"], abs=tol)
        for key, interval in names.items():
            mcse = ref["interval_prob_mcse"][interval] or 0.0  # null: every draw alike
            tol = 4 * mcse + ERROR_BOUND
            assert getattr(summary, key)[0, k] == pytest.approx(
                ref["interval_prob"][interval], abs=tol), (ref["drug_A"], ref["drug_B"], key)


NORMAL = BivariateNormal((-1.7, 0.3), (0.8, 0.7), -0.2)


def test_a_dose_0_is_the_drug_absent_and_the_forms_agree_at_the_reference_pair():
    model = CombinationBlrm((80.0, 1.0), NORMAL, BivariateNormal((-2.7, -0.4), (0.6, 0.5), 0.1),
                            Interaction("linear"))
    theta = np.array([[-1.2, 0.4, -2.0, -0.3, 0.7]])
    cov = model.covariates(np.array([[50.0, 0.0], [0.0, 2.0], [80.0, 1.0]]))
    lp = model.log_odds(theta, cov)[0]
    assert lp[0] == pytest.approx(-1.2 + math.exp(0.4) * math.log(50 / 80), rel=1e-12)
    assert lp[1] == pytest.approx(-2.0 + math.exp(-0.3) * math.log(2.0), rel=1e-12)
    p1, p2 = 1 / (1 + math.exp(1.2)), 1 / (1 + math.exp(2.0))
    p0 = 1 - (1 - p1) * (1 - p2)
    assert lp[2] == pytest.approx(math.log(p0 / (1 - p0)) + 0.7, rel=1e-12)
    saturating = CombinationBlrm((80.0, 1.0), NORMAL, NORMAL, Interaction("saturating"))
    assert saturating.log_odds(theta, saturating.covariates([[80.0, 1.0]]))[0, 0] == (
        pytest.approx(lp[2], rel=1e-12))  # g(1) = 1 in both forms


def test_the_gradient_is_the_log_odds_derivative_and_extremes_stay_finite():
    model = CombinationBlrm((80.0, 1.0), NORMAL, NORMAL, Interaction("saturating"))
    cov = model.covariates(np.array([[25.0, 0.5], [100.0, 3.0], [50.0, 0.0], [0.0, 1.0]]))
    theta = np.array([-1.0, 0.2, -2.5, -0.4, 0.5])
    lp, grad = model.log_odds_and_gradient(theta, cov)
    for k in range(5):
        h = np.eye(5)[k] * 1e-6
        numeric = (model.log_odds(theta + h, cov) - model.log_odds(theta - h, cov)) / 2e-6
        np.testing.assert_allclose(grad[:, k], numeric, rtol=1e-6, atol=1e-8)
    extreme = np.array([[-800.0, 3.0, -900.0, 2.0, 0.0], [40.0, 0.0, 40.0, 0.0, 0.0]])
    out = model.log_odds(extreme, cov)
    assert np.isfinite(out).all() and (out[0] < -700).all() and (out[1, :2] > 40).all()


def test_bad_pairs_and_counts_are_refused():
    model = CombinationBlrm((80.0, 1.0), NORMAL, NORMAL)
    with pytest.raises(ValueError, match="at least one drug"):
        model.covariates([[0.0, 0.0]])
    with pytest.raises(ValueError, match=">= 0"):
        model.covariates([[-1.0, 1.0]])
    with pytest.raises(ValueError, match="interaction form"):
        Interaction("quadratic")
    engine = CombinationEngine(model, np.array([[25.0, 0.5], [50.0, 0.5]]))
    with pytest.raises(ValueError, match="between 0 and the number"):
        engine.summarise([3, 0], [4, 0])
    with pytest.raises(ValueError, match="2 columns"):
        engine.summarise([3], [0])


def test_a_data_set_short_of_the_checks_gets_more_lines_and_is_flagged(monkeypatch):
    """The fallback: the frame moves to the posterior's moments and the lines double up to
    MAX_LINES; a data set still short of the ESS check is flagged, its numbers still good."""
    monkeypatch.setattr(combination, "MIN_ESS_FRACTION", 0.99)  # no frame reaches it
    case = ORACLE["cases"]["weak_map"]
    summary, diagnostics = _engine(case).summarise(case["data"]["n"], case["data"]["dlt"])
    assert diagnostics.lines[0] == combination.MAX_LINES and not diagnostics.resolved[0]
    assert 0.5 * combination.MAX_LINES < diagnostics.ess[0] < 0.99 * combination.MAX_LINES
    for key in INTERVALS:
        assert np.abs(getattr(summary, key)[0] - case["result"][key]).max() <= ERROR_BOUND
