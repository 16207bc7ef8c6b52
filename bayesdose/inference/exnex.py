"""EXNEX: the historical trials and the current one in one hierarchical model, by MCMC.

As OncoBayes2's ``blrm_exnex`` (Neuenschwander, Wandel, Roychoudhury & Bailey 2016, Pharm Stat
15:123-134): the historical trials are exchangeable (``bayesdose.models.hierarchy``); the current
trial is exchangeable with them with prior probability p_ex (its parameters theta_EX ~ BVN(mu,
Sigma)) and otherwise non-exchangeable (theta_NEX ~ its own bivariate normal). The indicator is
summed out: the current data's likelihood is p_ex L(theta_EX) + (1 - p_ex) L(theta_NEX), and
both parameter vectors are sampled.

Per draw, the posterior probability that the current trial is exchangeable is
w = p_ex L_EX / (p_ex L_EX + (1 - p_ex) L_NEX), and P(DLT | d) is theta_EX's curve with
probability w, else theta_NEX's. The summaries are Rao-Blackwellised over the indicator
(each interval probability is the mean over draws of w 1[p_EX in I] + (1 - w) 1[p_NEX in I]),
which has a smaller Monte Carlo error than drawing the indicator.

The decision of record under EXNEX is this engine's; its EWOC verdicts must hold against Monte
Carlo error: a dose whose P(overdose) lies within 2 MCSE of the threshold makes the engine
sample again with twice the draws, up to ``MAX_DRAWS`` per chain (``ewoc_check`` in the
diagnostics says what was done and which doses, if any, remain in doubt).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.models.hierarchy import Hierarchy, binomial_loglik, exchangeable_parameters
from bayesdose.predictive import cohort_predictive

if TYPE_CHECKING:
    import xarray as xr

    from bayesdose.data import TrialData
    from bayesdose.schema import Design

CHAINS = 4
DRAWS = 1000  # per chain, first round
TUNE = 1000
MAX_DRAWS = 8000  # per chain: the cap of the EWOC check's doubling
TARGET_ACCEPT = 0.95
MCSE_MARGIN = 2.0  # a verdict is in doubt when |P(overdose) - threshold| <= 2 MCSE


def exnex_summary(design: Design, data: TrialData, seed: int,
                  draws: int = DRAWS) -> tuple[xr.Dataset, dict[str, Any]]:
    """The current trial's posterior summary per dose under EXNEX, its MCMC diagnostics and
    the EWOC check: sampled again with twice the draws while a verdict is in doubt."""
    return ewoc_checked(lambda s, d: _fit(design, data, s, d), design, seed, draws, MAX_DRAWS,
                        [float(d) for d in design.levels])


def ewoc_checked(fit: Callable[[int, int], tuple[xr.Dataset, dict[str, Any]]], design: Design,
                 seed: int, draws: int, max_draws: int, labels: list[Any],
                 decided: np.ndarray | bool = True) -> tuple[xr.Dataset, dict[str, Any]]:
    """``fit(seed, draws)``'s summary and diagnostics with the EWOC check: while a verdict at
    a ``decided`` place (its label in ``labels``) lies within ``MCSE_MARGIN`` MCSE of the
    threshold, sampled again with twice the draws (and the next seed), up to ``max_draws``."""
    threshold = design.decision.max_overdose_probability
    rounds = []
    while True:
        summary, diagnostics = fit(seed + len(rounds), draws)
        gap = np.abs(summary["p_overdose"].values - threshold)
        doubt = decided & (gap <= MCSE_MARGIN * summary["mcse_p_overdose"].values)
        rounds.append({"draws": draws, "seed": seed + len(rounds),
                       "in_doubt": [labels[k] for k in np.flatnonzero(doubt)]})
        if not doubt.any() or 2 * draws > max_draws:
            break
        draws *= 2
    diagnostics["ewoc_check"] = {
        "margin_mcse": MCSE_MARGIN, "max_draws": max_draws, "rounds": rounds,
        "in_doubt": rounds[-1]["in_doubt"], "resolved": not rounds[-1]["in_doubt"],
    }
    return summary, diagnostics


def _fit(design: Design, data: TrialData, seed: int,
         draws: int) -> tuple[xr.Dataset, dict[str, Any]]:
    import pymc as pm
    import pytensor.tensor as pt

    from bayesdose.inference.mcmc import sample_checked, weighted_loglik
    from bayesdose.models.map_prior import robustification
    from bayesdose.posterior import likelihood_rows

    trials = design.historical_trials
    p_ex = design.model.hierarchy.ex_probability
    nex_weight, nex = robustification(design)
    x = design.dlt_model.covariate
    rows = likelihood_rows(design, data)
    idx, y, w, n = rows[:, 0].astype(int), rows[:, 1], rows[:, 2], rows[:, 3]
    x_hist = np.log(np.asarray(trials.dose) / design.reference_dose)
    with pm.Model() as model:
        theta, exchangeable = exchangeable_parameters(Hierarchy.of(design), len(trials.names))
        pm.Potential("historical", binomial_loglik(theta[np.asarray(trials.trial)], x_hist,
                                                   np.asarray(trials.n),
                                                   np.asarray(trials.dlt)))
        theta_ex = pm.Deterministic("theta_ex", exchangeable(pm.Normal("z_ex", 0.0, 1.0,
                                                                       shape=2)))
        chol = np.linalg.cholesky(np.asarray(nex.cov))
        theta_nex = pm.Deterministic("theta_nex", np.asarray(nex.mean) + pt.dot(
            chol, pm.Normal("z_nex", 0.0, 1.0, shape=2)))
        eta_ex = theta_ex[0] + pt.exp(theta_ex[1]) * x
        eta_nex = theta_nex[0] + pt.exp(theta_nex[1]) * x
        pm.Deterministic("p_ex", pm.math.invlogit(eta_ex))
        pm.Deterministic("p_nex", pm.math.invlogit(eta_nex))
        log_ex = np.log(p_ex) + (weighted_loglik(eta_ex[idx], y, w, n) if idx.size else 0.0)
        if nex_weight > 0:
            log_nex = np.log(nex_weight) + (weighted_loglik(eta_nex[idx], y, w, n)
                                            if idx.size else 0.0)
            pm.Potential("current", pt.logaddexp(log_ex, log_nex))
            pm.Deterministic("w_ex", pm.math.sigmoid(log_ex - log_nex))
        else:  # p_ex = 1: meta-analytic-combined, the current trial exchangeable for sure
            pm.Potential("current", log_ex)
            pm.Deterministic("w_ex", pt.as_tensor(1.0))
    idata, diagnostics = sample_checked(
        model, ["mu", "tau", "rho", "theta_trials", "theta_ex", "theta_nex"], seed, CHAINS,
        draws, TUNE, TARGET_ACCEPT)
    post = idata.posterior
    diagnostics["engine"] = "exnex"
    diagnostics["p_exchangeable"] = float(post["w_ex"].mean())
    return _summarise(post, design), diagnostics


def _summarise(post: Any, design: Design) -> xr.Dataset:
    """Rao-Blackwellised per-dose summaries of the current trial's P(DLT) (see the module's
    docstring): the EX and the NEX curve of each draw, weighted by w and 1 - w."""
    w = post["w_ex"].values
    return mixture_summary(np.stack([post["p_ex"].values, post["p_nex"].values], axis=2),
                           np.stack(np.broadcast_arrays(w, 1 - w), axis=-1), design,
                           np.asarray(design.levels, dtype=float))


def mixture_summary(p: np.ndarray, w: np.ndarray, design: Design,
                    doses: np.ndarray) -> xr.Dataset:
    """Summaries of P(DLT) per dose when each draw holds K curves ``p`` (chain, draw, K, dose)
    with posterior probabilities ``w`` (chain, draw, K) summing to 1 (the EX/NEX cases of a
    draw): each interval probability is the mean over draws of sum_k w_k 1[p_k in I], with
    ArviZ's MCSE of those per-draw terms; the quantiles are those of the weighted atoms; and
    the predictive probabilities of the DLTs in a cohort of the configured size. ``doses``
    label the last axis (two drugs: the arms)."""
    import xarray as xr

    c1, c2 = design.decision.target_interval
    w = np.broadcast_to(w[..., None], p.shape)
    out: dict[str, np.ndarray] = {}
    terms = {}
    for name, inside in {"underdose": lambda q: q < c1,
                         "target": lambda q: (q >= c1) & (q < c2),
                         "overdose": lambda q: q >= c2}.items():
        terms[name] = (w * inside(p)).sum(axis=2)
        out[f"p_{name}"] = terms[name].mean(axis=(0, 1))
    per_draw = (w * p).sum(axis=2)
    mean = per_draw.mean(axis=(0, 1))
    second = (w * p**2).sum(axis=2).mean(axis=(0, 1))
    out |= {"mean": mean, "sd": np.sqrt(np.maximum(second - mean**2, 0.0))}
    atoms, weights = p.reshape(-1, p.shape[-1]), w.reshape(-1, p.shape[-1])
    for key, q in (("q025", 0.025), ("median", 0.5), ("q975", 0.975)):
        out[key] = np.array([_weighted_quantile(atoms[:, k], weights[:, k], q)
                             for k in range(atoms.shape[1])])
    for name, term in terms.items():
        out[f"mcse_p_{name}"] = _mcse(term)
    out["mcse_mean"] = _mcse(per_draw)
    data = {k: ("dose", np.asarray(v, dtype=np.float64)) for k, v in out.items()}
    # every draw's curves, weighted by their posterior probabilities (w is per draw)
    data["predictive"] = (("dose", "dlts"), cohort_predictive(
        design.cohorts.size, weights[:, 0] / p.shape[0] / p.shape[1], atoms.T))
    return xr.Dataset(data, coords={"dose": doses, "dlts": np.arange(design.cohorts.size + 1)},
                      attrs={"engine": "exnex"})


def _mcse(term: np.ndarray) -> np.ndarray:
    """ArviZ's MCSE of the mean of per-draw terms (chain, draw, dose), per dose."""
    import arviz as az

    return np.array([float(az.mcse(np.ascontiguousarray(term[..., k]), method="mean"))
                     for k in range(term.shape[-1])])


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of the discrete distribution putting ``weights`` on ``values``."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])
