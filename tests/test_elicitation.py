"""Priors in clinicians' terms ([[model.elicitation]]): the bivariate normal whose quantiles of
P(DLT) at given doses are the stated ones, checked against quantiles computed independently
(adaptive quadrature, the exact engine), the closed form at the reference dose, the config's
errors, recommend's output, [[sensitivity]], and the hash of configs without it."""

import math
import re

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS
from scipy import integrate, optimize, stats
from scipy.special import expit, logit

from bayesdose.cli import main
from bayesdose.errors import InputError
from bayesdose.models.elicitation import Statement, normal_from_quantiles
from bayesdose.panel import DosePanel
from bayesdose.posterior import exact_engine
from bayesdose.schema import load_design
from bayesdose.simulation.chunks import design_sha256

STANDARD = CONFIGS / "standard-5dose.toml"
PANEL = DosePanel((1.0, 2.0, 4.0, 8.0, 16.0), "mg", 16.0)
# The issue's statements (median 10% at the reference dose, 95% sure below 40% there) and two
# at the lowest dose, on configs/standard-5dose.toml's panel (reference = top dose = 16 mg).
ISSUE = ((16, 0.5, 0.10), (16, 0.95, 0.40), (1, 0.5, 0.02), (1, 0.95, 0.15))


def cdf(c: float, x: float, mean, sd, rho: float) -> float:
    """P(logit P(DLT) <= c) at x = log(d / d_ref), by adaptive quadrature over log beta."""
    (m_a, m_b), (s_a, s_b) = mean, sd

    def integrand(z: float) -> float:
        centre = m_a + rho * s_a * z + math.exp(m_b + s_b * z) * x
        return stats.norm.pdf(z) * stats.norm.cdf((c - centre) / (s_a * math.sqrt(1 - rho**2)))

    return integrate.quad(integrand, -12, 12, epsabs=1e-14, epsrel=1e-13, limit=500)[0]


def quantile(q: float, dose: float, mean, sd, rho: float) -> float:
    """The q-quantile of P(DLT | dose) under the normal prior (mean, sd, rho)."""
    x = math.log(dose / PANEL.reference)
    return float(expit(optimize.brentq(lambda c: cdf(c, x, mean, sd, rho) - q, -40, 40,
                                       xtol=1e-13)))


def statements(*rows: tuple[float, float, float]) -> list[Statement]:
    return [Statement(*row) for row in rows]


def config(tmp_path, rows, extra: str = "", model: str = "[model]\n", name: str = "e.toml"):
    """standard-5dose.toml with a [model] section of these statements."""
    tables = "".join(f"[[model.elicitation]]\ndose = {d}\nquantile = {q}\np_dlt = {p}\n"
                     for d, q, p in rows)
    text = STANDARD.read_text().replace("[decision]", model + extra + tables + "\n[decision]", 1)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("mean", "sd", "rho", "doses"), [
    ((-1.5, 0.2), (0.9, 0.6), 0.0, (16.0, 2.0)),
    ((-2.5, -0.4), (1.6, 0.9), 0.0, (8.0, 1.0)),  # neither dose is the reference
    ((-1.0, 0.1), (1.2, 0.5), -0.4, (16.0, 1.0)),
])
def test_the_prior_is_recovered_from_its_own_quantiles(mean, sd, rho, doses):
    """Medians and 95% quantiles of P(DLT) at two doses, computed by adaptive quadrature (not
    the trapezoidal rule of the solver), give back the normal they came from."""
    rows = [(d, q, quantile(q, d, mean, sd, rho)) for d in doses for q in (0.5, 0.95)]
    prior = normal_from_quantiles(PANEL, statements(*rows), rho)
    assert prior.mean == pytest.approx(mean, abs=1e-4)
    assert prior.sd == pytest.approx(sd, abs=1e-4)
    assert prior.correlation == rho and prior.derived


def test_at_the_reference_dose_the_quantiles_are_the_normal_s():
    """At d_ref, logit P(DLT) = log alpha: a median p gives m_a = logit(p) and a 95% quantile
    p95 gives s_a = (logit(p95) - logit(p)) / Phi^-1(0.95), in closed form."""
    prior = normal_from_quantiles(PANEL, statements(*ISSUE))
    assert prior.mean[0] == pytest.approx(logit(0.10), abs=1e-9)
    assert prior.sd[0] == pytest.approx((logit(0.40) - logit(0.10)) / stats.norm.ppf(0.95),
                                        abs=1e-9)


def test_the_exact_engine_sees_the_stated_quantiles(tmp_path):
    """The design's prior through the exact engine at no data: its quantiles of P(DLT) at
    1 mg and 16 mg are the statements, within 2e-3 (its error bound is 1e-3 on probabilities;
    measured: within 2e-8)."""
    design = load_design(config(tmp_path, ISSUE))
    zeros = np.zeros(len(design.levels))
    median, q95 = exact_engine(design).quantiles(zeros, zeros, probs=(0.5, 0.95))
    for dose, q, p in ISSUE:
        level = design.panel.index(dose)
        assert (median if q == 0.5 else q95)[level] == pytest.approx(p, abs=2e-3)


def test_more_statements_are_fitted_by_least_squares():
    """Six statements met exactly by one prior are fitted exactly; moved a little, they are a
    compromise whose fitted levels the explanation shows."""
    mean, sd = (-1.5, 0.2), (0.9, 0.6)
    rows = [(d, q, quantile(q, d, mean, sd, 0.0)) for d in (16.0, 4.0, 1.0) for q in (0.5, 0.9)]
    prior = normal_from_quantiles(PANEL, statements(*rows))
    assert prior.mean == pytest.approx(mean, abs=1e-4) and prior.sd == pytest.approx(sd, abs=1e-4)
    rows[2] = (4.0, 0.5, rows[2][2] * 1.1)
    moved = normal_from_quantiles(PANEL, statements(*rows))
    assert "(fitted 0.4" in moved.explanation and moved.mean != prior.mean


@pytest.mark.parametrize(("rows", "problem"), [
    (ISSUE[:3], "need at least 4 statements"),
    (((16, 0.5, 0.1), (16, 0.95, 0.4), (16, 0.25, 0.05), (16, 0.75, 0.2)), "two or more doses"),
    (((16, 0.5, 0.1), (16, 0.95, 0.08), *ISSUE[2:]),
     "statements 1 (median 0.1 at 16 mg) and 2 (95% quantile 0.08 at 16 mg) contradict"),
    (((16, 0.5, 0.1), (16, 0.95, 0.4), (1, 0.5, 0.12), (1, 0.95, 0.5)), "contradict"),
    # narrower at 1 mg than at the reference: with correlation 0, eta's sd is at least s_a
    (((16, 0.5, 0.1), (16, 0.95, 0.4), (1, 0.5, 0.02), (1, 0.95, 0.1)),
     "holds at best with probability"),
])
def test_statements_no_prior_meets_are_errors(rows, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        normal_from_quantiles(PANEL, statements(*rows))


@pytest.mark.parametrize(("rows", "extra", "model", "where", "problem"), [
    (ISSUE[:3], "", "[model]\n", "[[model.elicitation]]", "at least 4 statements"),
    (((16, 0.5, 0.1), (16, 0.95, 0.4), (16, 0.25, 0.05), (16, 0.75, 0.2)), "", "[model]\n",
     "[[model.elicitation]]", "two or more doses"),
    ((*ISSUE[:1], (16, 1.5, 0.4), *ISSUE[2:]), "", "[model]\n",
     "[model.elicitation 2] quantile", "(0, 1)"),
    ((*ISSUE[:3], (1, 0.95, 0)), "", "[model]\n", "[model.elicitation 4] p_dlt", "(0, 1)"),
    (((0, 0.5, 0.1), *ISSUE[1:]), "", "[model]\n", "[model.elicitation 1] dose", "> 0"),
    (ISSUE, "prior_mean = [0, 0]\nprior_sd = [1, 1]\n", "[model]\n", "[model] elicitation",
     "no prior_mean"),
    (ISSUE, "", '[model]\nprior = "mixture"\n[[model.components]]\nweight = 1\n'
     "mean = [0, 0]\nsd = [1, 1]\n", "[model] elicitation", "prior = 'normal'"),
    (((16, 0.5, 0.1), (16, 0.95, 0.4), (1, 0.5, 0.02), (1, 0.95, 0.1)), "", "[model]\n",
     "[[model.elicitation]]", "holds at best with probability"),
])
def test_config_errors_name_the_table_and_key(tmp_path, rows, extra, model, where, problem):
    result = CliRunner().invoke(main, ["validate", str(config(tmp_path, rows, extra, model))])
    assert result.exit_code == 2
    with pytest.raises(InputError) as err:
        load_design(config(tmp_path, rows, extra, model))
    assert err.value.where == where and problem in err.value.problem
    assert where in result.output


def test_recommend_prints_the_elicited_prior(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("dose,n,dlt\n1,3,0\n2,3,0\n")
    result = CliRunner().invoke(main, ["recommend", str(config(tmp_path, ISSUE)), str(data)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "prior elicited from 4 statements on P(DLT) (median 0.1 at 16 mg; 95% quantile 0.4 at "
        "16 mg; median 0.02 at 1 mg; 95% quantile 0.15 at 1 mg): log alpha ~ N(-2.1972, "
        "1.0893^2), log beta ~ N(-0.5789, 0.5510^2), correlation 0")


def test_an_alternative_prior_can_be_elicited(tmp_path):
    tables = "".join(f"[[sensitivity.elicitation]]\ndose = {d}\nquantile = {q}\np_dlt = {p}\n"
                     for d, q, p in ISSUE)
    alternative = f'\n[[sensitivity]]\nname = "clinicians"\n{tables}'
    path = tmp_path / "s.toml"
    path.write_text(STANDARD.read_text() + alternative)
    design = load_design(path)
    (name, elicited), = design.alternatives()
    assert name == "clinicians" and elicited.prior == normal_from_quantiles(
        PANEL, statements(*ISSUE))
    data = tmp_path / "data.csv"
    data.write_text("dose,n,dlt\n1,3,0\n")
    result = CliRunner().invoke(main, ["recommend", str(path), str(data)])
    assert result.exit_code == 0, result.output
    assert "under the prior 'clinicians'" in result.output
    path.write_text(STANDARD.read_text() + alternative.replace("p_dlt = 0.15", "p_dlt = 0.1"))
    with pytest.raises(InputError) as err:
        load_design(path)
    assert err.value.where == "[[sensitivity 1.elicitation]]"


def test_the_new_key_leaves_the_hash_of_the_shipped_configs_alone():
    """[model] elicitation is hashed only when given (as prior and components are); the
    standard config's hash moved once, with the recalibrated default (issue 17)."""
    assert design_sha256(load_design(STANDARD)) == (
        "e25160f3eb8c7e55e33074fb547ecad6111fc29e30dde53090613d3ef4e28bfc")
    assert design_sha256(load_design(CONFIGS / "nbg-2008.toml")) == (
        "fc395aceb39b5637c947614bea0a1f8eeb0b489bb4ee201233f0426a508fe66f")
