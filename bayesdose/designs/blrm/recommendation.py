"""The recommendation after a cohort: posterior, allowed doses, next dose, as text and JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from html import escape
from importlib.metadata import version
from typing import Any

import numpy as np
import xarray as xr

from bayesdose.backfill_today import ewoc_closure
from bayesdose.conflict import DEFINITION, FLAG_LEVEL, Conflict, prior_conflict
from bayesdose.data import Patient, TrialData, over_enrolment
from bayesdose.defaults import DEFAULT_SEED
from bayesdose.designs.blrm import crosscheck
from bayesdose.designs.blrm.reachability import reachability_note
from bayesdose.designs.blrm.rules import Decision, decide
from bayesdose.doseformat import rich_text
from bayesdose.inference.exact import ERROR_BOUND
from bayesdose.inference.exnex import MCSE_MARGIN, exnex_summary
from bayesdose.posterior import (
    SUMMARY_VARIABLES,
    exact_batch,
    exact_summary,
    mcmc_summary,
    prior_ess,
)
from bayesdose.schema import Design
from bayesdose.steps import RESPONSES, Step, add_efficacy, response_note


@dataclass(frozen=True)
class Recommendation:
    design: Design
    data: TrialData
    engine: str
    summary: xr.Dataset  # the summary the decision was made on
    decision: Decision
    diagnostics: dict[str, Any]
    borderline: tuple[bool, ...]
    ess: tuple[float, ...]  # the prior's effective sample size per dose (``prior_ess``)
    conflict: Conflict  # the data against the prior's predictions (``prior_conflict``)
    mcmc: xr.Dataset | None = None  # with engine "both": the MCMC summary beside the exact one
    notes: tuple[str, ...] = field(default=())
    sensitivity: tuple[dict[str, Any], ...] = ()  # the decision under each [[sensitivity]] prior
    failures: tuple[str, ...] = ()  # failed MCMC diagnostics, disagreeing engines (crosscheck)

    @property
    def decided_on(self) -> str:
        """The engine whose numbers made the decision: "exact", "mcmc" or "exnex"."""
        return "exact" if self.engine == "both" else self.engine

    def __repr__(self) -> str:
        return f"<Recommendation {self.design.trial.name}: {_next_text(self)}>"

    def __str__(self) -> str:
        return format_table(self)

    def _repr_html_(self) -> str:
        """The per-dose table and the next dose, as HTML (shown by Jupyter)."""
        return to_html(self)


def recommend(design: Design, data: TrialData, engine: str = "exact",
              seed: int = DEFAULT_SEED) -> Recommendation:
    """Posterior summary and decision. ``engine``: "exact" (the decision of record), "mcmc",
    or "both" (decide on exact, report MCMC beside it with its Monte Carlo errors). With
    ``[model] prior = "exnex"`` the EXNEX MCMC fit is the decision of record whatever the
    engine ("both" adds the exact engine on its MAP equivalent to the diagnostics)."""
    engine, summary, diagnostics, mcmc = _summaries(design, data, engine, seed)
    p_over = summary["p_overdose"].values
    decision = _decide(design, data, summary["p_target"].values, p_over)
    tolerance = (MCSE_MARGIN * summary["mcse_p_overdose"].values if engine in ("mcmc", "exnex")
                 else ERROR_BOUND)
    threshold = design.decision.max_overdose_probability
    borderline = tuple(bool(b) for b in np.abs(p_over - threshold) <= tolerance)
    sensitivity = tuple(_under(name, alternative, data)
                        for name, alternative in design.alternatives())
    ess = tuple(float(e) for e in prior_ess(design))
    failures = crosscheck.failures(design.format_dose, engine, diagnostics)
    notes = (*failures, *_notes(design, data, engine, diagnostics, borderline))
    return Recommendation(design, data, engine, summary, decision, diagnostics, borderline,
                          ess, prior_conflict(design, data), mcmc, notes, sensitivity, failures)


def _summaries(design: Design, data: TrialData, engine: str, seed: int,
               ) -> tuple[str, xr.Dataset, dict[str, Any], xr.Dataset | None]:
    """(engine of record, its summary, diagnostics, the MCMC summary shown beside it)."""
    if design.model.prior == "exnex":  # MCMC is the decision of record (no exact engine)
        summary, diagnostics = exnex_summary(design, data, seed)
        if engine == "both":  # the exact engine on the equivalent robust MAP prior beside it
            diagnostics["map_equivalent"] = crosscheck.comparison(exact_summary(design, data)[0],
                                                                  summary)
        return "exnex", summary, diagnostics, None
    if engine == "mcmc":
        return engine, *mcmc_summary(design, data, seed), None
    summary, diagnostics = exact_summary(design, data)
    if engine != "both":
        return engine, summary, diagnostics, None
    mcmc, mcmc_diagnostics = mcmc_summary(design, data, seed)
    return engine, summary, {"exact": diagnostics, "mcmc": mcmc_diagnostics,
                             "comparison": crosscheck.comparison(summary, mcmc)}, mcmc


def _notes(design: Design, data: TrialData, engine: str, diagnostics: dict[str, Any],
           borderline: tuple[bool, ...]) -> tuple[str, ...]:
    """What the statistician must know beside the table."""
    notes = [] if (over := over_enrolment(design, data)) is None else [over]
    if engine != "exnex" and (reach := reachability_note(design)) is not None:
        notes.append(reach)
    if not data.patient_level and design.decision.coherence:
        notes.append(
            "aggregated counts: the order of cohorts is unknown, so the coherence rule "
            "(which reads the last cohort) was not applied"
        )
    pending = data.pending_patients
    if pending and design.cohorts.followup == "complete":
        notes.append(f"{len(pending)} patient(s) still in DLT follow-up are not yet counted "
                     "in the model ([cohorts] followup = 'complete')")
    if data.excluded:
        ids = ", ".join(p.patient_id for p in data.excluded)
        notes.append(f"not evaluable, left out of the model: {ids}")
    if engine == "exnex":
        check = diagnostics["ewoc_check"]
        notes.append(
            f"EXNEX (MCMC, the decision of record): posterior probability that this trial is "
            f"exchangeable with the historical trials {diagnostics['p_exchangeable']:.3f} "
            f"(prior {design.model.hierarchy.ex_probability:g}); EWOC verdicts checked "
            f"against {MCSE_MARGIN:g} MCSE with {check['rounds'][-1]['draws']} draws per chain")
    if any(borderline):
        close = [design.format_dose(d) for d, b in zip(design.levels, borderline, strict=True) if b]
        notes.append(
            "P(overdosing) is within the engine's error of the EWOC threshold at "
            + ", ".join(close)
        )
    return tuple(notes)


def _decide(design: Design, data: TrialData, p_target: np.ndarray,
            p_overdose: np.ndarray) -> Decision:
    complete = None if data.pending is None else data.complete
    return decide(design, data.n, data.dlt, p_target, p_overdose, data.last_cohort, complete,
                  data.escalated)


def _under(name: str, design: Design, data: TrialData) -> dict[str, Any]:
    """The decision under an alternative prior (``[[sensitivity]]``), by the exact engine."""
    batch = exact_batch(design, data)
    decision = _decide(design, data, batch.p_target[0], batch.p_overdose[0])
    return {"name": name, "next_dose": _level(design, decision.next_level),
            "cohort_size": decision.cohort_size, "stop_reason": decision.stop_reason,
            "mtd": _level(design, decision.mtd_level)}


def _level(design: Design, level: int | None) -> float | None:
    return None if level is None else design.panel.dose(level)


def to_json(rec: Recommendation) -> dict[str, Any]:
    """The JSON document of ``recommend --json`` (inputs' hashes are added by the caller)."""
    design, decision, s = rec.design, rec.decision, rec.summary
    doses = []
    for k, dose in enumerate(design.levels):
        entry = {
            "dose": float(dose), "n": int(rec.data.n[k]), "dlt": int(rec.data.dlt[k]),
            **rec.data.response_counts(k),
            **{name: float(s[name].values[k]) for name in SUMMARY_VARIABLES},
            "allowed": decision.allowed[k], "barred_by": decision.barred_by[k],
            "why_barred": decision.why_barred[k],
            "borderline": rec.borderline[k],
        }
        for name in ("mcse_p_underdose", "mcse_p_target", "mcse_p_overdose", "mcse_mean"):
            if name in s:
                entry[name] = float(s[name].values[k])
        entry["predictive"] = [float(p) for p in s["predictive"].values[k]]
        if rec.mcmc is not None:
            entry["mcmc"] = {name: float(rec.mcmc[name].values[k]) for name in rec.mcmc
                             if name != "predictive"}
            entry["mcmc"]["predictive"] = [float(p) for p in rec.mcmc["predictive"].values[k]]
        doses.append(entry)
    return {
        "trial": design.trial.name,
        "next_dose": _level(design, decision.next_level),
        "cohort_size": decision.cohort_size,
        "phase": decision.phase,
        "current_dose": _level(design, decision.current_level),
        "direction": decision.direction,
        "stop": decision.stop,
        "stop_reason": decision.stop_reason,
        "mtd": _level(design, decision.mtd_level),
        "ewoc_met": decision.ewoc_met,
        "reason": decision.reason,
        "notes": list(rec.notes),
        "engine": rec.engine,
        "decided_on": rec.decided_on,
        "mcmc_failures": list(rec.failures),
        "unit": design.doses.unit,
        "prior": {**design.prior.as_dict(), "kind": _prior_kind(design), "ess": list(rec.ess),
                  "conflict": _conflict_json(rec.conflict)},
        "as_of": None if rec.data.as_of is None else rec.data.as_of.isoformat(),
        "pending": [_pending_entry(design, p) for p in rec.data.pending_patients],
        "excluded": [p.patient_id for p in rec.data.excluded],
        "predictive_cohort_size": design.cohorts.size,
        "doses": doses,
        "sensitivity": list(rec.sensitivity),
        "diagnostics": rec.diagnostics,
        "version": version("bayesdose"),
    }


def _conflict_json(conflict: Conflict) -> dict[str, Any]:
    return {"per_dose": [asdict(d) for d in conflict.per_dose], "overall_p": conflict.overall_p,
            "method": conflict.method, "mcse": conflict.mcse, "flagged": conflict.flagged,
            "definition": DEFINITION}


def _prior_kind(design: Design) -> str:
    """'normal' or 'mixture' (the prior's family), or 'map' or 'exnex' (where it came from:
    its mixture is in the document beside the kind)."""
    return design.model.prior if design.model.prior in ("map", "exnex") else design.prior.kind


def _pending_entry(design: Design, patient: Patient) -> dict[str, Any]:
    window = design.cohorts.dlt_window_days
    return {
        "patient_id": patient.patient_id,
        "dose": design.panel.dose(patient.level),
        "days_followed": patient.days_followed,
        "weight": patient.days_followed / window,
    }


COLUMNS = ("dose", "n", "DLT", "mean", "95% interval", "P(under)", "P(target)", "P(over)",
           "prior ESS")
WIDTHS = (16, 3, 3, 6, 15, 8, 9, 8, 9)  # of the printed table; then "allowed"
AFTER_DLT = 3  # where the responses column goes, when the data have one (steps.RESPONSES)


def _layout(rec: Recommendation) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The printed table's column titles and widths (before "allowed"): ``COLUMNS``, and the
    responses column after DLT when the data have a ``response`` column."""
    titles, widths = ("dose" + _unit(rec.design), *COLUMNS[1:]), WIDTHS
    if rec.data.has_responses:
        titles = (*titles[:AFTER_DLT], RESPONSES.title, *titles[AFTER_DLT:])
        widths = (*widths[:AFTER_DLT], len(RESPONSES.title), *widths[AFTER_DLT:])
    return titles, widths


def engine_label(engine: str) -> str:
    """The engine a recommendation ran, as the outputs name it ("both": the exact engine
    decides, MCMC is shown beside it)."""
    return "exact engine, MCMC beside it" if engine == "both" else f"{engine} engine"


def _title(rec: Recommendation) -> str:
    lo, hi = rec.design.decision.target_interval
    return (f"{rec.design.trial.name}: posterior ({engine_label(rec.engine)}), target interval "
            f"[{lo:g}, {hi:g}), EWOC P(over) < {rec.design.decision.max_overdose_probability:g}")


def _dose_rows(rec: Recommendation) -> list[tuple[tuple[str, ...], str]]:
    """Per dose, the cells of ``COLUMNS`` as printed and whether (or why not) it is allowed."""
    design, decision, s = rec.design, rec.decision, rec.summary
    rows = []
    for k, dose in enumerate(design.levels):
        barred = decision.barred_by[k]
        status = "yes" if barred is None else "no: " + decision.why_barred[k]
        if rec.borderline[k]:
            status += " (borderline)"
        cells = (design.panel.number(dose), str(int(rec.data.n[k])), str(int(rec.data.dlt[k])),
                 f"{s['mean'].values[k]:.3f}",
                 f"[{s['q025'].values[k]:.3f}, {s['q975'].values[k]:.3f}]",
                 f"{s['p_underdose'].values[k]:.3f}", f"{s['p_target'].values[k]:.3f}",
                 f"{s['p_overdose'].values[k]:.3f}", f"{rec.ess[k]:.1f}")
        if rec.data.has_responses:
            cell = RESPONSES.cell(rec.data.response_counts(k))
            cells = (*cells[:AFTER_DLT], cell, *cells[AFTER_DLT:])
        rows.append((cells, status))
    return rows


def _unit(design: Design) -> str:
    return f" ({design.doses.unit})" if design.doses.unit else ""


def format_table(rec: Recommendation) -> str:
    """The per-dose table and the recommendation, as printed by ``bayesdose recommend``."""
    design, decision = rec.design, rec.decision
    titles, widths = _layout(rec)
    header = " ".join(f"{t:>{w}}" for t, w in zip(titles, widths, strict=True)) + "  allowed"
    lines = [_title(rec), header]
    for cells, status in _dose_rows(rec):
        row = " ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
        lines.append(f"{row}  {status}")
    if (responses := response_note(design, rec.data)) is not None:
        lines.append(responses)
    if design.prior.explanation:  # derived from the panel, or a mixture
        lines.append(f"prior: {design.prior.explanation}")
    lines.extend(conflict_lines(rec))
    for patient in rec.data.pending_patients:
        entry = _pending_entry(design, patient)
        lines.append(
            f"pending: {patient.patient_id} at {design.format_dose(entry['dose'])}, "
            f"{patient.days_followed} of {design.cohorts.dlt_window_days} days without DLT "
            f"(weight {entry['weight']:.3f}) as of {rec.data.as_of}"
        )
    for heading, titles, rows, remarks in _tables(rec):
        lines += ["", heading, *_aligned(titles, rows), *remarks]
    lines.append("")
    decided = crosscheck.decided_on(rec)
    if decided is not None:
        lines.append(decided)
    lines.append(f"{_next_text(rec)} — {decision.reason}")
    lines.extend(_sensitivity_lines(rec))
    lines.extend(f"note: {note}" for note in rec.notes)
    return "\n".join(lines)


Table = tuple[str, tuple[str, ...], list[tuple[str, ...]], list[str]]


def _tables(rec: Recommendation) -> list[Table]:
    """The tables under the posterior, each (heading, column titles, rows, lines under it):
    the predictive probabilities for the next cohort and, when MCMC ran, its estimates."""
    tables = [_predictive_table(rec)]
    sampler = crosscheck.sampler_diagnostics(rec.engine, rec.diagnostics)
    if sampler is not None:
        remarks = [crosscheck.diagnostics_text(sampler)]
        if rec.engine == "both":
            remarks.append(crosscheck.comparison_text(rec.design.format_dose,
                                                      rec.diagnostics["comparison"]))
        titles = ("dose" + _unit(rec.design), *crosscheck.COMPARED.values())
        tables.append((crosscheck.heading(rec), titles, crosscheck.rows(rec), remarks))
    return tables


def _predictive_table(rec: Recommendation) -> Table:
    """Per dose, the posterior predictive probability of 0 .. n DLTs in a next cohort of the
    configured size n (whatever the next cohort's size: with titration it is 1), from the
    posterior the decision was made on."""
    size = rec.design.cohorts.size
    heading = (f"DLTs in a cohort of {size} ([cohorts] size) at each dose: posterior "
               f"predictive probability ({rec.decided_on} engine)")
    titles = ("dose" + _unit(rec.design),
              *(f"{k} DLT{'' if k == 1 else 's'}" for k in range(size + 1)))
    rows = [(rec.design.panel.number(dose),
             *(f"{p:.3f}" for p in rec.summary["predictive"].values[k]))
            for k, dose in enumerate(rec.design.levels)]
    return heading, titles, rows, []


def _aligned(titles: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """A table as lines of text, each column right-aligned to its widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(titles, *rows, strict=True)]
    return ["  ".join(f"{cell:>{w}}" for cell, w in zip(line, widths, strict=True))
            for line in (titles, *rows)]


def _sensitivity_lines(rec: Recommendation) -> list[str]:
    """The decision under each alternative prior, one line each."""
    lines = []
    for entry in rec.sensitivity:
        if entry["stop_reason"] is not None:
            mtd = "none" if entry["mtd"] is None else rec.design.format_dose(entry["mtd"])
            step = f"STOP ({entry['stop_reason']}), MTD {mtd}"
        else:
            step = (f"next: {rec.design.format_dose(entry['next_dose'])}, cohort of "
                    f"{entry['cohort_size']}")
        lines.append(f"under the prior '{entry['name']}': {step}")
    return lines


def conflict_lines(rec: Recommendation) -> list[str]:
    """Box's p-value and the per-dose upper tails; when flagged, what disagrees."""
    conflict, design = rec.conflict, rec.design
    if not conflict.per_dose:
        return ["prior-data conflict: no patient with a final outcome yet"]
    how = ("by enumeration" if conflict.mcse is None
           else f"Monte Carlo, standard error {conflict.mcse:.3f}")
    tails = ", ".join(f"{design.panel.number(d.dose)}: {d.p_upper:.3f}" for d in conflict.per_dose)
    lines = [f"prior-data conflict: overall p = {conflict.overall_p:.3f} (Box's prior "
             f"predictive p-value, {how}); per dose P(DLTs >= observed): {tails}"]
    if conflict.flagged:
        what = ([f"overall p {conflict.overall_p:.3f}"]
                if conflict.overall_p < FLAG_LEVEL else [])
        what += [f"more DLTs than it expected at {design.format_dose(d.dose)} ({d.dlt} of "
                 f"{d.n}, expected {d.expected:.2f}; P(DLTs >= {d.dlt}) = {d.p_upper:.3f})"
                 for d in conflict.per_dose if d.p_upper < FLAG_LEVEL]
        lines.append(f"the data disagree with the prior: {'; '.join(what)}. Below "
                     f"{FLAG_LEVEL:g} is a reading aid, not a rule: weigh the prior ESS and "
                     "the decision under other priors")
    return lines


def _next_text(rec: Recommendation) -> str:
    """The next dose or the stop, without the reason."""
    design, decision = rec.design, rec.decision
    if decision.stop:
        return f"STOP ({decision.stop_reason.replace('_', ' ')})"
    step = (f"next: {design.panel.label(decision.next_level)}, cohort of "
            f"{decision.cohort_size}: {direction_text(decision, design.panel.label)}")
    return step + (" (titration)" if decision.phase == "titration" else "")


def direction_text(decision: Decision, label: Callable[[int], str]) -> str:
    """The step from the last cohort's dose: 'escalate from 1 mg', 'stay at 2 mg', ...
    (``label`` writes a dose level as the output does)."""
    if decision.current_level is None:
        return decision.direction
    preposition = "at" if decision.direction == "stay" else "from"
    return f"{decision.direction} {preposition} {label(decision.current_level)}"


def to_html(rec: Recommendation) -> str:
    """The table of ``format_table`` as an HTML fragment, every text escaped, doses as HTML
    writes them (``rich_text``)."""
    design, decision = rec.design, rec.decision
    titles = (*_layout(rec)[0], "allowed")
    head = "".join(f"<th>{escape(t)}</th>" for t in titles)
    rows = []
    for cells, status in _dose_rows(rec):
        row = "".join(f"<td>{escape(c)}</td>" for c in (*cells, status))
        rows.append(f"<tr>{row}</tr>" if status.startswith("yes")
                    else f'<tr class="barred">{row}</tr>')
    responses = response_note(design, rec.data)
    notes = "".join(f"<li>{escape(n)}</li>" for n in (*_sensitivity_lines(rec), *rec.notes,
                                                      *filter(None, [responses])))
    pending = "".join(
        f"<li>pending: {escape(p.patient_id)}, {p.days_followed} of "
        f"{design.cohorts.dlt_window_days} days without DLT</li>"
        for p in rec.data.pending_patients)
    decided = crosscheck.decided_on(rec)
    return rich_text(
        f"<div><p>{escape(_title(rec))}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + "".join(f"<p>{escape(line)}</p>" for line in conflict_lines(rec))
        + "".join(_html_table(*table) for table in _tables(rec))
        + (f"<p>{escape(decided)}</p>" if decided is not None else "")
        + f"<p><b>{escape(_next_text(rec))}</b> — {escape(decision.reason)}</p>"
        + (f"<ul>{pending}{notes}</ul>" if pending or notes else "") + "</div>"
    )


def _html_table(heading: str, titles: tuple[str, ...], rows: list[tuple[str, ...]],
                remarks: list[str]) -> str:
    """One of ``_tables`` as HTML, every text escaped."""
    head = "".join(f"<th>{escape(t)}</th>" for t in titles)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return (f"<p>{escape(heading)}</p><table><thead><tr>{head}</tr></thead><tbody>{body}"
            "</tbody></table>" + "".join(f"<p>{escape(r)}</p>" for r in remarks))


def blrm_step(name: str, design: Design, data: TrialData, engine: str, seed: int) -> Step:
    """BLRM-EWOC's next step on real data (``recommend``), as every design's step is given
    (two drugs: the combination BLRM's, ``designs.blrm_comb.recommendation``)."""
    if design.is_combination:
        from bayesdose.designs.blrm_comb.recommendation import combination_step

        return combination_step(design, data, engine, seed=seed)
    result = recommend(design, data, engine=engine, seed=seed)
    document = to_json(result)
    closure = ewoc_closure(design, result.summary["p_overdose"].values)
    extra = add_efficacy(name, design, data, document, closure)
    return Step(document, "\n".join([format_table(result), *extra]), design.panel, result)
