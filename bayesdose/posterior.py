"""One posterior summary from either engine: an xarray Dataset over the dimension ``dose``.

Variables: ``mean``, ``sd``, ``q025``, ``median``, ``q975`` of P(DLT | dose), and the interval
probabilities ``p_underdose``, ``p_target``, ``p_overdose``. The MCMC engine adds the Monte Carlo
standard errors (``mcse_*``). The exact engine is the decision of record: deterministic, so a
decision never flips with Monte Carlo noise.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from bayesdose.data import TrialData
from bayesdose.design import Design
from bayesdose.inference.exact import ERROR_BOUND, ExactEngine, GridSpec

SUMMARY_VARIABLES = (
    "mean", "sd", "q025", "median", "q975", "p_underdose", "p_target", "p_overdose",
)
DEFAULT_GRID = GridSpec()


@lru_cache(maxsize=8)
def exact_engine(design: Design, grid: GridSpec = DEFAULT_GRID) -> ExactEngine:
    """The exact engine for a design (built once: the grid functionals are reused)."""
    return ExactEngine(
        np.array(design.log_dose_ratio),
        np.array(design.prior.mean),
        np.array(design.prior.cov),
        design.decision.target_interval,
        grid,
    )


def exact_summary(design: Design, data: TrialData) -> tuple[xr.Dataset, dict[str, Any]]:
    engine = exact_engine(design)
    batch = engine.batch(data.n[None], data.dlt[None])
    q025, median, q975 = engine.quantiles(data.n, data.dlt)
    values = {
        "mean": batch.mean[0], "sd": batch.sd[0], "q025": q025, "median": median, "q975": q975,
        "p_underdose": batch.p_underdose[0], "p_target": batch.p_target[0],
        "p_overdose": batch.p_overdose[0],
    }
    summary = _dataset(design, values, "exact")
    grid = engine.grid
    diagnostics = {
        "engine": "exact",
        "grid": {"n_alpha": grid.n_alpha, "n_beta": grid.n_beta, "width_sd": grid.width},
        "error_bound": ERROR_BOUND,
        "diagnostics_ok": True,
    }
    return summary, diagnostics


def mcmc_summary(
    design: Design, data: TrialData, seed: int
) -> tuple[xr.Dataset, dict[str, Any]]:
    """The same model sampled with PyMC's NUTS (imported only when asked for)."""
    from bayesdose.inference.mcmc import fit_mcmc

    dose_index, dlt, count = [], [], []
    for k in range(len(design.levels)):
        for outcome, number in ((1, int(data.dlt[k])), (0, int(data.n[k] - data.dlt[k]))):
            if number:
                dose_index.append(k)
                dlt.append(outcome)
                count.append(number)
    summary, diagnostics = fit_mcmc(
        x=np.array(design.log_dose_ratio),
        prior_mean=np.array(design.prior.mean),
        prior_cov=np.array(design.prior.cov),
        dose_index=np.array(dose_index, dtype=np.int64),
        dlt=np.array(dlt, dtype=np.int64),
        weight=np.ones(len(dlt)),
        count=np.array(count, dtype=np.int64),
        bounds=design.decision.target_interval,
        doses=np.array(design.levels),
        seed=seed,
    )
    return summary, diagnostics


def _dataset(design: Design, values: dict[str, np.ndarray], engine: str) -> xr.Dataset:
    return xr.Dataset(
        {name: ("dose", np.asarray(values[name], dtype=float)) for name in SUMMARY_VARIABLES},
        coords={"dose": np.array(design.levels, dtype=float)},
        attrs={"engine": engine, "unit": design.doses.unit},
    )
