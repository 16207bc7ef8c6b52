"""The design report as one self-contained HTML page: the six sections of numbers, words and
figures put into ``templates/report.html``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bayesdose.designs.registry import label as design_label
from bayesdose.report import charts, oc, pathways, provenance, words
from bayesdose.report.figures import data_uri
from bayesdose.report.prior import historical_rows, prior_alternatives, prior_per_dose
from bayesdose.report.render import render
from bayesdose.report.simulated_study import Study
from bayesdose.report.text import dose, dose_number, number, probability
from bayesdose.schema import Design


@dataclass(frozen=True)
class PathwayCell:
    """A pathway table cell as shown: the cohort's outcome and what follows (``repeat``: as in
    the row above, the same step on another pathway)."""

    outcome: str
    then: str
    detail: str
    kind: str  # "go", "stop", "safety", "blank"
    repeat: bool
    colspan: int


def _then(design: Design, step: pathways.Step) -> tuple[str, str, str]:
    """(what the design does next, the posterior detail, the kind of step)."""
    d = step.decision
    if d.stop_reason == "safety":
        return "stop for safety", "", "safety"
    if d.stop:
        mtd = "none" if d.mtd_level is None else dose(design, d.mtd_level)
        why = "MTD declared" if d.stop_reason == "mtd_declared" else "maximum sample size"
        return f"stop: {why}; MTD {mtd}", "", "stop"
    text = f"{dose(design, d.next_level)} × {d.cohort_size}"
    if not d.ewoc_met:
        text += " (EWOC not met)"
    detail = f"P(target) {probability(step.p_target)}, P(over) {probability(step.p_overdose)}"
    return text, detail, "go"


def pathway_table(design: Design, root: pathways.Step, depth: int) -> list[list[PathwayCell]]:
    rows = []
    for row in pathways.table_rows(root, depth):
        cells = []
        for cell in row:
            if cell.step is None:
                cells.append(PathwayCell("", "", "", "blank", False, 2 * cell.colspan))
                continue
            last = cell.step.cohorts[-1]
            then, detail, kind = _then(design, cell.step)
            outcome = f"{last.dlts}/{last.size} at {dose_number(design, design.levels[last.level])}"
            cells.append(PathwayCell(outcome, then, detail, kind, cell.repeat, 1))
        rows.append(cells)
    return rows


@dataclass(frozen=True)
class ReportInputs:
    """What the report was made from, for section 6."""

    config: Path
    scenarios: Path
    command: str


def report_html(design: Design, study: Study, inputs: ReportInputs,
                pathway_cohorts: int | None = None) -> str:
    """The whole design report page."""
    summary = study.summary
    prior = prior_per_dose(design)
    root, depth = pathways.pathway_tree(design, pathway_cohorts)
    start, _, _ = _then(design, root)
    scenarios = [
        {"tables": oc.scenario_tables(design, summary, entry),
         "figure": data_uri(charts.scenario_figure(design, entry))}
        for entry in summary["scenarios"]
    ]
    files = [provenance.input_file("design config", inputs.config),
             provenance.input_file("scenarios", inputs.scenarios),
             provenance.input_file("simulation summary", study.path)]
    names = list(summary["scenarios"][0]["designs"])
    descriptions = words.design_descriptions(design, names)
    context: dict[str, Any] = {
        "design": design,
        "summary": summary,
        "study": study,
        "number": number,
        "dose_number": lambda x: dose_number(design, x),
        "probability": probability,
        "dose_panel": words.dose_panel(design),
        "trial_items": words.trial_items(design),
        "rule_items": words.rule_items(design),
        "prior": prior,
        "prior_doses": [dose(design, p.level) for p in prior],
        "prior_figure": data_uri(charts.prior_figure(design, prior)),
        "historical": historical_rows(design),
        "map_fit": _map_fit(design),
        "alternatives": prior_alternatives(design),
        "compared": [(design_label(n), descriptions.get(n, "")) for n in names],
        "omitted": [(design_label(n), why) for n, why in study.omitted.items()],
        "scenarios": scenarios,
        "trials": _trials(summary),
        "pathway_start": start,
        "pathway_depth": depth,
        "pathway_rows": pathway_table(design, root, depth),
        "pathway_leaves": root.leaves,
        "pathway_figure": data_uri(charts.pathway_figure(design, root, depth)),
        "files": files,
        "versions": provenance.package_versions(),
        "command": inputs.command,
        "generated": provenance.utc_now(),
        "generator": provenance.generator(),
    }
    return render("report.html", **context)


def _map_fit(design: Design) -> dict[str, Any] | None:
    """How a MAP (or EXNEX) prior was derived: the fit, and its hierarchy in words."""
    if design.model.prior not in ("map", "exnex"):
        return None
    from bayesdose.models.hierarchy import Hierarchy
    from bayesdose.models.map_prior import map_prior

    return {"fit": map_prior(design), "hierarchy": Hierarchy.of(design).describe()}


def _trials(summary: dict[str, Any]) -> int | None:
    """Simulated trials per scenario and design (None for exact results)."""
    for entry in summary["scenarios"]:
        for oc_entry in entry["designs"].values():
            if oc_entry.get("trials"):
                return int(oc_entry["trials"])
    return None
