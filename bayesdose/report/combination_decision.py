"""The page of a two-drug decision: ``bayesdose recommend --html PATH`` on a two-drug config.

Two heatmaps over the grid (rows: the first drug's levels, lowest at the bottom; columns: the
second's): P(overdosing) and P(target) per pair, each cell with its value, a cross on every
barred pair, a box around the next pair (or the MTD of a stop) and a dashed box around the
current pair; the MTD set is starred on the P(target) map. Below them the decision, the MTD
set, the per-pair table (the numbers of the JSON document, nothing recomputed) and the engine's
check, for the escalation meeting's minutes; with ``--pathway-cohorts`` the dose-transition
pathways of the next cohorts as a tree (``charts.combination_pathway_figure``) beside their
lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bayesdose.designs.blrm_comb import crosscheck
from bayesdose.designs.blrm_comb.recommendation import (
    ComboRecommendation,
    engine_line,
    mtd_set_lines,
    next_text,
    pair_rows,
    prior_lines,
    title,
)

MAPS = (("p_overdose", "P(overdosing)", "Reds"), ("p_target", "P(target)", "Greens"))


def heatmaps(rec: ComboRecommendation) -> Any:
    """The two heatmaps with the decision's marks."""
    from bayesdose.report.figures import styled

    return styled(_draw)(rec)


def _draw(rec: ComboRecommendation) -> Any:
    from bayesdose.report.figures import new_figure

    fig = new_figure(10.0, 4.6)
    for ax, (key, name, colours) in zip(fig.subplots(1, 2), MAPS, strict=True):
        _heatmap(ax, rec, key, name, colours)
    fig.suptitle(f"{next_text(rec)}\n{rec.design.trial.name}: after "
                 f"{rec.data.total_patients} patients", parse_math=False, fontsize=10,
                 x=0.01, ha="left")
    return fig


def _heatmap(ax: Any, rec: ComboRecommendation, key: str, name: str, colours: str) -> None:
    """One map: the values, barred crosses, the next and current pairs, the MTD set."""
    from matplotlib.patches import Rectangle

    pairs, decision = rec.design.pair_panel, rec.decision
    table = rec.table(key)
    rows, cols = pairs.shape
    ax.imshow(table, cmap=colours, vmin=0, vmax=1, origin="lower", aspect="auto")
    ax.grid(False)
    for i in range(rows):
        for j in range(cols):
            k = pairs.index(i, j)
            ink = "white" if table[i, j] > 0.6 else "#111111"
            ax.text(j, i, f"{table[i, j]:.3f}", ha="center", va="center", color=ink,
                    fontsize=8)
            if decision.barred_by[k] is not None:
                ax.text(j + 0.36, i + 0.3, "×", ha="center", va="center", color="#a8322a",
                        fontsize=11, fontweight="bold")
            n = int(rec.data.n[k])
            if n:
                ax.text(j, i - 0.3, f"{int(rec.data.dlt[k])}/{n}", ha="center",
                        va="center", color=ink, fontsize=7)
    marked = decision.mtd_pair if decision.stop else decision.next_pair
    if marked is not None:
        i, j = pairs.pair(marked)
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="#1f4e79", lw=3))
    if decision.current_pair is not None:
        i, j = pairs.pair(decision.current_pair)
        ax.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False, ec="#555555",
                               lw=1.2, ls="--"))
    if key == "p_target":
        star = [(i, j) for i, j in enumerate(decision.contour) if j is not None]
        ax.plot([j - 0.36 for _, j in star], [i + 0.3 for i, _ in star], ls="", marker="*",
                color="#111111", ms=8)
    a, b = pairs.names
    ax.set_xticks(np.arange(cols), [pairs.drugs[1].number(d, rich=True)
                                    for d in pairs.drugs[1].levels])
    ax.set_yticks(np.arange(rows), [pairs.drugs[0].number(d, rich=True)
                                    for d in pairs.drugs[0].levels])
    ax.set_xlabel(f"{b} ({pairs.drugs[1].unit})" if pairs.drugs[1].unit else b)
    ax.set_ylabel(f"{a} ({pairs.drugs[0].unit})" if pairs.drugs[0].unit else a)
    ax.set_title(name)


def combination_html(rec: ComboRecommendation, document: dict[str, Any]) -> str:
    """The one-page decision report (``document``: the JSON of ``recommend --json``)."""
    from bayesdose.designs.blrm_comb.pathways import pathway_lines
    from bayesdose.report import provenance
    from bayesdose.report.charts import combination_pathway_figure
    from bayesdose.report.figures import data_uri
    from bayesdose.report.render import render
    from bayesdose.report.text import dlts, patients

    titles, rows = pair_rows(rec)
    entries = [*document["doses"], *document["monotherapy"]]
    keys = ("mean", "sd", "p_underdose", "p_target", "p_overdose")
    table = [{"doses": cells[:2], "counts": cells[2:4], "status": cells[-1],
              "numbers": [(key, entry[key], text) for key, text
                          in zip(keys, cells[4:-1], strict=True)],
              "next": k == rec.decision.next_pair,
              "class": "no" if cells[-1].startswith("no") else "yes" if k < len(document[
                  "doses"]) else ""}
             for k, (cells, entry) in enumerate(zip(rows, entries, strict=True))]
    pathways = None
    if rec.pathways is not None:
        cohorts = document["pathways"]["cohorts"]
        pathways = {"cohorts": cohorts, "lines": pathway_lines(rec.pathways, cohorts),
                    "figure": data_uri(combination_pathway_figure(rec.pathways, cohorts))}
    mcmc = None if rec.mcmc is None else crosscheck.mcmc_lines(rec.design, rec.engine, rec.arms,
                                                               rec.summary, rec.mcmc)
    return render(
        "combination_decision.html", design=rec.design, document=document, title=title(rec),
        pathways=pathways, mcmc=mcmc, decided_on=crosscheck.decided_on(rec.engine),
        headline=next_text(rec), engine=engine_line(rec), mtd_set=mtd_set_lines(rec),
        priors=prior_lines(rec.design), titles=titles, rows=table, notes=rec.notes,
        treated=patients(rec.data.total_patients), dlts=dlts(int(rec.data.dlt.sum())),
        figure=data_uri(heatmaps(rec)), generator=provenance.generator(),
        generated=provenance.utc_now())


def write_html(rec: ComboRecommendation, document: dict[str, Any], path: Path) -> None:
    from bayesdose.report.render import write

    write(path, combination_html(rec, document), "HTML report")
