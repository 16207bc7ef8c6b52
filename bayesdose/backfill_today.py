"""Which doses are open for backfill on the trial's data today, and why the others are not
(``recommend`` with ``[backfill] enabled``, every design).

The rule is the simulator's (``designs.backfill.backfill_conditions``), read on the real data:

- the escalation dose is the dose of the design's next cohort (the dose its cohort is still
  at while the design waits for complete follow-up); on a stop backfill closes with the
  escalation;
- ``max_per_dose`` counts every patient treated at the dose (evaluable for DLT or not);
- a response is known when it is recorded in the data (the reader refuses one recorded
  sooner than ``[efficacy] assessment_days`` after dosing, as of ``--as-of``);
- the design's closure (``Closure``): BLRM-EWOC's is EWOC at the dose on the posterior of the
  recommendation (``ewoc_closure``); another design's is the ``unsafe`` of its registry row's
  backfill rule on the complete data (``rule_closure``; BOIN's is BF-BOIN's). A design
  without a backfill rule opens no dose, and says so.

A newly arriving patient joins the escalation cohort while it has places, else the highest
open dose (``designs.backfill.highest``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesdose.data import TrialData
from bayesdose.designs.backfill import Conditions, backfill_conditions, backfill_names, highest
from bayesdose.designs.base import NO_DOSE
from bayesdose.designs.registry import hook, label
from bayesdose.schema import Design


@dataclass(frozen=True)
class Closure:
    """A design's de-escalation rule as backfill reads it: the rule in words, and per dose
    whether it closes the dose (``unsafe``) and why, with the numbers (``why``)."""

    rule: str
    unsafe: np.ndarray
    why: tuple[str | None, ...]


def ewoc_closure(design: Design, p_overdose: np.ndarray) -> Closure:
    """BLRM-EWOC: a dose closes when EWOC applies at it, P(overdosing) >= the threshold."""
    threshold = design.decision.max_overdose_probability
    unsafe = np.asarray(p_overdose) >= threshold
    why = tuple(f"EWOC: P(overdosing) {p:.3f} >= {threshold:g}" if bad else None
                for p, bad in zip(p_overdose, unsafe, strict=True))
    return Closure(f"closed where EWOC applies: P(overdosing) >= {threshold:g}, the posterior "
                   "above",
                   unsafe, why)


def rule_closure(name: str, design: Design, data: TrialData, level: int) -> Closure | None:
    """The closure of design ``name``'s backfill rule on the complete data (None: the design
    has no backfill rule). A rule may word its own reasons (``closes``, the rule, and
    ``explain(n, dlt, k)``); otherwise its counts are given."""
    factory = hook(name, "backfill")
    if factory is None:
        return None
    rule = factory(design)
    rule_text = getattr(rule, "closes", f"closed where the {label(name)} design's "
                        "de-escalation rule applies on its complete data")
    n, dlt = data.complete, data.dlt
    if level == NO_DOSE:  # the escalation has ended: nothing to close
        return Closure(rule_text, np.zeros(n.size, bool), (None,) * n.size)
    unsafe = rule.unsafe(n[None], dlt[None], np.array([level]))[0]
    explain = getattr(rule, "explain", None)
    why = tuple(None if not bad else explain(n, dlt, k) if explain is not None
                else f"{label(name)}'s de-escalation rule: {dlt[k]}/{n[k]} DLTs among "
                "complete patients" for k, bad in enumerate(unsafe))
    return Closure(rule_text, unsafe, why)


def escalation_level(design: Design, document: dict[str, Any]) -> int:
    """The escalation dose a step leaves (``NO_DOSE`` on a stop): the next cohort's, or while
    the design waits for complete follow-up, the current cohort's."""
    if document["stop"]:
        return NO_DOSE
    dose = document["current_dose"] if document.get("wait") else document["next_dose"]
    return NO_DOSE if dose is None else design.panel.index(dose)


def treated(data: TrialData) -> np.ndarray:
    """Patients treated per dose, evaluable for DLT or not (what ``max_per_dose`` counts)."""
    if not data.patient_level:
        return data.n
    return np.bincount([p.level for p in data.patients], minlength=data.n.size)


def backfill_section(name: str, design: Design, data: TrialData, level: int,
                     closure: Closure | None) -> dict[str, Any] | None:
    """The ``backfill`` entry of a step's document (None without ``[backfill] enabled``):
    the escalation dose (``level``, ``escalation_level``), the settings, the closure rule, the
    dose a new backfill patient joins, and per dose whether it is open and every reason it is
    not."""
    settings = design.backfill
    if not settings.enabled:
        return None
    k, count = len(design.levels), treated(data)
    responded = data.responses > 0 if data.has_responses else np.zeros(k, bool)
    unsafe = np.zeros(k, bool) if closure is None else closure.unsafe
    cond = backfill_conditions(settings, data.complete[None], data.dlt[None], count[None],
                               responded[None], np.array([level]), unsafe[None])
    is_open = cond.open[0] & (level != NO_DOSE) & (closure is not None)
    top = int(highest(is_open[None])[0])
    return {
        "escalation_dose": None if level == NO_DOSE else design.panel.dose(level),
        "max_per_dose": settings.max_per_dose, "require_response": settings.require_response,
        "close_on_dlt_rate": settings.close_on_dlt_rate,
        "closure_rule": None if closure is None else closure.rule,
        "next_backfill_dose": None if top == NO_DOSE else design.panel.dose(top),
        "doses": [{"dose": design.panel.dose(j), "treated": int(count[j]),
                   "open": bool(is_open[j]),
                   "reasons": [] if is_open[j] else _reasons(name, design, data, cond, closure,
                                                             level, j, int(count[j]))}
                  for j in range(k)],
    }


def _reasons(name: str, design: Design, data: TrialData, cond: Conditions,
             closure: Closure | None, level: int, j: int, count: int) -> list[str]:
    """Every reason dose ``j`` (``count`` patients treated) is not open to backfill, in the
    rule's order."""
    if level == NO_DOSE:
        return ["the escalation has ended: backfill closes with it"]
    if closure is None:
        return [f"the {label(name)} design has no backfill rule (backfill is available for "
                f"{', '.join(backfill_names())})"]
    reasons = []
    if j == level:
        reasons.append("the escalation dose")
    elif j > level:
        reasons.append(f"above the escalation dose {design.panel.label(level)}")
    if not cond.room[0, j]:
        reasons.append(f"max_per_dose reached: {count} of "
                       f"{design.backfill.max_per_dose} patients treated")
    if not cond.responded[0, j]:
        reasons.append(_no_response(data, j))
    if cond.closed[0, j]:
        reasons.append(_closed(design, data, cond, closure, j))
    return reasons


def _no_response(data: TrialData, j: int) -> str:
    if not data.has_responses:
        return "no response known: the data have no response column"
    when = "" if data.as_of is None else f" as of {data.as_of}"
    return (f"no response known yet{when} ({data.responses[j]} of {data.assessed[j]} "
            "assessed responded)")


def _closed(design: Design, data: TrialData, cond: Conditions, closure: Closure,
            j: int) -> str:
    """Why the de-escalation rule closes dose ``j``: at the dose, or at the dose below it
    that closes every dose above."""
    first = int(np.flatnonzero(cond.unsafe[0] | cond.over_rate[0])[0])
    if first < j:
        return (f"closed with {design.panel.label(first)} below it "
                f"({_closed(design, data, cond, closure, first)})")
    if cond.unsafe[0, j]:
        return closure.why[j]
    return (f"DLT rate {data.dlt[j]}/{data.complete[j]} among complete patients > "
            f"[backfill] close_on_dlt_rate = {design.backfill.close_on_dlt_rate:g}")


def backfill_lines(design: Design, section: dict[str, Any] | None) -> list[str]:
    """The printed lines of a ``backfill_section``: ``backfill_rule``, then one line per
    dose."""
    if section is None:
        return []
    lines = [backfill_rule(design, section)]
    for entry in section["doses"]:
        state = "open" if entry["open"] else "closed: " + "; ".join(entry["reasons"])
        lines.append(f"backfill at {design.format_dose(entry['dose'])}: {state}")
    return lines


def backfill_rule(design: Design, section: dict[str, Any]) -> str:
    """Where a new patient goes today, and when a dose is open."""
    settings = design.backfill
    escalation = section["escalation_dose"]
    target = section["next_backfill_dose"]
    if escalation is None:
        head = "backfill: closed, the escalation has ended"
    else:
        goes = ("none is open" if target is None else
                f"the highest open dose, {design.format_dose(target)}")
        head = (f"backfill: a new patient joins the escalation cohort at "
                f"{design.format_dose(escalation)} while it has places, else {goes}")
    rule = ["it is below the escalation dose",
            f"holds fewer than {settings.max_per_dose} patients ([backfill] max_per_dose)"]
    if settings.require_response:
        rule.append("has a known response")
    if section["closure_rule"] is not None:
        rate = ("" if settings.close_on_dlt_rate is None else
                f", or its DLT rate exceeds {settings.close_on_dlt_rate:g}")
        rule.append(f"no dose at or below it is closed ({section['closure_rule']}{rate})")
    return f"{head}. A dose is open when {', '.join(rule[:-1])} and {rule[-1]}"
