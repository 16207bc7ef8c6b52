"""The CRM's reasons on a real trial (``recommend --design crm``): dfcrm's ``crm`` /
``titecrm`` fit on every evaluable patient, and with dated data the TITE-CRM dose.

The step itself is the simulated design's ``decide`` (``bayesdose.steps``); this adds what dfcrm
reports: the skeleton, the posterior mean and standard deviation of the parameter ``a``, and per
dose the working model's DLT probability at that mean (dfcrm's ``ptox``) with its 90% limits
(``ptoxL``/``ptoxU``: the model at the mean -/+ 1.645 sd). The reason names the dose whose model
probability is closest to the target and the restriction of crmsim that applied (no skipping,
no escalation right after a cohort at or above the target). While patients are in follow-up
the dose is TITE-CRM's (Cheung & Chappell 2000): the model's dose under crmsim's restriction
with the last cohort's observed DLTs over its evaluable patients.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from bayesdose.data import TrialData
from bayesdose.designs.base import States
from bayesdose.designs.crm.core import CrmFit, crm_mtd, crm_posterior, crmsim_restrict
from bayesdose.designs.crm.simulated import CrmDesign
from bayesdose.schema import Design
from bayesdose.steps import Column, Details

MODELS = {
    "empiric": "P(DLT) = skeleton^exp(a)",
    "logistic": "P(DLT) = 1 / (1 + exp(-3 - exp(a) x)), x = logit(skeleton) - 3",
}


def step_details(crm: CrmDesign, design: Design, data: TrialData, state: States,
                 document: dict[str, Any]) -> Details:
    """The fit in the document and in words; with patients pending, TITE-CRM's dose."""
    fit = _crm_fit(crm, data)
    document["crm"] = {"model": crm.model, "prior_variance": crm.prior_variance,
                       "estimate": fit.estimate, "estimate_sd": math.sqrt(fit.post_var),
                       "conf_level": fit.conf_level}
    for k, entry in enumerate(document["doses"]):
        entry.update(skeleton=float(crm.skeleton[k]), p_dlt=float(fit.ptox[k]),
                     p_dlt_lower=float(fit.ptox_lower[k]), p_dlt_upper=float(fit.ptox_upper[k]))
    tite = bool(data.pending_patients) and not document["stop"]
    if tite:
        document["next_dose"] = design.panel.dose(_tite_crm_level(crm, data, fit))
    interval = f"{fit.conf_level:.0%} interval"
    return Details(
        reason=_reason(crm, design, data, state, fit, tite),
        lines=_lines(crm, data, fit, interval),
        columns=(Column("skeleton", "skeleton"), Column("p_dlt", "model P(DLT)"),
                 Column("p_dlt_lower", interval, lambda e: (f"[{e['p_dlt_lower']:.3f}, "
                                                            f"{e['p_dlt_upper']:.3f}]"))),
        draw=functools.partial(_draw, crm, document["doses"], interval),
    )


def _lines(crm: CrmDesign, data: TrialData, fit: CrmFit, interval: str) -> tuple[str, str]:
    """The working model and prior, then the posterior of ``a`` as dfcrm reports it."""
    from bayesdose.report.text import patients

    evaluable = patients(sum(p.evaluable for p in data.patients))
    weighted = " (weighted by follow-up)" if data.pending is not None else ""
    mean = round(fit.estimate, 4) + 0.0  # never "-0.0000"
    return (f"CRM (dfcrm's crm), target {crm.target:g}: {crm.model} working model "
            f"{MODELS[crm.model]}, prior a ~ N(0, {crm.prior_variance:g})",
            f"posterior of a given {evaluable}{weighted}: mean {mean:.4f}, sd "
            f"{math.sqrt(fit.post_var):.4f}; model P(DLT) is the working model at the "
            f"posterior mean, with its {interval} (dfcrm's ptox, ptoxL, ptoxU)")


def _crm_fit(crm: CrmDesign, data: TrialData) -> CrmFit:
    """dfcrm's ``crm`` / ``titecrm`` on every evaluable patient (weights with dated data)."""
    patients = [p for p in data.patients if p.evaluable]
    window = None if data.pending is None else data.pending.shape[1]
    weights = None
    if window:
        weights = [1.0 if p.dlt else min(p.days_followed / window, 1.0) for p in patients]
    return crm_posterior(
        crm.skeleton, [p.level + 1 for p in patients], [p.dlt for p in patients], crm.target,
        crm.model, crm.prior_variance, weights=weights,
    )


def _tite_last_cohort(data: TrialData) -> tuple[int, float]:
    """TITE-CRM's restriction inputs: the last cohort's dose and its observed DLTs over its
    evaluable patients."""
    level, dlts = data.last_cohort
    last = max(p.cohort for p in data.patients)
    size = sum(1 for p in data.patients if p.cohort == last and p.evaluable) or 1
    return level, dlts / size


def _tite_crm_level(crm: CrmDesign, data: TrialData, fit: CrmFit) -> int:
    """The model's dose under crmsim's restriction, with the last cohort's observed DLTs."""
    level, rate = _tite_last_cohort(data)
    return int(crmsim_restrict(crm_mtd(fit.ptox, crm.target) - 1, level, rate, crm.target))


def pooled_fit(crm: CrmDesign, n: np.ndarray, dlt: np.ndarray) -> CrmFit:
    """dfcrm's ``crm`` on per-dose counts (patients ``n``, DLTs ``dlt``): the posterior
    depends on the counts alone, so each dose's patients are listed with its DLTs first."""
    levels = np.repeat(np.arange(1, len(n) + 1), n)
    tox = np.concatenate([np.arange(m) < y for m, y in zip(n, dlt, strict=True)]).astype(int)
    return crm_posterior(crm.skeleton, levels, tox, crm.target, crm.model, crm.prior_variance)


def _reason(crm: CrmDesign, design: Design, data: TrialData, state: States, fit: CrmFit,
            tite: bool) -> str:
    """Which part of the CRM's ``decide`` (or TITE-CRM's dose) gave the step, with its numbers."""
    return model_reason(crm, design.panel.label, state, fit,
                        _tite_last_cohort(data) if tite else None)


def model_reason(crm: CrmDesign, label: Callable[[int], str], state: States, fit: CrmFit,
                 tite_last: tuple[int, float] | None = None) -> str:
    """Which part of the CRM's ``decide`` gave the step of one trial (``state``; ``fit``: the
    model on its data), with its numbers; with ``tite_last`` (the last cohort's dose and DLT
    rate over its evaluable patients) TITE-CRM's dose. ``recommend --design crm`` and
    ``crm+backfill`` (on the pooled complete data) word it alike."""
    target = crm.target
    treated = int(state.n.sum())
    if int(state.last_level[0]) < 0:
        return f"no patients yet: start at {label(crm.start)}"
    model = int(crm_mtd(fit.ptox, target)) - 1
    if treated >= crm.max_patients:
        return (f"{treated} patients treated, the maximum sample size: the MTD is "
                f"{label(model)}, whose model P(DLT) {fit.ptox[model]:.3f} is the closest to "
                f"the target {target:g}")
    closest = (f"the model P(DLT) closest to the target {target:g} is {fit.ptox[model]:.3f}, "
               f"at {label(model)}")
    tite = tite_last is not None
    if not tite and crm.titration.continues(state)[0]:
        return "accelerated titration: no DLT yet, one patient at the next dose"
    if tite:
        current, rate = tite_last
    else:
        current, rate = int(state.last_level[0]), float(crm.last_cohort_rate(state)[0])
    prefix = ("TITE-CRM, the patients in follow-up weighted by the days followed over the DLT "
              "window: " if tite else "")
    if model > current and rate >= target:
        return (f"{prefix}{closest}; the last cohort at {label(current)} had a DLT rate of "
                f"{rate:.3f} >= {target:g}: no escalation right after it, stay")
    if model > current + 1:
        return (f"{prefix}{closest}; no skipping: at most one dose above the last cohort's, "
                f"{label(current + 1)}")
    return prefix + closest


def _draw(crm: CrmDesign, doses: list[dict[str, Any]], interval: str, ax: Any) -> None:
    """The skeleton and the model's DLT curve at the posterior mean, with its interval."""
    from bayesdose.designs.registry import colour
    from bayesdose.report.rule_decision import target_line

    x = np.arange(len(doses))
    model = colour("crm")
    target_line(ax, crm.target)
    ax.plot(x, [e["skeleton"] for e in doses], ":o", color="#777777", ms=3.5, label="skeleton")
    ax.fill_between(x, [e["p_dlt_lower"] for e in doses], [e["p_dlt_upper"] for e in doses],
                    color=model, alpha=0.18, lw=0, label=f"model {interval}")
    ax.plot(x, [e["p_dlt"] for e in doses], "-o", color=model, ms=4,
            label="model P(DLT) at the posterior mean")
