"""Predictive probabilities of the DLTs in the next cohort: the exact engine's posterior on its
grid against brute-force quadrature and a closed form, and the mixture of binomials over
weighted atoms (MCMC draws) against its definition."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS
from scipy import stats
from scipy.special import expit

from bayesdose.cli import main
from bayesdose.data import TrialData, read_trial_data
from bayesdose.inference.brute_force import BruteForcePosterior
from bayesdose.inference.exact import ExactEngine
from bayesdose.models.blrm import SingleAgentBlrm
from bayesdose.models.prior import BivariateNormal
from bayesdose.posterior import exact_summary
from bayesdose.predictive import cohort_predictive, grid_predictive
from bayesdose.schema import load_design

NBG_DOSES = np.array([1, 2.5, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 250.0])
NBG = SingleAgentBlrm(tuple(np.log(NBG_DOSES / 250)))
NBG_PRIOR = BivariateNormal((-1.3863, 0.0), (2.0, 1.0), 0.0)
BOUNDS = (0.16, 0.33)
# Neuenschwander et al. (2008): 3, 4, 5, 4 patients without DLT at 1 .. 10 mg, 2 DLTs in 2 at 25
N = np.array([3, 4, 5, 4, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0])
Y = np.array([0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0])


def brute_force_predictive(reference: BruteForcePosterior, dose: int, size: int) -> np.ndarray:
    """P(k DLTs in ``size``) = C(size, k) E[p^k (1 - p)^(size - k)], the expectation expanded
    in the posterior moments E[p^j] that brute-force quadrature gives to about 1e-12."""
    moments = [1.0] + [reference.moment(dose, j) for j in range(1, size + 1)]
    return np.array([
        math.comb(size, k) * sum(math.comb(size - k, j) * (-1) ** j * moments[k + j]
                                 for j in range(size - k + 1))
        for k in range(size + 1)])


@pytest.mark.parametrize("size", [3, 6])
def test_the_grid_posterior_predictive_is_brute_force_quadratures(size):
    engine = ExactEngine(NBG, NBG_PRIOR, BOUNDS)
    predictive = grid_predictive(size, engine.posterior_on_grid(N, Y))
    reference = BruteForcePosterior(NBG, NBG_PRIOR, N, Y)
    worst = max(np.abs(predictive[d] - brute_force_predictive(reference, d, size)).max()
                for d in (0, 3, 6, 8, 14))
    assert worst <= 1e-6, worst  # smooth integrands: ~6e-9 (the float32 density), not 1e-3
    np.testing.assert_allclose(predictive.sum(axis=1), 1.0, rtol=1e-12)
    mean = engine.batch(N[None], Y[None]).mean[0]
    np.testing.assert_allclose(predictive @ np.arange(size + 1), size * mean, rtol=1e-9)


def test_a_point_prior_predicts_a_binomial():
    """With a prior of sd 1e-5 the posterior is (almost) a point: the predictive distribution
    is Binomial(3, p) with p the model's P(DLT) at the prior mean, whatever the data."""
    point = BivariateNormal((-1.3863, 0.0), (1e-5, 1e-5), 0.0)
    engine = ExactEngine(NBG, point, BOUNDS)
    predictive = grid_predictive(3, engine.posterior_on_grid(N, Y))
    p = expit(-1.3863 + NBG.covariate)
    expected = stats.binom.pmf(np.arange(4)[None, :], 3, p[:, None])
    np.testing.assert_allclose(predictive, expected, atol=1e-7)  # 1e-10 measured


def test_recommends_predictive_is_the_exact_engines_on_the_trials_data():
    """exact_summary's ``predictive``: the configured cohort size, each row a distribution
    whose mean is the cohort size times the posterior mean of P(DLT)."""
    design = load_design(CONFIGS / "xj-mk-002.toml")
    data = read_trial_data(CONFIGS / "examples" / "xj-mk-002.csv", design)
    summary, _ = exact_summary(design, data)
    predictive = summary["predictive"].values
    size = design.cohorts.size
    assert predictive.shape == (len(design.levels), size + 1)
    np.testing.assert_allclose(predictive.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(predictive @ np.arange(size + 1), size * summary["mean"].values,
                               rtol=1e-9)
    # 1 DLT in 3 at 3e8 and none at 1e8: the next cohort is likelier to be clean at 1e8
    assert predictive[0, 0] == pytest.approx(0.772, abs=5e-4)
    assert predictive[1, 0] == pytest.approx(0.504, abs=5e-4)


# Issue 19's concentrated trial: 200 patients per dose, more than the prior's grid resolves
CONCENTRATED_N, CONCENTRATED_Y = np.array([200] * 5), np.array([10, 20, 36, 52, 61])


def test_a_concentrated_trials_predictive_is_on_the_grid_that_answers_it():
    """The exact engine answers these data on a grid placed on the posterior; the predictive
    comes from that grid and matches brute force on a box placed on the posterior (1e-8
    measured; on the prior's grid it was 8e-5 off), with mean n x the posterior mean."""
    design = load_design(CONFIGS / "standard-5dose.toml")
    data = TrialData(CONCENTRATED_N, CONCENTRATED_Y, source="issue19.csv")
    summary, diagnostics = exact_summary(design, data)
    assert diagnostics["grid"]["frame"] == "posterior"
    predictive = summary["predictive"].values
    reference = BruteForcePosterior(design.dlt_model, design.prior, CONCENTRATED_N,
                                    CONCENTRATED_Y, box="posterior")
    expected = np.array([brute_force_predictive(reference, d, 3) for d in range(5)])
    assert np.abs(predictive - expected).max() <= 1e-6
    np.testing.assert_allclose(predictive @ np.arange(4), 3 * summary["mean"].values,
                               rtol=1e-9)


def test_a_concentrated_trial_with_pending_patients_uses_the_tite_rows_of_its_grid():
    """Dated data on a re-gridded engine: patients in follow-up (2 followed 10 of 28 days at
    the top dose, 1 followed 20 days at the fourth) weigh log(1 - w p) on the posterior's grid
    as brute force weighs them."""
    design = load_design(CONFIGS / "standard-5dose.toml")
    window = 28
    engine = ExactEngine(design.dlt_model, design.prior, design.decision.target_interval,
                         window_days=window)
    pending = np.zeros((5, window))
    pending[4, 10], pending[3, 20] = 2, 1
    n = CONCENTRATED_N + pending.sum(axis=1)
    assert not engine.for_data(n, CONCENTRATED_Y, pending).on_prior_frame
    predictive = grid_predictive(3, engine.posterior_on_grid(n, CONCENTRATED_Y, pending))
    reference = BruteForcePosterior(design.dlt_model, design.prior, n, CONCENTRATED_Y,
                                    pending=[(4, 10 / window)] * 2 + [(3, 20 / window)],
                                    box="posterior")
    expected = np.array([brute_force_predictive(reference, d, 3) for d in range(5)])
    assert np.abs(predictive - expected).max() <= 1e-6
    mean = engine.batch(n[None], CONCENTRATED_Y[None], pending[None]).mean[0]
    np.testing.assert_allclose(predictive @ np.arange(4), 3 * mean, rtol=1e-9)


def test_draws_are_equally_weighted_atoms():
    """Draws (including P(DLT) of exactly 0 and 1) give the average of their binomials."""
    rng = np.random.default_rng(3)
    draws = np.vstack([rng.beta(2, 8, 500), np.r_[0.0, 1.0, rng.beta(5, 5, 498)]])
    predictive = cohort_predictive(4, np.full(500, 1 / 500), draws)
    expected = stats.binom.pmf(np.arange(5)[None, None, :], 4, draws[:, :, None]).mean(axis=1)
    np.testing.assert_allclose(predictive, expected, rtol=1e-12, atol=1e-15)


def test_recommend_prints_and_writes_the_predictive_table(tmp_path):
    """The terminal's small table, the JSON's ``predictive`` per dose and the decision page's
    table hold the same numbers."""
    out, page = tmp_path / "rec.json", tmp_path / "rec.html"
    result = CliRunner().invoke(main, [
        "recommend", str(CONFIGS / "nbg-2008.toml"), str(CONFIGS / "examples" / "nbg-2008.csv"),
        "--json", str(out), "--html", str(page)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["predictive_cohort_size"] == 3
    lines = result.output.splitlines()
    start = lines.index("DLTs in a cohort of 3 ([cohorts] size) at each dose: posterior "
                        "predictive probability (exact engine)")
    assert lines[start + 1].split() == ["dose", "(mg)", "0", "DLTs", "1", "DLT", "2", "DLTs",
                                        "3", "DLTs"]
    html = page.read_text()
    for k, entry in enumerate(doc["doses"]):
        assert lines[start + 2 + k].split() == [f"{entry['dose']:g}",
                                                *(f"{p:.3f}" for p in entry["predictive"])]
        assert np.isclose(sum(entry["predictive"]), 1.0)
        assert np.isclose(np.arange(4) @ entry["predictive"], 3 * entry["mean"])
        for y, p in enumerate(entry["predictive"]):
            assert (f'data-key="predictive" data-dlts="{y}" data-value="{p}">{p:.3f}</td>'
                    in html)
