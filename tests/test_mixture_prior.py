"""Mixture priors from the config ([model] prior = "mixture", [[model.components]]): parsed and
checked, the exact engine's grid covers every component (checked against the closed form and
brute force), one component is exactly the normal prior, and recommend, MCMC, simulate and the
HTML decision take it."""

import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS
from scipy import stats

from bayesdose.cli import main
from bayesdose.errors import InputError
from bayesdose.inference.brute_force import BruteForcePosterior
from bayesdose.inference.exact import ERROR_BOUND, GridSpec
from bayesdose.models.prior import BivariateNormal, Mixture
from bayesdose.posterior import exact_engine
from bayesdose.schema import load_design
from bayesdose.simulation.chunks import design_sha256

XJ = CONFIGS / "xj-mk-002.toml"
DATA = CONFIGS / "examples" / "xj-mk-002.csv"
NORMAL_MODEL = """[model]
prior_mean = [-2.1972, 0.0]
prior_sd = [2.0, 1.0]
prior_correlation = 0.0
"""


def config(tmp_path, model: str, name: str = "mixture.toml"):
    """XJ-MK-002's config with another [model] section."""
    text = XJ.read_text()
    start, end = text.index("[model]"), text.index("[decision]")
    path = tmp_path / name
    path.write_text(text[:start] + model + "\n" + text[end:])
    return path


def mixture_model(*components: tuple[float, tuple, tuple, float]) -> str:
    lines = ['[model]\nprior = "mixture"\n']
    for weight, mean, sd, rho in components:
        lines.append(f"[[model.components]]\nweight = {weight}\nmean = {list(mean)}\n"
                     f"sd = {list(sd)}\ncorrelation = {rho}\n")
    return "\n".join(lines)


# a historical component at logit(0.15) and a vague robust one
TWO = mixture_model((0.8, (-1.7346, 0.2), (0.5, 0.3), 0.2), (0.2, (-2.1972, 0.0), (2.0, 1.0), 0))


def test_the_components_are_read_into_a_mixture(tmp_path):
    design = load_design(config(tmp_path, TWO))
    assert isinstance(design.prior, Mixture)
    assert design.prior.weights == (0.8, 0.2)
    assert design.prior.components[0] == BivariateNormal((-1.7346, 0.2), (0.5, 0.3), 0.2)


def test_one_component_gives_exactly_the_normal_priors_numbers(tmp_path):
    one = config(tmp_path, mixture_model((1.0, (-2.1972, 0.0), (2.0, 1.0), 0.0)))
    normal = config(tmp_path, NORMAL_MODEL, "normal.toml")
    outputs = []
    for path in (one, normal):
        out = tmp_path / f"{path.stem}.json"
        result = CliRunner().invoke(main, ["recommend", str(path), str(DATA), "--json", str(out)])
        assert result.exit_code == 0, result.output
        document = json.loads(out.read_text())
        del document["inputs"]
        outputs.append(document)
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(("model", "where", "problem"), [
    (mixture_model((0.5, (0, 0), (1, 1), 0), (0.4, (0, 0), (1, 1), 0)),
     "[[model.components]] weight", "sum to 1"),
    (mixture_model((1.0, (0, 0), (1, -1), 0)), "[model.components 1] sd", ">= 1e-06"),
    (mixture_model((1.0, (0, 0), (1, 1), 1.0)), "[model.components 1] correlation", "(-1, 1)"),
    ('[model]\nprior = "mixture"\n', "[[model.components]]", "at least one component"),
    ('[model]\nprior = "mixture"\nprior_mean = [0, 0]\nprior_sd = [1, 1]\n'
     '[[model.components]]\nweight = 1\nmean = [0, 0]\nsd = [1, 1]\n', "[model]",
     "give no prior_mean"),
    ('[model]\n[[model.components]]\nweight = 1\nmean = [0, 0]\nsd = [1, 1]\n',
     "[model] components", "prior = 'mixture'"),
    ('[model]\nprior = "mixture"\n[[model.components]]\nweight = 1\nmean = [0, 0]\n',
     "[model.components 1] sd", "missing required key"),
    ('[model]\nprior = "mixed"\n', "[model] prior", "one of 'normal', 'mixture', 'map', 'exnex'"),
])
def test_bad_components_name_the_key(tmp_path, model, where, problem):
    with pytest.raises(InputError) as err:
        load_design(config(tmp_path, model))
    assert err.value.where == where and problem in err.value.problem


def test_the_hash_of_a_normal_design_is_what_it_was():
    """[model] prior and components are hashed only when set: summary.json files and chunk
    manifests written before they existed still match (this hash is in the shipped example's
    docs/examples/xj-mk-002/simulation/summary.json)."""
    assert design_sha256(load_design(XJ)) == (
        "ce5e9e7e88a7a5c21362e1ec6dc8cfa8388c7f22ad54fb4354b31852ae36a04a")


def test_the_grid_covers_a_narrow_component_and_matches_the_closed_form(tmp_path):
    """A component with sds (0.1, 0.07), far narrower than the mixture: the default grid would
    be 7e-4 off; the engine refines it (and reports the grid it used). No data, at the
    reference dose logit p = log alpha: P(overdose) is the mixture of normal tails."""
    threshold = math.log(0.33 / 0.67)
    model = mixture_model((0.5, (threshold, 0.0), (0.1, 0.07), 0.0),
                          (0.5, (-1.0, 0.0), (2.0, 1.0), 0.0))
    design = load_design(config(tmp_path, model))
    engine = exact_engine(design)
    assert engine.grid.n_alpha > GridSpec().n_alpha and engine.grid.n_beta > GridSpec().n_beta
    summary = engine.batch(np.zeros((1, 3)), np.zeros((1, 3)))
    exact = 0.5 * stats.norm.sf(threshold, threshold, 0.1) + 0.5 * stats.norm.sf(
        threshold, -1.0, 2.0)
    assert summary.p_overdose[0, 1] == pytest.approx(exact, abs=ERROR_BOUND / 10)


def test_separated_components_match_brute_force_with_data(tmp_path):
    design = load_design(config(tmp_path, TWO))
    n, y = np.array([1, 3, 0]), np.array([0, 1, 0])
    summary = exact_engine(design).batch(n[None], y[None])
    ref = BruteForcePosterior(design.dlt_model, design.prior, n, y)
    for d in range(3):
        assert summary.p_overdose[0, d] == pytest.approx(1 - ref.prob_below(d, 0.33),
                                                         abs=ERROR_BOUND / 2)
        assert summary.mean[0, d] == pytest.approx(ref.moment(d, 1), abs=ERROR_BOUND / 10)


def test_a_grid_too_large_is_an_input_error(tmp_path):
    model = mixture_model((0.5, (0.0, 0.0), (0.001, 0.001), 0.0),
                          (0.5, (-1.0, 0.0), (2.0, 1.0), 0.0))
    design = load_design(config(tmp_path, model))
    with pytest.raises(InputError, match="too narrow or too far"):
        exact_engine(design)


def test_recommend_html_and_simulate_take_a_mixture(tmp_path):
    path = config(tmp_path, TWO)
    out, page = tmp_path / "rec.json", tmp_path / "decision.html"
    result = CliRunner().invoke(main, ["recommend", str(path), str(DATA), "--json", str(out),
                                       "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "prior: mixture of 2 bivariate normals, weights 0.8, 0.2" in result.output
    document = json.loads(out.read_text())
    assert [c["weight"] for c in document["prior"]["mixture"]] == [0.8, 0.2]
    assert re.search(r"mixture of 2 bivariate normals: weight 0\.8: log α ~ N\(-1\.7346",
                     page.read_text())
    scenarios = CONFIGS / "scenarios" / "xj-mk-002.toml"
    result = CliRunner().invoke(main, ["simulate", str(path), "--scenarios", str(scenarios),
                                       "--designs", "blrm", "--method", "exact", "--out",
                                       str(tmp_path / "sim"), "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    select = summary["scenarios"][0]["designs"]["blrm"]["select"]
    assert sum(select) <= 1 + 1e-9 and summary["method"] == "exact"


def test_the_prior_effective_sample_size_is_the_beta_moment_match():
    """At the reference dose (x = 0) P(DLT) = expit(log alpha), log alpha ~ N(-2.1972, 2^2):
    its mean and variance by quadrature give a + b = m (1 - m) / v - 1 = 1.8804."""
    from scipy import integrate
    from scipy.special import expit

    from bayesdose.posterior import prior_ess

    def moment(k):
        return integrate.quad(lambda a: expit(a) ** k * stats.norm.pdf(a, -2.1972, 2.0),
                              -30, 30, epsabs=1e-13)[0]

    m, m2 = moment(1), moment(2)
    ess = prior_ess(load_design(XJ))
    assert ess[1] == pytest.approx(m * (1 - m) / (m2 - m * m) - 1, abs=1e-5)
    assert ess[1] == pytest.approx(1.8804, abs=1e-4)


def test_recommend_reports_the_prior_kind_and_ess(tmp_path):
    for path, kind in ((XJ, "normal"), (config(tmp_path, TWO), "mixture")):
        out = tmp_path / f"{kind}.json"
        result = CliRunner().invoke(main, ["recommend", str(path), str(DATA), "--json", str(out)])
        assert result.exit_code == 0, result.output
        prior = json.loads(out.read_text())["prior"]
        assert prior["kind"] == kind and len(prior["ess"]) == 3
    # history (sds 0.5, 0.3) weighs several patients; the vague normal about two
    assert min(prior["ess"]) > 5


SENSITIVITY = """
[[sensitivity]]
name = "tighter slope"
prior_mean = [-2.1972, 0.0]
prior_sd = [1.0, 0.7]

[[sensitivity]]
name = "history and vague"
prior = "mixture"
[[sensitivity.components]]
weight = 0.8
mean = [-1.7346, 0.2]
sd = [0.5, 0.3]
correlation = 0.2
[[sensitivity.components]]
weight = 0.2
mean = [-2.1972, 0.0]
sd = [2.0, 1.0]
"""


def test_the_decision_under_each_alternative_prior(tmp_path):
    """Each [[sensitivity]] prior's decision is recommend's under that prior: the tighter
    slope prior moves XJ-MK-002's next dose from 1e8 to 3e8, as the mixture does."""
    path = config(tmp_path, NORMAL_MODEL + SENSITIVITY)
    out = tmp_path / "rec.json"
    result = CliRunner().invoke(main, ["recommend", str(path), str(DATA), "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["next_dose"] == 1e8
    assert [(e["name"], e["next_dose"]) for e in document["sensitivity"]] == [
        ("tighter slope", 3e8), ("history and vague", 3e8)]
    assert "under the prior 'tighter slope': next: 3x10^8 viable cells, cohort of 3" in (
        result.output)
    for name, model in (("tighter", NORMAL_MODEL.replace("[2.0, 1.0]", "[1.0, 0.7]")),
                        ("mixture", TWO)):
        alone = tmp_path / f"{name}.json"
        CliRunner().invoke(main, ["recommend", str(config(tmp_path, model, f"{name}.toml")),
                                  str(DATA), "--json", str(alone)])
        assert json.loads(alone.read_text())["next_dose"] == 3e8


def test_alternative_priors_are_checked_and_leave_the_hash_alone(tmp_path):
    bad = SENSITIVITY.replace("prior_sd = [1.0, 0.7]", "prior_sd = [1.0, -0.7]")
    with pytest.raises(InputError) as err:
        load_design(config(tmp_path, NORMAL_MODEL + bad))
    assert err.value.where == "[sensitivity 1] prior_sd"
    nameless = SENSITIVITY.replace('name = "tighter slope"\n', "")
    with pytest.raises(InputError, match="name"):
        load_design(config(tmp_path, NORMAL_MODEL + nameless))
    weights = SENSITIVITY.replace("weight = 0.2", "weight = 0.3")
    with pytest.raises(InputError) as err:
        load_design(config(tmp_path, NORMAL_MODEL + weights))
    assert err.value.where == "[[sensitivity 2.components]] weight"
    with_alternatives = load_design(config(tmp_path, NORMAL_MODEL + SENSITIVITY))
    assert design_sha256(with_alternatives) != design_sha256(load_design(XJ))
