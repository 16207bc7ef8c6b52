"""The design report of a two-drug config (``bayesdose report`` when the config has ``[drugs]``):
the grid, the compared designs (the combination BLRM, BOIN-comb and the waterfall, as simulated
by ``simulation.combination``) in words, per scenario the operating characteristics (read from
``summary.json``, formatted here, never recomputed) with selection and allocation heatmaps per
design, the true MTD set marked, the combination BLRM's dose-transition pathways from the start
pair (``designs.blrm_comb.pathways``) and how to reproduce it all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bayesdose.designs.registry import COMBINATION, entry
from bayesdose.designs.registry import label as design_label
from bayesdose.errors import InputError
from bayesdose.report.oc import Cell, Row, _cell
from bayesdose.report.simulated_study import Study, check_design, designs_allowed, read_summary
from bayesdose.schema import Design
from bayesdose.simulation.combination.scenarios import MatrixScenario

# (summary key, label, decimals): the rows of a scenario's table, in order.
METRICS = (
    ("pcs", "P(selecting a pair of the true MTD set)", 3),
    ("pcs_contour", "P(the selected pairs are exactly the true MTD contour)", 3),
    ("select_above_mtd", "P(selecting a pair above the true MTD set)", 3),
    ("select_none", "P(no pair selected)", 3),
    ("n_mean", "Mean number of patients", 2),
    ("dlt_mean", "Mean number of DLTs", 2),
    ("dlt_rate", "DLT rate (DLTs per patient)", 3),
    ("p_at_mtd", "Share of patients at the true MTD set", 3),
    ("p_above_mtd", "Share of patients above the true MTD set", 3),
    ("early_stop", "P(early stop for safety)", 3),
)
PER_PAIR = {"select": ("Selection", 3), "patients": ("Mean patients", 2)}
OPTIMAL = ("Complete-information benchmark (O'Quigley, Paoletti & Maccario 2002) over the "
           "pairs: each pair's DLT rate estimated from the same first max_patients patients' "
           "tolerances, the pair closest to the target selected; a reference, not a design.")
PATHWAY_COHORTS = 2  # the report's default: (cohort size + 1)^2 + that + 1 posteriors


def run(design: Design, scenarios: list[MatrixScenario], trials: int, seed: int,
        folder: Path) -> Study:
    """Simulate every two-drug design in every scenario into ``folder`` (as ``simulate``)."""
    from bayesdose.simulation.combination.study import combination_summary

    names, omitted = designs_allowed(design, COMBINATION)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    combination_summary(design, scenarios, names, trials, seed, out=folder, progress=True)
    path = folder / "summary.json"
    return Study(read_summary(path), path, time.perf_counter() - start, False, omitted)


def reuse(folder: Path, design: Design, scenarios: list[MatrixScenario]) -> Study:
    """The study in a ``bayesdose simulate`` output folder of this config and scenarios."""
    path = folder / "summary.json"
    summary = read_summary(path)
    check_design(summary, design, str(path))
    have = [(s.get("name"), s.get("p_true")) for s in summary["scenarios"]]
    if have != [(s.name, [list(r) for r in s.p_true]) for s in scenarios]:
        raise InputError(str(path), None, "its scenarios differ from the scenario file's "
                         "(names or true DLT rates)")
    names, omitted = designs_allowed(design, COMBINATION)
    present = set(summary["designs"])
    omitted.update({n: "not in the reused simulation" for n in names if n not in present})
    return Study(summary, path, None, True, omitted)


@dataclass(frozen=True)
class PairTable:
    """One design's per-pair matrix (selection or mean patients), rows the first drug's levels
    from the highest down, as the heatmaps draw them."""

    design: str
    label: str
    what: str
    rows: list[tuple[str, list[Cell]]]


@dataclass(frozen=True)
class ScenarioTables:
    name: str
    truth: list[tuple[str, list[tuple[str, bool]]]]  # per row (highest first): (p, in MTD set)
    mtd_set: str
    contour: str
    labels: list[str]
    metrics: list[Row]
    pair_tables: list[PairTable]


def _pairs_text(design: Design, pairs: list[list[int]]) -> str:
    panel = design.pair_panel
    return "; ".join(panel.label(panel.index(a - 1, b - 1), rich=True) for a, b in pairs) or "none"


def scenario_tables(design: Design, summary: dict[str, Any], entry_: dict[str, Any]
                    ) -> ScenarioTables:
    """The tables of one scenario entry of the summary."""
    panel = design.pair_panel
    names = list(entry_["designs"])
    metrics = [Row(label, [_cell(n, key, entry_["designs"][n].get(key),
                                 entry_["designs"][n]["se"].get(key), decimals, True)
                           for n in names]) for key, label, decimals in METRICS]
    in_set = {tuple(p) for p in entry_["true_mtd_set"]}
    rows = range(panel.shape[0] - 1, -1, -1)
    truth = [(panel.drugs[0].label(a, rich=True),
              [(f"{p:g}", (a + 1, b + 1) in in_set) for b, p in enumerate(entry_["p_true"][a])])
             for a in rows]
    tables = []
    for name in names:
        oc = entry_["designs"][name]
        for key, (what, decimals) in PER_PAIR.items():
            if key not in oc:
                continue
            tables.append(PairTable(name, design_label(name), what, [
                (panel.drugs[0].label(a, rich=True),
                 [_cell(name, f"{key}[{a}][{b}]", v, oc["se"][key][a][b], decimals, True)
                  for b, v in enumerate(oc[key][a])]) for a in rows]))
    return ScenarioTables(entry_["name"], truth, _pairs_text(design, entry_["true_mtd_set"]),
                          _pairs_text(design, entry_["true_contour"]),
                          [design_label(n) for n in names], metrics, tables)


def heatmaps(design: Design, entry_: dict[str, Any]) -> Any:
    """Per design a row of panels: its selection and its mean patients per pair over the grid,
    the true MTD set boxed on each."""
    from bayesdose.report.figures import styled

    return styled(_draw)(design, entry_)


def _draw(design: Design, entry_: dict[str, Any]) -> Any:
    from matplotlib.patches import Rectangle

    from bayesdose.report.figures import new_figure

    panel = design.pair_panel
    names = list(entry_["designs"])
    fig = new_figure(9.0, 2.3 * len(names) + 0.6)
    axes = fig.subplots(len(names), 2, squeeze=False)
    top = max(max(map(max, oc["patients"])) for oc in entry_["designs"].values()
              if "patients" in oc)
    for row, name in zip(axes, names, strict=True):
        oc = entry_["designs"][name]
        for ax, (key, (what, decimals)), (colours, vmax) in zip(
                row, PER_PAIR.items(), (("Blues", 1.0), ("Purples", top)), strict=True):
            if key not in oc:
                ax.axis("off")
                continue
            table = np.array(oc[key])
            ax.imshow(table, cmap=colours, vmin=0, vmax=vmax, origin="lower", aspect="auto")
            ax.grid(False)
            for (a, b), value in np.ndenumerate(table):
                ax.text(b, a, f"{value:.{decimals}f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.6 * vmax else "#111111")
            for a, b in entry_["true_mtd_set"]:
                ax.add_patch(Rectangle((b - 1.5, a - 1.5), 1, 1, fill=False, ec="#c0392b",
                                       lw=2))
            _axes(ax, panel)
            ax.set_title(f"{design_label(name)}: {what.lower()}", parse_math=False)
    fig.suptitle(f"{entry_['name']}: the true MTD set boxed in red", parse_math=False,
                 fontsize=9, x=0.01, ha="left")
    return fig


def _axes(ax: Any, panel: Any) -> None:
    """Tick labels and axis titles of a grid heatmap (rows: the first drug)."""
    for drug, ticks, axis in ((0, ax.set_yticks, ax.set_ylabel), (1, ax.set_xticks,
                                                                   ax.set_xlabel)):
        p = panel.drugs[drug]
        ticks(np.arange(len(p.levels)), [p.number(d, rich=True) for d in p.levels])
        axis(f"{panel.names[drug]} ({p.unit})" if p.unit else panel.names[drug])


def trial_items(design: Design) -> list[tuple[str, str]]:
    """The trial in words: the grid, the start, cohorts and sample size, the target."""
    panel, c = design.pair_panel, design.cohorts
    grid = "; ".join(f"{name}: {', '.join(p.label(k, rich=True) for k in range(len(p.levels)))}"
                     for name, p in zip(panel.names, panel.drugs, strict=True))
    return [
        ("Dose pairs", f"{panel.shape[0]} × {panel.shape[1]}: every level of {panel.names[0]} "
                       f"with every level of {panel.names[1]} ({grid})."),
        ("Start", f"{panel.label(design.start_pair, rich=True)}; cohorts of {c.size}."),
        ("Target", f"DLT rate {design.decision.target:g}; the true MTD set is the pairs whose "
                   "true rate is closest to it (ties included)."),
        ("Sample size", f"The combination BLRM and BOIN-comb: at most "
                        f"{design.stopping.max_patients} patients "
                        f"([stopping] max_patients); the waterfall: its subtrials' cohorts "
                        f"× {c.size}."),
    ]


# (summary field, what the table shows): the prior per pair, before any patient
PRIOR = (("mean", "Prior mean P(DLT)"), ("p_target", "Prior P(target toxicity)"),
         ("p_overdose", "Prior P(overdosing)"))


@dataclass(frozen=True)
class PriorTable:
    """One prior summary per pair, rows the first drug's levels from the highest down."""

    key: str
    label: str
    rows: list[tuple[str, list[str]]]


def prior_tables(design: Design, summary: Any) -> list[PriorTable]:
    """The combination BLRM's prior per pair: ``summary`` is its posterior with no patients
    (the recommendation at the root of the pathways), read at the grid's flat pairs."""
    panel = design.pair_panel
    rows, cols = panel.shape
    return [PriorTable(key, label, [
        (panel.drugs[0].label(a, rich=True),
         [f"{float(getattr(summary, key)[0, a * cols + b]):.3f}" for b in range(cols)])
        for a in range(rows - 1, -1, -1)]) for key, label in PRIOR]


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def descriptions(design: Design, names: list[str]) -> list[tuple[str, str]]:
    return [(design_label(n), entry(n).describe(design)) for n in names]


def report_html(design: Design, study: Study, inputs: Any, pathway_cohorts: int | None) -> str:
    """The whole two-drug design report page (``inputs``: ``build.ReportInputs``)."""
    from bayesdose.designs.blrm_comb.pathways import pathway_lines, pathway_tree
    from bayesdose.designs.blrm_comb.recommendation import prior_lines
    from bayesdose.hypothetical import no_patients
    from bayesdose.report import provenance
    from bayesdose.report.charts import combination_pathway_figure
    from bayesdose.report.figures import data_uri
    from bayesdose.report.render import render
    from bayesdose.report.text import number

    summary = study.summary
    cohorts = pathway_cohorts or PATHWAY_COHORTS
    root = pathway_tree(design, no_patients(design), cohorts)
    return render(
        "combination_report.html", design=design, summary=summary, number=number,
        trials=summary["scenarios"][0]["designs"][summary["designs"][0]]["trials"],
        trial_items=trial_items(design), compared=descriptions(design, summary["designs"]),
        optimal=OPTIMAL, prior_text=_sentence(prior_lines(design)),
        prior_tables=prior_tables(design, root.rec.summary),
        omitted=list(study.omitted.items()),
        scenarios=[{"tables": scenario_tables(design, summary, e),
                    "figure": data_uri(heatmaps(design, e))} for e in summary["scenarios"]],
        pathway_cohorts=cohorts, pathway_text="\n".join(pathway_lines(root, cohorts)[1:]),
        pathway_figure=data_uri(combination_pathway_figure(root, cohorts)),
        files=[provenance.input_file("design config", inputs.config),
               provenance.input_file("scenarios", inputs.scenarios),
               provenance.input_file("simulation summary", study.path)],
        command=inputs.command, versions=provenance.package_versions(),
        generator=provenance.generator(), generated=provenance.utc_now())
