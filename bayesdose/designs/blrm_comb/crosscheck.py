"""The MCMC cross-check of the combination BLRM (``recommend --engine mcmc|both`` on a two-drug
config), as the single agent's (``designs.blrm.crosscheck``): the same model sampled with
PyMC's NUTS (``inference.combination_mcmc``) under the same diagnostics gate (R-hat, bulk and
tail ESS, divergences; resampled once with twice the draws), shown beside the deterministic
engine (``both``, which decides) or deciding itself (``mcmc``, its EWOC verdicts flagged
``borderline`` within ``MCSE_MARGIN`` MCSE of the threshold, as for one drug).

The engines agree when every difference (the mean of P(DLT) and the three interval
probabilities, every arm) is within ``AGREE_MCSE`` MCSE plus ``AGREE_FLOOR``: the single
agent's rule with the combination engine's error bound (3e-3, against 1e-3 for one drug) in
the floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.designs.blrm import crosscheck
from bayesdose.inference.combination import ERROR_BOUND
from bayesdose.inference.exact import BatchSummary
from bayesdose.inference.exnex import MCSE_MARGIN

if TYPE_CHECKING:
    import xarray as xr

    from bayesdose.data import TrialData
    from bayesdose.schema import Design

AGREE_FLOOR = ERROR_BOUND + 1e-3  # the single agent's floor over its engine's error, 1e-3
SUMMARIES = ("mean", "sd", "p_underdose", "p_target", "p_overdose")


@dataclass(frozen=True)
class McmcRun:
    """The MCMC fit of one trial: its per-arm summary (dimension "dose": the arm's position
    among the recommendation's ``arms``; with MCSEs), the sampler's diagnostics and, beside
    the deterministic engine, the comparison (``crosscheck.comparison``; None when MCMC
    decides)."""

    summary: xr.Dataset
    diagnostics: dict[str, Any]
    comparison: dict[str, Any] | None = None

    def batch(self) -> BatchSummary:
        """The summary as a batch of one data set, as the deterministic engine gives it."""
        return BatchSummary(*(self.summary[name].values[None] for name in SUMMARIES))


def fit(design: Design, data: TrialData, arms: tuple[int, ...], seed: int) -> McmcRun:
    """The combination BLRM sampled on the trial's data, summarised at ``arms``."""
    from bayesdose.inference.combination_mcmc import fit_combination_mcmc
    from bayesdose.posterior import likelihood_rows

    pairs = design.pair_panel
    doses = np.array([[pairs.arm_doses(k)[name] for name in pairs.names] for k in arms])
    rows = likelihood_rows(design, data)
    position = {arm: i for i, arm in enumerate(arms)}  # every arm with patients is in arms
    rows[:, 0] = [position[int(arm)] for arm in rows[:, 0]]
    summary, diagnostics = fit_combination_mcmc(
        design.combination_model, doses, rows, design.decision.target_interval, seed,
        cohort_size=design.cohorts.size)
    return McmcRun(summary, diagnostics)


def compared(design: Design, arms: tuple[int, ...], exact: BatchSummary, run: McmcRun
             ) -> McmcRun:
    """``run`` with its comparison to the deterministic engine's ``exact`` summary."""
    import xarray as xr

    table = xr.Dataset({name: ("dose", getattr(exact, name)[0]) for name in SUMMARIES},
                       coords={"dose": run.summary["dose"].values})
    comparison = crosscheck.comparison(table, run.summary, AGREE_FLOOR,
                                       lambda k: design.pair_panel.arm_doses(arms[int(k)]))
    return McmcRun(run.summary, run.diagnostics, comparison)


def borderline(design: Design, engine: str, summary: BatchSummary, run: McmcRun | None,
               arms: int) -> np.ndarray:
    """Per pair, whether P(overdosing) is within the deciding engine's error of the EWOC
    threshold: the deterministic engine's bound, or ``MCSE_MARGIN`` MCSE when MCMC decides."""
    tolerance = (MCSE_MARGIN * run.summary["mcse_p_overdose"].values[:arms] if engine == "mcmc"
                 else ERROR_BOUND)
    gap = np.abs(summary.p_overdose[0, :arms] - design.decision.max_overdose_probability)
    return gap <= tolerance


def diagnostics_json(engine: str, exact: dict[str, Any] | None, run: McmcRun | None
                     ) -> dict[str, Any]:
    """The document's ``diagnostics``, shaped as the single agent's: the deterministic
    engine's check, the sampler's run, or both with their comparison."""
    if run is None:
        return exact
    if engine == "mcmc":
        return run.diagnostics
    return {"exact": exact, "mcmc": run.diagnostics, "comparison": run.comparison}


def failures(design: Design, engine: str, run: McmcRun | None) -> tuple[str, ...]:
    """Failed MCMC diagnostics and, with ``both``, disagreeing engines (each in words)."""
    if run is None:
        return ()
    return crosscheck.failures(design.pair_panel.format, engine,
                               diagnostics_json(engine, {}, run))


def mcmc_lines(design: Design, engine: str, arms: tuple[int, ...], exact: BatchSummary,
               run: McmcRun) -> list[str]:
    """The MCMC table (per arm: each compared summary, "exact | MCMC (MCSE)" with ``both``),
    its diagnostics and the comparison, as printed."""
    pairs = design.pair_panel
    beside = engine == "both"
    heading = crosscheck.sampler_text(run.diagnostics)
    heading = (f"MCMC beside the exact engine ({heading}): exact | MCMC (MCSE)" if beside
               else f"MCMC estimates (MCSE) ({heading})")
    titles = ["arm", *crosscheck.COMPARED.values()]
    rows = []
    for i, arm in enumerate(arms):
        cells = [pairs.arm_label(arm)]
        for name in crosscheck.COMPARED:
            cell = (f"{run.summary[name].values[i]:.3f} "
                    f"({run.summary[f'mcse_{name}'].values[i]:.3f})")
            cells.append(f"{getattr(exact, name)[0, i]:.3f} | {cell}" if beside else cell)
        rows.append(cells)
    widths = [max(len(c) for c in column) for column in zip(titles, *rows, strict=True)]
    table = ["  ".join(f"{c:>{w}}" for c, w in zip(row, widths, strict=True))
             for row in (titles, *rows)]
    remarks = [crosscheck.diagnostics_text(run.diagnostics)]
    if beside:
        remarks.append(crosscheck.comparison_text(pairs.format, run.comparison))
    return [heading, *table, *remarks]


def run_line(run: McmcRun) -> str:
    """The MCMC run that decides, in the place of the deterministic engine's check."""
    return f"combination BLRM by MCMC: {crosscheck.sampler_text(run.diagnostics)}"


def decided_on(engine: str) -> str | None:
    """Which numbers made the decision, when MCMC ran."""
    if engine == "both":
        return ("decided on the deterministic engine's posterior (error bound "
                f"{ERROR_BOUND:g}); the MCMC estimates are a cross-check")
    if engine == "mcmc":
        return ("decided on the MCMC estimates (with their Monte Carlo error, MCSE), not on "
                "the deterministic engine; --engine both shows it beside them")
    return None
