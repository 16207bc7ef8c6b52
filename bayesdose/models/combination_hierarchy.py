"""The joint hierarchical two-drug BLRM across trials (co-data), as OncoBayes2's ``blrm_exnex``
fits ``hist_combo2`` and ``codata_combo2`` in its introduction vignette (Neuenschwander,
Roychoudhury & Schmidli 2016, Stat Biopharm Res 8:345-354).

Every trial g (the ``[historical]`` trials, monotherapy or combination, historical or
concurrent, and the current trial) has its own combination BLRM
(``bayesdose.models.combination``: each drug's logistic curve, no-interaction p0, odds times
exp(eta g(x))), and the trials' parameters are exchangeable::

    (log alpha_ig, log beta_ig) ~ BVN(mu_i, Sigma_i)     each drug i = A, B (models.hierarchy)
    eta_g ~ N(mu_eta, tau_eta^2)
    mu_i ~ [model.<i>] prior_mean, prior_sd, prior_correlation
    tau_i, rho_i ~ [model.<i>.hierarchy]
    mu_eta ~ N([model.interaction] prior_mean, prior_sd^2);  tau_eta ~ [model.interaction.hierarchy]

The historical trials are exchangeable (EX). The current trial's three parts (drug A's
parameters, drug B's, eta) are each EX with prior probability ``ex_probability`` and otherwise
drawn from their own non-exchangeable (NEX) prior, independently (OncoBayes2's EXNEX per
component and per interaction); with every probability 1 it is the meta-analytic-combined
(MAC) model of the vignette. The indicators are summed out: the current data's likelihood is
the sum over the combinations c of EX/NEX parts of P(c) L(data | parameters under c), each
part with probability 1 having EX alone. Per draw, each combination's posterior probability
(``w_combinations``) and P(DLT) at the current trial's arms under it (``p_combinations``) are
kept for Rao-Blackwellised summaries (``bayesdose.inference.exnex.mixture_summary``).
OncoBayes2's strata (differential discounting) are not modelled: all trials share one tau.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.models.combination import CombinationBlrm, Covariates, Interaction
from bayesdose.models.hierarchy import Hierarchy, exchangeable_parameters
from bayesdose.models.prior import BivariateNormal

if TYPE_CHECKING:
    from bayesdose.historical import CombinationHistory
    from bayesdose.schema import Design

PARTS = ("A", "B", "eta")  # the current trial's EX/NEX parts, in this order


@dataclass(frozen=True)
class EtaHierarchy:
    """The interaction's between-trial model: the prior of mu_eta and of tau_eta."""

    mean: float
    sd: float
    tau_distribution: str  # "lognormal" or "halfnormal"
    tau_mean: float
    tau_sd: float
    tau_scale: float


@dataclass(frozen=True)
class CombinationHierarchy:
    """The priors of the joint model: each drug's hierarchy, the interaction's, and the
    current trial's EX probabilities and NEX priors (``nex``: the combination BLRM whose
    drug priors and eta prior are the NEX priors; it also gives the pairs' covariates)."""

    drugs: tuple[Hierarchy, Hierarchy]
    eta: EtaHierarchy
    ex_probability: tuple[float, float, float]  # drug A, drug B, eta
    nex: CombinationBlrm

    @classmethod
    def of(cls, design: Design) -> CombinationHierarchy:
        from bayesdose.models.map_prior import robustification_of

        hierarchies, nex = [], []
        for name, model, panel in zip(design.drugs.names, design.drug_models,
                                      design.pair_panel.drugs, strict=True):
            mean = design.prior_of(model, f"model.{name}", panel)
            hierarchies.append(Hierarchy.of_model(model, mean))
            nex.append(robustification_of(model, mean)[1])
        i, h = design.interaction, design.interaction.hierarchy
        eta = EtaHierarchy(i.prior_mean, i.prior_sd, h.tau_distribution, h.tau_mean, h.tau_sd,
                           h.tau_scale)
        nex_eta = Interaction(i.form, i.prior_mean if h.nex_mean is None else h.nex_mean,
                              i.prior_sd if h.nex_sd is None else h.nex_sd)
        reference = tuple(panel.reference for panel in design.pair_panel.drugs)
        ex = tuple(m.hierarchy.ex_probability for m in design.drug_models)
        return cls(tuple(hierarchies), eta, (*ex, h.ex_probability),  # type: ignore[arg-type]
                   CombinationBlrm(reference, *nex, nex_eta))  # type: ignore[arg-type]

    def combinations(self) -> list[tuple[bool, bool, bool]]:
        """The current trial's EX (True) / NEX (False) combinations of (A, B, eta) with prior
        probability > 0, EX first."""
        options = [(True,) if p == 1 else (True, False) for p in self.ex_probability]
        return list(itertools.product(*options))

    def log_probability(self, combination: tuple[bool, bool, bool]) -> float:
        """The log prior probability of an EX/NEX combination of the current trial."""
        return float(sum(np.log(p if ex else 1 - p)
                         for p, ex in zip(self.ex_probability, combination, strict=True)))


def joint_model(h: CombinationHierarchy, history: CombinationHistory, arms: np.ndarray,
                n: np.ndarray, dlt: np.ndarray) -> Any:
    """The PyMC model of the historical trials and the current one: ``arms`` (arms, 2) the
    current trial's dose pairs (0: a drug not given), ``n`` and ``dlt`` its counts there.
    Its deterministics ``p_combinations`` (combinations, arms) and ``w_combinations``
    (combinations) give P(DLT) at the arms under each EX/NEX combination and that
    combination's posterior probability given the draw's parameters."""
    import pymc as pm
    import pytensor.tensor as pt

    groups = len(history.names)
    trial = np.asarray(history.trial)
    with pm.Model() as model:
        drugs = [exchangeable_parameters(hierarchy, groups, f"_{name}")
                 for hierarchy, name in zip(h.drugs, PARTS, strict=False)]
        eta_trials, eta_ex = _eta_parameters(h.eta, groups)
        pm.Potential("historical", binomial_loglik(_log_odds(
            drugs[0][0][trial], drugs[1][0][trial], eta_trials[trial],
            h.nex.covariates(np.asarray(history.doses))), np.asarray(history.n),
            np.asarray(history.dlt)))
        current = [_current_part(exchangeable, prior, name) for (_, exchangeable), prior, name
                   in zip(drugs, (h.nex.prior_a, h.nex.prior_b), PARTS, strict=False)]
        current.append((pm.Deterministic("eta_ex", eta_ex(pm.Normal("z_eta_ex", 0.0, 1.0))),
                        pm.Deterministic("eta_nex", h.nex.interaction.prior_mean
                                         + h.nex.interaction.prior_sd
                                         * pm.Normal("z_eta_nex", 0.0, 1.0))))
        cov = h.nex.covariates(arms)
        log_odds, log_joint = [], []
        for combination in h.combinations():
            a, b, eta = (part[0 if ex else 1] for part, ex
                         in zip(current, combination, strict=True))
            log_odds.append(_log_odds(a, b, eta, cov))
            log_joint.append(h.log_probability(combination)
                             + binomial_loglik(log_odds[-1], n, dlt))
        stacked = pt.stack(log_joint)
        pm.Potential("current", pt.logsumexp(stacked))
        pm.Deterministic("w_combinations", pt.special.softmax(stacked))
        pm.Deterministic("p_combinations", pm.math.invlogit(pt.stack(log_odds)))
    return model


def _eta_parameters(eta: EtaHierarchy, groups: int) -> tuple[Any, Any]:
    """Inside a PyMC model: mu_eta, tau_eta, the trials' eta (groups,) non-centred, and a
    function of a standard normal z giving mu_eta + tau_eta z (another exchangeable
    trial's eta)."""
    import pymc as pm
    import pytensor.tensor as pt

    mu = pm.Deterministic("mu_eta", eta.mean + eta.sd * pm.Normal("z_mu_eta", 0.0, 1.0))
    if eta.tau_distribution == "lognormal":
        tau = pm.Deterministic("tau_eta", pt.exp(pm.Normal("log_tau_eta", eta.tau_mean,
                                                           eta.tau_sd)))
    else:
        tau = pm.HalfNormal("tau_eta", sigma=eta.tau_scale)

    def exchangeable(z: Any) -> Any:
        return mu + tau * z

    z = pm.Normal("z_eta", 0.0, 1.0, shape=groups)
    return pm.Deterministic("eta_trials", exchangeable(z)), exchangeable


def _current_part(exchangeable: Any, nex: BivariateNormal, name: str) -> tuple[Any, Any]:
    """Inside a PyMC model: the current trial's parameters of drug ``name`` if exchangeable
    (``exchangeable`` of standard normals) and if not (its NEX prior, non-centred)."""
    import pymc as pm
    import pytensor.tensor as pt

    ex = pm.Deterministic(f"theta_ex_{name}",
                          exchangeable(pm.Normal(f"z_ex_{name}", 0.0, 1.0, shape=2)))
    chol = np.linalg.cholesky(np.asarray(nex.cov))
    not_ex = pm.Deterministic(f"theta_nex_{name}", np.asarray(nex.mean) + pt.dot(
        chol, pm.Normal(f"z_nex_{name}", 0.0, 1.0, shape=2)))
    return ex, not_ex


def _log_odds(theta_a: Any, theta_b: Any, eta: Any, cov: Covariates) -> Any:
    """logit P(DLT) at the pairs of ``cov`` (PyTensor): each drug's (log alpha, log beta)
    (..., 2) and eta per pair or shared. As ``CombinationBlrm.log_odds``: logit p0 =
    S + log(1 - e^-S), S = softplus(l_A) + softplus(l_B), where both drugs are given; the
    given drug's own l_i where one is; plus eta g."""
    import pytensor.tensor as pt

    lin = [t[..., 0] + pt.exp(t[..., 1]) * cov.log_ratio[i]
           for i, t in enumerate((theta_a, theta_b))]
    s = pt.softplus(lin[0]) + pt.softplus(lin[1])
    one = pt.switch(cov.present[0], lin[0], lin[1])
    return pt.switch(cov.present[0] & cov.present[1], s + pt.log1mexp(-s), one) + eta * cov.g


def binomial_loglik(log_odds: Any, n: np.ndarray, dlt: np.ndarray) -> Any:
    """Sum of the binomial log-likelihoods (without the binomial coefficients) over pairs."""
    import pytensor.tensor as pt

    return pt.sum(dlt * log_odds - n * pt.softplus(log_odds))
