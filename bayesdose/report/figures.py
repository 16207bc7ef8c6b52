"""matplotlib for every report figure: one style, one palette, and export to SVG or PNG.

Figures are ``matplotlib.figure.Figure`` objects drawn without pyplot, so no display and no
global figure state are involved (the Agg canvas renders PNG, the SVG canvas SVG). Text from
a user's file is drawn with ``parse_math=False``: a ``$`` in a trial name stays a dollar sign.
Exports are reproducible: fixed SVG ids, no timestamp in the metadata.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")  # never a window, whatever the environment says

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

FORMATS = ("svg", "png")
PNG_DPI = 200

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "svg.fonttype": "none",  # text as text (DejaVu Sans): small files, fast PDF rendering
    "svg.hashsalt": "bayesdose",  # reproducible SVG element ids
}

UNDER, TARGET, OVER = "#8fb8de", "#3a8d5c", "#c0392b"
TARGET_BAND = "#3a8d5c"
BACKFILL_INK = "#c77c02"  # backfill patients, in the decision pictures and the progress plot

def styled[**P, R](draw: Callable[P, R]) -> Callable[P, R]:
    """Draw a figure in the report style."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


LABEL_GAP = 2.0  # pixels (at the figure's dpi) between two neighbouring tick labels


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with a constrained layout (on an Agg canvas,
    whose renderer measures text for ``fit_tick_labels``)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def overlapping_labels(fig: Figure, ax: Any) -> bool:
    """Whether two neighbouring x tick labels of ``ax`` (as last drawn) touch."""
    renderer = fig.canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels()
                    if t.get_visible() and t.get_text()), key=lambda b: b.x0)
    return any(a.x1 + LABEL_GAP > b.x0 for a, b in zip(boxes, boxes[1:], strict=False))


def fit_tick_labels(fig: Figure, *axes: Any) -> None:
    """Make the x tick labels (doses) of ``axes`` readable at any number of doses: upright
    when horizontal ones would touch, then only every second, third, ... label when even
    upright ones would. Measured on the drawn figure, so the font and layout are the real
    ones."""
    for ax in axes:
        fig.draw_without_rendering()
        if not overlapping_labels(fig, ax):
            continue
        ax.tick_params(axis="x", labelrotation=90)
        labels = [t.get_text() for t in ax.get_xticklabels()]
        every = 1
        fig.draw_without_rendering()
        while overlapping_labels(fig, ax) and every < len(labels):
            every += 1
            for i, text in enumerate(ax.get_xticklabels()):
                text.set_visible(i % every == 0)
            fig.draw_without_rendering()


def to_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as an SVG or PNG file's bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"unsupported figure format {fmt!r}")
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=metadata)
    return buffer.getvalue()


def data_uri(fig: Figure) -> str:
    """The figure as an SVG ``data:`` URI, for an ``<img>`` in a self-contained page."""
    encoded = base64.b64encode(to_bytes(fig, "svg")).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"


def dose_axis(ax: Any, labels: list[str], unit: str) -> None:
    """Dose levels as evenly spaced categories, labelled with their doses."""
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_xlabel(f"dose ({unit})" if unit else "dose", parse_math=False)


def observed_rates(ax: Any, n: Any, dlt: Any) -> list[Any]:
    """The observed DLT rate at each treated dose (a level's index on the x axis): a diamond
    whose area grows with the number of patients, ``DLTs/n`` above it (under it near a rate of
    1), clear of the marker however large; returns the legend's handle (none before the first
    patient)."""
    import numpy as np
    from matplotlib.lines import Line2D

    n, dlt = np.asarray(n), np.asarray(dlt)
    given = np.flatnonzero(n > 0)
    if given.size == 0:
        return []
    area = 18 + 10 * n  # points squared
    ax.scatter(given, dlt[given] / n[given], s=area[given], marker="D",
               facecolor="white", edgecolor="#333333", zorder=4, clip_on=False)
    for k in given:
        rate, clear = dlt[k] / n[k], 3 + area[k] ** 0.5 / 2  # points from the marker's centre
        below = rate > 0.85  # at the top, the label goes under the marker
        ax.annotate(f"{dlt[k]}/{n[k]}", (k, rate), xytext=(0, -clear if below else clear),
                    textcoords="offset points", fontsize=7, ha="center",
                    va="top" if below else "bottom")
    return [Line2D([], [], ls="", marker="D", mfc="white", mec="#333333",
                   label="observed DLT/n")]


def backfill_rates(ax: Any, n: Any, dlt: Any) -> list[Any]:
    """The backfill patients' own observed DLT rate at each dose that has some (``n``, ``dlt``:
    their counts per dose, a part of those of ``observed_rates``, whose diamond counts every
    patient, as the decision does): a triangle in the backfill colour whose area grows with
    their number as the diamond's does, ``DLTs/n`` to its right; returns the legend's handle
    (none without backfill patients)."""
    import numpy as np
    from matplotlib.lines import Line2D

    n, dlt = np.asarray(n), np.asarray(dlt)
    given = np.flatnonzero(n > 0)
    if given.size == 0:
        return []
    area = 18 + 10 * n  # points squared, as the diamonds
    ax.scatter(given, dlt[given] / n[given], s=area[given], marker="^", color=BACKFILL_INK,
               zorder=5, clip_on=False)
    for k in given:
        ax.annotate(f"{dlt[k]}/{n[k]}", (k, dlt[k] / n[k]), xytext=(3 + area[k] ** 0.5 / 2, 0),
                    textcoords="offset points", fontsize=7, ha="left", va="center",
                    color=BACKFILL_INK)
    return [Line2D([], [], ls="", marker="^", color=BACKFILL_INK,
                   label="backfill patients' DLT/n (counted in the diamond)")]
