"""Co-data for two drugs: the joint hierarchical model (``bayesdose.models.combination_hierarchy``)
of the ``[historical]`` trials and the current one, sampled by PyMC's NUTS; the decision of
record when both drugs' priors are 'exnex'.

As the single-agent EXNEX engine (``bayesdose.inference.exnex``), whose settings it shares:
the fit is gated by R-hat, ESS and divergences (``sample_checked``: resampled once with twice
the draws if a check fails, a failure that persists reported); the summaries per arm are
Rao-Blackwellised over the EX/NEX combinations (``mixture_summary``); and the EWOC verdicts
must hold against Monte Carlo error: while a pair's P(overdose) lies within ``MCSE_MARGIN``
MCSE of the threshold, the model is sampled again with twice the draws, up to ``MAX_DRAWS``
per chain (``ewoc_check`` in the diagnostics says what was done and which arms, if any,
remain in doubt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.inference.exnex import (
    CHAINS,
    DRAWS,
    MAX_DRAWS,
    TARGET_ACCEPT,
    TUNE,
    ewoc_checked,
    mixture_summary,
)
from bayesdose.models.combination_hierarchy import CombinationHierarchy, joint_model

if TYPE_CHECKING:
    import xarray as xr

    from bayesdose.schema import Design

CHECKED = ["mu_A", "tau_A", "rho_A", "mu_B", "tau_B", "rho_B", "mu_eta", "tau_eta",
           "theta_ex_A", "theta_ex_B", "eta_ex"]  # what the diagnostics gate reads


def codata_summary(design: Design, arms: tuple[int, ...], n: np.ndarray, dlt: np.ndarray,
                   seed: int, draws: int = DRAWS, max_draws: int = MAX_DRAWS,
                   ) -> tuple[xr.Dataset, dict[str, Any]]:
    """The current trial's posterior summary at ``arms`` (indices of ``design.pair_panel``'s
    arms) given its counts ``n`` and ``dlt`` there, by the joint model with the
    ``[historical]`` trials; its MCMC diagnostics and the EWOC check over the grid's pairs
    among ``arms`` (sampled again with twice the draws while a verdict is in doubt)."""
    return ewoc_checked(lambda s, d: fit_codata(design, arms, n, dlt, s, d), design, seed,
                        draws, max_draws, [design.pair_panel.arm_doses(a) for a in arms],
                        np.asarray(arms) < design.pair_panel.size)


def fit_codata(design: Design, arms: tuple[int, ...], n: np.ndarray, dlt: np.ndarray,
               seed: int, draws: int = DRAWS, chains: int = CHAINS, tune: int = TUNE,
               ) -> tuple[xr.Dataset, dict[str, Any]]:
    """One gated MCMC fit of the joint model and its summary at ``arms`` (coordinate "dose":
    the arm indices), with the posterior probability that each part of the current trial
    (drug A, drug B, eta) is exchangeable."""
    from bayesdose.inference.mcmc import sample_checked

    hierarchy = CombinationHierarchy.of(design)
    pairs = design.pair_panel
    doses = np.array([[pairs.arm_doses(a)[name] for name in pairs.names] for a in arms])
    model = joint_model(hierarchy, design.historical_trials, doses,
                        np.asarray(n, dtype=float), np.asarray(dlt, dtype=float))
    idata, diagnostics = sample_checked(model, CHECKED, seed, chains, draws, tune,
                                        TARGET_ACCEPT)
    post = idata.posterior
    w = post["w_combinations"].values  # (chain, draw, combinations)
    p = post["p_combinations"].values  # (chain, draw, combinations, arms)
    combinations = np.array(hierarchy.combinations())
    diagnostics["engine"] = "codata"
    diagnostics["p_exchangeable"] = {part: float((w * combinations[:, k]).sum(axis=-1).mean())
                                     for k, part in enumerate(("A", "B", "eta"))}
    return mixture_summary(p, w, design, np.asarray(arms, dtype=float)), diagnostics
