"""The meta-analytic-predictive (MAP) prior of a new trial, from the historical trials.

Two steps, as OncoBayes2 with RBesT do (Neuenschwander et al. 2010, Clin Trials 7:5-18; Schmidli
et al. 2014, Biometrics 70:1023-1032):

1. the hierarchical model (``bayesdose.models.hierarchy``) is fitted to the historical trials by
   NUTS, gated by R-hat, ESS and divergences; for each posterior draw of (mu, tau, rho) one
   draw of a new trial's (log alpha, log beta) ~ BVN(mu, Sigma) is the MAP sample;
2. the sample is approximated by a mixture of bivariate normals, the number of components
   chosen by AIC (``bayesdose.models.mixfit``), and optionally robustified by a weakly
   informative component (the prior of mu) of weight ``robust_weight``.

The fit is deterministic (fixed seeds) and cached per input, so a design asks for it once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.defaults import DEFAULT_SEED
from bayesdose.errors import InputError
from bayesdose.models.hierarchy import (
    Hierarchy,
    binomial_loglik,
    exchangeable_parameters,
    predictive_draws,
)
from bayesdose.models.prior import BivariateNormal, Prior

if TYPE_CHECKING:
    from bayesdose.historical import HistoricalTrials
    from bayesdose.models.mixfit import FitResult
    from bayesdose.schema import Design, ModelSection

MAP_CHAINS = 4
MAP_DRAWS = 2500  # per chain: 10,000 MAP draws for the mixture fit
MAP_TUNE = 1000
MAP_TARGET_ACCEPT = 0.95
MAX_COMPONENTS = 4  # as RBesT's automixfit: 1 to 4 components, the lowest AIC


@dataclass(frozen=True)
class MapFit:
    """The MAP prior of a design and how it was made."""

    prior: Prior  # the prior used: the mixture, robustified when robust_weight > 0
    mixture: FitResult  # the mixture approximation of the MAP sample (and its AIC table)
    sample: dict[str, Any]  # summaries of the MAP sample (mean, sd, quantiles, correlation)
    diagnostics: dict[str, Any]  # of the MCMC fit of the hierarchical model
    robust_weight: float
    robust: BivariateNormal  # the weakly informative component


def map_prior(design: Design, seed: int = DEFAULT_SEED) -> MapFit:
    """The MAP prior of ``design``'s trial from its ``[historical]`` trials. With
    prior = 'exnex', the same MAP prior robustified by the non-exchangeable prior with weight
    1 - ex_probability: the current trial's prior given the historical data under EXNEX."""
    return fit_map(design.model, design.mean_prior, design.historical_trials,
                   design.reference_dose, design.source, seed)


def drug_map_prior(design: Design, drug: int, seed: int = DEFAULT_SEED) -> MapFit:
    """Two drugs: the MAP prior of drug ``drug`` (0 or 1) from its monotherapy rows in the
    ``[historical]`` trials, under its ``[model.<name>]`` (with 'exnex' its MAP equivalent):
    the prior the design uses for that drug, and the one ``bayesdose map`` writes."""
    name, model = design.drugs.names[drug], design.drug_models[drug]
    panel = design.pair_panel.drugs[drug]
    mean = design.prior_of(model, f"model.{name}", panel)
    return fit_map(model, mean, design.historical_trials.monotherapy(drug),  # type: ignore
                   panel.reference, design.source, seed, f"model.{name}")


def fit_map(model: ModelSection, mean_prior: BivariateNormal, trials: HistoricalTrials,
            reference: float, source: str, seed: int = DEFAULT_SEED,
            section: str = "model") -> MapFit:
    """``map_prior`` of a ``[model]``-like section (one drug's of two too: ``section``) with
    its prior of mu, from ``trials`` (doses relative to ``reference``); ``source`` names the
    config."""
    hierarchy = Hierarchy.of_model(model, mean_prior)
    mixture, sample, diagnostics = _fit(trials, hierarchy, reference, seed)
    if not diagnostics["diagnostics_ok"]:
        raise InputError(source, f"[{section}.hierarchy]",
                         "the MCMC fit of the historical trials failed its diagnostics ("
                         + "; ".join(diagnostics["messages"]) + "); revise the hierarchy's "
                         "priors or the historical data")
    weight, robust = robustification_of(model, mean_prior)
    prior = mixture.prior
    if weight > 0:
        from bayesdose.models.mixfit import robustify

        prior = robustify(prior, weight, robust)
    mixture_text = (f"a mixture of {mixture.components} bivariate normal(s) chosen by "
                    f"{mixture.criterion}")
    if model.prior == "exnex":
        explanation = (f"EXNEX with {len(trials.names)} historical trial(s) in {trials.source} "
                       f"(decisions by MCMC); before this trial's data its prior is the MAP "
                       f"prior ({mixture_text}) with the non-exchangeable prior at weight "
                       f"{weight:g}")
    else:
        explanation = (f"MAP prior from {len(trials.names)} historical trial(s) in "
                       f"{trials.source}: {mixture_text}"
                       + (f", robustified with weight {weight:g}" if weight > 0 else ""))
    prior = dataclasses.replace(prior, derived=True, explanation=explanation)
    return MapFit(prior, mixture, sample, diagnostics, weight, robust)


def robustification(design: Design) -> tuple[float, BivariateNormal]:
    """``robustification_of`` the design's ``[model]``."""
    return robustification_of(design.model, design.mean_prior)


def robustification_of(model: ModelSection, mean: BivariateNormal
                       ) -> tuple[float, BivariateNormal]:
    """The weight and the component that robustify the MAP prior: ``robust_weight`` under
    'map', 1 - ex_probability under 'exnex' (the current trial's prior given the history);
    the component is the non-exchangeable prior ``nex_*``, by default the prior of mu
    ``mean`` (as OncoBayes2's vignette robustifies, and as its EXNEX defaults)."""
    h = model.hierarchy
    component = BivariateNormal(
        h.nex_mean if h.nex_mean is not None else mean.mean,
        h.nex_sd if h.nex_sd is not None else mean.sd,
        h.nex_correlation if h.nex_correlation is not None else mean.correlation)
    weight = 1 - h.ex_probability if model.prior == "exnex" else model.robust_weight
    return weight, component


@lru_cache(maxsize=16)
def _fit(trials: HistoricalTrials, hierarchy: Hierarchy, reference: float,
         seed: int) -> tuple[FitResult, dict[str, Any], dict[str, Any]]:
    from bayesdose.models.mixfit import automixfit

    draws, diagnostics = sample_map(trials, hierarchy, reference, seed)
    return (automixfit(draws, max_components=MAX_COMPONENTS, seed=seed),
            summarise_sample(draws), diagnostics)


def sample_map(trials: HistoricalTrials, hierarchy: Hierarchy, reference: float, seed: int,
               chains: int = MAP_CHAINS, draws: int = MAP_DRAWS, tune: int = MAP_TUNE,
               ) -> tuple[np.ndarray, dict[str, Any]]:
    """The MAP sample (chains x draws, 2) of a new trial's (log alpha, log beta), and the
    diagnostics of the hierarchical model's fit to ``trials``."""
    import pymc as pm

    from bayesdose.inference.mcmc import sample_checked

    x = np.log(np.asarray(trials.dose) / reference)
    with pm.Model() as model:
        theta, _ = exchangeable_parameters(hierarchy, len(trials.names))
        pm.Potential("loglik", binomial_loglik(theta[np.asarray(trials.trial)], x,
                                               np.asarray(trials.n), np.asarray(trials.dlt)))
    idata, diagnostics = sample_checked(model, ["mu", "tau", "rho", "theta_trials"], seed,
                                        chains, draws, tune, MAP_TARGET_ACCEPT)
    return predictive_draws(idata.posterior, seed), diagnostics


def summarise_sample(draws: np.ndarray) -> dict[str, Any]:
    """Mean, sd, 2.5/50/97.5% quantiles of each parameter and their correlation."""
    q = np.quantile(draws, [0.025, 0.5, 0.975], axis=0)
    return {
        "parameters": ["log_alpha", "log_beta"],
        "draws": int(draws.shape[0]),
        "mean": draws.mean(axis=0).tolist(),
        "sd": draws.std(axis=0, ddof=1).tolist(),
        "q025": q[0].tolist(), "median": q[1].tolist(), "q975": q[2].tolist(),
        "correlation": float(np.corrcoef(draws.T)[0, 1]),
    }
