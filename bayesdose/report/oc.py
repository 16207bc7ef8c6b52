"""Operating characteristics as report tables: every number is read from the simulation's
summary (the summary.json document) and only formatted here, never recomputed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bayesdose.designs.registry import label as design_label
from bayesdose.report.text import dose, number
from bayesdose.schema import Design

# (summary key, label, decimals): the rows of a scenario's table, in order.
METRICS = (
    ("pcs", "P(correct selection): the true MTD, or no dose when none is right", 3),
    ("p_select_target_interval", "P(selected dose in the target interval)", 3),
    ("select_above_mtd", "P(selected dose above the true MTD)", 3),
    ("select_none", "P(no dose selected)", 3),
    ("accuracy_index", "Accuracy index (Cheung 2011)", 3),
    ("n_mean", "Mean number of patients", 2),
    ("dlt_mean", "Mean number of DLTs", 2),
    ("dlt_rate", "DLT rate (DLTs per patient)", 3),
    ("p_at_mtd", "Share of patients at the true MTD", 3),
    ("p_above_mtd", "Share of patients above the true MTD", 3),
    ("early_stop", "P(early stop for safety)", 3),
)
PER_DOSE_DECIMALS = {"select": 3, "patients": 2}
# The row of a study in time: the mean duration, always simulated (also beside exact results).
DURATION = ("duration[mean]", "Mean trial duration in days (simulated in time)", 1)


@dataclass(frozen=True)
class Cell:
    """One number of the summary: where it is (design, key), its value and standard error
    exactly as in summary.json, and how they are shown."""

    design: str
    key: str  # "pcs", or "select[0]" for a per-dose entry
    value: float | None
    se: float | None
    text: str
    se_text: str  # "" for exact results (standard error 0) or a missing value


@dataclass(frozen=True)
class Row:
    label: str
    cells: list[Cell]


@dataclass(frozen=True)
class ScenarioTables:
    """The tables of one scenario."""

    name: str
    p_true: list[str]
    true_mtd: str
    designs: list[str]
    labels: list[str]
    metrics: list[Row]
    selection: list[Row]  # one row per design: each dose, then no dose
    allocation: list[Row]  # one row per design that treats patients: mean patients per dose


def _cell(design: str, key: str, value: Any, se: Any, decimals: int, simulated: bool) -> Cell:
    if value is None:
        return Cell(design, key, None, None, "—", "")
    text = f"{value:.{decimals}f}"
    se_text = f"{se:.{decimals}f}" if simulated and se is not None else ""
    return Cell(design, key, value, se, text, se_text)


def scenario_tables(design: Design, summary: dict[str, Any], entry: dict[str, Any]
                    ) -> ScenarioTables:
    """The tables of one scenario entry of the summary."""
    simulated = summary["method"] == "simulate"
    names = list(entry["designs"])
    metrics = []
    for key, label, decimals in METRICS:
        cells = []
        for name in names:
            oc = entry["designs"][name]
            cells.append(_cell(name, key, oc.get(key), oc["se"].get(key), decimals, simulated))
        metrics.append(Row(label, cells))
    if "timeline" in summary:
        key, label, decimals = DURATION
        metrics.append(Row(label, [
            _cell(name, key, oc["duration"]["mean"], oc["se"]["duration"]["mean"], decimals,
                  True) if "duration" in oc else _cell(name, key, None, None, decimals, True)
            for name, oc in entry["designs"].items()]))

    def per_dose(name: str, key: str) -> list[Cell]:
        oc = entry["designs"][name]
        return [
            _cell(name, f"{key}[{k}]", v, oc["se"][key][k], PER_DOSE_DECIMALS[key], simulated)
            for k, v in enumerate(oc[key])
        ]

    selection = []
    for name in names:
        oc = entry["designs"][name]
        none = _cell(name, "select_none", oc["select_none"], oc["se"]["select_none"], 3,
                     simulated)
        selection.append(Row(design_label(name), [*per_dose(name, "select"), none]))
    allocation = [Row(design_label(name), per_dose(name, "patients"))
                  for name in names if "patients" in entry["designs"][name]]
    mtd = entry["true_mtd"]
    return ScenarioTables(
        name=entry["name"],
        p_true=[number(p) for p in entry["p_true"]],
        true_mtd="none (every dose is too toxic)" if mtd is None
        else f"level {mtd}, {dose(design, mtd - 1)}",
        designs=names,
        labels=[design_label(n) for n in names],
        metrics=metrics,
        selection=selection,
        allocation=allocation,
    )
