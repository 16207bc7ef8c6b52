"""The combination BLRM sampled with PyMC's NUTS: the cross-check of the deterministic engine
(``recommend --engine mcmc|both`` on a two-drug config).

The model is ``models.combination``'s, written in PyTensor: each drug's (log alpha, log beta)
~ its prior (a bivariate normal or a mixture: ``inference.mcmc.non_centred``), eta ~ N(mean,
sd^2), logit P(DLT) per arm as ``CombinationBlrm.log_odds`` computes it (log(1 - p0) =
-softplus(l_A) - softplus(l_B), an absent drug's term left out, plus eta g). The likelihood is
the single agent's (``inference.mcmc.weighted_loglik``) on the arms' rows of
``posterior.likelihood_rows``: DLTs, complete outcomes and, with dated data, patients in
follow-up with their TITE weight. The run, its convergence checks (R-hat, bulk and tail ESS,
divergences) and its summaries with Monte Carlo standard errors are the single agent's
(``sample_checked``, ``summarise_draws``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.inference.mcmc import (
    non_centred,
    sample_checked,
    summarise_draws,
    weighted_loglik,
)
from bayesdose.models.combination import CombinationBlrm, Covariates

if TYPE_CHECKING:
    import xarray as xr

CHAINS = 4
DRAWS = 1000
TUNE = 1000
TARGET_ACCEPT = 0.95


def fit_combination_mcmc(model: CombinationBlrm, arm_doses: np.ndarray, rows: np.ndarray,
                         bounds: tuple[float, float], seed: int, *, cohort_size: int,
                         chains: int = CHAINS, draws: int = DRAWS, tune: int = TUNE,
                         ) -> tuple[xr.Dataset, dict[str, Any]]:
    """Sample the posterior and summarise P(DLT) per arm.

    ``arm_doses`` (arms, 2): each arm's dose of both drugs (0: absent); ``rows`` (k, 4): the
    likelihood's rows (arm index, DLT 0/1, follow-up weight, count; ``likelihood_rows``);
    ``bounds`` the target interval. Returns the per-arm summary (dimension "dose" holding the
    arm's index; mean, sd, quantiles, interval probabilities, their MCSEs, the predictive
    DLTs in a cohort of ``cohort_size``) and the run's diagnostics (resampled once with twice
    the draws when a check fails: ``sample_checked``).
    """
    import pymc as pm

    cov = model.covariates(arm_doses)
    arms = np.arange(len(arm_doses))
    idx = rows[:, 0].astype(int)
    with pm.Model(coords={"dose": arms}) as pymc_model:
        theta_a = non_centred(model.prior_a, "theta_A", "z_A")
        theta_b = non_centred(model.prior_b, "theta_B", "z_B")
        eta = pm.Normal("eta", model.interaction.prior_mean, model.interaction.prior_sd)
        lp = pymc_log_odds(theta_a, theta_b, eta, cov)
        pm.Deterministic("p", pm.math.invlogit(lp), dims="dose")
        if idx.size:
            pm.Potential("loglik", weighted_loglik(lp[idx], rows[:, 1], rows[:, 2], rows[:, 3]))
    idata, diagnostics = sample_checked(pymc_model, ["theta_A", "theta_B", "eta", "p"], seed,
                                        chains, draws, tune, TARGET_ACCEPT)
    diagnostics["model"] = "combination BLRM"
    return summarise_draws(idata.posterior["p"], bounds, arms, cohort_size), diagnostics


def pymc_log_odds(theta_a: Any, theta_b: Any, eta: Any, cov: Covariates) -> Any:
    """logit P(DLT) at the arms of ``cov`` (a PyTensor vector): each drug's linear predictor
    l_i = log alpha_i + exp(log beta_i) log(d_i / d*_i), S = the sum of softplus(l_i) over the
    drugs given, logit p0 = S + log(1 - e^-S), plus eta g."""
    import pytensor.tensor as pt

    s = 0.0
    for i, theta in enumerate((theta_a, theta_b)):
        linear = theta[0] + pt.exp(theta[1]) * cov.log_ratio[i]
        s = s + pt.switch(cov.present[i], pt.softplus(linear), 0.0)
    return s + pt.log1mexp(-s) + eta * cov.g
