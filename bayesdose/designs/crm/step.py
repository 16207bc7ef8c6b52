"""The CRM's own numbers on a real trial (``recommend --design crm``): dfcrm's ``crm`` /
``titecrm`` fit on every evaluable patient, and with dated data the TITE-CRM dose.

The step itself is the simulated design's ``decide`` (``bayesdose.steps``); this adds the
parameter estimate and the plug-in P(DLT) per dose and, while patients are in follow-up, the
dose TITE-CRM gives (Cheung & Chappell 2000): the model's dose under crmsim's restriction with
the last cohort's observed DLTs over its evaluable patients.
"""

from __future__ import annotations

from typing import Any

from bayesdose.data import TrialData
from bayesdose.designs.base import States
from bayesdose.designs.crm.core import CrmFit, crm_mtd, crm_posterior, crmsim_restrict
from bayesdose.designs.crm.simulated import CrmDesign
from bayesdose.schema import Design


def crm_details(crm: CrmDesign, design: Design, data: TrialData, document: dict[str, Any],
                doses: list[dict[str, Any]]) -> None:
    """Add the fit to ``document`` and ``doses``; with patients pending, TITE-CRM's dose."""
    fit = _crm_fit(crm, data)
    document["estimate"] = fit.estimate
    for entry, p in zip(doses, fit.ptox, strict=True):
        entry["p_dlt"] = float(p)
    if data.pending_patients and not document["stop"]:
        document["next_dose"] = design.panel.dose(_tite_crm_level(crm, data, fit))
        document["reason"] = "TITE-CRM: the dose closest to the target, restricted"


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


def _tite_crm_level(crm: CrmDesign, data: TrialData, fit: CrmFit) -> int:
    """The model's dose under crmsim's restriction, with the last cohort's observed DLTs."""
    level, dlts = data.last_cohort
    last = max(p.cohort for p in data.patients)
    size = sum(1 for p in data.patients if p.cohort == last and p.evaluable) or 1
    return int(crmsim_restrict(crm_mtd(fit.ptox, crm.target) - 1, level, dlts / size,
                               crm.target))


def explain(crm: CrmDesign, states: States) -> str:
    """Which part of the CRM's ``decide`` gave the step on one state, in words."""
    if states.n.sum() >= crm.max_patients:
        return ("the MTD: the dose whose P(DLT) at the estimate from all patients is closest "
                f"to the target {crm.target:g}")
    if crm.titration.continues(states)[0]:
        return "titration: one patient a dose until the first DLT"
    return (f"the dose whose P(DLT) at the estimate is closest to the target {crm.target:g}, "
            "at most one level above the last cohort's, and none above it right after a "
            "cohort whose DLT rate reached the target")
