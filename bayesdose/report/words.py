"""The trial, its rules and the compared designs in words a clinician reads (sections 1 and 3
of the design report). Every value comes from the design config; the templates escape the
text."""

from __future__ import annotations

from dataclasses import dataclass

from bayesdose.report.text import dose, number, patients
from bayesdose.schema import Design


@dataclass(frozen=True)
class Item:
    """One titled statement of a section."""

    title: str
    text: str


@dataclass(frozen=True)
class DoseRow:
    """One row of the dose panel."""

    level: int  # 1-based, as a clinician counts
    dose: str
    notes: str


def dose_panel(design: Design) -> list[DoseRow]:
    """Each dose level, marking the start dose, the reference dose and the titration levels."""
    rows = []
    for k, level in enumerate(design.levels):
        notes = []
        if k == design.start_level:
            notes.append("start dose")
        if level == design.reference_dose:
            notes.append("reference dose d_ref of the model")
        if design.start_level <= k < design.cohorts.titration_until_level:
            notes.append("accelerated titration")
        rows.append(DoseRow(k + 1, dose(design, k), ", ".join(notes)))
    return rows


def trial_items(design: Design) -> list[Item]:
    """Section 1: cohorts, titration, DLT window and sample size."""
    c, size = design.cohorts, design.cohorts.size
    until = c.titration_until_level
    if until > design.start_level:
        titration = (
            f"Single-patient cohorts, one dose level at a time, while the next dose is at or "
            f"below level {until} ({dose(design, until - 1)}) and no DLT has been seen; after "
            f"the first DLT or above level {until}, cohorts of {size}."
        )
    else:
        titration = f"None: every cohort has {patients(size)}."
    return [
        Item("Cohorts", f"Cohorts of {patients(size)}; the first cohort receives "
                        f"{dose(design, design.start_level)} (level {design.start_level + 1})."),
        Item("Accelerated titration", titration),
        Item("DLT window", _window(design)),
        Item("Maximum sample size", f"{patients(design.stopping.max_patients)}; the last "
                                    f"cohort is cut to fit."),
    ]


def _window(design: Design) -> str:
    c = design.cohorts
    if c.dlt_window_days == 0:
        return "Not set: each outcome is final when it is recorded."
    if c.followup == "tite":
        followup = (f"patients still in follow-up count with weight days followed / "
                    f"{c.dlt_window_days} (time-to-event, TITE)")
    else:
        followup = "patients still in follow-up are left out of the model until their window ends"
    return (f"{c.dlt_window_days} days from the first dose; {followup}. Escalation to an untried "
            f"dose needs at least {patients(c.min_complete_followup)} who completed the window "
            f"(or had a DLT) at the highest dose given so far.")


def rule_items(design: Design) -> list[Item]:
    """Section 3: the decision, escalation, stopping and MTD rules."""
    d, s = design.decision, design.stopping
    lo, hi = (number(x) for x in d.target_interval)
    ewoc = number(d.max_overdose_probability)
    items = [
        Item("Target interval", f"A true DLT rate in [{lo}, {hi}) is the target; below {lo} "
                                f"is under-dosing, {hi} or above is overdosing."),
        Item("Escalation with overdose control (EWOC)",
             f"A dose may be given only when the posterior probability of overdosing, "
             f"P(DLT rate ≥ {hi}), is below {ewoc}."),
        Item("Next dose", "Among the doses allowed, the one with the highest posterior "
                          "probability of target toxicity (ties go to the lower dose)."),
        Item("Increments", f"The next dose is at most {number(1 + d.max_increment)} times "
                           f"the highest dose given so far; the next level up is never "
                           f"barred by this limit."),
        Item("Skipping", "Untried doses may be skipped, within the increment limit."
             if d.allow_skipping else
             "No untried dose is skipped: escalation goes one level at a time."),
    ]
    if d.coherence:
        items.append(Item("Coherence", "No escalation right after a cohort with a DLT; no "
                                       "de-escalation right after a cohort without one, unless "
                                       "EWOC bars that dose."))
    items += [
        Item("When no dose meets EWOC",
             f"Stop for safety when at least {patients(s.safety_min_patients)} had the lowest "
             f"dose and P(DLT rate at the lowest dose ≥ {hi}) is above "
             f"{number(s.safety_probability)}; otherwise the next cohort receives the lowest "
             f"dose, recorded as not meeting EWOC."),
        Item("MTD", f"The maximum tolerated dose is declared, and the trial stops, when the "
                    f"recommended dose has been given to at least "
                    f"{patients(s.mtd_min_patients)} and its probability of target toxicity is "
                    f"at least {number(s.mtd_min_p_target)}."),
        Item("End of the trial", f"At {patients(s.max_patients)} the trial stops; the MTD is "
                                 f"the dose with the highest probability of target toxicity "
                                 f"among the doses given that EWOC allows (none if no dose "
                                 f"given is allowed)."),
    ]
    return items


def design_descriptions(design: Design, names: list[str]) -> dict[str, str]:
    """What each compared design (and the benchmark) is, by its name in the summary."""
    from bayesdose.designs.registry import ENTRIES, base_name, is_backfill

    def describe(name: str) -> str:
        if is_backfill(name) and base_name(name) in ENTRIES:
            return f"{ENTRIES[base_name(name)].describe(design)} {backfill_words(design, name)}"
        return ENTRIES[name].describe(design) if name in ENTRIES else ""

    return {name: describe(name) for name in names}


def backfill_words(design: Design, name: str) -> str:
    """The backfill of ``NAME+backfill`` in words (docs/backfill.md, "Rules")."""
    from bayesdose.designs.registry import base_name, hook

    settings = design.backfill
    response = " and has shown a response" if settings.require_response else ""
    rate = ("" if settings.close_on_dlt_rate is None else
            f", or where its observed DLT rate exceeds {number(settings.close_on_dlt_rate)}")
    closes = getattr(hook(base_name(name), "backfill"), "closes", "closed where the design "
                     "de-escalates")
    return (f"With backfill: while the escalation cohort is in DLT follow-up, a newly arriving "
            f"patient joins the highest open dose below the escalation dose, or is referred "
            f"away when none is open. A dose is open while it holds fewer than "
            f"{settings.max_per_dose} patients{response}; it is {closes}{rate}, with every "
            f"dose above it. Backfill patients come on top of the "
            f"escalation's and count in every later decision. At the end, the optimal "
            f"biological dose (OBD) is the dose up to the MTD with the highest expected "
            f"utility of toxicity and response (utility "
            f"{', '.join(number(u) for u in design.optimisation.utility)}).")
