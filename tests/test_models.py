"""The model layer and the prior interface: a prior family the engines have never seen (a
mixture of bivariate normals) goes through the exact engine, the brute-force integrator and the
MCMC engine unchanged, and the design's prior is read from its [model] section."""

import dataclasses
import math

import numpy as np
import pytest

from bayesdose.errors import InputError
from bayesdose.inference.brute_force import BruteForcePosterior
from bayesdose.inference.exact import ERROR_BOUND, ExactEngine, GridSpec
from bayesdose.models.blrm import SingleAgentBlrm
from bayesdose.models.prior import BivariateNormal, Mixture
from bayesdose.panel import DosePanel
from bayesdose.posterior import exact_engine
from bayesdose.schema import load_design

PANEL = DosePanel((1, 2.5, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 250.0), "mg", 250.0)
MODEL = SingleAgentBlrm.on(PANEL)
BOUNDS = (0.16, 0.33)
NORMAL = BivariateNormal((-1.3863, 0.0), (2.0, 1.0), 0.0)
# Two components that disagree: a "historical" one (safer, tighter) and a vague one.
MIXTURE = Mixture((0.7, 0.3), (BivariateNormal((-2.5, 0.2), (0.6, 0.4), 0.3),
                               BivariateNormal((-1.0, 0.0), (2.0, 1.0), 0.0)))
N = np.array([3, 4, 5, 4, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0])
Y = np.array([0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])


def test_the_panel_gives_the_covariate_and_labels():
    assert MODEL.x[-1] == 0.0 and MODEL.x[0] == pytest.approx(math.log(1 / 250))
    assert PANEL.index(2.5000001) == 1 and PANEL.label(1) == "2.5 mg"
    with pytest.raises(ValueError):
        PANEL.index(3)


def test_a_one_component_mixture_is_the_normal_prior_to_rounding():
    one = Mixture((1.0,), (NORMAL,))
    assert one.frame == NORMAL
    a = ExactEngine(MODEL, NORMAL, BOUNDS).batch(N[None], Y[None])
    b = ExactEngine(MODEL, one, BOUNDS).batch(N[None], Y[None])
    for name in ("mean", "sd", "p_underdose", "p_target", "p_overdose"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), atol=1e-9, err_msg=name)


def test_the_mixture_frame_is_its_mean_and_covariance():
    frame = MIXTURE.frame
    mean = 0.7 * np.array([-2.5, 0.2]) + 0.3 * np.array([-1.0, 0.0])
    np.testing.assert_allclose(frame.mean, mean, atol=1e-12)
    # Var(log beta) = sum w (sd^2 + (m - mean)^2)
    var_b = 0.7 * (0.16 + (0.2 - mean[1]) ** 2) + 0.3 * (1.0 + (0.0 - mean[1]) ** 2)
    assert frame.sd[1] == pytest.approx(math.sqrt(var_b), rel=1e-12)


def test_the_mixture_log_density_integrates_to_one():
    a, b = np.meshgrid(np.linspace(-12, 8, 801), np.linspace(-6, 6, 481), indexing="ij")
    density = np.exp(MIXTURE.log_density(np.stack([a, b], axis=-1)))
    assert density.sum() * (20 / 800) * (12 / 480) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("data", ["no data", "NBG history"])
def test_a_mixture_prior_in_the_exact_engine_matches_brute_force(data):
    """The engine was written for a normal prior; given a mixture through the interface it is
    within its error bound of the brute-force integral of the same posterior."""
    n, y = (N * 0, Y * 0) if data == "no data" else (N, Y)
    summary = ExactEngine(MODEL, MIXTURE, BOUNDS).batch(n[None], y[None])
    ref = BruteForcePosterior(MODEL, MIXTURE, n, y)
    for d in (0, 3, 6, 9, 14):
        below_low, below_high = ref.prob_below(d, BOUNDS[0]), ref.prob_below(d, BOUNDS[1])
        assert summary.p_underdose[0, d] == pytest.approx(below_low, abs=ERROR_BOUND / 2)
        assert summary.p_overdose[0, d] == pytest.approx(1 - below_high, abs=ERROR_BOUND / 2)
        # the engine's bound (1e-3) holds for every number; the mean is 10x within it (the
        # tight component has ~2 grid rows per sd of the moment-matched frame: 1.2e-5 here)
        assert summary.mean[0, d] == pytest.approx(ref.moment(d, 1), abs=ERROR_BOUND / 10)


def test_the_brute_force_prior_alone_is_the_mixture_of_the_components():
    """No data: P(overdose) at the reference dose (x = 0, logit p = log alpha) is the mixture
    of the components' normal tail probabilities."""
    from scipy import stats

    ref = BruteForcePosterior(MODEL, MIXTURE, N * 0, Y * 0)
    logit = math.log(0.33 / 0.67)
    expected = sum(w * stats.norm.sf(logit, c.mean[0], c.sd[0])
                   for w, c in zip(MIXTURE.weights, MIXTURE.components, strict=True))
    assert 1 - ref.prob_below(14, 0.33) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("sd, grid", [((0.3, 0.2), GridSpec()), ((0.1, 0.07), GridSpec()),
                                      ((0.1, 0.07), GridSpec(600, 160, 6.0))])
def test_a_narrow_component_is_resolved_or_refused(sd, grid):
    """A component much narrower than the moment-matched frame falls between grid rows: the
    engine refuses it unless the grid resolves it, and what it accepts is within its bound of
    the closed form (no data, at the reference dose: logit p = log alpha, a normal mixture).
    The default grid gives 7e-4 on the refused (0.1, 0.07) case, 0.03 for (0.04, 0.03)."""
    from scipy import stats

    threshold = math.log(0.33 / 0.67)
    mix = Mixture((0.5, 0.5), (BivariateNormal((threshold, 0.0), sd, 0.0),
                               BivariateNormal((-1.0, 0.0), (2.0, 1.0), 0.0)))
    model = SingleAgentBlrm((-2.0, -1.0, 0.0))
    if sd == (0.1, 0.07) and grid == GridSpec():
        with pytest.raises(ValueError, match=r"GridSpec\(n_beta=\d+\)"):
            ExactEngine(model, mix, BOUNDS, grid)
        return
    summary = ExactEngine(model, mix, BOUNDS, grid).batch(np.zeros((1, 3)), np.zeros((1, 3)))
    exact = 0.5 * stats.norm.sf(threshold, threshold, sd[0]) + 0.5 * stats.norm.sf(
        threshold, -1.0, 2.0)
    assert summary.p_overdose[0, 2] == pytest.approx(exact, abs=ERROR_BOUND / 10)


def test_a_bivariate_normal_is_checked():
    with pytest.raises(ValueError, match="correlation"):
        BivariateNormal.from_covariance((0, 0), [[1, 1], [1, 1]])
    with pytest.raises(ValueError, match="sds > 0"):
        BivariateNormal((0, 0), (0, 1), 0.0)


def test_mixture_weights_are_checked():
    with pytest.raises(ValueError, match="sum to 1"):
        Mixture((0.5, 0.6), (NORMAL, NORMAL))


def test_replacing_the_model_section_changes_the_prior_the_engines_use():
    design = load_design("configs/xj-mk-002.toml")
    tighter = dataclasses.replace(design, model=dataclasses.replace(
        design.model, prior_sd=(1.0, 0.7)))
    assert tighter.prior.sd == (1.0, 0.7) and design.prior.sd == (2.0, 1.0)
    n, y = np.array([[1, 3, 0]]), np.array([[0, 1, 0]])
    before = exact_engine(design).batch(n, y).p_overdose
    after = exact_engine(tighter).batch(n, y).p_overdose
    assert np.abs(before - after).max() > 0.01


def test_replacing_a_section_is_validated():
    design = load_design("configs/xj-mk-002.toml")
    with pytest.raises(InputError, match="prior_sd"):
        dataclasses.replace(design, model=dataclasses.replace(design.model, prior_sd=(-1, 1)))


def test_mcmc_takes_a_mixture_prior():
    """The MCMC engine samples the mixture (its density relative to the frame is a PyTensor
    potential) and agrees with the exact engine within Monte Carlo error."""
    pytest.importorskip("pymc")
    from bayesdose.inference.mcmc import fit_mcmc

    idx = np.flatnonzero(N)
    dose_index = np.concatenate([idx, idx])
    dlt = np.concatenate([np.zeros(idx.size, int), np.ones(idx.size, int)])
    count = np.concatenate([N[idx] - Y[idx], Y[idx]])
    keep = count > 0
    summary, diagnostics = fit_mcmc(
        MODEL, MIXTURE, dose_index[keep], dlt[keep], np.ones(keep.sum()), count[keep],
        BOUNDS, np.array(PANEL.levels), seed=11, cohort_size=3, chains=2, draws=1000,
        tune=1000)
    exact = ExactEngine(MODEL, MIXTURE, BOUNDS).batch(N[None], Y[None])
    assert diagnostics["divergences"] == 0 or diagnostics["resampled"]
    for d in (0, 6, 9):
        mcse = float(summary["mcse_p_overdose"].values[d])
        assert abs(float(summary["p_overdose"].values[d]) - exact.p_overdose[0, d]) <= (
            4 * mcse + 0.01)
