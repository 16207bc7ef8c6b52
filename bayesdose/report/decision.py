"""A picture and a page of one decision: ``bayesdose recommend --plot PATH`` and ``--html PATH``
(another design's step: ``rule_decision``).

The figure shows the posterior DLT curve (mean and 95% band) with the target interval, and the
interval probabilities per dose as stacked bars with the EWOC threshold. The page is the
decision, the figure and the per-dose table of the recommendation, for the escalation meeting's
minutes. Both read the Recommendation, and the JSON document of ``recommend --json``, as they
are: nothing is recomputed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesdose.designs.blrm.recommendation import (
    Recommendation,
    conflict_lines,
    direction_text,
)
from bayesdose.designs.registry import colour as design_colour
from bayesdose.errors import InputError

if TYPE_CHECKING:
    from bayesdose.schema import Design
    from bayesdose.steps import Step

PLOT_SUFFIXES = {".png": "png", ".svg": "svg"}


def plot_format(path: Path) -> str:
    """``png`` or ``svg``, from the file name; anything else is the user's mistake."""
    fmt = PLOT_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError("--plot", str(path), "expected a file name ending in .png or .svg")
    return fmt


def check_request(plot: Path | None) -> None:
    """Refuse a bad ``--plot`` request before anything is computed."""
    if plot is not None:
        plot_format(plot)


def write_outputs(step: Step, design: Design, plot: Path | None, html: Path | None) -> None:
    """``recommend --plot`` and ``--html``: BLRM-EWOC's posterior, or another design's step
    (``rule_decision``)."""
    rec = step.recommendation
    if rec is None:
        from bayesdose.report.rule_decision import write_outputs as write_rule_outputs

        write_rule_outputs(step, design, plot, html)
        return
    if plot is not None:
        write_plot(rec, plot)
    if html is not None:
        write_html(rec, step.document, html)


def posterior_figure(rec: Recommendation) -> Any:
    """The two panels of a decision: the DLT curve and the interval probabilities."""
    from bayesdose.report.figures import styled

    return styled(_draw)(rec)


def _draw(rec: Recommendation) -> Any:
    import numpy as np

    from bayesdose.report.figures import (
        OVER,
        TARGET,
        TARGET_BAND,
        UNDER,
        dose_axis,
        new_figure,
        observed_rates,
    )
    from bayesdose.report.text import number

    fig = new_figure(9.0, 3.6)
    design, s, decision = rec.design, rec.summary, rec.decision
    lo, hi = design.decision.target_interval
    threshold = design.decision.max_overdose_probability
    labels = [number(d) for d in design.levels]
    x = np.arange(len(labels))
    n, dlt = rec.data.n, rec.data.dlt
    curve, bars = fig.subplots(1, 2)

    curve.axhspan(lo, hi, color=TARGET_BAND, alpha=0.13, lw=0, label="target interval")
    blrm = design_colour("blrm")
    curve.fill_between(x, s["q025"].values, s["q975"].values, color=blrm, alpha=0.18,
                       lw=0, label="95% interval")
    curve.plot(x, s["mean"].values, "-o", color=blrm, ms=4, label="posterior mean")
    observed_rates(curve, n, dlt)
    curve.set_ylim(0, 1)
    curve.set_ylabel("P(DLT)")
    curve.set_title("Posterior DLT curve")
    dose_axis(curve, labels, design.doses.unit)
    curve.legend(loc="upper left")

    p_over, p_target = s["p_overdose"].values, s["p_target"].values
    bars.bar(x, p_over, 0.6, color=OVER, label="P(overdosing)")
    bars.bar(x, p_target, 0.6, bottom=p_over, color=TARGET, label="P(target)")
    bars.bar(x, s["p_underdose"].values, 0.6, bottom=p_over + p_target, color=UNDER,
             label="P(under-dosing)")
    bars.axhline(threshold, color="#111111", ls="--", lw=1.1,
                 label=f"EWOC: P(overdosing) < {number(threshold)}")
    for k, allowed in enumerate(decision.allowed):
        mark = "next" if k == decision.next_level else ("allowed" if allowed else "barred")
        bars.text(k, 1.02, mark, ha="center", va="bottom", fontsize=7.5,
                  color="#111111" if allowed else "#a8322a",
                  fontweight="bold" if k == decision.next_level else "normal")
    bars.set_ylim(0, 1.1)
    bars.set_yticks(np.linspace(0, 1, 6))
    bars.set_ylabel("posterior probability")
    bars.set_title("Interval probabilities and EWOC", pad=14)
    dose_axis(bars, labels, design.doses.unit)
    bars.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{design.trial.name}: after {rec.data.total_patients} patients "
                 f"({rec.engine} engine)", parse_math=False, fontsize=10, x=0.01, ha="left")
    return fig


def write_plot(rec: Recommendation, path: Path) -> None:
    """The decision's figure as PNG or SVG, by the file name, written atomically."""
    from bayesdose.report.figures import to_bytes
    from bayesdose.report.render import write

    write(path, to_bytes(posterior_figure(rec), plot_format(path)), "plot")


def decision_html(rec: Recommendation, document: dict[str, Any]) -> str:
    """The one-page decision report (``document``: the JSON of ``recommend --json``)."""
    from bayesdose.report import provenance
    from bayesdose.report.figures import data_uri
    from bayesdose.report.render import render
    from bayesdose.report.text import dose, number, probability

    design, decision = rec.design, rec.decision
    rows = []
    for k, entry in enumerate(document["doses"]):
        status = "allowed" if entry["barred_by"] is None else entry["why_barred"]
        if entry["borderline"]:
            status += " (borderline)"
        rows.append({"dose": dose(design, k), "entry": entry, "status": status,
                     "next": k == decision.next_level, "ess": document["prior"]["ess"][k]})
    if decision.stop:
        headline = "Stop the trial"
        if decision.mtd_level is not None:
            headline += f": MTD {dose(design, decision.mtd_level)}"
    else:
        headline = (f"Next cohort: {dose(design, decision.next_level)}, "
                    f"{decision.cohort_size} patient{'s' if decision.cohort_size != 1 else ''}"
                    f" ({direction_text(decision, lambda k: dose(design, k))})")
    return render(
        "decision.html", rec=rec, document=document, design=design, decision=decision,
        headline=headline, rows=rows, conflict=conflict_lines(rec),
        figure=data_uri(posterior_figure(rec)),
        number=number, probability=probability, generator=provenance.generator(),
        generated=provenance.utc_now(),
    )


def write_html(rec: Recommendation, document: dict[str, Any], path: Path) -> None:
    from bayesdose.report.render import write

    write(path, decision_html(rec, document), "HTML report")
