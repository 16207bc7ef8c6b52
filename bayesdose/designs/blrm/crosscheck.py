"""What the MCMC engine computed, shown beside the exact engine (``recommend --engine both``) or
as the numbers that decide (``--engine mcmc``, and EXNEX whatever the engine).

Per dose: the MCMC estimates of the posterior mean of P(DLT) and of the three interval
probabilities with their Monte Carlo standard errors (MCSE), beside the exact values with
``both``; overall: the sampler's diagnostics (largest R-hat, smallest bulk and tail ESS,
divergences: ``inference.mcmc.sample_checked``) and, with ``both``, the largest difference
between the engines, also in MCSE units.

The engines agree when every difference |exact - MCMC| (the mean and the three interval
probabilities, every dose) is at most ``AGREE_MCSE`` of its MCSE plus ``AGREE_FLOOR``. The
floor covers the exact engine's error bound (1e-3) and estimates whose MCSE is 0 or
understated (no draw, or a handful, in an interval). A failed diagnostic or a disagreement is
a failure (``failures``): a note in the output, and exit code 3 with ``recommend --strict``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.inference.mcmc import ESS_MIN, RHAT_MAX

if TYPE_CHECKING:
    import xarray as xr

    from bayesdose.designs.blrm.recommendation import Recommendation

AGREE_MCSE = 4.0
AGREE_FLOOR = 2e-3
COMPARED = {"mean": "mean", "p_underdose": "P(under)", "p_target": "P(target)",
            "p_overdose": "P(over)"}  # the variables compared, as the tables head them
MCMC_ENGINES = ("mcmc", "exnex")  # engines of record that sample


def comparison(exact: xr.Dataset, mcmc: xr.Dataset, floor: float = AGREE_FLOOR,
               dose_of: Callable[[Any], Any] = float) -> dict[str, Any]:
    """Largest exact-vs-MCMC differences, also in units of the MCMC's standard errors, and
    whether the engines agree (``AGREE_MCSE`` MCSE + ``floor``: by default ``AGREE_FLOOR``,
    which covers the single-agent exact engine's error; the combination engine's is larger).
    Doses are named by ``dose_of`` of the "dose" coordinate (two drugs: an arm's index, named
    by its doses of both drugs).

    ``max_difference_in_mcse`` is taken only over the entries whose MCSE is positive and whose
    difference is not nil (> 1e-9): where no draw (or every draw) falls in an interval, the
    MCMC's estimate is 0 (or 1) with an MCSE of 0, and a difference of 1e-4 from the exact
    value is no evidence against it (one draw in 10,000) yet would be "infinitely many" MCSE
    (it was 1e8 with a floor of 1e-12, on data without DLTs). None when no entry qualifies;
    ``max_abs_difference`` covers every entry."""
    doses = exact["dose"].values
    entries = [(name, k) for name in COMPARED for k in range(doses.size)]
    diff = {name: np.abs(exact[name] - mcmc[name]).values for name in COMPARED}
    mcse = {name: mcmc[f"mcse_{name}"].values for name in COMPARED}

    def at(entry: tuple[str, int]) -> dict[str, Any]:
        return {"variable": entry[0], "dose": dose_of(doses[entry[1]])}

    largest = max(entries, key=lambda e: diff[e[0]][e[1]])
    scaled = [(float(diff[n][k] / mcse[n][k]), (n, k)) for n, k in entries
              if mcse[n][k] > 0 and diff[n][k] > 1e-9]
    worst = max(scaled, default=None)
    disagreements = [
        {**at((n, k)), "exact": float(exact[n].values[k]), "mcmc": float(mcmc[n].values[k]),
         "mcse": float(mcse[n][k]), "difference": float(diff[n][k])}
        for n, k in entries if not diff[n][k] <= AGREE_MCSE * mcse[n][k] + floor]
    return {
        "max_abs_difference": float(diff[largest[0]][largest[1]]),
        "max_abs_difference_at": at(largest),
        "max_abs_difference_by_variable": {k: float(v.max()) for k, v in diff.items()},
        "max_difference_in_mcse": None if worst is None else worst[0],
        "max_difference_in_mcse_at": None if worst is None else at(worst[1]),
        "agree": not disagreements,
        "floor": floor,
        "agreement_rule": f"|exact - MCMC| <= {AGREE_MCSE:g} MCSE + {floor:g} for the "
                          "mean and each interval probability at every dose",
        "disagreements": disagreements,
    }


def sampler_diagnostics(engine: str, diagnostics: dict[str, Any]) -> dict[str, Any] | None:
    """The MCMC run's diagnostics in a recommendation's ``diagnostics`` (None: no MCMC)."""
    if engine == "both":
        return diagnostics["mcmc"]
    return diagnostics if engine in MCMC_ENGINES else None


def failures(label: Callable[[Any], str], engine: str, diagnostics: dict[str, Any]
             ) -> tuple[str, ...]:
    """What failed: MCMC diagnostics that still failed after resampling, and with ``both``
    a disagreement with the exact engine (each disagreeing entry with its numbers, its dose
    written by ``label``)."""
    sampler = sampler_diagnostics(engine, diagnostics)
    if sampler is None:
        return ()
    found = []
    if not sampler["diagnostics_ok"]:
        found.append("MCMC diagnostics failed: " + "; ".join(sampler["messages"]))
    if engine == "both" and not (comp := diagnostics["comparison"])["agree"]:
        where = "; ".join(
            f"{COMPARED[d['variable']]} at {label(d['dose'])}: exact "
            f"{d['exact']:.3f}, MCMC {d['mcmc']:.3f} (MCSE {d['mcse']:.3f})"
            for d in comp["disagreements"])
        found.append(f"the exact and MCMC engines disagree (beyond {_rule(comp)}): {where}; the "
                     "decision is the exact engine's: check the MCMC run (more draws, another "
                     "seed) before relying on either")
    return tuple(found)


def _rule(comp: dict[str, Any]) -> str:
    return f"{AGREE_MCSE:g} MCSE + {comp['floor']:g}"


def sampler_text(sampler: dict[str, Any]) -> str:
    """The run: sampler, chains, draws, tuning steps and seed."""
    text = (f"PyMC NUTS, {sampler['chains']} chains x {sampler['draws']} draws after "
            f"{sampler['tune']} tuning steps, seed {sampler['seed']}")
    return text + (", resampled once" if sampler["resampled"] else "")


def heading(rec: Recommendation) -> str:
    """The MCMC table's heading: the run, and what a cell holds."""
    run = sampler_text(sampler_diagnostics(rec.engine, rec.diagnostics))
    if rec.engine == "both":
        return f"MCMC beside the exact engine ({run}): exact | MCMC (MCSE)"
    return f"MCMC estimates (MCSE) ({run})"


def rows(rec: Recommendation) -> list[tuple[str, ...]]:
    """The per-dose rows of the MCMC table: the dose, then per variable of ``COMPARED``
    "exact | MCMC (MCSE)" with ``both``, "MCMC (MCSE)" when MCMC decides."""
    beside = rec.engine == "both"
    mcmc = rec.mcmc if beside else rec.summary
    table = []
    for k, dose in enumerate(rec.design.levels):
        cells = [rec.design.panel.number(dose)]
        for name in COMPARED:
            cell = f"{mcmc[name].values[k]:.3f} ({mcmc[f'mcse_{name}'].values[k]:.3f})"
            cells.append(f"{rec.summary[name].values[k]:.3f} | {cell}" if beside else cell)
        table.append(tuple(cells))
    return table


def diagnostics_text(sampler: dict[str, Any]) -> str:
    """R-hat, bulk and tail ESS and divergences against their limits, and the verdict."""
    verdict = "passed" if sampler["diagnostics_ok"] else "FAILED"
    return (f"MCMC diagnostics {verdict}: largest R-hat {sampler['rhat_max']:.3f} (at most "
            f"{RHAT_MAX:g}), smallest bulk ESS {sampler['ess_bulk_min']:.0f} and tail ESS "
            f"{sampler['ess_tail_min']:.0f} (at least {ESS_MIN:.0f}), "
            f"{sampler['divergences']} divergent transitions (none allowed)")


def comparison_text(label: Callable[[Any], str], comp: dict[str, Any]) -> str:
    """The largest difference between the engines, absolute and in MCSE units, and whether
    they agree (doses written by ``label``)."""
    where = comp["max_abs_difference_at"]
    text = (f"exact vs MCMC: largest difference {comp['max_abs_difference']:.3f} "
            f"({COMPARED[where['variable']]} at {label(where['dose'])})")
    if comp["max_difference_in_mcse"] is not None:
        where = comp["max_difference_in_mcse_at"]
        text += (f", largest in MCSE units {comp['max_difference_in_mcse']:.2f} "
                 f"({COMPARED[where['variable']]} at {label(where['dose'])})")
    if comp["agree"]:
        return f"{text}: the engines agree (every difference within {_rule(comp)})"
    return f"{text}: the engines DISAGREE (differences beyond {_rule(comp)})"


def decided_on(rec: Recommendation) -> str | None:
    """Which numbers made the decision, when MCMC ran (None for the exact engine alone)."""
    if rec.engine == "both":
        return ("decided on the exact engine's posterior (grid quadrature, no Monte Carlo "
                "error); the MCMC estimates are a cross-check")
    if rec.engine == "mcmc":
        return ("decided on the MCMC estimates (with their Monte Carlo error, MCSE), not on "
                "the exact engine; --engine both shows the exact engine beside them")
    if rec.engine == "exnex":
        return ("decided on the EXNEX fit's MCMC estimates (with their Monte Carlo error, "
                "MCSE): under EXNEX the MCMC fit is the decision of record")
    return None
