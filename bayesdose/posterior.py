"""One posterior summary from either engine: an xarray Dataset over the dimension ``dose``.

Variables: ``mean``, ``sd``, ``q025``, ``median``, ``q975`` of P(DLT | dose), and the interval
probabilities ``p_underdose``, ``p_target``, ``p_overdose``; ``predictive`` over (``dose``,
``dlts``): the posterior predictive probability of 0 .. n DLTs in the next cohort of the
configured size n (``bayesdose.predictive``). The MCMC engine adds the Monte Carlo standard
errors (``mcse_*``). The exact engine is the decision of record: deterministic, so a
decision never flips with Monte Carlo noise.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.data import TrialData
from bayesdose.errors import InputError
from bayesdose.inference.exact import (
    ERROR_BOUND,
    BatchSummary,
    BeyondEngine,
    ExactEngine,
    GridSpec,
    resolving_grid,
)
from bayesdose.predictive import grid_predictive
from bayesdose.schema import Design

if TYPE_CHECKING:
    import xarray as xr

    from bayesdose.models.prior import Prior
    from bayesdose.panel import DosePanel

SUMMARY_VARIABLES = (
    "mean", "sd", "q025", "median", "q975", "p_underdose", "p_target", "p_overdose",
)
DEFAULT_GRID = GridSpec()


def build_exact_engine(design: Design, grid: GridSpec = DEFAULT_GRID,
                       cls: type[ExactEngine] = ExactEngine) -> ExactEngine:
    """A new exact engine (of class ``cls``) for a design: its model, prior, target interval
    and DLT window, on ``grid`` as far as it covers the prior (``resolving_grid``)."""
    try:
        grid = resolving_grid(design.prior, grid)
    except ValueError as err:
        raise InputError(design.source, "[[model.components]]", str(err)) from None
    return cls(design.dlt_model, design.prior, design.decision.target_interval, grid,
               design.cohorts.dlt_window_days)


@lru_cache(maxsize=8)
def exact_engine(design: Design, grid: GridSpec = DEFAULT_GRID) -> ExactEngine:
    """The exact engine for a design, built once per design (its grid functionals are
    reused)."""
    return build_exact_engine(design, grid)


def prior_ess(design: Design) -> np.ndarray:
    """The prior effective sample size per dose: the a + b of the Beta distribution with the
    prior mean m and variance v of P(DLT | dose), a + b = m (1 - m) / v - 1 (moment matching;
    Morita, Thall & Mueller 2008 discuss it and its limits). Exact engine, no data."""
    return _engine_prior_ess(exact_engine(design))


def panel_prior_ess(panel: DosePanel, prior: Prior, bounds: tuple[float, float]
                    ) -> np.ndarray:
    """``prior_ess`` of one drug given alone on ``panel`` under ``prior`` (each drug of two:
    its levels, its prior; ``bounds`` the target interval)."""
    from bayesdose.models.blrm import SingleAgentBlrm

    grid = resolving_grid(prior, DEFAULT_GRID)
    return _engine_prior_ess(ExactEngine(SingleAgentBlrm.on(panel), prior, bounds, grid))


def _engine_prior_ess(engine: ExactEngine) -> np.ndarray:
    """The a + b of ``prior_ess`` at each of the engine's doses."""
    zeros = np.zeros((1, engine.x.size))
    prior = engine.batch(zeros, zeros)
    mean, var = prior.mean[0], prior.sd[0] ** 2
    return mean * (1 - mean) / var - 1


def model_counts(design: Design, data: TrialData) -> tuple[np.ndarray, np.ndarray, Any]:
    """(n, DLTs, pending) as the model sees them: with ``[cohorts] followup = "complete"``,
    patients still in follow-up are left out until their window ends."""
    if data.pending is None:
        return data.n, data.dlt, None
    if design.cohorts.followup == "complete":
        return data.complete, data.dlt, None
    return data.n, data.dlt, data.pending


def exact_batch(design: Design, data: TrialData) -> BatchSummary:
    """The exact engine's per-dose summaries of one trial (one row; no quantiles)."""
    n, dlt, pending = model_counts(design, data)
    try:
        return exact_engine(design).batch(n[None], dlt[None],
                                          None if pending is None else pending[None])
    except BeyondEngine as err:
        raise _beyond(design, data, err) from None


def _beyond(design: Design, data: TrialData, err: BeyondEngine) -> InputError:
    return InputError(data.source, None, f"{err}: the posterior of these data is too "
                      "concentrated or too curved for the exact engine; use --engine mcmc")


def answering_engine(design: Design, data: TrialData) -> ExactEngine:
    """The exact engine that answers for a trial: the design's, or one re-gridded for these
    data when the design's grid does not resolve their posterior (``ExactEngine.for_data``)."""
    try:
        return exact_engine(design).for_data(*model_counts(design, data))
    except BeyondEngine as err:
        raise _beyond(design, data, err) from None


def exact_posterior_on_grid(design: Design, data: TrialData
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact engine's posterior of a trial on the grid that answers for it
    (``answering_engine``): (weights, log P(DLT), log(1 - P(DLT))), weights (nodes,) summing
    to one, the logs (doses, nodes); see ``ExactEngine.posterior_on_grid``."""
    return answering_engine(design, data).posterior_on_grid(*model_counts(design, data))


def exact_summary(design: Design, data: TrialData) -> tuple[xr.Dataset, dict[str, Any]]:
    batch = exact_batch(design, data)
    engine = answering_engine(design, data)
    q025, median, q975 = engine.quantiles(*model_counts(design, data))
    values = {
        "mean": batch.mean[0], "sd": batch.sd[0], "q025": q025, "median": median, "q975": q975,
        "p_underdose": batch.p_underdose[0], "p_target": batch.p_target[0],
        "p_overdose": batch.p_overdose[0],
        "predictive": grid_predictive(design.cohorts.size,
                                      exact_posterior_on_grid(design, data)),
    }
    summary = _dataset(design, values, "exact")
    grid = engine.grid
    diagnostics = {
        "engine": "exact",
        "grid": {"n_alpha": grid.n_alpha, "n_beta": grid.n_beta, "width_sd": grid.width,
                 "frame": "prior" if engine.on_prior_frame else "posterior"},
        "error_bound": ERROR_BOUND,
        "diagnostics_ok": True,
    }
    return summary, diagnostics


def mcmc_summary(
    design: Design, data: TrialData, seed: int
) -> tuple[xr.Dataset, dict[str, Any]]:
    """The same model sampled with PyMC's NUTS (imported only when asked for)."""
    from bayesdose.inference.mcmc import fit_mcmc

    table = likelihood_rows(design, data)
    summary, diagnostics = fit_mcmc(
        design.dlt_model,
        design.prior,
        dose_index=table[:, 0].astype(np.int64),
        dlt=table[:, 1].astype(np.int64),
        weight=table[:, 2],
        count=table[:, 3].astype(np.int64),
        bounds=design.decision.target_interval,
        doses=np.array(design.levels),
        seed=seed,
        cohort_size=design.cohorts.size,
    )
    return summary, diagnostics


def likelihood_rows(design: Design, data: TrialData) -> np.ndarray:
    """The trial's data as rows (dose index, DLT 0/1, follow-up weight, count) for the MCMC
    engines: complete outcomes with weight 1, patients in follow-up with days / window (two
    drugs: per arm, a pair or one drug alone, ``PairPanel.arms``)."""
    n, y, pending = model_counts(design, data)
    window = design.cohorts.dlt_window_days
    rows = []  # (dose, DLT, weight, count)
    for k in range(len(n)):
        waiting = 0 if pending is None else int(pending[k].sum())
        rows += [(k, 1, 1.0, int(y[k])), (k, 0, 1.0, int(n[k] - y[k]) - waiting)]
        if pending is not None:
            rows += [(k, 0, day / window, int(c)) for day, c in enumerate(pending[k]) if day]
    return np.array([r for r in rows if r[3] > 0], dtype=float).reshape(-1, 4)


def _dataset(design: Design, values: dict[str, np.ndarray], engine: str) -> xr.Dataset:
    # Plain float Variables (fastpath) and a pandas Index for the coordinate need no
    # conversion; skipping it keeps xarray from importing dask (installed for the simulator)
    # to test whether they are dask arrays, which cost ~0.8 s of every `recommend`. Imported
    # here: the simulator's worker processes use the exact engine alone (0.5 s less each).
    import pandas as pd
    import xarray as xr

    variables = {
        name: xr.Variable(("dose",), np.asarray(values[name], dtype=float), fastpath=True)
        for name in SUMMARY_VARIABLES
    }
    variables["predictive"] = xr.Variable(("dose", "dlts"), values["predictive"],
                                          fastpath=True)
    return xr.Dataset(
        variables,
        coords={"dose": pd.Index(np.array(design.levels, dtype=float), name="dose"),
                "dlts": pd.Index(np.arange(design.cohorts.size + 1), name="dlts")},
        attrs={"engine": engine, "unit": design.doses.unit},
    )
