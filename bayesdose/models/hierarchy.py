"""The meta-analytic BLRM: trials exchangeable in (log alpha, log beta), as OncoBayes2's EX part.

Trial g (historical trials, and the current one when it is exchangeable with them) has its own
parameters::

    theta_g = (log alpha_g, log beta_g) ~ BVN(mu, Sigma),
    Sigma = [[tau_a^2, rho tau_a tau_b], [rho tau_a tau_b, tau_b^2]],
    mu ~ BVN(prior_mean, prior_sd, prior_correlation)            ([model])
    log tau_k ~ N(tau_mean_k, tau_sd_k^2)   or   tau_k ~ HalfNormal(tau_scale_k)
    rho ~ Uniform(-1, 1)                                           (LKJ(1) in two dimensions)

with logit P(DLT | d, g) = log alpha_g + exp(log beta_g) log(d / d_ref) and binomial counts.
The PyMC model is non-centred (theta_g = mu + L z_g, z_g standard normal, L the Cholesky
factor of Sigma), which samples the funnel of a hierarchy with few trials without divergences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.models.prior import BivariateNormal

if TYPE_CHECKING:
    from bayesdose.schema import Design, ModelSection


@dataclass(frozen=True)
class Hierarchy:
    """The priors of the between-trial model: of mu, and of tau (and rho, uniform)."""

    mean_prior: BivariateNormal
    tau_distribution: str  # "lognormal" or "halfnormal"
    tau_mean: tuple[float, float]
    tau_sd: tuple[float, float]
    tau_scale: tuple[float, float]

    @classmethod
    def of(cls, design: Design) -> Hierarchy:
        return cls.of_model(design.model, design.mean_prior)

    @classmethod
    def of_model(cls, model: ModelSection, mean_prior: BivariateNormal) -> Hierarchy:
        """From a ``[model]``-like section (one drug's of two too) and its prior of mu."""
        h = model.hierarchy
        return cls(mean_prior, h.tau_distribution, h.tau_mean, h.tau_sd, h.tau_scale)

    def describe(self) -> str:
        m = self.mean_prior
        if self.tau_distribution == "lognormal":
            tau = ("log tau ~ N((" + ", ".join(f"{v:.4g}" for v in self.tau_mean) + "), sd ("
                   + ", ".join(f"{v:.4g}" for v in self.tau_sd) + "))")
        else:
            tau = "tau ~ HalfNormal(" + ", ".join(f"{v:.4g}" for v in self.tau_scale) + ")"
        return (f"mu ~ BVN(mean ({m.mean[0]:.4g}, {m.mean[1]:.4g}), sd ({m.sd[0]:.4g}, "
                f"{m.sd[1]:.4g}), correlation {m.correlation:.4g}); {tau}; rho ~ U(-1, 1)")


def exchangeable_parameters(hierarchy: Hierarchy, groups: int,
                            suffix: str = "") -> tuple[Any, Any]:
    """Inside a PyMC model: the hierarchy's variables (mu, tau, rho, z) and ``(theta, chol)``:
    theta (groups, 2), the exchangeable trials' parameters, and a function of standard normal
    z (..., 2) giving mu + L z (the parameters of another exchangeable trial). ``suffix``
    ends every variable's name (``mu_A``: one hierarchy per drug in one model)."""
    import pymc as pm
    import pytensor.tensor as pt

    m = hierarchy.mean_prior
    mu = pm.Deterministic("mu" + suffix, np.asarray(m.mean) + pt.dot(
        np.linalg.cholesky(np.asarray(m.cov)), pm.Normal("z_mu" + suffix, 0.0, 1.0, shape=2)))
    if hierarchy.tau_distribution == "lognormal":
        log_tau = pm.Normal("log_tau" + suffix, np.asarray(hierarchy.tau_mean),
                            np.asarray(hierarchy.tau_sd), shape=2)
        tau = pm.Deterministic("tau" + suffix, pt.exp(log_tau))
    else:
        tau = pm.HalfNormal("tau" + suffix, sigma=np.asarray(hierarchy.tau_scale), shape=2)
    rho = pm.Uniform("rho" + suffix, -1.0, 1.0)

    def exchangeable(z: Any) -> Any:
        log_alpha = mu[0] + tau[0] * z[..., 0]
        log_beta = mu[1] + tau[1] * (rho * z[..., 0] + pt.sqrt(1 - rho**2) * z[..., 1])
        return pt.stack([log_alpha, log_beta], axis=-1)

    z = pm.Normal("z" + suffix, 0.0, 1.0, shape=(groups, 2))
    return pm.Deterministic("theta_trials" + suffix, exchangeable(z)), exchangeable


def binomial_loglik(theta: Any, x: np.ndarray, n: np.ndarray, dlt: np.ndarray) -> Any:
    """Sum over rows of the binomial log-likelihood (without the constant binomial
    coefficient) with logit p = theta[..., 0] + exp(theta[..., 1]) x; theta per row."""
    import pytensor.tensor as pt

    eta = theta[..., 0] + pt.exp(theta[..., 1]) * x
    return pt.sum(dlt * -pt.softplus(-eta) + (n - dlt) * -pt.softplus(eta))


def predictive_draws(posterior: Any, seed: int) -> np.ndarray:
    """Draws (chains x draws, 2) of a new exchangeable trial's (log alpha, log beta): for
    each posterior draw of (mu, tau, rho), one draw of BVN(mu, Sigma)."""
    mu = posterior["mu"].values.reshape(-1, 2)
    tau = posterior["tau"].values.reshape(-1, 2)
    rho = posterior["rho"].values.reshape(-1)
    z = np.random.default_rng(seed).standard_normal(mu.shape)
    log_alpha = mu[:, 0] + tau[:, 0] * z[:, 0]
    log_beta = mu[:, 1] + tau[:, 1] * (rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1])
    return np.column_stack([log_alpha, log_beta])

