"""The two inference engines agree: exact quadrature vs PyMC's NUTS, within 4 Monte Carlo
standard errors (+ 0.002: the rule of ``recommend --engine both``), on the shipped examples,
through the package's own entry points (the command's output: test_recommend_mcmc.py)."""

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.data import read_trial_data
from bayesdose.designs.blrm.crosscheck import comparison
from bayesdose.posterior import exact_summary, mcmc_summary
from bayesdose.schema import load_design


@pytest.mark.parametrize("name", ["nbg-2008", "xj-mk-002"])
def test_exact_and_mcmc_agree_within_four_mcse(name):
    design = load_design(CONFIGS / f"{name}.toml")
    data = read_trial_data(CONFIGS / "examples" / f"{name}.csv", design)
    exact, _ = exact_summary(design, data)
    mcmc, diagnostics = mcmc_summary(design, data, seed=11)
    assert diagnostics["diagnostics_ok"], diagnostics["messages"]
    result = comparison(exact, mcmc)  # a floor of 2e-3 where the MCSE is ~0 (near 0 or 1)
    assert result["agree"], result["disagreements"]
    assert result["max_difference_in_mcse"] < 4


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
