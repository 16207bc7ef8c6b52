"""Any design's next step on the real trial so far: ``bayesdose recommend [--design NAME]``.

``step_on_data`` calls the function the design's registry row names (``on_data``):
BLRM-EWOC's recommendation (``designs.blrm.recommendation.blrm_step``: posterior, EWOC,
reasons in words) or, for every other design, ``rule_step`` below.

The model-based BLRM answer (``designs.blrm.recommendation``) and the rule-based answers (3+3,
BOIN) or the CRM's can then be put side by side at the escalation meeting. The step is the
simulated design's own ``decide`` on the trial's state, so it is what the simulations without
time assumed; with patients still in follow-up the CRM's dose is TITE-CRM's, from dfcrm's
``titecrm`` fit on the real patients (``designs/crm/step.py``: the real last cohort's size, not
the configured one, restricts escalation).

- 3+3, 3+3 with de-escalation, BOIN and the CRM read the order of cohorts (the current dose,
  what the last cohort showed), so they need patient-level data.
- Designs that decide on complete cohorts (the registry's ``complete_cohorts``: 3+3, BOIN)
  wait while a patient is still in DLT follow-up.
- A design with numbers of its own on real data (the registry's ``step_details``: the CRM's
  estimate and, with dated data, its TITE-CRM dose) adds them to the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.data import TrialData
from bayesdose.defaults import DEFAULT_SEED
from bayesdose.designs.base import NO_DOSE, STOP_REASONS, States
from bayesdose.designs.registry import entry as registry_entry
from bayesdose.designs.registry import hook, make_design
from bayesdose.errors import InputError
from bayesdose.schema import Design

if TYPE_CHECKING:
    from bayesdose.designs.blrm.recommendation import Recommendation


@dataclass(frozen=True)
class Step:
    """A design's next step on the trial so far: the JSON document of ``recommend`` (the
    caller adds the inputs' hashes), the printed answer, and for BLRM-EWOC the recommendation
    that ``--plot``/``--html`` draw."""

    document: dict[str, Any]
    text: str
    recommendation: Recommendation | None = None

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        d = self.document
        what = ("wait" if d.get("wait") else f"STOP ({d['stop_reason']})" if d["stop"]
                else f"next: {d['next_dose']:g} {d['unit']}".rstrip()
                + f", cohort of {d['cohort_size']}")
        return f"<Step {d.get('design', 'blrm')} on {d['trial']}: {what}>"

    def _repr_html_(self) -> str:
        """What ``recommend`` prints, shown in Jupyter."""
        return f"<pre>{escape(self.text)}</pre>"


def step_on_data(name: str, design: Design, data: TrialData, engine: str = "exact",
                 seed: int = DEFAULT_SEED) -> Step:
    """The next step of design ``name`` on real data: the function its registry row names
    (BLRM-EWOC's recommendation; ``rule_step`` for every other design)."""
    return hook(name, "on_data")(name, design, data, engine, seed)


def rule_step(name: str, design: Design, data: TrialData, engine: str, seed: int) -> Step:
    """A design's own ``decide`` on the trial's state (``engine`` and ``seed`` unused: no
    posterior is sampled)."""
    document = step_document(name, design, data)
    return Step(document, format_step(design, document))


def _state(data: TrialData) -> States:
    last = data.last_cohort or (NO_DOSE, 0)
    return States(data.n[None], data.dlt[None], np.array([last[0]]), np.array([last[1]]))


def _dose(design: Design, level: int) -> float | None:
    return None if level == NO_DOSE else design.panel.dose(level)


def step_document(name: str, design: Design, data: TrialData) -> dict[str, Any]:
    """The next step of design ``name`` (not ``blrm``), as the JSON document of recommend."""
    if not data.patient_level:
        raise InputError(
            data.source, None,
            f"the {name} design reads the order of cohorts: give patient-level data "
            "(patient_id,cohort,dose,dlt), not aggregated counts",
        )
    simulated = make_design(name, design)
    _check_decidable(name, simulated, data)
    state = _state(data)
    pending = data.pending_patients
    document: dict[str, Any] = {"design": name, "trial": design.trial.name,
                                "unit": design.doses.unit}
    if registry_entry(name).complete_cohorts and pending:
        document.update(
            next_dose=None, cohort_size=0, stop=False, stop_reason=None, mtd=None, wait=True,
            reason=f"{name} decides on complete cohorts: waiting for {len(pending)} "
            "patient(s) still in DLT follow-up",
        )
    else:
        actions = simulated.decide(state)
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
    details = hook(name, "step_details")
    if details is not None:
        details(simulated, design, data, document, doses)
    document["explanation"] = _explanation(name, simulated, design, data, state, document)
    document["doses"] = doses
    return document


def _check_decidable(name: str, simulated: Any, data: TrialData) -> None:
    """An InputError for data the design's rule cannot read: a dose holding more patients than
    the design takes in a whole trial, or a last cohort without an evaluable patient."""
    most = int(data.n.max(initial=0))
    if most > simulated.max_patients:
        raise InputError(data.source, None,
                         f"a dose holds {most} evaluable patients, more than the {name} design "
                         f"takes in a whole trial ({simulated.max_patients})")
    if data.patients and data.n[data.last_cohort[0]] == 0:
        raise InputError(data.source, None,
                         f"the last cohort has no evaluable patient: the {name} design decides "
                         "on the last cohort's outcomes")


def _explanation(name: str, simulated: Any, design: Design, data: TrialData, state: States,
                 document: dict[str, Any]) -> str:
    """The step in words: what the current dose (the last cohort's) has shown, what the rule
    does with it, and the design's own reason where its row gives one (``explain``)."""
    label = design.panel.label
    if not data.patients:
        return f"no patients yet: {name} starts at {label(design.start_level)}"
    level, _ = data.last_cohort
    seen = (f"{int(data.dlt[level])} of {int(data.n[level])} patient(s) at {label(level)}, "
            "the last cohort's dose, have had a DLT")
    if document["wait"]:
        return f"{seen} so far"
    if document["stop"]:
        mtd = "none" if document["mtd"] is None else design.format_dose(document["mtd"])
        move = f"stop ({document['stop_reason']}), MTD {mtd}"
    else:
        nxt = design.panel.index(document["next_dose"])
        where = label(nxt)
        move = (f"escalate to {where}" if nxt > level else f"de-escalate to {where}"
                if nxt < level else f"{document['cohort_size']} more at {where}")
    own = hook(name, "explain")
    why = own(simulated, state) if own is not None else ""
    return f"{seen}: {move}" + (f" ({why})" if why else "")


def format_step(design: Design, document: dict[str, Any]) -> str:
    """The printed answer of ``recommend --design``."""
    lines = [f"{design.trial.name}: the {document['design']} design on the trial so far"]
    for entry in document["doses"]:
        extra = f"  P(DLT) at the estimate {entry['p_dlt']:.3f}" if "p_dlt" in entry else ""
        dose = design.panel.number(entry["dose"])
        lines.append(f"{dose:>16} n={entry['n']:<3} DLT={entry['dlt']:<3}{extra}")
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
    lines.append(f"why: {document['explanation']}")
    return "\n".join(lines)
