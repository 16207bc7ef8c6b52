"""``bayesdose map`` on a two-drug config: each drug with ``prior = "map"`` gets its MAP prior
from its monotherapy rows (the run-time prior's code path), written as ``[model.<name>]``
sections that read back as the same priors; and the errors that come before any fit.

The MCMC is shortened (2 chains x 1,000 draws after 500 tuning steps, a few seconds per drug):
what is tested there is the path from the fit to the written sections and back. The MAP
prior's accuracy is tests/test_map_prior.py's (against OncoBayes2), and with BAYESDOSE_SLOW=1
the full fits of the example give the MAP vignette's prior table for the combination."""

from __future__ import annotations

import functools
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.inference.combination import CombinationEngine
from bayesdose.models import map_prior
from bayesdose.models.prior import Mixture
from bayesdose.schema import load_design

CONFIG = CONFIGS / "combination-map.toml"
HISTORY = "trial,dose_A,dose_B,n,dlt\n"
VIGNETTE = json.loads((CONFIGS.parent / "tests" / "reference" / "oncobayes2"
                       / "map_vignette_combo.json").read_text())


@pytest.fixture
def short_mcmc(monkeypatch):
    """Every MAP fit here runs the short MCMC, and no fit is reused from another test."""
    monkeypatch.setattr(map_prior, "sample_map",
                        functools.partial(map_prior.sample_map, chains=2, draws=1000, tune=500))
    map_prior._fit.cache_clear()
    yield
    map_prior._fit.cache_clear()


def _map(config, out):
    return CliRunner().invoke(main, ["map", str(config), "--out", str(out)])


def _config(tmp_path, history: str, model_b: str | None = None):
    """The shipped example with its history replaced by ``history`` (and its [model.B] and
    [model.B.hierarchy] by ``model_b``)."""
    (tmp_path / "history.csv").write_text(HISTORY + history)
    text = CONFIG.read_text().replace("examples/combination-map-history.csv", "history.csv")
    if model_b is not None:
        text = (text[:text.index("\n[model.B]\n") + 1] + model_b + "\n"
                + text[text.index("[model.interaction]"):])
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_written_sections_read_back_as_the_run_time_map_priors(tmp_path, short_mcmc):
    out = tmp_path / "prior.toml"
    result = _map(CONFIG, out)
    assert result.exit_code == 0, result.output
    written = out.read_text()
    assert written.count("[model.A]\n") == written.count("[model.B]\n") == 1
    assert "drug A: 1 historical trial(s) with A alone (hist_A), reference dose 80 mg" in written
    assert "drug B: 1 historical trial(s) with B alone (hist_B), reference dose 1 mg" in written
    assert "and remove [historical]: no prior reads it then." in written
    # what the one-drug map prints, per drug
    for drug, doses in (("A", "25 mg"), ("B", "0.5 mg")):
        part = result.output.split(f"drug {drug}: ")[1]
        assert part.index("hierarchical model: mu ~ BVN") < part.index("MCMC: 2 chains x 1000 "
                                                                        "draws")
        assert "MAP sample (2000 draws)" in part and "chosen" in part
        assert f"prior effective sample size per dose: {doses} " in part
    # the frozen config: the written sections in place of the map priors and their hierarchies
    text = CONFIG.read_text().replace('data = "examples/', f'data = "{CONFIGS}/examples/')
    start, end = text.index("[historical]"), text.index("[model.interaction]")
    frozen = tmp_path / "frozen.toml"
    frozen.write_text(text[:start] + written + "\n" + text[end:])
    fixed = load_design(frozen).drug_priors
    map_prior._fit.cache_clear()  # the run-time prior fits again, with the default seed
    fitted = load_design(CONFIG).drug_priors
    for mine, theirs in zip(fixed, fitted, strict=True):
        assert isinstance(mine, Mixture) and len(mine.components) >= 2
        assert mine.components == theirs.components
        assert mine.weights == pytest.approx(theirs.weights, abs=1e-15)
    assert fixed[0].components != fixed[1].components


def test_another_seed_fits_another_prior(tmp_path, short_mcmc):
    """The seed reaches the fit: the written sections depend on it."""
    assert _map(CONFIG, tmp_path / "one.toml").exit_code == 0
    result = CliRunner().invoke(main, ["map", str(CONFIG), "--out", str(tmp_path / "two.toml"),
                                       "--seed", "2"])
    assert result.exit_code == 0, result.output
    one, two = ((tmp_path / f).read_text() for f in ("one.toml", "two.toml"))
    assert "seed 1)" in one and "seed 2)" in two
    assert one.split("[model.A]\n")[1] != two.split("[model.A]\n")[1]


def test_combination_rows_are_named_as_unused_and_a_drug_without_map_keeps_its_section(
        tmp_path, short_mcmc):
    config = _config(tmp_path, "hist_A,50,0,3,0\nhist_A,100,0,6,2\nhist_AB,50,1,3,1\n"
                     "hist_AB,100,1,3,2\n", '[model.B]\nprior_mean = [-2.0, 0.0]\n'
                     "prior_sd = [1.0, 0.7]\n")
    out = tmp_path / "prior.toml"
    result = _map(config, out)
    assert result.exit_code == 0, result.output
    unused = "not used: 2 combination row(s) of hist_AB (a MAP prior is per drug"
    assert unused in result.output and unused in out.read_text()
    assert "drug B: prior = 'normal', not a MAP prior: [model.B] stays as it is" in result.output
    assert "[model.A]\n" in out.read_text() and "[model.B]" not in out.read_text()


def _no_fit(*args, **kwargs):
    raise AssertionError("an input error must come before any MCMC fit")


@pytest.mark.parametrize(("history", "problem"), [
    ("hist_A,50,0,3,0\nhist_AB,50,1,3,1\n",
     "no monotherapy rows of drug B (dose_B > 0, the other 0) for its MAP prior; add its "
     "monotherapy trials, or give [model.B] another prior"),
    ("hist_AB,50,1,3,1\nhist_AB,100,1,3,2\n",
     "no monotherapy rows of drug A (dose_A > 0, the other 0) for its MAP prior; every row "
     "gives both drugs: combination rows inform only the joint model"),
])
def test_a_drug_without_monotherapy_rows_is_an_error_before_any_fit(tmp_path, monkeypatch,
                                                                     history, problem):
    monkeypatch.setattr(map_prior, "sample_map", _no_fit)
    out = tmp_path / "prior.toml"
    result = _map(_config(tmp_path, history), out)
    assert result.exit_code == 2, result.output
    assert f"error: {tmp_path / 'history.csv'}: {problem}" in result.output
    assert not out.exists()


@pytest.mark.parametrize(("config", "where", "problem"), [
    ("combination-codata.toml", "[model.A] prior", "prior = 'exnex' are one joint model"),
    ("combination-blrm.toml", "[historical] data", "needs the historical trials' CSV"),
])
def test_configs_map_cannot_fix_are_errors(tmp_path, monkeypatch, config, where, problem):
    monkeypatch.setattr(map_prior, "sample_map", _no_fit)
    out = tmp_path / "prior.toml"
    result = _map(CONFIGS / config, out)
    assert result.exit_code == 2, result.output
    assert where in result.output and problem in result.output
    assert not out.exists()


@pytest.mark.skipif(os.environ.get("BAYESDOSE_SLOW") != "1",
                    reason="two full MAP fits (about a minute): BAYESDOSE_SLOW=1")
def test_the_examples_map_priors_give_the_vignettes_prior_table():
    """configs/combination-map.toml fits the MAP vignette's monotherapy histories with its
    priors; under the two MAP priors (full MCMC, seed 1) and its interaction prior the prior
    P(DLT) at its 12 pairs is the vignette's printed table within the tolerances of
    test_combination_engine's check of its printed mixtures (0.02 on a mean or sd, 0.04 on
    P(DLT > 0.33)): its numbers come from 2,000 NUTS draws printed to 2 decimals, and its own
    MAP and MAC runs differ by up to 0.02."""
    map_prior._fit.cache_clear()
    design = load_design(CONFIG)
    rows = VIGNETTE["table"]
    pairs = np.array([[r["drug_A"], r["drug_B"]] for r in rows])
    summary, _ = CombinationEngine(design.combination_model, pairs, (0.16, 0.33)).summarise(
        np.zeros(len(rows)), np.zeros(len(rows)))
    for k, r in enumerate(rows):
        assert summary.mean[0, k] == pytest.approx(r["mean"], abs=0.02)
        assert summary.sd[0, k] == pytest.approx(r["sd"], abs=0.02)
        assert summary.p_overdose[0, k] == pytest.approx(r["p_overdose"], abs=0.04)


def test_the_api_gives_each_drugs_fit_by_name(short_mcmc):
    """``bayesdose.map_prior`` on a two-drug config: the fits ``map`` writes, by drug."""
    import bayesdose

    fits = bayesdose.map_prior(CONFIG)
    assert list(fits) == ["A", "B"]
    priors = load_design(CONFIG).drug_priors
    for fit, prior in zip(fits.values(), priors, strict=True):
        assert fit.prior.components == prior.components
        assert fit.sample is not None and fit.diagnostics["diagnostics_ok"]


@pytest.mark.parametrize("config", ["combination-map.toml", "drug-a-map.toml"])
def test_an_out_path_that_cannot_be_written_is_refused_before_any_fit(tmp_path, monkeypatch,
                                                                      config):
    monkeypatch.setattr(map_prior, "sample_map", _no_fit)
    out = tmp_path / "missing" / "prior.toml"
    result = _map(CONFIGS / config, out)
    assert result.exit_code == 2, result.output
    assert f"error: {out}: cannot write the MAP prior: no folder {out.parent}" in result.output
