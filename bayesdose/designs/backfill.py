"""Backfill: a behaviour that wraps a design (``NAME+backfill``; ``boin+backfill`` is BF-BOIN,
Zhao, Yuan, Korn & Freidlin 2024, Clin Cancer Res 30:673, as R's bfboin 0.1.1 runs it).

The escalation is the design's own, in cohorts that wait for complete follow-up. While the
escalation cohort is full and in DLT follow-up, a newly arriving patient joins the highest dose
open to backfill, or is not enrolled (referred away, as in bfboin and the publication). A dose
b is open on day t when

- it is below the current escalation dose (the trial has escalated beyond it);
- with ``[backfill] require_response``, a response at b is known by day t (``[efficacy]
  assessment_days`` after its patient's dosing);
- it holds fewer than ``[backfill] max_per_dose`` patients (escalation and backfill);
- the design's backfill rule does not close it: a dose whose complete data cross the design's
  de-escalation rule closes, with every dose above it (``unsafe`` of the design's rule); with
  ``[backfill] close_on_dlt_rate``, also a dose whose observed DLT rate among complete patients
  exceeds that rate.

Every decision reads the complete data of all patients, escalation and backfill alike (a
backfill patient's DLT counts from the day it is known, the patient from the day the outcome is
final), and backfill closes when the escalation ends. ``[stopping] max_patients`` counts the
escalation patients; backfill patients come on top.

A design takes backfill when its registry row names its backfill rule (``backfill``): an object
built from the config (and the row's options) with ``max_patients`` (escalation patients),
``decide(states)`` (the escalation on pooled data), ``select(states)`` (the MTD when the
escalation patients are used up) and ``unsafe(n, dlt, level)`` (the doses whose complete data
cross the design's de-escalation rule); optionally ``expect(n, dlt)``, the data its next
decisions read, for a rule that computes per data set in batches (the BLRM's posterior), and
``reason(state, label)``, one trial's step in words (``recommend --design NAME+backfill``).
Each rule's module states it: BOIN (BF-BOIN, ``designs.boin.backfill``), BLRM-EWOC (EWOC
applies: P(overdosing) at or above the threshold, ``designs.blrm.backfill``), 3+3 (two DLTs,
``designs.three_plus_three.backfill``) and the CRM (above the model's dose,
``designs.crm.backfill``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from bayesdose.designs.base import CONTINUE, MAX_PATIENTS, NO_DOSE, Actions, States
from bayesdose.designs.registry import BACKFILL_DESIGNS, ENTRIES, base_name, hook
from bayesdose.errors import InputError
from bayesdose.schema import BackfillSection, Design


@dataclass(frozen=True)
class BackfillStates(States):
    """A trial on its decision date: the complete data of every patient (``n``, ``dlt``), the
    escalation dose and its last cohort's DLTs, and ``escalated``, the escalation patients so
    far (what ``max_patients`` counts)."""

    escalated: np.ndarray


class Backfill:
    """A design with backfill cohorts (see the module)."""

    waits = True

    def __init__(self, design: Design, name: str) -> None:
        base = base_name(name)
        rule = hook(base, "backfill") if base in ENTRIES else None
        if rule is None:
            raise InputError("--designs", repr(name), "backfill is available for "
                             f"{', '.join(BACKFILL_DESIGNS)} only")
        if not design.backfill.enabled:
            raise InputError(design.source, "[backfill] enabled",
                             f"{name} needs backfill enabled in the config (and its settings)")
        if design.cohorts.titration_until_level > 0:
            raise InputError(design.source, "[cohorts] titration_until_level",
                             "backfill designs start with full cohorts: set it to 0")
        self.name = name
        self.settings = design.backfill
        self.rule = rule(design, **ENTRIES[base].options)
        self.max_patients = self.rule.max_patients  # escalation patients (3+3: its own bound)
        self.max_cohort_size = design.cohorts.size
        self.responded_days = int(np.ceil(design.efficacy.assessment_days))

    def decide(self, states: BackfillStates) -> Actions:
        """The design's escalation on the pooled complete data; a stop with the design's MTD
        once ``max_patients`` escalation patients are treated; the last cohort cut to fit."""
        actions = self.rule.decide(states)
        full = states.escalated >= self.max_patients
        if full.any():
            actions.stop_reason[full] = MAX_PATIENTS
            actions.next_level[full], actions.cohort_size[full] = NO_DOSE, 0
            actions.mtd[full] = self.rule.select(_rows(states, full))
        going = actions.stop_reason == CONTINUE
        left = self.max_patients - states.escalated
        actions.cohort_size[going] = np.minimum(actions.cohort_size[going], left[going])
        return actions

    def expect(self, n: np.ndarray, dlt: np.ndarray) -> None:
        """Tell the rule the complete data its next decisions read, so that a rule with a cost
        per data set (the BLRM's posterior) computes them with the next batch it needs."""
        expect = getattr(self.rule, "expect", None)
        if expect is not None:
            expect(n, dlt)

    def open_doses(self, n: np.ndarray, dlt: np.ndarray, treated: np.ndarray,
                   responded: np.ndarray, level: np.ndarray) -> np.ndarray:
        """(S, K) doses open to backfill: ``n``, ``dlt`` complete patients and their DLTs,
        ``treated`` all patients, ``responded`` whether a response is known, per dose;
        ``level`` the escalation dose. The design's rule (for the BLRM a posterior per data
        set, the main cost) is read only where some dose passes every other condition: the
        rule can only close doses, and a dose it closes closes those above it alike."""
        others = backfill_conditions(self.settings, n, dlt, treated, responded, level,
                                     np.zeros(n.shape, bool)).open
        some = others.any(axis=1)
        unsafe = np.zeros(n.shape, bool)
        if some.any():
            unsafe[some] = self.rule.unsafe(n[some], dlt[some], level[some])
        return others & ~np.logical_or.accumulate(unsafe, axis=1)


@dataclass(frozen=True)
class Conditions:
    """(S, K) per dose, each condition of the backfill rule (see the module): ``below`` the
    escalation dose; ``room`` (fewer than ``max_per_dose`` treated); ``responded`` (a response
    known, or not required); ``unsafe`` (the design's de-escalation rule at the dose, on its
    complete data), ``over_rate`` (``close_on_dlt_rate`` exceeded) and ``closed`` (either at
    the dose or at a dose below it)."""

    below: np.ndarray
    room: np.ndarray
    responded: np.ndarray
    unsafe: np.ndarray
    over_rate: np.ndarray
    closed: np.ndarray

    @property
    def open(self) -> np.ndarray:
        return self.below & self.room & self.responded & ~self.closed


def backfill_conditions(settings: BackfillSection, n: np.ndarray, dlt: np.ndarray,
                        treated: np.ndarray, responded: np.ndarray, level: np.ndarray,
                        unsafe: np.ndarray) -> Conditions:
    """The rule's conditions per dose (arrays as ``Backfill.open_doses``; ``unsafe``, the
    design's de-escalation rule per dose): the one home of the rule, read by the simulator
    (``open``) and by ``recommend``, which says why a dose is not open."""
    below = np.arange(n.shape[1]) < level[:, None]
    rate = settings.close_on_dlt_rate
    over_rate = dlt > rate * n if rate is not None else np.zeros(n.shape, bool)
    closed = np.logical_or.accumulate(unsafe | over_rate, axis=1)
    known = responded if settings.require_response else np.ones(n.shape, bool)
    return Conditions(below, treated < settings.max_per_dose, known, unsafe, over_rate, closed)


def with_backfill_room(design: Design) -> Design:
    """``design`` with ``max_patients`` widened by every dose's backfill room: what a wrapped
    design's own rules are built on (the wrapper itself stops at ``max_patients`` escalation
    patients, and the design's tables must reach every count a dose can hold)."""
    most = design.stopping.max_patients + len(design.levels) * design.backfill.max_per_dose
    return dataclasses.replace(
        design, stopping=dataclasses.replace(design.stopping, max_patients=most))


def _rows(states: BackfillStates, rows: np.ndarray) -> BackfillStates:
    return BackfillStates(states.n[rows], states.dlt[rows], states.last_level[rows],
                          states.last_dlt[rows], states.escalated[rows])


def highest(open_doses: np.ndarray) -> np.ndarray:
    """Per row, the highest open dose (``NO_DOSE`` when none is open)."""
    k = open_doses.shape[1]
    top = k - 1 - np.argmax(open_doses[:, ::-1], axis=1)
    return np.where(open_doses.any(axis=1), top, NO_DOSE)
