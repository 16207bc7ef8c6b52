"""A mixture of bivariate normals fitted to draws (bayesdose.models.mixfit): EM recovers a known
mixture within its sampling error, AIC chooses the number of components, robustify flattens
and weighs, and the fitted prior written as a [model] section reads back equal."""

import math
import tomllib

import numpy as np
import pytest

from bayesdose.models.mixfit import (
    automixfit,
    fit_mixture,
    mixture_to_toml,
    n_parameters,
    robustify,
)
from bayesdose.models.prior import BivariateNormal, Mixture
from bayesdose.schema import design_from_dict

N = 20000
# the truth: a narrow historical component and a wider one, well apart, of different shapes
TRUE_WEIGHTS = (0.7, 0.3)
TRUE = (BivariateNormal((-1.7, 0.3), (0.5, 0.3), 0.4),
        BivariateNormal((0.5, -1.0), (1.0, 0.7), -0.5))
TRUE_MIXTURE = Mixture(TRUE_WEIGHTS, TRUE)
VAGUE = BivariateNormal((-2.1972, 0.0), (2.0, 1.0), 0.0)


def draw(weights, normals, n, seed):
    rng = np.random.default_rng(seed)
    which = rng.choice(len(weights), size=n, p=weights)
    out = np.empty((n, 2))
    for j, c in enumerate(normals):
        out[which == j] = rng.multivariate_normal(c.mean, c.cov, size=(which == j).sum())
    return out


@pytest.fixture(scope="module")
def two():
    return draw(TRUE_WEIGHTS, TRUE, N, seed=2024)


@pytest.fixture(scope="module")
def one():
    return draw((1.0,), (TRUE[1],), N, seed=7)


@pytest.fixture(scope="module")
def fitted(two):
    return fit_mixture(two, 2)


def test_em_recovers_a_known_mixture_within_its_sampling_error(fitted):
    # 5 standard errors of each estimate, for n_k = w_k N draws in component k: weight
    # sqrt(w (1 - w) / N) (0.0032 here), mean sd / sqrt(n_k), sd sd / sqrt(2 n_k),
    # correlation (1 - rho^2) / sqrt(n_k) (the component's draws identified, as they nearly
    # are this far apart)
    assert isinstance(fitted, Mixture)
    assert fitted.weights[0] > fitted.weights[1]  # largest first
    for w, fit, true in zip(TRUE_WEIGHTS, fitted.components, TRUE, strict=True):
        k = TRUE.index(true)
        n_k = w * N
        assert fitted.weights[k] == pytest.approx(w, abs=5 * math.sqrt(w * (1 - w) / N))
        for i in (0, 1):
            assert fit.mean[i] == pytest.approx(true.mean[i], abs=5 * true.sd[i] / math.sqrt(n_k))
            assert fit.sd[i] == pytest.approx(true.sd[i],
                                              abs=5 * true.sd[i] / math.sqrt(2 * n_k))
        assert fit.correlation == pytest.approx(
            true.correlation, abs=5 * (1 - true.correlation**2) / math.sqrt(n_k))


def test_one_component_is_the_sample_mean_and_ml_covariance(one):
    fit = fit_mixture(one, 1)
    assert fit == BivariateNormal.from_covariance(one.mean(axis=0),
                                                  np.cov(one, rowvar=False, bias=True))


def test_aic_chooses_one_component_for_draws_of_one_normal(one):
    result = automixfit(one)
    assert result.components == 1
    assert result.prior == fit_mixture(one, 1)
    assert sorted(result.scores) == [1, 2, 3, 4]
    assert result.criterion == "AIC (penalty 6 per parameter)"
    assert result.log_likelihood == pytest.approx(float(result.prior.log_density(one).sum()))
    # the textbook penalty (k = 2) and BIC choose one component here too
    assert automixfit(one, penalty=2).components == 1
    assert automixfit(one, criterion="bic").components == 1


def test_aic_chooses_two_components_whose_likelihood_is_near_the_truths(two):
    result = automixfit(two)
    assert result.components == 2
    # the maximum-likelihood fit beats the truth by chi^2(11) / 2 on average (5.5), rarely by
    # more than 18 (its 0.9999 quantile); EM stops within 0.1 of the maximum
    gain = result.log_likelihood - float(TRUE_MIXTURE.log_density(two).sum())
    assert -0.1 < gain < 18
    # each score is -2 log L + 6 * parameters, and the best is the smallest
    assert result.scores[2] == pytest.approx(-2 * result.log_likelihood + 6 * n_parameters(2))
    assert min(result.scores.values()) == result.scores[2]


def test_the_fitted_density_integrates_to_one(fitted):
    a, b = np.meshgrid(np.linspace(-8, 7, 601), np.linspace(-6, 5, 441), indexing="ij")
    density = np.exp(fitted.log_density(np.stack([a, b], axis=-1)))
    assert np.trapezoid(np.trapezoid(density, b[0], axis=1), a[:, 0]) == pytest.approx(
        1, abs=1e-4)


def test_same_draws_and_seed_give_the_same_fit(two):
    assert fit_mixture(two, 3, seed=5) == fit_mixture(two, 3, seed=5)
    assert automixfit(two, seed=3) == automixfit(two, seed=3)


def test_robustify_adds_the_weakly_informative_component(fitted):
    robust = robustify(fitted, 0.2, VAGUE)
    assert isinstance(robust, Mixture)
    assert robust.components == (*fitted.components, VAGUE)  # flattened, robust last
    assert robust.weights == pytest.approx((0.8 * fitted.weights[0], 0.8 * fitted.weights[1],
                                            0.2), abs=1e-15)
    assert sum(robust.weights) == 1.0
    single = robustify(TRUE[0], 0.25, VAGUE)
    assert single.weights == (0.75, 0.25) and single.components == (TRUE[0], VAGUE)
    assert robustify(fitted, 0, VAGUE) is fitted
    for bad in (-0.1, 1.0, 1.5, math.nan):
        with pytest.raises(ValueError, match="robust weight"):
            robustify(fitted, bad, VAGUE)


def test_the_toml_section_reads_back_as_the_same_prior(fitted, one):
    for prior in (fitted, robustify(fitted, 0.2, VAGUE), fit_mixture(one, 1)):
        text = mixture_to_toml(prior)
        design = design_from_dict(tomllib.loads("[doses]\nlevels = [1.0, 2.0, 4.0]\n\n" + text))
        assert design.prior == prior


def test_the_toml_section_is_the_config_format():
    prior = Mixture((0.75, 0.25), (TRUE[0], VAGUE))
    assert mixture_to_toml(prior) == """[model]
prior = "mixture"

[[model.components]]
weight = 0.75
mean = [-1.7, 0.3]
sd = [0.5, 0.3]
correlation = 0.4

[[model.components]]
weight = 0.25
mean = [-2.1972, 0.0]
sd = [2.0, 1.0]
correlation = 0.0
"""
    assert mixture_to_toml(VAGUE).count("[[model.components]]") == 1
    assert "weight = 1.0\n" in mixture_to_toml(VAGUE)


def test_bad_draws_and_arguments_are_refused(two):
    line = np.column_stack([np.arange(100.0), 2 * np.arange(100.0)])
    for draws, match in ((two[:, :1], "shape"), (np.full((100, 2), np.nan), "finite"),
                         (two[:11], "cannot fit"), (line, "line")):
        with pytest.raises(ValueError, match=match):
            fit_mixture(draws, 2)
    with pytest.raises(ValueError, match="components"):
        fit_mixture(two, 0)
    with pytest.raises(ValueError, match="criterion"):
        automixfit(two, criterion="waic")
