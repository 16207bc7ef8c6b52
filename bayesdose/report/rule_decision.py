"""A picture and a page of another design's step: ``recommend --design NAME --plot/--html``.

The figure shows the observed DLT rate per dose (marker area by the number of patients, the
counts written by it; the backfill patients' own beside it, from the trial data) with the
design's own layers (``steps.Details.draw``: BOIN's
boundaries and eliminated doses, the CRM's skeleton and model curve with its interval); the
current dose (the last cohort's) and the next are marked above the doses, whose labels are
turned or thinned as BLRM-EWOC's figure does at many doses (``figures.fit_tick_labels``). The
page is the step, the rule that decided it, the design's numbers, the figure, the trial-progress
plot (``report.progress``) and the per-dose table, for the escalation meeting's minutes. Both
read the step (its JSON document and ``Details``) as it is: nothing is recomputed. Doses are
written in the panel's ``[doses] format`` as HTML and figures write it (``3×10⁸``); the
sentences of the document, written as plain text (``3x10^8``), pass the ``rich_doses`` filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bayesdose.data import TrialData
from bayesdose.designs.registry import label
from bayesdose.report.words import design_descriptions
from bayesdose.schema import Design
from bayesdose.steps import Step, dose_rows, move_text, step_headline


def target_line(ax: Any, target: float) -> None:
    """The design's point target as a dotted horizontal line (BOIN, CRM)."""
    from bayesdose.report.text import number

    ax.axhline(target, color="#111111", ls=":", lw=1.3, label=f"target {number(target)}")


def rule_figure(design: Design, step: Step, data: TrialData) -> Any:
    """The observed DLT rates (and the backfill patients' own, from the trial ``data``) with
    the design's layers and the step marked."""
    from bayesdose.report.figures import styled

    return styled(_draw)(design, step, data)


def _draw(design: Design, step: Step, data: TrialData) -> Any:
    import numpy as np

    from bayesdose.report.decision import NEXT_INK, STOP_INK
    from bayesdose.report.figures import (
        backfill_rates,
        dose_axis,
        fit_tick_labels,
        new_figure,
        observed_rates,
    )
    from bayesdose.report.text import dose_number

    document = step.document
    fig = new_figure(8.0, 4.2)
    ax = fig.subplots()
    n = np.array([e["n"] for e in document["doses"]])
    dlt = np.array([e["dlt"] for e in document["doses"]])
    if step.details is not None and step.details.draw is not None:
        step.details.draw(ax)
    handles = (ax.get_legend_handles_labels()[0] + observed_rates(ax, n, dlt)
               + backfill_rates(ax, *data.backfill_counts))
    for k, mark in _marks(design, document).items():  # above the axes, clear of a rate of 1
        ax.annotate(mark, (k, 1), xycoords=("data", "axes fraction"), xytext=(0, 12),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7.5,
                    fontweight="bold" if "next" in mark else "normal")
    ax.set_ylim(0, 1)
    ax.set_ylabel("DLT rate")
    ax.set_title(f"{label(document['design'])}: observed DLT rates", pad=24)
    dose_axis(ax, [dose_number(design, d) for d in design.levels], design.doses.unit)
    if handles:  # nothing to explain before the first patient (3+3)
        fig.legend(handles=handles, loc="outside lower center", ncols=3)
    fig.suptitle(f"{design.trial.name}: after {int(n.sum())} patients\n"
                 f"{step_headline(document, lambda d: design.panel.format(d, rich=True))}",
                 parse_math=False, fontsize=10, x=0.01, ha="left",
                 color=STOP_INK if document["stop"] else NEXT_INK)
    fit_tick_labels(fig, ax)
    return fig


def _marks(design: Design, document: dict[str, Any]) -> dict[int, str]:
    """The words above the doses: the current dose, and the next one (or the MTD on a stop)."""
    marks: dict[int, str] = {}
    for key, word in (("current_dose", "current"), ("next_dose", "next"), ("mtd", "MTD")):
        if document[key] is not None:
            k = design.panel.index(document[key])
            marks[k] = f"{marks[k]}, {word}" if k in marks else word
    return marks


def write_outputs(step: Step, design: Design, data: TrialData, plot: Path | None,
                  html: Path | None) -> None:
    """``recommend --design NAME --plot`` and ``--html`` (``data``: the trial, for the page's
    progress plot)."""
    from bayesdose.report.decision import plot_format
    from bayesdose.report.figures import to_bytes
    from bayesdose.report.render import write

    if plot is not None:
        write(plot, to_bytes(rule_figure(design, step, data), plot_format(plot)), "plot")
    if html is not None:
        write(html, rule_html(design, step, data), "HTML report")


def _headline(design: Design, document: dict[str, Any]) -> str:
    from bayesdose.report.text import dose, patients

    def written(value: float) -> str:
        return dose(design, design.panel.index(value))

    if document["wait"]:
        return "Wait for the last cohort's DLT follow-up"
    if document["stop"]:
        mtd = document["mtd"]
        return (f"Stop the trial ({document['stop_reason'].replace('_', ' ')})"
                + ("" if mtd is None else f": MTD {written(mtd)}"))
    return (f"Next cohort: {written(document['next_dose'])}, "
            f"{patients(document['cohort_size'])} ({move_text(document, written)})")


def rule_html(design: Design, step: Step, data: TrialData) -> str:
    """The one-page report of another design's step on the trial ``data``."""
    from bayesdose.report import provenance
    from bayesdose.report.decision import backfill_text
    from bayesdose.report.figures import data_uri
    from bayesdose.report.progress import progress_figure
    from bayesdose.report.render import render
    from bayesdose.report.text import dlts, dose, patients

    document, details = step.document, step.details
    titles, rows = dose_rows(design, document, details)
    cells = []
    for k, (entry, row) in enumerate(zip(document["doses"], rows, strict=True)):
        own = [(c.key, entry[c.key], text) for c, text in
               zip(details.columns, row[3:], strict=True)]
        cells.append({"dose": dose(design, k), "n": entry["n"], "dlt": entry["dlt"],
                      "own": own, "next": entry["dose"] == document["next_dose"]})
    n = sum(e["n"] for e in document["doses"])
    return render(
        "rule_decision.html", design=design, document=document, details=details,
        name=label(document["design"]),
        description=design_descriptions(design, [document["design"]])[document["design"]],
        headline=_headline(design, document), titles=titles[3:], rows=cells,
        backfill_text=backfill_text(design, document),
        figure=data_uri(rule_figure(design, step, data)),
        progress=data_uri(progress_figure(design, data, document)),
        treated=patients(n), dlts=dlts(sum(e["dlt"] for e in document["doses"])),
        generator=provenance.generator(), generated=provenance.utc_now(),
    )
