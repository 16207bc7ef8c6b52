"""The trade-off a calibration finds: accuracy (mean PCS) against each measure of overdosing.

A setting is on the Pareto front of PCS against an overdosing measure when no other setting has
as high a PCS with less overdosing, or a higher PCS with as little. The figure shows, for each
of the two constrained measures, every setting tried, its front, the reference design and the
chosen setting.
"""

from __future__ import annotations

from typing import Any

from bayesdose.calibration.search import CONSTRAINED, Setting
from bayesdose.designs.registry import ENTRIES
from bayesdose.report.figures import new_figure, styled

LABELS = {"select_above_mtd": "P(selecting a dose above the MTD)",
          "p_above_mtd": "share of patients above the MTD"}
TRIED, FRONT, CHOSEN, REFERENCE = "#b8b8b8", "#1f4e79", "#c0392b", "#7b4fa0"


def pareto_front(settings: list[Setting], overdosing: str) -> list[int]:
    """Indices (into ``settings``) of the front of PCS against ``overdosing``, by increasing
    overdosing."""
    order = sorted(range(len(settings)), key=lambda i: (settings[i].measures[overdosing],
                                                        -settings[i].measures["pcs"]))
    front, best = [], -1.0
    for i in order:
        if settings[i].measures["pcs"] > best:
            front.append(i)
            best = settings[i].measures["pcs"]
    return front


@styled
def front_figure(settings: list[Setting], chosen: int | None, reference: dict[str, float],
                 against: str) -> Any:
    """Two panels: mean PCS against each constrained measure."""
    fig = new_figure(8.0, 3.4)
    axes = fig.subplots(1, len(CONSTRAINED), sharey=True)
    for ax, measure in zip(axes, CONSTRAINED, strict=True):
        x = [s.measures[measure] for s in settings]
        y = [s.measures["pcs"] for s in settings]
        ax.scatter(x, y, s=12, color=TRIED, label="settings tried", zorder=2)
        front = pareto_front(settings, measure)
        ax.plot([x[i] for i in front], [y[i] for i in front], "-o", color=FRONT, markersize=3,
                linewidth=1.2, label="Pareto front", zorder=3)
        ax.axvline(reference[measure], color=REFERENCE, linestyle=":", linewidth=1)
        ax.scatter([reference[measure]], [reference["pcs"]], marker="*", s=90,
                   color=REFERENCE, label=ENTRIES[against].label, zorder=4)
        if chosen is not None:
            ax.scatter([x[chosen]], [y[chosen]], s=60, facecolors="none", edgecolors=CHOSEN,
                       linewidths=1.5, label="chosen", zorder=5)
        ax.set_xlabel(f"mean {LABELS[measure]}")
        ax.grid(True, axis="both")
    axes[0].set_ylabel("mean probability of correct selection")
    axes[0].legend(loc="lower right")
    axes[0].set_title("Accuracy against overdosing")
    return fig
