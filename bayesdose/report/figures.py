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

def styled[**P, R](draw: Callable[P, R]) -> Callable[P, R]:
    """Draw a figure in the report style."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with a constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


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


def observed_rates(ax: Any, n: Any, dlt: Any) -> None:
    """The observed DLT rate at each treated dose (a level's index on the x axis): a diamond
    whose area grows with the number of patients, ``DLTs/n`` beside it."""
    import numpy as np

    n, dlt = np.asarray(n), np.asarray(dlt)
    given = np.flatnonzero(n > 0)
    if given.size == 0:
        return
    area = 18 + 10 * n  # points squared
    ax.scatter(given, dlt[given] / n[given], s=area[given], marker="D",
               facecolor="white", edgecolor="#333333", zorder=4, clip_on=False,
               label="observed DLT/n")
    for k in given:  # beside the marker, however large
        ax.annotate(f"{dlt[k]}/{n[k]}", (k, dlt[k] / n[k]), xytext=(3 + area[k] ** 0.5 / 2, -3),
                    textcoords="offset points", fontsize=7)
