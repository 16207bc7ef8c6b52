"""Operating characteristics as report tables: every number is read from the simulation's
summary (the summary.json document) and only formatted here, never recomputed.

A study whose scenarios give response rates adds every design's responses, P(selecting the
true OBD) and the OBD it selects per dose beside the MTD; a backfill design (``NAME+backfill``)
adds rows for its backfill patients and its patients per dose split into escalation and
backfill (designs without backfill show a dash there: the summary has no such number)."""

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
# The rows a backfill design adds (``backfilloc.add_backfill``), after METRICS.
BACKFILL_METRICS = (
    ("backfill_mean", "Mean backfill patients (on top of the escalation's)", 2),
    ("late", "Mean backfill patients still in follow-up when the escalation ended", 2),
)
# The rows every design adds when the scenarios give response rates (``metrics.add_efficacy``).
EFFICACY_METRICS = (
    ("responses_mean", "Mean number of responses", 2),
    ("p_select_obd", "P(selecting the true OBD, or no dose when none is right)", 3),
)
PER_DOSE_DECIMALS = {"select": 3, "patients": 2, "patients_escalation": 2,
                     "patients_backfill": 2, "select_obd": 3}
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
    allocation: list[Row]  # per design that treats patients: mean patients per dose (a
    # backfill design: two rows, its escalation and its backfill patients)
    p_response: list[str] | None = None  # true response rates, when the scenario has them
    true_obd: str | None = None  # in words, when the scenario has response rates
    obd_selection: list[Row] | None = None  # per design: P(selecting each dose as the OBD)
    backfill: bool = False  # a backfill design is in the study (its figure hatches backfill)


def has_backfill(entry: dict[str, Any]) -> bool:
    """Whether a scenario entry of the summary holds a backfill design's numbers."""
    return any("patients_backfill" in oc for oc in entry["designs"].values())


def has_obd(entry: dict[str, Any]) -> bool:
    """Whether a scenario entry of the summary holds designs' OBD selections (its scenario
    gives response rates)."""
    return any("select_obd" in oc for oc in entry["designs"].values())


def _true_dose(design: Design, level: int | None) -> str:
    """A scenario's true MTD or OBD (1-based, as the summary has it) in words."""
    return ("none (every dose is too toxic)" if level is None
            else f"level {level}, {dose(design, level - 1)}")


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
    rows = (*METRICS, *(BACKFILL_METRICS if has_backfill(entry) else ()),
            *(EFFICACY_METRICS if has_obd(entry) else ()))
    metrics = []
    for key, label, decimals in rows:
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
    allocation = []
    for name in names:
        if "patients_backfill" in entry["designs"][name]:
            allocation += [Row(f"{design_label(name)}: escalation",
                               per_dose(name, "patients_escalation")),
                           Row(f"{design_label(name)}: backfill",
                               per_dose(name, "patients_backfill"))]
        elif "patients" in entry["designs"][name]:
            allocation.append(Row(design_label(name), per_dose(name, "patients")))
    responses = entry.get("p_response")
    return ScenarioTables(
        name=entry["name"],
        p_true=[number(p) for p in entry["p_true"]],
        true_mtd=_true_dose(design, entry["true_mtd"]),
        designs=names,
        labels=[design_label(n) for n in names],
        metrics=metrics,
        selection=selection,
        allocation=allocation,
        p_response=None if responses is None else [number(p) for p in responses],
        true_obd=None if responses is None else _true_dose(design, entry["true_obd"]),
        obd_selection=[Row(design_label(n), per_dose(n, "select_obd")) for n in names
                       if "select_obd" in entry["designs"][n]] if has_obd(entry) else None,
        backfill=has_backfill(entry),
    )
