"""Writing a study: ``summary.json`` (atomically), ``results.nc`` (per-trial records, netCDF4
via h5netcdf, filled one scenario x design at a time and renamed into place), and the
comparison table printed on the terminal."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bayesdose import interrupt
from bayesdose.designs.base import STOP_REASONS
from bayesdose.record import atomic_write

TABLE_COLUMNS = (
    ("pcs", "P(correct)"), ("select_none", "none"), ("select_above_mtd", "sel>MTD"),
    ("p_above_mtd", "pts>MTD"), ("n_mean", "N"), ("dlt_rate", "DLT rate"),
    ("early_stop", "early stop"),
)
TIME_COLUMNS = (("duration", "days"), ("pending_treated", "pend. pts"))  # studies with time
BACKFILL_COLUMNS = (("backfill_mean", "backfill"),)  # with a backfill design
EFFICACY_COLUMNS = (("responses_mean", "responses"), ("p_select_obd", "P(OBD)"))  # p_response


def _clean(value: Any) -> Any:
    """JSON-safe: NaN becomes null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_summary(path: Path, summary: dict) -> None:
    atomic_write(path, json.dumps(_clean(summary), indent=2, allow_nan=False) + "\n")


class _NoResults:
    """Stands in for the results file of a run without an output folder."""

    def put(self, scenario: int, design: int, trials: slice,
            values: dict[str, np.ndarray]) -> None:
        pass

    def put_optimal(self, scenario: int, trials: slice, selected: np.ndarray) -> None:
        pass


def _create_results_layout(path: Path, scenarios: list[str], designs: list[str], trials: int,
                           levels: tuple, block: int, timed: bool = False,
                           backfill: bool = False, drugs: tuple[str, ...] = (),
                           efficacy: bool = False) -> None:
    """The netCDF layout of ``results.nc`` (dimensions, coordinates, empty variables with their
    attributes), written by h5netcdf. Per trial: the selected dose level (1-based, 0 = none),
    patients and DLTs per dose, stop reason; and the optimal benchmark's selection; with time,
    duration and patients dosed while others were pending; when the scenarios give response
    rates (``efficacy``), every design's responses per dose and the OBD it selects; with a
    backfill design, its backfill patients per dose and late backfill patients (the fill value
    -1, missing to xarray, for the other designs). Two ``drugs``: ``levels`` are the dose pairs,
    dimension ``pair`` with each drug's dose (``dose_<name>``), and a selection is a 0/1 flag
    per pair (a contour has several). Compressed (gzip) in HDF5 chunks of ``block`` trials;
    xarray reads it with ``engine="h5netcdf"``."""
    import h5netcdf
    import h5py

    dose = "pair" if drugs else "dose"
    with h5netcdf.File(path, "w") as nc:
        nc.dimensions = {"scenario": len(scenarios), "design": len(designs), "trial": trials,
                         dose: len(levels)}
        for name, values in (("scenario", scenarios), ("design", designs)):
            nc.create_variable(name, (name,), dtype=h5py.string_dtype())[:] = np.array(
                values, dtype=object
            )
        for i, name in enumerate(drugs):
            doses = nc.create_variable(f"dose_{name}", ("pair",), dtype="f8")
            doses[:] = np.array([pair[i] for pair in levels], float)
            doses.attrs["description"] = f"{name}'s dose in each pair"
        if not drugs:
            nc.create_variable("dose", ("dose",), dtype="f8")[:] = np.asarray(levels, float)
        trial = nc.create_variable("trial", ("trial",), dtype="i8", chunks=(block,),
                                   compression="gzip", compression_opts=1, shuffle=True)
        for first in range(0, trials, block):  # block by block: memory flat in trials
            trial[first : first + block] = np.arange(first, min(first + block, trials))

        def variable(name: str, dims: tuple[str, ...], dtype: str, fill: int | None = None,
                     **attrs: Any) -> None:
            chunks = tuple(block if d == "trial" else 1 for d in dims)
            if dims[-1] == dose:
                chunks = (*chunks[:-1], len(levels))
            var = nc.create_variable(name, dims, dtype=dtype, chunks=chunks, compression="gzip",
                                     compression_opts=1, shuffle=True, fillvalue=fill)
            if "pair" in dims:  # each pair's doses as coordinates (xarray, CF)
                attrs["coordinates"] = " ".join(f"dose_{drug}" for drug in drugs)
            var.attrs.update(attrs)

        per_trial = ("scenario", "design", "trial")
        if drugs:
            variable("selected", (*per_trial, dose), "i1",
                     description="1 if the pair is selected, else 0")
        else:
            variable("selected", per_trial, "i2",
                     description="selected dose level, 1-based; 0 = no dose")
        variable("n", (*per_trial, dose), "i2", description="patients")
        variable("dlt", (*per_trial, dose), "i2", description="DLTs")
        variable("stop_reason", per_trial, "i1",
                 flag_values=np.arange(len(STOP_REASONS), dtype=np.int8),
                 flag_meanings=" ".join(STOP_REASONS))
        if drugs:
            variable("optimal_selected", ("scenario", "trial", dose), "i1",
                     description="nonparametric optimal benchmark: 1 at its pair")
        else:
            variable("optimal_selected", ("scenario", "trial"), "i2",
                     description="nonparametric optimal benchmark, 1-based")
        if timed:
            variable("duration", per_trial, "i4", units="days",
                     description="first dosing to the last patient's final DLT outcome")
            variable("pending_treated", per_trial, "i2", description="patients dosed while a "
                     "patient of an earlier cohort was still in DLT follow-up")
        if efficacy:
            variable("response", (*per_trial, "dose"), "i2", description="responses")
            variable("obd_selected", per_trial, "i2", description="optimal biological dose "
                     "selected, 1-based; 0 = none")
        if backfill:
            variable("n_backfill", (*per_trial, "dose"), "i2", -1,
                     description="backfill patients (missing: a design without backfill)")
            variable("late", per_trial, "i2", -1, description="backfill patients still in "
                     "follow-up when the escalation ended (missing: a design without backfill)")


class ResultsWriter(_NoResults):
    """Fills the variables of ``results.nc`` a range of trials at a time, straight through h5py
    (h5netcdf's own writes cost more than the compression)."""

    ONE_BASED = {"selected": "selected", "obd": "obd_selected"}  # field: 1-based variable

    def __init__(self, h5: Any) -> None:
        self.h5 = h5
        self.shift = 0 if "pair" in h5 else 1  # 1-based levels; pairs' 0/1 flags as they are

    def put(self, scenario: int, design: int, trials: slice,
            values: dict[str, np.ndarray]) -> None:
        """A design's per-trial fields (as a chunk holds them) for ``trials``."""
        for field, value in values.items():
            if field in self.ONE_BASED:
                field, value = self.ONE_BASED[field], value + self.shift
            self.h5[field][scenario, design, trials] = value

    def put_optimal(self, scenario: int, trials: slice, selected: np.ndarray) -> None:
        self.h5["optimal_selected"][scenario, trials] = selected + self.shift


@contextmanager
def results_file(path: Path | None, scenarios: list[str], designs: list[str], trials: int,
                 levels: tuple, block: int, timed: bool = False, backfill: bool = False,
                 drugs: tuple[str, ...] = (), efficacy: bool = False) -> Iterator[_NoResults]:
    """A ResultsWriter for ``path`` with HDF5 chunks of ``block`` trials (the simulation's
    chunk size, so each write fills whole HDF5 chunks), written to a temporary file in the
    same folder and renamed into place when the block ends without an error (nothing for
    ``path`` None)."""
    if path is None:
        yield _NoResults()
        return
    import h5py

    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    os.close(fd)
    temporary = Path(name)
    try:
        _create_results_layout(temporary, scenarios, designs, trials, levels,
                               max(min(trials, block), 1), timed, backfill, drugs, efficacy)
        # Each write fills whole HDF5 chunks: no chunk cache (HDF5 would keep up to 8 MB per
        # variable, which makes memory grow with trials up to that bound).
        with h5py.File(temporary, "r+", rdcc_nbytes=0) as h5:
            yield ResultsWriter(h5)
        _flush_to_disk(temporary)
        interrupt.check()  # a Ctrl-C swallowed while the file was closed commits nothing
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _flush_to_disk(path: Path) -> None:
    """fsync, and the permissions an ordinary new file gets (as ``record.atomic_write``)."""
    umask = os.umask(0)
    os.umask(umask)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fchmod(fd, 0o666 & ~umask)
        os.fsync(fd)
    finally:
        os.close(fd)


def format_table(summary: dict, verbose: bool = False) -> str:
    """One row per scenario and design: the headline operating characteristics, with their
    Monte Carlo standard errors in brackets below the simulated ones, then what the columns
    mean; with ``verbose``, each design's selection and allocation per dose as well."""
    columns = TABLE_COLUMNS + (TIME_COLUMNS if "timeline" in summary else ())
    columns += BACKFILL_COLUMNS if _backfilled(summary) else ()
    columns += EFFICACY_COLUMNS if _has(summary, "p_select_obd") else ()
    w = _name_width(summary)
    head = f"{'scenario':<10} {'design':<{w}} " + " ".join(f"{t:>10}" for _, t in columns)
    lines = [f"method: {_method_text(summary)}", head, "-" * len(head)]
    if "timeline" in summary:
        lines.insert(1, _timeline_text(summary["timeline"]))
    for entry in summary["scenarios"]:
        lines.append(f"{entry['name']} ({_truth_text(summary, entry)})")
        for name, oc in entry["designs"].items():
            cells = " ".join(f"{cell_text(key, oc.get(key)):>10}" for key, _ in columns)
            lines.append(f"{'':<10} {name:<{w}} " + cells)
            errors = [se_text(summary, key, oc) for key, _ in columns]
            if any(errors):
                lines.append(f"{'':<{w + 11}} " + " ".join(f"{e:>10}" for e in errors))
    lines.extend(legend(summary))
    if verbose:
        lines.extend(per_dose_table(summary))
    return "\n".join(line.rstrip() for line in lines)


def cell_text(key: str, value: Any) -> str:
    """One operating characteristic as the table prints it ("-" when there is none)."""
    if isinstance(value, dict):  # duration: its mean, in days
        value = value["mean"]
    if value is None:
        return "-"
    return f"{value:.{_decimals(key)}f}"


def _decimals(key: str) -> int:
    counts = ("n_mean", "duration", "pending_treated", "patients", "backfill_mean",
              "responses_mean", "late", "backfill", "responses")
    return 2 if key in counts else 3


def _backfilled(summary: dict) -> bool:
    """Whether a design with backfill is in the summary."""
    return _has(summary, "backfill_mean")


def _has(summary: dict, key: str) -> bool:
    """Whether a design of the summary has the operating characteristic ``key``."""
    return any(key in oc for entry in summary["scenarios"] for oc in entry["designs"].values())


def _name_width(summary: dict) -> int:
    """The design column's width: 10, or the longest name (``boin+backfill``)."""
    return max(10, *(len(name) for name in summary["scenarios"][0]["designs"]))


def _scenario_width(summary: dict) -> int:
    """The per-dose table's scenario column: 10, or the longest scenario name."""
    return max(10, *(len(entry["name"]) for entry in summary["scenarios"]))


def se_text(summary: dict, key: str, oc: dict) -> str:
    """The standard error of a simulated number, in brackets ("" for an exact one)."""
    simulated = summary["method"] == "simulate" or key in ("duration", "pending_treated")
    se = oc.get("se", {}).get(key)
    if isinstance(se, dict):
        se = se["mean"]
    if not simulated or se is None or oc.get(key) is None:
        return ""
    return f"({se:.{_decimals(key)}f})"


def _truth_text(summary: dict, entry: dict) -> str:
    """The scenario's true MTD, and its true OBD when it has response rates."""
    text = f"true MTD: {true_mtd_text(summary, entry)}"
    if "true_obd" in entry:
        obd = entry["true_obd"]
        labels = summary.get("doses")
        text += "; true OBD: " + ("none" if obd is None else f"{labels[obd - 1]}, level {obd}"
                                  if labels else f"level {obd}")
    return text


def true_mtd_text(summary: dict, entry: dict) -> str:
    """The true MTD as a dose with its unit and its level (summaries written before the dose
    labels were kept show the level only)."""
    mtd = entry["true_mtd"]
    if mtd is None:
        return "none"
    labels = summary.get("doses")
    return f"{labels[mtd - 1]}, level {mtd}" if labels else f"level {mtd}"


def _method_text(summary: dict) -> str:
    method = summary["method"]
    if method == "exact":
        text = "exact (no Monte Carlo error)"
        timeline = summary.get("timeline")
        if timeline and "simulated_trials" in timeline:
            text += (f"; durations simulated in time ({timeline['simulated_trials']} trials per "
                     "scenario)")
        return text
    trials = next(iter(summary["scenarios"][0]["designs"].values())).get("trials")
    return f"simulate ({trials} trials per scenario)"


LEGEND = {
    "P(correct)": "P(selecting the true MTD, or no dose when none is right); the true MTD is "
                  "the dose whose true DLT rate is closest to the target",
    "none": "P(no dose selected)",
    "sel>MTD": "P(selecting a dose above the true MTD; any dose when none is right)",
    "pts>MTD": "share of the patients treated above the true MTD (all when none is right)",
    "N": "mean patients per trial",
    "DLT rate": "DLTs per patient treated",
    "early stop": "P(stopped for safety)",
}
BACKFILL_LEGEND = {
    "backfill": "mean backfill patients per trial (on top of the escalation's)",
}
EFFICACY_LEGEND = {
    "responses": "mean responses per trial",
    "P(OBD)": "P(selecting the true optimal biological dose: BOIN12's utility at or below the "
              "MTD; no dose when none is right)",
}
TIME_LEGEND = {
    "days": "mean trial duration, from the first dosing to the last patient's outcome",
    "pend. pts": "mean patients dosed while a patient of an earlier cohort was still in DLT "
                 "follow-up",
}


def legend(summary: dict) -> list[str]:
    """What the columns mean, under the table, one line each."""
    meanings = LEGEND | (TIME_LEGEND if "timeline" in summary else {})
    meanings |= BACKFILL_LEGEND if _backfilled(summary) else {}
    meanings |= EFFICACY_LEGEND if _has(summary, "p_select_obd") else {}
    if any(se_text(summary, key, oc) for entry in summary["scenarios"]
           for oc in entry["designs"].values() for key in ("pcs", "duration")):
        meanings["(...)"] = "Monte Carlo standard error of the number above"
    return [""] + [f"{title:<10}  {meaning}" for title, meaning in meanings.items()]


PER_DOSE_BACKFILL = (("patients_backfill", "backfill"), ("responses", "responses"),
                     ("select_obd", "OBD"))


def per_dose_table(summary: dict) -> list[str]:
    """``simulate --verbose``: per scenario and design, P(select) at each dose (and no dose)
    and the mean patients treated at each dose (for a backfill design also its backfill
    patients; with response rates, responses and P(selecting it as the OBD)), with standard
    errors when simulated."""
    doses = len(summary["scenarios"][0]["p_true"])
    labels = summary.get("doses") or [f"level {k + 1}" for k in range(doses)]
    names = ", ".join(f"level {k + 1} = {label}" for k, label in enumerate(labels))
    w, sw = _name_width(summary), _scenario_width(summary)
    head = (f"{'scenario':<{sw}} {'design':<{w}} {'':<9}"
            + "".join(f" {f'level {k + 1}':>10}" for k in range(doses)) + f" {'none':>10}")
    lines = ["", f"per dose: {names}", head, "-" * len(head)]
    for entry in summary["scenarios"]:
        scenario = entry["name"]
        for name, oc in entry["designs"].items():
            rows = [("select", [*oc["select"], oc["select_none"]],
                     [*oc["se"]["select"], oc["se"]["select_none"]])]
            if "patients" in oc:
                rows.append(("patients", oc["patients"], oc["se"]["patients"]))
            rows += [(what, oc[key], oc["se"][key]) for key, what in PER_DOSE_BACKFILL
                     if key in oc]
            for what, values, errors in rows:
                cells = "".join(f" {cell_text(what, v):>10}" for v in values)
                lines.append(f"{scenario:<{sw}} {name:<{w}} {what:<9}{cells}")
                scenario = ""
                if summary["method"] == "simulate":
                    brackets = "".join(f" {f'({e:.{_decimals(what)}f})':>10}" for e in errors)
                    lines.append(f"{'':<{sw + w + 11}}{brackets}")
    return lines


def _timeline_text(timeline: dict) -> str:
    return (f"time: {timeline['accrual']} accrual, {timeline['arrivals_per_month']:.3g} "
            f"patients/month (mean gap {timeline['mean_gap_days']:.1f} days), "
            f"{timeline['dlt_window_days']}-day DLT window, {timeline['dlt_time']} DLT times")
