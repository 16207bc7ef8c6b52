"""MCMC engine: the BLRM posterior sampled with PyMC's NUTS.

Model (Neuenschwander, Branson & Gsponer 2008, Stat Med 27:2420-2439), for dose d with
x_d = log(d / d_ref)::

    logit P(DLT | d) = log(alpha) + exp(log beta) * x_d
    theta = (log alpha, log beta) ~ prior (``bayesdose.models.prior``)

Each observation has a DLT indicator y and a follow-up weight w in (0, 1] (time-to-event
weighting, Cheung & Chappell 2000, Biometrics 56:1177-1182); its likelihood is
p^y (1 - w p)^(1 - y), plain Bernoulli when w = 1. Rows may stand for ``count`` identical
observations, so each row's log-likelihood is multiplied by its count.

This engine is a cross-check of the exact grid engine; PyMC is imported lazily so that the rest
of the package works without it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.models.blrm import PARAMETERS, SingleAgentBlrm
from bayesdose.models.prior import Prior
from bayesdose.predictive import cohort_predictive

if TYPE_CHECKING:  # xarray is loaded with a fit: the rules' gate constants are imported alone
    import xarray as xr

RHAT_MAX = 1.01
ESS_MIN = 400.0


def fit_mcmc(model: SingleAgentBlrm, prior: Prior,
             dose_index: np.ndarray, dlt: np.ndarray, weight: np.ndarray, count: np.ndarray,
             bounds: tuple[float, float], doses: np.ndarray, seed: int, *, cohort_size: int,
             chains: int = 4, draws: int = 1000, tune: int = 1000, target_accept: float = 0.95,
             ) -> tuple[xr.Dataset, dict]:
    """Sample the BLRM posterior and summarise P(DLT | d) per dose.

    ``bounds = (c1, c2)`` split P(DLT) into under-dosing [0, c1), target [c1, c2) and
    overdosing [c2, 1]; ``predictive`` is the posterior predictive distribution of the DLTs in
    a cohort of ``cohort_size`` at each dose, averaged over the draws. If the convergence
    checks fail (R-hat > 1.01, bulk or tail ESS < 400, or any divergence), the chains are run
    once more with twice the draws and tuning steps and seed + 1; the summary and diagnostics
    then describe that second run (``resampled`` True, with ``seed``, ``draws`` and ``tune``
    those of the second run). A failure that persists is reported in ``diagnostics_ok`` and
    ``messages``, never hidden.

    Returns ``(summary, diagnostics)``: a Dataset over dimensions "dose" (and "dlts") and a
    JSON-able dict.
    """
    import pymc as pm
    import pytensor.tensor as pt

    x = model.covariate
    doses = np.asarray(doses, dtype=float)
    idx = np.asarray(dose_index, dtype=int)
    y = np.asarray(dlt, dtype=float)
    w = np.asarray(weight, dtype=float)
    n = np.asarray(count, dtype=float)
    if not (x.shape == doses.shape and idx.shape == y.shape == w.shape == n.shape):
        raise ValueError("x/doses and dose_index/dlt/weight/count must have matching lengths")
    if idx.size and (idx.min() < 0 or idx.max() >= x.size):
        raise ValueError("dose_index out of range")
    if not (np.all((y == 0) | (y == 1)) and np.all((w > 0) & (w <= 1)) and np.all(n >= 1)):
        raise ValueError("need dlt in {0, 1}, weight in (0, 1] and count >= 1")

    with pm.Model(coords={"param": list(PARAMETERS), "dose": doses}) as pymc_model:
        theta = non_centred(prior, "theta", "z", dims="param")
        eta = model.linear_predictor(theta[0], pt.exp(theta[1]))
        pm.Deterministic("p", pm.math.invlogit(eta), dims="dose")
        if idx.size:
            pm.Potential("loglik", weighted_loglik(eta[idx], y, w, n))

    idata, diagnostics = sample_checked(pymc_model, ["theta", "p"], seed, chains, draws, tune,
                                        target_accept)
    return summarise_draws(idata.posterior["p"], bounds, doses, cohort_size), diagnostics


def non_centred(prior: Prior, name: str, z_name: str, dims: str | None = None) -> Any:
    """A drug's (log alpha, log beta) ~ ``prior`` in the PyMC model being built, as the
    Deterministic ``name``: sampled non-centred, standard normals ``z_name`` mapped through the
    Cholesky factor of the prior's frame (its moment-matched normal), which NUTS explores far
    better than the correlated parameters; a prior other than its own frame (a mixture) adds
    its density relative to the frame as a Potential."""
    import pymc as pm
    import pytensor.tensor as pt

    frame = prior.frame
    chol = np.linalg.cholesky(np.asarray(frame.cov, dtype=float))
    z = pm.Normal(z_name, 0.0, 1.0, shape=2)
    theta = pm.Deterministic(name, np.asarray(frame.mean, dtype=float) + pt.dot(chol, z),
                             dims=dims)
    if prior.frame is not prior:
        pm.Potential(f"{name}_prior", prior.pymc_log_density(theta)
                     - frame.pymc_log_density(theta))
    return theta


def weighted_loglik(eta: Any, y: np.ndarray, w: np.ndarray, n: np.ndarray) -> Any:
    """Sum over rows of n (y log p + (1 - y) log(1 - w p)), logit p = eta: the TITE
    likelihood of rows of ``n`` patients with DLT indicator y and follow-up weight w."""
    import pytensor.tensor as pt

    log_p, log_1mp = -pt.softplus(-eta), -pt.softplus(eta)
    # log(1 - w p) = log((1 - w) + w (1 - p)), stable for p near 1; log(0) = -inf if w = 1.
    with np.errstate(divide="ignore"):
        log_1mw = np.log1p(-w)
    log_1mwp = pt.logaddexp(log_1mw, np.log(w) + log_1mp)
    return pt.sum(n * (y * log_p + (1.0 - y) * log_1mwp))


def sample_checked(pymc_model, names: list[str], seed: int, chains: int = 4,
                   draws: int = 1000, tune: int = 1000, target_accept: float = 0.95,
                   ) -> tuple[Any, dict]:
    """Sample a PyMC model with NUTS and check the variables ``names``; if a check fails
    (R-hat > 1.01, bulk or tail ESS < 400, or any divergence), run once more with twice the
    draws and tuning steps and seed + 1. Returns the InferenceData of the last run and a
    JSON-able dict of its diagnostics (``diagnostics_ok``, ``messages``: a failure that
    persists is reported, never hidden)."""
    import pymc as pm

    logging.getLogger("pymc").setLevel(logging.ERROR)

    def run(run_seed: int, run_draws: int, run_tune: int):
        with pymc_model:
            idata = pm.sample(draws=run_draws, tune=run_tune, chains=chains, cores=1,
                              target_accept=target_accept, nuts_sampler="pymc",
                              random_seed=run_seed, progressbar=False,
                              compute_convergence_checks=False)
        return idata, _check(idata, names)

    idata, checks = run(seed, draws, tune)
    messages: list[str] = []
    resampled = False
    if checks["failures"]:
        messages.append("first run failed diagnostics (" + "; ".join(checks["failures"])
                        + f"); resampled with draws={2 * draws}, tune={2 * tune}, seed={seed + 1}")
        seed, draws, tune, resampled = seed + 1, 2 * draws, 2 * tune, True
        idata, checks = run(seed, draws, tune)
        if checks["failures"]:
            messages.append("diagnostics still failed after resampling: "
                            + "; ".join(checks["failures"]))

    diagnostics = {
        "engine": "mcmc", "sampler": "pymc-nuts", "chains": int(chains), "draws": int(draws),
        "tune": int(tune), "target_accept": float(target_accept), "seed": int(seed),
        "rhat_max": checks["rhat_max"], "ess_bulk_min": checks["ess_bulk_min"],
        "ess_tail_min": checks["ess_tail_min"], "divergences": checks["divergences"],
        "diagnostics_ok": not checks["failures"], "resampled": resampled, "messages": messages,
    }
    return idata, diagnostics


def _check(idata, names: list[str]) -> dict:
    """R-hat, bulk/tail ESS (ArviZ 1, over the variables ``names``) and divergences, with
    failure texts."""
    import arviz as az

    rhat = float(max(az.rhat(idata, var_names=names)[v].max() for v in names))
    ess_bulk = float(min(az.ess(idata, var_names=names, method="bulk")[v].min() for v in names))
    ess_tail = float(min(az.ess(idata, var_names=names, method="tail")[v].min() for v in names))
    divergences = int(idata.sample_stats["divergences"].sum())
    failures = []
    if not rhat <= RHAT_MAX:  # also catches NaN
        failures.append(f"rhat_max {rhat:.4f} > {RHAT_MAX}")
    if not ess_bulk >= ESS_MIN:
        failures.append(f"ess_bulk_min {ess_bulk:.0f} < {ESS_MIN:.0f}")
    if not ess_tail >= ESS_MIN:
        failures.append(f"ess_tail_min {ess_tail:.0f} < {ESS_MIN:.0f}")
    if divergences:
        failures.append(f"{divergences} divergent transitions")
    return {"rhat_max": rhat, "ess_bulk_min": ess_bulk, "ess_tail_min": ess_tail,
            "divergences": divergences, "failures": failures}


def summarise_draws(p: xr.DataArray, bounds: tuple[float, float], doses: np.ndarray,
               cohort_size: int) -> xr.Dataset:
    """Per-dose posterior summary of P(DLT) from draws p (chain, draw, dose), with the
    predictive probabilities of 0 .. cohort_size DLTs in a cohort (the draws as equally
    weighted atoms, ``cohort_predictive``).

    Interval probabilities are fractions of draws; their Monte Carlo standard errors are ArviZ's
    MCSE of the mean of the 0/1 indicator draws, which accounts for autocorrelation (it is 0
    when every draw falls on the same side of a bound).
    """
    import arviz as az
    import xarray as xr

    c1, c2 = bounds
    sample = ("chain", "draw")
    indicators = {"underdose": p < c1, "target": (p >= c1) & (p < c2), "overdose": p >= c2}
    out = {
        "mean": p.mean(sample), "sd": p.std(sample, ddof=1),
        "q025": p.quantile(0.025, sample), "median": p.quantile(0.5, sample),
        "q975": p.quantile(0.975, sample),
    }
    out |= {f"p_{k}": v.mean(sample) for k, v in indicators.items()}
    out |= {f"mcse_p_{k}": az.mcse(v.astype(float), method="mean")
            for k, v in indicators.items()}
    out["mcse_mean"] = az.mcse(p, method="mean")
    data = {k: ("dose", np.asarray(v.transpose("dose").values, dtype=np.float64))
            for k, v in out.items()}
    atoms = p.transpose("dose", ...).values.reshape(doses.size, -1)
    weights = np.full(atoms.shape[1], 1.0 / atoms.shape[1])
    data["predictive"] = (("dose", "dlts"), cohort_predictive(cohort_size, weights, atoms))
    return xr.Dataset(data, coords={"dose": np.asarray(doses, dtype=np.float64),
                                    "dlts": np.arange(cohort_size + 1)},
                      attrs={"engine": "mcmc"})
