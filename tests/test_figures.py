"""The pictures at 3 to 20 doses, checked on the drawn figure (matplotlib's renderer measures
every label): dose labels never touch, the legend never covers a panel, barred doses are
coloured and named in the legend, a stop is shown; the trial-progress plot's contents; the
report's right-hand axis in the colour of its lines."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

from bayesdose.data import trial_data_from_records
from bayesdose.designs.blrm.recommendation import recommend
from bayesdose.report.charts import TRUTH, scenario_figure
from bayesdose.report.decision import BARRED_INK, posterior_figure
from bayesdose.report.progress import progress_figure
from bayesdose.report.rule_decision import rule_figure
from bayesdose.schema import design_from_dict, load_design
from bayesdose.steps import step_on_data

ROOT = Path(__file__).resolve().parents[1]
NBG = ROOT / "configs" / "nbg-2008.toml"
NBG_DATA = ROOT / "configs" / "examples" / "nbg-2008.csv"
XJ = ROOT / "configs" / "xj-mk-002.toml"
SUMMARY = ROOT / "docs" / "examples" / "xj-mk-002" / "simulation" / "summary.json"
DOSES = (3, 5, 15, 20)


def panel_design(k: int, unit: str = "mg", scale: float = 1.0):
    """A design of ``k`` doses (from 1 to 300 in ``unit``, times ``scale``: 1e8 for doses that
    need powers of ten)."""
    levels = [round(float(x), 2) * scale for x in np.geomspace(1, 300, k)]
    return design_from_dict({"trial": {"name": f"{k} doses"},
                             "doses": {"levels": levels, "unit": unit},
                             "stopping": {"max_patients": 60}})


def escalated(design, dlts_at_last: int, cohorts: int = 3):
    """Three patients at each of the first ``cohorts`` doses, ``dlts_at_last`` DLTs in the last."""
    records = [{"patient_id": f"P{c}{i}", "cohort": c + 1, "dose": design.levels[c],
                "dlt": int(c == cohorts - 1 and i < dlts_at_last)}
               for c in range(cohorts) for i in range(3)]
    return trial_data_from_records(records, design)


def drawn(fig):
    fig.draw_without_rendering()
    return fig.canvas.get_renderer()


def label_boxes(ax, renderer):
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.get_xticklabels()
            if t.get_visible() and t.get_text()]


def assert_apart(boxes) -> None:
    """No two labels' boxes overlap (every pair, not only neighbours)."""
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"labels {a!r} and {b!r} overlap"


def assert_legend_clear(fig, renderer) -> None:
    """The legends sit outside every panel."""
    assert fig.legends
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), "the legend covers a panel"


@pytest.mark.parametrize("k", DOSES)
def test_decision_figure_scales(k: int) -> None:
    design = panel_design(k, "viable cells", 1e8)
    rec = recommend(design, escalated(design, dlts_at_last=1))
    fig = posterior_figure(rec)
    renderer = drawn(fig)
    curve, bars = fig.axes
    for ax in (curve, bars):
        boxes = label_boxes(ax, renderer)
        assert [text for text, _ in boxes] == [design.panel.number(d, rich=True)
                                              for d in design.levels]  # every dose named
        assert_apart(boxes)
    assert_legend_clear(fig, renderer)
    barred = [i for i, allowed in enumerate(rec.decision.allowed) if not allowed]
    assert barred, "the test needs barred doses"
    colours = [to_hex(t.get_color()) for t in bars.get_xticklabels()]
    assert [i for i, c in enumerate(colours) if c == BARRED_INK] == barred
    marks = {line.get_marker(): list(line.get_xdata()) for line in bars.lines
             if line.get_linestyle() == "None"}
    assert marks["x"] == barred and marks["v"] == [rec.decision.next_level]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "barred" in legend and "next dose" in legend
    next_dose = design.panel.label(rec.decision.next_level, rich=True)
    assert fig.get_suptitle().startswith(f"Next cohort: {next_dose}")


def test_decision_figure_of_a_stop_shows_the_stop() -> None:
    design = load_design(NBG)
    data = trial_data_from_records([{"patient_id": f"P{i}", "cohort": 1, "dose": 1, "dlt": 1}
                                    for i in range(3)], design)
    rec = recommend(design, data)
    assert rec.decision.stop_reason == "safety"
    fig = posterior_figure(rec)
    renderer = drawn(fig)
    assert fig.get_suptitle().startswith("Stop the trial (safety)")
    assert to_hex(fig._suptitle.get_color()) == BARRED_INK
    assert_legend_clear(fig, renderer)
    _, bars = fig.axes
    markers = {line.get_marker() for line in bars.lines if line.get_linestyle() == "None"}
    assert markers == {"x"}  # every dose barred, no next dose
    assert all(to_hex(t.get_color()) == BARRED_INK for t in bars.get_xticklabels())


def test_nbg_example_labels_read_apart() -> None:
    """The issue's example: 15 doses from 1 to 250 mg ("75100" and "allowedallowed" before)."""
    design = load_design(NBG)
    from bayesdose.data import read_trial_data

    rec = recommend(design, read_trial_data(NBG_DATA, design))
    fig = posterior_figure(rec)
    renderer = drawn(fig)
    for ax in fig.axes:
        assert_apart(label_boxes(ax, renderer))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert not any("allowed" in t or "barred" in t for t in texts)  # status by colour now


@pytest.mark.parametrize("name", ["boin", "3+3"])
@pytest.mark.parametrize("k", DOSES)
def test_rule_figure_scales(k: int, name: str) -> None:
    """Another design's figure: every dose named as HTML writes it, labels apart (upright where
    flat ones would touch), the legend under the panel, the marks above the doses apart, the
    step in the title."""
    design = panel_design(k, "viable cells", 1e8)
    data = escalated(design, dlts_at_last=1)
    step = step_on_data(name, design, data)
    fig = rule_figure(design, step, data)
    renderer = drawn(fig)
    ax = fig.axes[0]
    boxes = label_boxes(ax, renderer)
    assert [text for text, _ in boxes] == [design.panel.number(d, rich=True)
                                          for d in design.levels]
    assert_apart(boxes)
    assert ax.get_xticklabels()[0].get_rotation() == (0 if k <= 5 else 90)
    assert_legend_clear(fig, renderer)
    marks = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts
             if t.get_text() in ("current", "next", "current, next")]
    assert sorted(text for text, _ in marks) == (["current", "next"] if name == "boin"
                                                 else ["current, next"])
    assert_apart(marks)
    document = step.document
    assert fig.get_suptitle().endswith(
        f"{design.panel.format(document['next_dose'], rich=True)}, cohort of 3: "
        f"{document['direction']} {'at' if document['direction'] == 'stay' else 'from'} "
        f"{design.panel.format(document['current_dose'], rich=True)}")


@pytest.mark.parametrize("k", DOSES)
def test_progress_plot_scales(k: int) -> None:
    design = panel_design(k)
    data = escalated(design, dlts_at_last=1)
    step = step_on_data("blrm", design, data)
    fig = progress_figure(design, data, step.document)
    renderer = drawn(fig)
    ax = fig.axes[0]
    ticks = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.get_yticklabels()]
    assert [text for text, _ in ticks] == [design.panel.number(d, rich=True)
                                           for d in design.levels]
    assert_apart(ticks)
    assert_legend_clear(fig, renderer)


def test_progress_plot_contents() -> None:
    """The NBG example: 18 patients in 5 cohorts, 2 DLTs at 25 mg, then 3 more at 25 mg."""
    from bayesdose.data import read_trial_data

    design = load_design(NBG)
    data = read_trial_data(NBG_DATA, design)
    step = step_on_data("blrm", design, data)
    fig = progress_figure(design, data, step.document)
    drawn(fig)
    ax = fig.axes[0]
    points = {}
    for line in ax.lines:
        if line.get_linestyle() == "None":
            points[(line.get_marker(), to_hex(line.get_markeredgecolor()))] = (
                list(line.get_xdata()), list(line.get_ydata()))
    level_25 = design.panel.index(25)
    assert points[("X", "#a8322a")] == ([17, 18], [level_25, level_25])  # the DLTs
    no_dlt_x, no_dlt_y = points[("o", "#333333")]
    assert no_dlt_x == list(range(1, 17))
    assert no_dlt_y == [0] * 3 + [1] * 4 + [2] * 5 + [3] * 4  # 1, 2.5, 5, 10 mg
    assert points[("o", "#1f4e79")] == ([19, 20, 21], [level_25] * 3)  # the next cohort
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["no DLT", "DLT", "next: 25 mg × 3 (stay)"]
    top = ax.child_axes[0]  # the cohorts, numbered on a top axis
    assert [t.get_text() for t in top.get_xticklabels()] == ["1", "2", "3", "4", "5", "next"]
    assert [t.get_position()[0] for t in top.get_xticklabels()] == [2, 5.5, 10, 14.5, 17.5, 20]
    assert ax.get_title(loc="left") == "Trial progress: 18 patients, 2 DLTs, 5 cohorts"


def test_progress_plot_marks_pending_excluded_and_stop(tmp_path: Path) -> None:
    from datetime import date

    from bayesdose.data import read_trial_data

    design = load_design(XJ)
    data = read_trial_data(ROOT / "configs" / "examples" / "xj-mk-002-dated.csv", design,
                           date(2025, 11, 5))
    step = step_on_data("blrm", design, data)
    fig = progress_figure(design, data, step.document)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:4] == ["no DLT", "DLT", "in DLT follow-up", "not evaluable"]
    grey = {line.get_marker(): list(line.get_xdata()) for line in fig.axes[0].lines
            if line.get_linestyle() == "None"}
    assert grey["s"] == [5]  # XJ-05, not evaluable
    stop = {"stop": True, "stop_reason": "max_patients", "mtd": 1e8, "next_dose": None,
            "cohort_size": 0}
    fig = progress_figure(design, data, stop)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["STOP"]
    assert [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "-"] == [5.5]
    assert [t.get_text() for t in fig.legends[0].get_texts()][-2:] == [
        "stop (max patients), MTD 1×10⁸ viable cells", "MTD"]


BF_BOIN = ROOT / "configs" / "bf-boin.toml"
BF_BOIN_DATA = ROOT / "configs" / "examples" / "bf-boin-backfill.csv"  # B01, B02: backfill


def test_progress_plot_boxes_backfill_patients() -> None:
    """BF-BOIN's example: the two backfill patients (10th and 11th, level 1, both with a DLT)
    keep their DLT marker inside a box in the backfill colour, named in the legend and the
    title; the data without them have no box."""
    from bayesdose.data import read_trial_data
    from bayesdose.report.figures import BACKFILL_INK

    design = load_design(BF_BOIN)
    data = read_trial_data(BF_BOIN_DATA, design)
    fig = progress_figure(design, data, step_on_data("boin+backfill", design, data).document)
    ax = fig.axes[0]
    boxes = [line for line in ax.lines if line.get_marker() == "s"
             and to_hex(line.get_markeredgecolor()) == BACKFILL_INK]
    assert len(boxes) == 1 and boxes[0].get_markerfacecolor() == "none"
    assert (list(boxes[0].get_xdata()), list(boxes[0].get_ydata())) == ([10, 11], [0, 0])
    dlts = next(line for line in ax.lines if line.get_marker() == "X")
    assert list(dlts.get_xdata()) == [5, 10, 11, 12]  # the outcome marker stays inside
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "no DLT", "DLT", "backfill patient", "next: 3 level × 3 (stay)"]
    assert ax.get_title(loc="left") == "Trial progress: 14 patients (2 backfill), 4 DLTs, " \
                                       "4 cohorts"
    escalation = trial_data_from_records(
        [{"patient_id": p.patient_id, "cohort": p.cohort, "dose": design.levels[p.level],
          "dlt": p.dlt} for p in data.escalation], design)
    fig = progress_figure(design, escalation,
                          step_on_data("boin", design, escalation).document)
    assert not [line for line in fig.axes[0].lines if line.get_marker() == "s"]
    assert "backfill patient" not in [t.get_text() for t in fig.legends[0].get_texts()]


def backfill_marks(ax) -> list[tuple[float, float]]:
    """Where the figure draws the backfill patients' own DLT rates (triangles in their
    colour)."""
    from bayesdose.report.figures import BACKFILL_INK

    return [tuple(xy) for c in ax.collections if c.get_paths()
            and len(c.get_facecolors()) and to_hex(c.get_facecolors()[0]) == BACKFILL_INK
            for xy in c.get_offsets()]


@pytest.mark.parametrize("name", ["blrm", "boin+backfill", "3+3+backfill"])
def test_decision_pictures_mark_backfill_patients(name: str) -> None:
    """BF-BOIN's example: besides the diamond of every patient at level 1 (2/5), a triangle
    in the backfill colour at the backfill patients' own rate (2/2), labelled and named in
    the legend, in BLRM-EWOC's figure and in another design's; none without backfill."""
    from bayesdose.data import read_trial_data

    design = load_design(BF_BOIN)
    data = read_trial_data(BF_BOIN_DATA, design)
    step = step_on_data(name, design, data)
    fig = posterior_figure(step.recommendation) if name == "blrm" else rule_figure(
        design, step, data)
    ax = fig.axes[0]
    assert backfill_marks(ax) == [(0, 1.0)]
    texts = [t.get_text() for t in ax.texts]
    assert "2/2" in texts and "2/5" in texts  # the backfill patients', every patient's
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "backfill patients' DLT/n (counted in the diamond)" in legend
    assert_legend_clear(fig, drawn(fig))
    plain = escalated(design, dlts_at_last=1)
    fig = (posterior_figure(recommend(design, plain)) if name == "blrm" else rule_figure(
        design, step_on_data(name, design, plain), plain))
    assert backfill_marks(fig.axes[0]) == []
    assert not any("backfill" in t.get_text() for t in fig.legends[0].get_texts())


@pytest.mark.parametrize("k", DOSES)
def test_report_scenario_figure_axes_read_apart(k: int) -> None:
    """Selection and allocation: dose labels apart at any number of doses; the true curve and
    the target on the right-hand axis, which is drawn in their colour."""
    entry = json.loads(SUMMARY.read_text())["scenarios"][0]
    rng = np.random.default_rng(k)
    designs = {name: {"select": list(rng.dirichlet(np.ones(k + 1))[:k]), "select_none": 0.01,
                      **({"patients": list(rng.uniform(0, 8, k))} if "patients" in oc else {})}
               for name, oc in entry["designs"].items()}
    fake = {"designs": designs, "p_true": list(np.linspace(0.02, 0.6, k)), "true_mtd": 2}
    design = panel_design(k, "viable cells", 1e8)
    fig = scenario_figure(design, fake)
    renderer = drawn(fig)
    left, right, *twins = fig.axes
    for ax in (left, right):
        assert_apart(label_boxes(ax, renderer))
        assert ax.get_ylabel().endswith("(bars)")
    assert_legend_clear(fig, renderer)
    assert len(twins) == 2
    for twin in twins:
        assert to_hex(twin.spines["right"].get_edgecolor()) == TRUTH
        assert to_hex(twin.yaxis.label.get_color()) == TRUTH
        assert all(to_hex(t.get_color()) == TRUTH for t in twin.get_yticklabels())
        target = [line for line in twin.lines if line.get_linestyle() == ":"]
        assert len(target) == 1 and to_hex(target[0].get_color()) == TRUTH
        assert list(target[0].get_ydata()) == [0.25, 0.25]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "true P(DLT) (right axis)" in legend and "target 0.25 (right axis)" in legend


@pytest.mark.parametrize("k", DOSES)
def test_report_prior_figure_labels_apart(k: int) -> None:
    from bayesdose.report.charts import prior_figure
    from bayesdose.report.prior import prior_per_dose

    design = panel_design(k, "viable cells", 1e8)
    fig = prior_figure(design, prior_per_dose(design))
    renderer = drawn(fig)
    boxes = label_boxes(fig.axes[0], renderer)
    assert len(boxes) == k
    assert_apart(boxes)
    assert_legend_clear(fig, renderer)


def test_labels_too_many_to_stand_are_turned_then_thinned() -> None:
    """The fallback of fit_tick_labels: upright labels, then every second one, never touching."""
    from bayesdose.report.figures import dose_axis, fit_tick_labels, new_figure

    fig = new_figure(2.0, 2.0)
    ax = fig.add_subplot()
    labels = [f"{i}×10⁸" for i in range(1, 41)]
    dose_axis(ax, labels, "viable cells")
    fit_tick_labels(fig, ax)
    renderer = drawn(fig)
    boxes = label_boxes(ax, renderer)
    assert ax.get_xticklabels()[0].get_rotation() == 90
    assert 1 < len(boxes) < len(labels)
    assert_apart(boxes)
