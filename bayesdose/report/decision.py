"""A picture and a page of one decision: ``bayesdose recommend --plot PATH`` and ``--html PATH``
(another design's step: ``rule_decision``).

The figure shows the posterior DLT curve (mean and 95% band) with the target interval and the
observed DLT rates (the backfill patients' own marked apart), and the interval probabilities
per dose as stacked bars with the EWOC threshold. The page is the
decision, the figure and the per-dose table of the recommendation, the predictive probabilities
for the next cohort and, when MCMC ran, its estimates and diagnostics
(``designs.blrm.crosscheck``), for the escalation meeting's minutes. Both read the
Recommendation, and the JSON document of ``recommend --json``, as they are: nothing is
recomputed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesdose.backfill_today import backfill_rule
from bayesdose.designs.blrm import crosscheck
from bayesdose.designs.blrm.recommendation import (
    Recommendation,
    conflict_lines,
    direction_text,
    engine_label,
)
from bayesdose.designs.registry import colour as design_colour
from bayesdose.errors import InputError
from bayesdose.steps import response_note

if TYPE_CHECKING:
    from bayesdose.data import TrialData
    from bayesdose.schema import Design
    from bayesdose.steps import Step

PLOT_SUFFIXES = {".png": "png", ".svg": "svg"}


def plot_format(path: Path, option: str = "--plot") -> str:
    """``png`` or ``svg``, from the file name; anything else is the user's mistake."""
    fmt = PLOT_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(option, str(path), "expected a file name ending in .png or .svg")
    return fmt


def write_outputs(step: Step, design: Design, data: TrialData, plot: Path | None,
                  html: Path | None) -> None:
    """``recommend --plot`` and ``--html``: BLRM-EWOC's posterior, or another design's step
    (``rule_decision``) on the trial ``data``."""
    rec = step.recommendation
    if design.is_combination:  # --plot is refused for two drugs (blrm_comb.check_options)
        from bayesdose.report.combination_decision import write_html as write_pairs

        if html is not None:
            write_pairs(rec, step.document, html)
        return
    if rec is None:
        from bayesdose.report.rule_decision import write_outputs as write_rule_outputs

        write_rule_outputs(step, design, data, plot, html)
        return
    if plot is not None:
        write_plot(rec, plot)
    if html is not None:
        write_html(rec, step.document, html)


SIDE_BY_SIDE = 6  # up to this many doses the two panels sit side by side, else one above the other
ALLOWED_INK, BARRED_INK, NEXT_INK, STOP_INK = "#2f7a4f", "#a8322a", "#1f4e79", "#a8322a"


def posterior_figure(rec: Recommendation) -> Any:
    """The two panels of a decision: the DLT curve and the interval probabilities, under the
    decision itself; the legend below them, never over the data."""
    from bayesdose.report.figures import styled

    return styled(_draw)(rec)


def _draw(rec: Recommendation) -> Any:
    from bayesdose.report.figures import fit_tick_labels, new_figure
    from bayesdose.report.text import dose_number

    design = rec.design
    labels = [dose_number(design, d) for d in design.levels]
    side_by_side = len(labels) <= SIDE_BY_SIDE
    fig = new_figure(9.0, 4.4 if side_by_side else 7.6)
    curve, bars = fig.subplots(1, 2) if side_by_side else fig.subplots(2, 1)
    handles = [*_draw_curve(curve, rec, labels), *_draw_bars(bars, rec, labels)]
    fig.suptitle(f"{headline(rec)}\n{design.trial.name}: after {rec.data.total_patients} "
                 f"patients ({engine_label(rec.engine)})", parse_math=False, fontsize=10, x=0.01,
                 ha="left", color=STOP_INK if rec.decision.stop else NEXT_INK)
    fig.legend(handles=handles, loc="outside lower center", ncols=4)
    fit_tick_labels(fig, curve, bars)
    return fig


def _draw_curve(curve: Any, rec: Recommendation, labels: list[str]) -> list[Any]:
    """Posterior mean and 95% band of P(DLT), the target interval, the observed DLT/n (and the
    backfill patients' own) and the next dose; returns the legend's handles."""
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from bayesdose.report.figures import TARGET_BAND, backfill_rates, dose_axis, observed_rates

    design, s, decision = rec.design, rec.summary, rec.decision
    lo, hi = design.decision.target_interval
    x = np.arange(len(labels))
    n, dlt = rec.data.n, rec.data.dlt
    blrm = design_colour("blrm")
    curve.axhspan(lo, hi, color=TARGET_BAND, alpha=0.13, lw=0)
    curve.fill_between(x, s["q025"].values, s["q975"].values, color=blrm, alpha=0.18, lw=0)
    curve.plot(x, s["mean"].values, "-o", color=blrm, ms=4)
    handles = [Patch(color=TARGET_BAND, alpha=0.13, label="target interval"),
               Patch(color=blrm, alpha=0.18, label="95% interval"),
               Line2D([], [], color=blrm, marker="o", ms=4, label="posterior mean")]
    handles += observed_rates(curve, n, dlt) + backfill_rates(curve, *rec.data.backfill_counts)
    if decision.next_level is not None:
        curve.axvline(decision.next_level, color=NEXT_INK, ls="--", lw=1.0)
        handles.append(Line2D([], [], color=NEXT_INK, ls="--", lw=1.0, label="next dose"))
    curve.set_ylim(0, 1)
    curve.set_ylabel("P(DLT)")
    curve.set_title("Posterior DLT curve")
    dose_axis(curve, labels, design.doses.unit)
    return handles


def _draw_bars(bars: Any, rec: Recommendation, labels: list[str]) -> list[Any]:
    """The interval probabilities per dose as stacked bars, the EWOC line, and above the bars
    each dose's status (allowed, barred, next, MTD) by colour; returns the legend's handles."""
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from bayesdose.report.figures import OVER, TARGET, UNDER, dose_axis
    from bayesdose.report.text import number

    design, s, decision = rec.design, rec.summary, rec.decision
    threshold = design.decision.max_overdose_probability
    x = np.arange(len(labels))
    p_over, p_target = s["p_overdose"].values, s["p_target"].values
    bars.bar(x, p_over, 0.6, color=OVER)
    bars.bar(x, p_target, 0.6, bottom=p_over, color=TARGET)
    bars.bar(x, s["p_underdose"].values, 0.6, bottom=p_over + p_target, color=UNDER)
    bars.axhline(threshold, color="#111111", ls="--", lw=1.1)
    handles = [Patch(color=OVER, label="P(overdosing)"), Patch(color=TARGET, label="P(target)"),
               Patch(color=UNDER, label="P(under-dosing)"),
               Line2D([], [], color="#111111", ls="--", lw=1.1,
                      label=f"EWOC: P(overdosing) < {number(threshold)}")]
    marks = {"allowed": ("o", ALLOWED_INK, 4), "barred": ("x", BARRED_INK, 5),
             "next dose": ("v", NEXT_INK, 7), "MTD": ("*", "#111111", 8)}
    status = [_status(decision, k) for k in range(len(labels))]
    for name, (marker, colour, size) in marks.items():
        where = [k for k, st in enumerate(status) if st == name]
        if where:
            bars.plot(where, [1.05] * len(where), ls="", marker=marker, color=colour, ms=size,
                      clip_on=False)
            handles.append(Line2D([], [], ls="", marker=marker, color=colour, ms=size,
                                  label=f"{name} (above the bars)" if name == "allowed"
                                  else name))
    bars.set_ylim(0, 1.1)
    bars.set_yticks(np.linspace(0, 1, 6))
    bars.set_ylabel("posterior probability")
    bars.set_title("Interval probabilities and EWOC")
    dose_axis(bars, labels, design.doses.unit)
    for k, text in enumerate(bars.get_xticklabels()):
        if status[k] == "barred":
            text.set_color(BARRED_INK)
        elif status[k] in ("next dose", "MTD"):
            text.set_fontweight("bold")
    return handles


def _status(decision: Any, k: int) -> str:
    """Dose ``k`` in the decision: the next dose, the MTD of a stop, allowed or barred."""
    if k == decision.next_level:
        return "next dose"
    if decision.stop and k == decision.mtd_level:
        return "MTD"
    return "allowed" if decision.allowed[k] else "barred"


def headline(rec: Recommendation) -> str:
    """The decision in one line, as the page's box and the figure's title write it."""
    from bayesdose.report.text import dose

    design, decision = rec.design, rec.decision
    if decision.stop:
        text = f"Stop the trial ({decision.stop_reason.replace('_', ' ')})"
        if decision.mtd_level is not None:
            text += f": MTD {dose(design, decision.mtd_level)}"
        return text
    return (f"Next cohort: {dose(design, decision.next_level)}, {decision.cohort_size} "
            f"patient{'s' if decision.cohort_size != 1 else ''} "
            f"({direction_text(decision, lambda k: dose(design, k))})")


def write_plot(rec: Recommendation, path: Path) -> None:
    """The decision's figure as PNG or SVG, by the file name, written atomically."""
    from bayesdose.report.figures import to_bytes
    from bayesdose.report.render import write

    write(path, to_bytes(posterior_figure(rec), plot_format(path)), "plot")


def decision_html(rec: Recommendation, document: dict[str, Any]) -> str:
    """The one-page decision report (``document``: the JSON of ``recommend --json``)."""
    from bayesdose.report import provenance
    from bayesdose.report.figures import data_uri
    from bayesdose.report.progress import progress_figure
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
    progress = (data_uri(progress_figure(design, rec.data, document))
                if rec.data.patient_level else None)
    return render(
        "decision.html", rec=rec, document=document, design=design, decision=decision,
        headline=headline(rec), rows=rows, conflict=conflict_lines(rec),
        decided_on=crosscheck.decided_on(rec), mcmc=_mcmc_section(rec, document),
        responses=response_note(design, rec.data),
        backfill_text=backfill_text(design, document),
        engine=engine_label(rec.engine),
        figure=data_uri(posterior_figure(rec)), progress=progress,
        number=number, probability=probability, generator=provenance.generator(),
        generated=provenance.utc_now(),
    )


def backfill_text(design: Design, document: dict[str, Any]) -> str:
    """The backfill section's rule on a decision page ("" without a ``backfill`` entry)."""
    section = document.get("backfill")
    return "" if section is None else backfill_rule(design, section)


def _mcmc_section(rec: Recommendation, document: dict[str, Any]) -> dict[str, Any] | None:
    """The page's MCMC table (from the JSON document's numbers, exact beside MCMC with
    ``both``), its diagnostics and the comparison of the engines; None when MCMC did not run."""
    from bayesdose.report.text import dose

    sampler = crosscheck.sampler_diagnostics(rec.engine, rec.diagnostics)
    if sampler is None:
        return None
    beside = rec.engine == "both"
    rows = []
    for k, entry in enumerate(document["doses"]):
        mcmc = entry["mcmc"] if beside else entry
        rows.append({"dose": dose(rec.design, k), "cells": [
            {"key": name, "exact": entry[name] if beside else None, "mcmc": mcmc[name],
             "mcse": mcmc[f"mcse_{name}"]} for name in crosscheck.COMPARED]})
    comparison = (crosscheck.comparison_text(rec.design.format_dose,
                                             rec.diagnostics["comparison"]) if beside else None)
    return {"heading": crosscheck.heading(rec), "titles": list(crosscheck.COMPARED.values()),
            "rows": rows, "diagnostics": crosscheck.diagnostics_text(sampler),
            "diagnostics_ok": sampler["diagnostics_ok"], "comparison": comparison,
            "agree": not beside or rec.diagnostics["comparison"]["agree"]}


def write_html(rec: Recommendation, document: dict[str, Any], path: Path) -> None:
    from bayesdose.report.render import write

    write(path, decision_html(rec, document), "HTML report")
