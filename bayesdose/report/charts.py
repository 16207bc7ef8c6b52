"""The design report's figures: the prior per dose, selection and allocation per scenario
against the true DLT curve, and the dose-transition pathway tree."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bayesdose.designs.registry import colour as design_colour
from bayesdose.designs.registry import label as design_label
from bayesdose.report.figures import (
    OVER,
    TARGET_BAND,
    dose_axis,
    fit_tick_labels,
    new_figure,
    styled,
)
from bayesdose.report.pathways import Step
from bayesdose.report.prior import PriorDose
from bayesdose.report.text import dose_number, number
from bayesdose.schema import Design

TRUTH = "#a8322a"  # the true DLT curve and the target: the right-hand axis, in its colour
RESPONSE = "#2a7a8c"  # the true response rates: the OBD panel's right-hand axis
SAFETY_FACE = "#f4d0cb"
NO_EWOC_FACE = "#f7d98b"
RIGHT_ANSWER = "#fff1c7"
SIDE_BY_SIDE = 6  # doses up to which selection and allocation sit side by side


def _dose_labels(design: Design) -> list[str]:
    return [dose_number(design, d) for d in design.levels]


def _target_band(ax: Any, design: Design) -> None:
    lo, hi = design.decision.target_interval
    ax.axhspan(lo, hi, color=TARGET_BAND, alpha=0.13, lw=0, label="target interval")


@styled
def prior_figure(design: Design, prior: list[PriorDose]) -> Figure:
    """Prior mean and 95% interval of P(DLT) at each dose, with the target interval."""
    fig = new_figure(6.4, 3.0)
    ax = fig.add_subplot()
    x = np.arange(len(prior))
    _target_band(ax, design)
    hi = design.decision.target_interval[1]
    ax.axhline(hi, color=OVER, lw=0.9, ls="--", label=f"overdosing from {number(hi)}")
    blrm = design_colour("blrm")
    ax.vlines(x, [p.q025 for p in prior], [p.q975 for p in prior], color=blrm, lw=2.2,
              label="95% interval")
    ax.plot(x, [p.mean for p in prior], "o", color=blrm, ms=6, label="prior mean")
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(DLT)")
    dose_axis(ax, _dose_labels(design), design.doses.unit)
    ax.set_title("What the prior implies: P(DLT) per dose before any patient")
    fig.legend(loc="outside right center")
    fit_tick_labels(fig, ax)
    return fig


def _twin_truth(ax: Any, x: np.ndarray, p_true: list[float], target: float) -> Any:
    """The true DLT curve and the target on a right-hand axis drawn in their colour (spine,
    ticks, label), so neither is read on the left-hand axis of the bars."""
    truth = ax.twinx()
    truth.plot(x, p_true, "-o", color=TRUTH, lw=1.4, ms=4, zorder=5)
    truth.axhline(target, color=TRUTH, lw=0.9, ls=":")
    truth.set_ylim(0, 1)
    truth.set_ylabel("true P(DLT)", color=TRUTH)
    truth.tick_params(axis="y", colors=TRUTH)
    truth.grid(False)
    truth.spines["right"].set_visible(True)
    truth.spines["right"].set_color(TRUTH)
    return truth


def _grouped_bars(ax: Any, names: list[str], values: dict[str, list[float]],
                  on_top: dict[str, list[float]] | None = None) -> None:
    """Bars per dose, one per design; ``on_top``: a hatched part stacked on a design's bar
    (a backfill design's backfill patients on its escalation patients)."""
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        x = np.arange(len(values[name])) - 0.4 + width * (i + 0.5)
        ax.bar(x, values[name], width * 0.92, color=design_colour(name), label=design_label(name))
        if on_top and name in on_top:
            ax.bar(x, on_top[name], width * 0.92, bottom=values[name], color="white",
                   edgecolor=design_colour(name), hatch="////", lw=0.6)


def _highlight(ax: Any, level: int | None, last: int) -> None:
    """The right answer's column (0-based ``level``; None: the "none" column at ``last`` + 1)."""
    where = last + 1 if level is None else level
    if where <= last:
        ax.axvspan(where - 0.5, where + 0.5, color=RIGHT_ANSWER, zorder=0, lw=0)


def _obd_panel(ax: Any, design: Design, entry: dict[str, Any], names: list[str]) -> None:
    """P(selecting each dose as the OBD) of the designs, against the true response
    rates on a right-hand axis, the true OBD's column highlighted."""
    k = len(design.levels)
    _grouped_bars(ax, names, {n: entry["designs"][n]["select_obd"] for n in names})
    dose_axis(ax, _dose_labels(design), design.doses.unit)
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(selected as OBD) (bars)")
    ax.set_title("OBD selection")
    response = ax.twinx()
    response.plot(np.arange(k), entry["p_response"], "-s", color=RESPONSE, lw=1.4, ms=4,
                  zorder=5)
    response.set_ylim(0, 1)
    response.set_ylabel("true P(response)", color=RESPONSE)
    response.tick_params(axis="y", colors=RESPONSE)
    response.grid(False)
    response.spines["right"].set_visible(True)
    response.spines["right"].set_color(RESPONSE)
    obd = entry["true_obd"]
    _highlight(ax, None if obd is None else obd - 1, k - 1)


@styled
def scenario_figure(design: Design, entry: dict[str, Any]) -> Figure:
    """Selection and allocation per dose for each design of a scenario entry of the summary,
    side by side (one above the other beyond ``SIDE_BY_SIDE`` doses), against the scenario's
    true DLT curve and the target on a right-hand axis in their own colour. A backfill
    design's allocation bars stack its backfill patients (hatched) on its escalation
    patients; with response rates, a third panel shows each design's OBD selection against
    the true response rates."""
    names = list(entry["designs"])
    p_true = entry["p_true"]
    mtd = entry["true_mtd"]
    k = len(design.levels)
    backfill = [n for n in names if "select_obd" in entry["designs"][n]]  # OBD selections
    stacked = [n for n in names if "patients_backfill" in entry["designs"][n]]
    panels = 3 if backfill else 2
    if k <= SIDE_BY_SIDE:
        fig = new_figure(7.2 if not backfill else 10.0, 2.9)
        axes = fig.subplots(1, panels, width_ratios=[k + 1, *[k] * (panels - 1)])
    else:
        fig = new_figure(7.2, 2.8 * panels)
        axes = fig.subplots(panels, 1)
    left, right = axes[0], axes[1]

    selection = {n: [*entry["designs"][n]["select"], entry["designs"][n]["select_none"]]
                 for n in names}
    _grouped_bars(left, names, selection)
    left.set_xticks(range(k + 1), [*_dose_labels(design), "none"])
    left.set_xlim(-0.6, k + 0.6)
    left.set_xlabel(f"selected dose ({design.doses.unit})" if design.doses.unit
                    else "selected dose", parse_math=False)
    left.set_ylim(0, 1)
    left.set_ylabel("P(selected) (bars)")
    left.set_title("Selection")
    _twin_truth(left, np.arange(k), p_true, design.decision.target)

    treated = [n for n in names if "patients" in entry["designs"][n]]
    allocation = {n: entry["designs"][n].get("patients_escalation",
                                             entry["designs"][n]["patients"]) for n in treated}
    _grouped_bars(right, treated, allocation,
                  {n: entry["designs"][n]["patients_backfill"] for n in stacked})
    dose_axis(right, _dose_labels(design), design.doses.unit)
    right.set_ylabel("mean patients (bars)")
    right.set_title("Allocation")
    _twin_truth(right, np.arange(k), p_true, design.decision.target)

    _highlight(left, None if mtd is None else mtd - 1, k)
    _highlight(right, None if mtd is None else mtd - 1, k - 1)
    handles = [Patch(color=design_colour(n), label=design_label(n)) for n in names]
    target = f"target {number(design.decision.target)}"
    handles += [Line2D([], [], color=TRUTH, marker="o", ms=4, label="true P(DLT) (right axis)"),
                Line2D([], [], color=TRUTH, ls=":", label=f"{target} (right axis)"),
                Patch(color=RIGHT_ANSWER, label="right answer (true MTD, true OBD)"
                      if backfill else "right answer (true MTD)")]
    if stacked:
        handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="////",
                             label="backfill patients"))
    if backfill:
        _obd_panel(axes[2], design, entry, backfill)
        handles.append(Line2D([], [], color=RESPONSE, marker="s", ms=4,
                              label="true P(response) (right axis)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=4)
    fit_tick_labels(fig, *axes)
    return fig


# -- pathway tree --------------------------------------------------------------------------


def _layout(root: Any) -> tuple[dict[int, tuple[float, float]], list[Any]]:
    """(x = cohorts so far, y) of every step of a tree (any steps with ``children``): leaves
    one row apart, parents centred; and the steps, depth first."""
    positions: dict[int, tuple[float, float]] = {}
    steps: list[Any] = []
    next_row = [0.0]

    def place(step: Any, depth: int) -> float:
        steps.append(step)
        if step.children:
            ys = [place(child, depth + 1) for child in step.children]
            y = (ys[0] + ys[-1]) / 2
        else:
            y = next_row[0]
            next_row[0] += 1
        positions[id(step)] = (depth, y)
        return y

    place(root, 0)
    return positions, steps


def _node_text(design: Design, step: Step) -> str:
    d = step.decision
    if d.stop_reason == "safety":
        return "STOP: safety"
    if d.stop:
        mtd = "none" if d.mtd_level is None else dose_number(design, design.levels[d.mtd_level])
        return f"STOP: MTD {mtd}"
    return f"{dose_number(design, design.levels[d.next_level])} × {d.cohort_size}"


def _node_colours(stop_reason: str | None, ewoc_met: bool, shade: float) -> tuple[Any, str]:
    """(face, text) colour of a step's box: darker blue for higher doses (``shade`` from 0,
    the lowest, to 1), amber when no dose meets EWOC; stops in grey, or red for safety."""
    from matplotlib import colormaps

    if stop_reason == "safety":
        return SAFETY_FACE, "#7a1f14"
    if stop_reason is not None:
        return "#e6e6e6", "#222222"
    if not ewoc_met:
        return NO_EWOC_FACE, "#5a3d00"
    shade = 0.3 + 0.6 * shade
    return colormaps["Blues"](shade), "white" if shade > 0.55 else "#0b2a4a"


@styled
def pathway_figure(design: Design, root: Step, depth: int) -> Figure:
    """The tree of dose-transition pathways: each box is what the design does next (dose x
    cohort size, or stop), each branch the number of DLTs in the cohort before it."""

    def node(step: Step) -> tuple[str, tuple[Any, str]]:
        d = step.decision
        shade = (0 if d.next_level is None else d.next_level) / max(len(design.levels) - 1, 1)
        label = _node_text(design, step)
        return (label if step.cohorts else f"start: {label}",
                _node_colours(d.stop_reason, d.ewoc_met, shade))

    unit = f" ({design.doses.unit})" if design.doses.unit else ""
    ticks = ["before the\nfirst cohort", *(f"after\ncohort {c}" for c in range(1, depth + 1))]
    return tree_figure(root, depth, node, ticks,
                       f"boxes: next dose{unit} × cohort size; branches: DLTs / patients in "
                       "the cohort", "dose")


@styled
def combination_pathway_figure(root: Any, depth: int) -> Figure:
    """The combination BLRM's tree (``designs.blrm_comb.pathways.PathStep``): each box the
    next pair (both drugs' doses) × cohort size or the stop, the first what ``recommend``
    says on the trial so far (before any patient: the start); each branch the DLTs of the
    cohort before it."""
    pairs = root.rec.design.pair_panel
    a, b = pairs.names
    top = max(sum(pairs.shape) - 2, 1)
    treated = root.rec.data.total_patients

    def node(step: Any) -> tuple[str, tuple[Any, str]]:
        d = step.rec.decision
        if d.stop:
            mtd = "none" if d.mtd_pair is None else _pair_numbers(pairs, d.mtd_pair)
            label = "STOP: safety" if d.stop_reason == "safety" else f"STOP: MTD {mtd}"
        else:
            label = f"{_pair_numbers(pairs, d.next_pair)} × {d.cohort_size}"
        shade = 0 if d.next_pair is None else sum(pairs.pair(d.next_pair)) / top
        return (label if step.cohorts else f"{'now' if treated else 'start'}: {label}",
                _node_colours(d.stop_reason, d.ewoc_met, shade))

    units = " + ".join(f"{name}{f' ({p.unit})' if p.unit else ''}" for name, p
                       in zip((a, b), pairs.drugs, strict=True))
    ticks = [f"now\n({treated} patients)" if treated else "before the\nfirst cohort",
             *(f"after {c}{' more' if treated else ''}\ncohort{'s' if c > 1 else ''}"
               for c in range(1, depth + 1))]
    return tree_figure(
        root, depth, node, ticks,
        f"boxes: next pair {units} × cohort size; branches: DLTs / patients in the cohort",
        "pair")


def _pair_numbers(pairs: Any, index: int) -> str:
    """A pair as both drugs' doses without units: ``A 80 + B 0.5``."""
    return " + ".join(f"{name} {panel.number(panel.levels[level])}" for name, panel, level
                      in zip(pairs.names, pairs.drugs, pairs.pair(index), strict=True))


def tree_figure(root: Any, depth: int, node: Any, ticks: list[str], xlabel: str,
                dose_word: str) -> Figure:
    """A tree of dose-transition pathways (steps with ``children`` and ``cohorts``, whose last
    cohort has ``size`` and ``dlts``): ``node(step)`` gives a box's text and (face, text)
    colours; ``ticks`` name the columns (the root's, then one per cohort)."""
    positions, steps = _layout(root)
    leaves = sum(1 for step in steps if not step.children)
    fig = new_figure(7.2, max(2.4, 0.27 * leaves + 0.9))
    ax = fig.add_subplot()
    for step in steps:
        x0, y0 = positions[id(step)]
        for child in step.children:  # elbow lines, hidden under the boxes drawn on top
            x1, y1 = positions[id(child)]
            ax.plot([x0, x0 + 0.5, x0 + 0.5, x1], [y0, y0, y1, y1], color="#9aa5b1", lw=0.8,
                    zorder=1)
            last = child.cohorts[-1]
            ax.text(x0 + 0.54, y1 - 0.1, f"{last.dlts}/{last.size}", fontsize=7,
                    color="#333333", va="bottom")
        label, (face, ink) = node(step)
        ax.text(x0, y0, label, ha="center", va="center", fontsize=7.2, color=ink, zorder=3,
                bbox={"boxstyle": "round,pad=0.3", "fc": face, "ec": "none"})
    ax.set_xlim(-0.45, depth + 0.45)
    ax.set_ylim(leaves - 0.4, -0.6)
    ax.set_xticks(range(depth + 1), ticks)
    ax.xaxis.set_ticks_position("top")
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(xlabel, parse_math=False)
    fig.legend(handles=[Patch(color=NO_EWOC_FACE,
                              label=f"no {dose_word} meets EWOC: lowest {dose_word}"),
                        Patch(color=SAFETY_FACE, label="stop for safety")],
               loc="outside lower center", ncols=2)
    return fig
