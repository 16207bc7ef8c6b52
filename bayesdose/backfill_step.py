"""What a design with backfill (``recommend --design NAME+backfill``) says about its step on
real data: the escalation it makes on the complete data of every patient, escalation and
backfill, with the counts it read, and how many escalation patients ``max_patients`` has
counted (backfill patients come on top). A rule with a ``reason`` words its own decision on
the trial's state (BF-BOIN's ``BfBoin.reason``: each dose's call, any conflict and the pooled
data that resolved it; the 3+3's: its rule, or its MTD search below a dose backfill DLTs
closed; the CRM's: as ``recommend --design crm`` words it, on the pooled complete data); a
rule without one (the BLRM's) says that its rule decided, with the counts."""

from __future__ import annotations

from typing import Any

from bayesdose.data import TrialData
from bayesdose.designs.backfill import Backfill, BackfillStates
from bayesdose.designs.registry import base_name, label
from bayesdose.schema import Design
from bayesdose.steps import Column, Details


def _count(key: str) -> Column:
    return Column(key, key, lambda entry: str(entry[key]))


def backfill_details(name: str, backfill: Backfill, design: Design, data: TrialData,
                     state: BackfillStates, document: dict[str, Any]) -> Details:
    """The counts the rule read per dose (``complete`` patients, of whom ``backfill``), the
    rule in words, and the reason for the step."""
    marked = data.backfill_counts[0]
    for k, entry in enumerate(document["doses"]):
        entry.update(complete=int(state.n[0, k]), backfill=int(marked[k]))
    escalated, most = int(state.escalated[0]), backfill.max_patients
    document["escalation_patients"] = escalated
    counted = (f"{escalated} escalation patients of [stopping] max_patients = {most} (backfill "
               "patients come on top)")
    rule = (f"{label(name)}: {label(base_name(name))}'s escalation on the complete data of "
            "every patient, escalation and backfill (a patient in DLT follow-up counts once "
            f"the outcome is final; the design waits for its escalation cohort); {counted}")
    layers = getattr(backfill.rule, "layers", None)  # the rule's own figure layers (BF-BOIN)
    return Details(reason=_reason(backfill, design, state, document, counted),
                   lines=(rule,), columns=(_count("complete"), _count("backfill")),
                   draw=None if layers is None else layers(state))


def _reason(backfill: Backfill, design: Design, state: BackfillStates,
            document: dict[str, Any], counted: str) -> str:
    if document["stop_reason"] == "max_patients":
        return f"{counted}: the escalation is over, the MTD by the design's selection"
    explain = getattr(backfill.rule, "reason", None)
    if explain is not None:
        return explain(state, design.panel.label)
    return (f"{label(base_name(backfill.name))}'s rule on the complete data of every patient "
            f"({_counts(design, state)})")


def _counts(design: Design, state: BackfillStates) -> str:
    return ", ".join(f"{design.panel.label(k)}: {state.dlt[0, k]}/{state.n[0, k]}"
                     for k in range(state.n.shape[1]) if state.n[0, k])
