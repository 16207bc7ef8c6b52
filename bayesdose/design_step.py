"""Any design's next step on the real trial so far: ``bayesdose recommend --design NAME``.

The model-based BLRM answer (``bayesdose.recommend``) and the rule-based answers (3+3, BOIN) or
the CRM's can then be put side by side at the escalation meeting. The step is the simulated
design's own ``decide`` on the trial's state, so it is exactly what the simulations assumed.

- 3+3, 3+3 with de-escalation, BOIN and the CRM read the order of cohorts (the current dose,
  what the last cohort showed), so they need patient-level data.
- 3+3 and BOIN decide on complete cohorts: while a patient is still in DLT follow-up they wait.
- The CRM is TITE-CRM with dated data (Cheung & Chappell 2000, dfcrm's ``titecrm``): a
  patient in follow-up without a DLT counts with weight days followed / window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayesdose.data import TrialData
from bayesdose.design import Design
from bayesdose.designs.crm import crm_mtd, crm_posterior, crmsim_restrict
from bayesdose.errors import InputError
from bayesdose.simulation.interface import NO_DOSE, STOP_REASONS, States
from bayesdose.simulation.registry import make_design

RULE_BASED = ("3+3", "3+3-deesc", "boin")


def _state(data: TrialData) -> States:
    last = data.last_cohort or (NO_DOSE, 0)
    return States(data.n[None], data.dlt[None], np.array([last[0]]), np.array([last[1]]))


def _dose(design: Design, level: int) -> float | None:
    return None if level == NO_DOSE else float(design.levels[level])


def next_step(name: str, design: Design, data: TrialData) -> dict[str, Any]:
    """The next step of design ``name`` (not ``blrm``), as the JSON document of recommend."""
    if not data.patient_level:
        raise InputError(
            data.source, None,
            f"the {name} design reads the order of cohorts: give patient-level data "
            "(patient_id,cohort,dose,dlt), not aggregated counts",
        )
    simulated = make_design(name, design)
    pending = data.pending_patients
    document: dict[str, Any] = {"design": name, "trial": design.trial.name,
                                "unit": design.doses.unit}
    if name in RULE_BASED and pending:
        document.update(
            next_dose=None, cohort_size=0, stop=False, stop_reason=None, mtd=None, wait=True,
            reason=f"{name} decides on complete cohorts: waiting for {len(pending)} "
            "patient(s) still in DLT follow-up",
        )
    else:
        actions = simulated.decide(_state(data))
        level = int(actions.next_level[0])
        stop = STOP_REASONS[int(actions.stop_reason[0])]
        document.update(
            next_dose=_dose(design, level), cohort_size=int(actions.cohort_size[0]),
            stop=stop != "none", stop_reason=None if stop == "none" else stop,
            mtd=_dose(design, int(actions.mtd[0])), wait=False,
            reason=f"the {name} design's rule on the trial so far",
        )
    doses = [{"dose": float(d), "n": int(data.n[k]), "dlt": int(data.dlt[k])}
             for k, d in enumerate(design.levels)]
    if name == "crm":
        fit = _crm_fit(simulated, data)
        document["estimate"] = fit.estimate
        for entry, p in zip(doses, fit.ptox, strict=True):
            entry["p_dlt"] = float(p)
        if pending and not document["stop"]:
            document["next_dose"] = _dose(design, _tite_crm_level(simulated, data, fit))
            document["reason"] = "TITE-CRM: the dose closest to the target, restricted"
    document["doses"] = doses
    return document


def _crm_fit(crm, data: TrialData):
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


def _tite_crm_level(crm, data: TrialData, fit) -> int:
    """The model's dose under crmsim's restriction, with the last cohort's observed DLTs."""
    level, dlts = data.last_cohort
    last = max(p.cohort for p in data.patients)
    size = sum(1 for p in data.patients if p.cohort == last and p.evaluable) or 1
    return int(crmsim_restrict(crm_mtd(fit.ptox, crm.target) - 1, level, dlts / size,
                               crm.target))


def format_step(design: Design, document: dict[str, Any]) -> str:
    """The printed answer of ``recommend --design``."""
    lines = [f"{design.trial.name}: the {document['design']} design on the trial so far"]
    for entry in document["doses"]:
        extra = f"  P(DLT) at the estimate {entry['p_dlt']:.3f}" if "p_dlt" in entry else ""
        lines.append(f"{entry['dose']:>16g} n={entry['n']:<3} DLT={entry['dlt']:<3}{extra}")
    if "estimate" in document:
        lines.append(f"CRM parameter estimate (posterior mean): {document['estimate']:.4f}")
    if document["stop"]:
        mtd = document["mtd"]
        text = "none" if mtd is None else design.format_dose(mtd)
        lines.append(f"STOP ({document['stop_reason']}): MTD {text}")
    elif document["wait"]:
        lines.append(f"wait: {document['reason']}")
    else:
        lines.append(f"next: {design.format_dose(document['next_dose'])}, cohort of "
                     f"{document['cohort_size']} — {document['reason']}")
    return "\n".join(lines)
