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
- Each design says why, with its own numbers (the registry's ``step_details``, returning
  ``Details``): BOIN its boundaries against the DLT rate at the current dose and its eliminated
  doses, 3+3 the rule that applied with the counts, the CRM its skeleton, parameter estimate
  and model-based DLT rates (and, with dated data, its TITE-CRM dose). ``Details`` also names
  the per-dose columns of the printed table and of the decision page, and what the design
  draws on the step's figure (``report.rule_decision``).
- Every design's step, BLRM-EWOC's included, gains from ``add_efficacy`` which doses are open
  for backfill today (``[backfill] enabled``; ``backfill_today``) and, when the data have
  responses, the optimal biological dose so far (``optimisation.obd_on_data``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.backfill_today import (
    Closure,
    backfill_lines,
    backfill_section,
    escalation_level,
    rule_closure,
)
from bayesdose.data import TrialData
from bayesdose.defaults import DEFAULT_SEED
from bayesdose.designs.base import NO_DOSE, STOP_REASONS, States, direction
from bayesdose.designs.registry import base_name, hook, is_backfill, label, make_design
from bayesdose.designs.registry import entry as registry_entry
from bayesdose.errors import InputError
from bayesdose.optimisation import obd_line, obd_on_data
from bayesdose.panel import DosePanel, PairPanel
from bayesdose.schema import Design

if TYPE_CHECKING:
    from bayesdose.designs.blrm.recommendation import Recommendation
    from bayesdose.designs.blrm_comb.recommendation import ComboRecommendation


@dataclass(frozen=True)
class Column:
    """A design's own per-dose number: ``key`` in each entry of the document's ``doses``,
    shown under ``title`` by ``text`` (a probability or rate to three decimals, a dash for
    None, yes/no for a flag, unless the design says otherwise)."""

    key: str
    title: str
    text: Callable[[dict[str, Any]], str] | None = None

    def cell(self, entry: dict[str, Any]) -> str:
        if self.text is not None:
            return self.text(entry)
        value = entry[self.key]
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "—" if value is None else f"{value:.3f}"


RESPONSES = Column("responses", "responses",
                   lambda entry: f"{entry['responses']}/{entry['assessed']}")
"""The per-dose efficacy column, when the data have a ``response`` column: responders over
patients assessed. It is shown beside every design's decision and changes none."""


def add_efficacy(name: str, design: Design, data: TrialData, document: dict[str, Any],
                 closure: Closure | None) -> list[str]:
    """Put in a step's document which doses are open for backfill (``backfill``, with
    ``[backfill] enabled``; ``closure``: the design's, from ``backfill_today``) and the
    optimal biological dose on the data so far (``obd``, when the data have responses), and
    return their printed lines. The OBD is sought up to the MTD on a stop, else up to the dose
    the design gives next (or, while it waits, the current dose): the dose of acceptable
    toxicity as the design judges it today."""
    backfill = backfill_section(name, design, data, escalation_level(design, document),
                                closure)
    if backfill is not None:
        document["backfill"] = backfill
    top, basis = _toxicity_bound(design, document)
    obd = obd_on_data(design, data, top, basis)
    if obd is not None:
        document["obd"] = obd
    return [*backfill_lines(design, backfill), *obd_line(design, obd)]


def _toxicity_bound(design: Design, document: dict[str, Any]) -> tuple[int, str]:
    """(0-based dose or ``NO_DOSE``, what it is) up to which the OBD is sought."""
    if document["stop"]:
        dose, what = document["mtd"], "the MTD"
    elif document.get("wait"):
        dose, what = document["current_dose"], "the current dose"
    else:
        dose, what = document["next_dose"], "the next dose"
    return (NO_DOSE if dose is None else design.panel.index(dose)), what


def response_note(design: Design, data: TrialData) -> str | None:
    """What the responses column counts, and who is not assessed yet; None without it."""
    if not data.has_responses:
        return None
    wait = design.efficacy.assessment_days
    when = (f"is known {wait} days after dosing" if wait else "counts when recorded")
    waiting = ", ".join(p.patient_id for p in data.not_assessed) or "none"
    return (f"responses = responders / patients assessed; a response {when} ([efficacy] "
            f"assessment_days = {wait}); not yet assessed: {waiting}; responses change no "
            "toxicity decision")


@dataclass(frozen=True)
class Details:
    """What a design says about its step on real data (its registry row's ``step_details``):
    the rule that decided, with its numbers (``reason``); its own numbers in words (``lines``)
    and per dose (``columns``); and ``draw``, which adds its own layers (boundaries, model
    curves, eliminated doses) to the axes of the step's figure of observed DLT rates."""

    reason: str
    lines: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    draw: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class Step:
    """A design's next step on the trial so far: the JSON document of ``recommend`` (the
    caller adds the inputs' hashes), the printed answer, and what ``--plot``/``--html`` draw:
    BLRM-EWOC's recommendation, or another design's ``Details``."""

    document: dict[str, Any]
    text: str
    panel: DosePanel | PairPanel  # two drugs: the pairs (``blrm_comb.recommendation``)
    recommendation: Recommendation | ComboRecommendation | None = None
    details: Details | None = None

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        d = self.document
        what = ("wait" if d.get("wait") else f"STOP ({d['stop_reason']})" if d["stop"]
                else f"next: {self.panel.format(d['next_dose'])}"
                + f", cohort of {d['cohort_size']}")
        return f"<Step {d.get('design', 'blrm')} on {d['trial']}: {what}>"

    def _repr_html_(self) -> str:
        """What ``recommend`` prints, shown in Jupyter."""
        return f"<pre>{escape(self.text)}</pre>"


def step_on_data(name: str, design: Design, data: TrialData, engine: str = "exact",
                 seed: int = DEFAULT_SEED) -> Step:
    """The next step of design ``name`` on real data: the function its registry row names
    (BLRM-EWOC's recommendation; ``rule_step`` for every other design, ``NAME+backfill``
    included)."""
    if is_backfill(name):
        return rule_step(name, design, data, engine, seed)
    return hook(name, "on_data")(name, design, data, engine, seed)


def rule_step(name: str, design: Design, data: TrialData, engine: str, seed: int) -> Step:
    """A design's own ``decide`` on the trial's state (``engine`` and ``seed`` unused: no
    posterior is sampled)."""
    document, details = step_document(name, design, data)
    closure = (rule_closure(base_name(name), design, data, escalation_level(design, document))
               if design.backfill.enabled else None)
    extra = add_efficacy(name, design, data, document, closure)
    text = "\n".join([format_step(design, document, details), *extra])
    return Step(document, text, design.panel, details=details)


def _state(name: str, data: TrialData) -> States:
    """The trial's state as design ``name`` reads it: every evaluable patient; with backfill
    (``NAME+backfill``) the complete data of every patient, escalation and backfill, and the
    escalation patients ``max_patients`` counts (``designs.backfill.BackfillStates``)."""
    last = data.last_cohort or (NO_DOSE, 0)
    if is_backfill(name):
        from bayesdose.designs.backfill import BackfillStates

        return BackfillStates(data.complete[None], data.dlt[None], np.array([last[0]]),
                              np.array([last[1]]), np.array([data.escalated]))
    return States(data.n[None], data.dlt[None], np.array([last[0]]), np.array([last[1]]))


def _simulated(name: str, design: Design) -> Any:
    """Design ``name``'s ``decide`` (``NAME+backfill``: ``designs.backfill.Backfill``)."""
    if is_backfill(name):
        from bayesdose.designs.backfill import Backfill

        return Backfill(design, name)
    return make_design(name, design)


def _waiting_for(name: str, data: TrialData) -> list:
    """The patients in DLT follow-up the design waits for: none for a design that decides
    with patients pending, the escalation's for ``NAME+backfill`` (it decides when the
    escalation cohort's outcomes are final, on the complete data), else every one."""
    pending = data.pending_patients
    if is_backfill(name):
        return [p for p in pending if not p.backfill]
    return pending if registry_entry(name).complete_cohorts else []


def _dose(design: Design, level: int) -> float | None:
    return None if level == NO_DOSE else design.panel.dose(level)


def step_document(name: str, design: Design, data: TrialData) -> tuple[dict[str, Any], Details]:
    """The next step of design ``name`` (not ``blrm``), as the JSON document of recommend,
    and what the design says about it."""
    if not data.patient_level:
        raise InputError(
            data.source, None,
            f"the {name} design reads the order of cohorts: give patient-level data "
            "(patient_id,cohort,dose,dlt), not aggregated counts",
        )
    simulated = _simulated(name, design)
    _check_decidable(name, design, simulated, data)
    state = _state(name, data)
    pending = _waiting_for(name, data)
    current = int(state.last_level[0])
    document: dict[str, Any] = {"design": name, "trial": design.trial.name,
                                "unit": design.doses.unit, "current_dose": _dose(design, current),
                                "direction": None, "reason": None}  # (set last, shown first)
    document.update(_decided(design, simulated, state, bool(pending)))
    document["doses"] = [{"dose": float(d), "n": int(data.n[k]), "dlt": int(data.dlt[k]),
                          **data.response_counts(k)} for k, d in enumerate(design.levels)]
    if is_backfill(name):
        from bayesdose.backfill_step import backfill_details

        details = backfill_details(name, simulated, design, data, state, document)
    else:
        details = hook(name, "step_details")(simulated, design, data, state, document)
    if data.has_responses:
        details = replace(details, columns=(RESPONSES, *details.columns),
                          lines=(*details.lines, response_note(design, data)))
    if document["wait"]:
        from bayesdose.report.text import patients

        document.update(direction="wait", reason=f"{label(name)} decides on complete cohorts: "
                        f"waiting for {patients(len(pending))} still in DLT follow-up")
    else:  # after the design's details: with patients in follow-up the CRM's dose is TITE-CRM's
        nxt = NO_DOSE if document["next_dose"] is None else design.panel.index(
            document["next_dose"])
        document.update(direction=direction(document["stop"], current, nxt),
                        reason=details.reason)
    return document, details


def _decided(design: Design, simulated: Any, state: States, waits: bool) -> dict[str, Any]:
    """The step as the design's ``decide`` gives it, or a wait for complete cohorts."""
    if waits:
        return dict(next_dose=None, cohort_size=0, stop=False, stop_reason=None, mtd=None,
                    wait=True)
    actions = simulated.decide(state)
    stop = STOP_REASONS[int(actions.stop_reason[0])]
    return dict(next_dose=_dose(design, int(actions.next_level[0])),
                cohort_size=int(actions.cohort_size[0]), stop=stop != "none",
                stop_reason=None if stop == "none" else stop,
                mtd=_dose(design, int(actions.mtd[0])), wait=False)


def _check_decidable(name: str, design: Design, simulated: Any, data: TrialData) -> None:
    """An InputError for data the design's rule cannot read: backfill patients for a design
    without backfill, a dose holding more patients than the design takes in a whole trial
    (with backfill, every dose's room too), or a last cohort without an evaluable patient."""
    if data.backfilled and not is_backfill(name):
        raise InputError(data.source, "column 'backfill'",
                         f"the data mark backfill patients, which the {name} design does not "
                         f"read: use --design {name}+backfill (its rules count every patient's "
                         "DLTs and only the escalation patients against max_patients), or "
                         "--design blrm")
    room = len(design.levels) * design.backfill.max_per_dose if is_backfill(name) else 0
    most, allowed = int(data.n.max(initial=0)), simulated.max_patients + room
    if most > allowed:
        raise InputError(data.source, None,
                         f"a dose holds {most} evaluable patients, more than the {name} design "
                         f"takes in a whole trial ({allowed})")
    if data.patients and data.n[data.last_cohort[0]] == 0:
        raise InputError(data.source, None,
                         f"the last cohort has no evaluable patient: the {name} design decides "
                         "on the last cohort's outcomes")


def step_headline(document: dict[str, Any], dose: Callable[[float], str]) -> str:
    """The step without its reason: ``next: 1x10^8 viable cells, cohort of 3: de-escalate from
    3x10^8 viable cells``, ``STOP (max patients): MTD ...`` or ``wait`` (``dose`` writes a dose
    with its unit as the output does)."""
    if document["wait"]:
        return "wait"
    if document["stop"]:
        mtd = "none" if document["mtd"] is None else dose(document["mtd"])
        return f"STOP ({document['stop_reason'].replace('_', ' ')}): MTD {mtd}"
    return (f"next: {dose(document['next_dose'])}, cohort of {document['cohort_size']}: "
            f"{move_text(document, dose)}")


def move_text(document: dict[str, Any], dose: Callable[[float], str]) -> str:
    """The step from the current dose: ``de-escalate from 3x10^8 viable cells``, ``stay at
    ...``, ``start``."""
    move = document["direction"]
    if document["current_dose"] is None:
        return move
    return f"{move} {'at' if move == 'stay' else 'from'} {dose(document['current_dose'])}"


def dose_rows(design: Design, document: dict[str, Any], details: Details
              ) -> tuple[list[str], list[list[str]]]:
    """The per-dose table of a step: its titles, and per dose its cells as printed."""
    unit = f" ({design.doses.unit})" if design.doses.unit else ""
    titles = [f"dose{unit}", "n", "DLT", *(c.title for c in details.columns)]
    rows = [[design.panel.number(entry["dose"]), str(entry["n"]), str(entry["dlt"]),
             *(c.cell(entry) for c in details.columns)] for entry in document["doses"]]
    return titles, rows


def format_step(design: Design, document: dict[str, Any], details: Details) -> str:
    """The printed answer of ``recommend --design``: the design's numbers, the per-dose table
    and the step with the rule that decided it."""
    titles, rows = dose_rows(design, document, details)
    widths = [max(len(text) for text in column) for column in zip(titles, *rows, strict=True)]
    lines = [f"{design.trial.name}: {label(document['design'])} on the trial so far",
             *details.lines]
    lines += ["  ".join(f"{cell:>{w}}" for cell, w in zip(row, widths, strict=True))
              for row in (titles, *rows)]
    lines.append(f"{step_headline(document, design.format_dose)} — "
                 f"{document['reason']}")
    return "\n".join(lines)
