"""The two inference engines agree: exact quadrature vs PyMC's NUTS, within 4 Monte Carlo
standard errors, on the shipped examples, through the package's own entry points."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.posterior import exact_summary, mcmc_summary
from bayesdose.schema import load_design


@pytest.mark.parametrize("name", ["nbg-2008", "xj-mk-002"])
def test_exact_and_mcmc_agree_within_four_mcse(name):
    design = load_design(CONFIGS / f"{name}.toml")
    data = read_trial_data(CONFIGS / "examples" / f"{name}.csv", design)
    exact, _ = exact_summary(design, data)
    mcmc, diagnostics = mcmc_summary(design, data, seed=11)
    assert diagnostics["diagnostics_ok"], diagnostics["messages"]
    for var in ("mean", "p_underdose", "p_target", "p_overdose"):
        diff = np.abs(exact[var].values - mcmc[var].values)
        # a floor of 2e-3 where the probability is near 0 or 1 and the MCSE is ~0
        allowed = 4 * mcmc[f"mcse_{var}"].values + 2e-3
        assert np.all(diff <= allowed), (var, diff, allowed)


def test_engine_both_reports_the_comparison(tmp_path):
    out = tmp_path / "both.json"
    result = CliRunner().invoke(main, [
        "recommend", str(CONFIGS / "xj-mk-002.toml"),
        str(CONFIGS / "examples" / "xj-mk-002.csv"), "--engine", "both", "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["engine"] == "both" and doc["next_dose"] == 1e8
    comparison = doc["diagnostics"]["comparison"]
    assert comparison["max_abs_difference"] < 0.05
    assert comparison["max_difference_in_mcse"] < 4
    assert "mcse_p_overdose" in doc["doses"][0]["mcmc"]


def test_exact_and_mcmc_agree_on_tite_data():
    from datetime import date

    design = load_design(CONFIGS / "xj-mk-002.toml")
    data = read_trial_data(CONFIGS / "examples" / "xj-mk-002-dated.csv", design,
                           date(2025, 11, 3))
    assert data.pending.sum() == 1
    exact, _ = exact_summary(design, data)
    mcmc, diagnostics = mcmc_summary(design, data, seed=5)
    assert diagnostics["diagnostics_ok"], diagnostics["messages"]
    for var in ("mean", "p_overdose"):
        diff = np.abs(exact[var].values - mcmc[var].values)
        assert np.all(diff <= 4 * mcmc[f"mcse_{var}"].values + 2e-3), (var, diff)
