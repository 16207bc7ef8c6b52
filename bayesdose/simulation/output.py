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
from bayesdose.simulation.runner import TrialRecords

TABLE_COLUMNS = (
    ("pcs", "P(correct)"), ("select_none", "none"), ("select_above_mtd", "sel>MTD"),
    ("p_above_mtd", "pts>MTD"), ("n_mean", "N"), ("dlt_rate", "DLT rate"),
    ("early_stop", "early stop"),
)
TIME_COLUMNS = (("duration", "days"), ("pending_treated", "pend. pts"))  # studies with time


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

    def put_records(self, scenario: int, design: int, trials: slice,
                    records: TrialRecords) -> None:
        pass

    def put_optimal(self, scenario: int, trials: slice, selected: np.ndarray) -> None:
        pass

    def put_timing(self, scenario: int, design: int, trials: slice, duration: np.ndarray,
                   pending_treated: np.ndarray) -> None:
        pass


def _create_results_layout(path: Path, scenarios: list[str], designs: list[str], trials: int,
                           levels: tuple, block: int, timed: bool = False,
                           drugs: tuple[str, ...] = ()) -> None:
    """The netCDF layout of ``results.nc`` (dimensions, coordinates, empty variables with their
    attributes), written by h5netcdf. Per trial: the selected dose level (1-based, 0 = none),
    patients and DLTs per dose, stop reason; and the optimal benchmark's selection. Two
    ``drugs``: ``levels`` are the dose pairs, dimension ``pair`` with each drug's dose
    (``dose_<name>``), and a selection is a 0/1 flag per pair (a contour has several).
    Compressed (gzip) in HDF5 chunks of ``block`` trials; xarray reads it with
    ``engine="h5netcdf"``."""
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
        trial = nc.create_variable("trial", ("trial",), dtype="i8", chunks=(block,))
        for first in range(0, trials, block):  # block by block: memory flat in trials
            trial[first : first + block] = np.arange(first, min(first + block, trials))

        def variable(name: str, dims: tuple[str, ...], dtype: str, **attrs: Any) -> None:
            chunks = tuple(block if d == "trial" else 1 for d in dims)
            if dims[-1] == dose:
                chunks = (*chunks[:-1], len(levels))
            var = nc.create_variable(name, dims, dtype=dtype, chunks=chunks, compression="gzip",
                                     compression_opts=1, shuffle=True)
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


class ResultsWriter(_NoResults):
    """Fills the variables of ``results.nc`` a range of trials at a time, straight through h5py
    (h5netcdf's own writes cost more than the compression)."""

    def __init__(self, h5: Any) -> None:
        self.selected, self.n, self.dlt = h5["selected"], h5["n"], h5["dlt"]
        self.stop_reason, self.optimal = h5["stop_reason"], h5["optimal_selected"]
        self.timing = (h5["duration"], h5["pending_treated"]) if "duration" in h5 else None
        self.shift = 0 if "pair" in h5 else 1  # 1-based levels; pairs' 0/1 flags as they are

    def put_records(self, scenario: int, design: int, trials: slice,
                    records: TrialRecords) -> None:
        self.selected[scenario, design, trials] = records.selected + self.shift
        self.n[scenario, design, trials, :] = records.n
        self.dlt[scenario, design, trials, :] = records.dlt
        self.stop_reason[scenario, design, trials] = records.stop_reason

    def put_optimal(self, scenario: int, trials: slice, selected: np.ndarray) -> None:
        self.optimal[scenario, trials] = selected + self.shift

    def put_timing(self, scenario: int, design: int, trials: slice, duration: np.ndarray,
                   pending_treated: np.ndarray) -> None:
        for variable, values in zip(self.timing, (duration, pending_treated), strict=True):
            variable[scenario, design, trials] = values


@contextmanager
def results_file(path: Path | None, scenarios: list[str], designs: list[str], trials: int,
                 levels: tuple, block: int, timed: bool = False,
                 drugs: tuple[str, ...] = ()) -> Iterator[_NoResults]:
    """A ResultsWriter for ``path`` with HDF5 chunks of ``block`` trials (the simulation's
    chunk size, so each write fills whole HDF5 chunks), written to a temporary file in the
    same folder and renamed into place when the block ends without an error (nothing for
    ``path`` None). Two ``drugs``: ``levels`` are the dose pairs (see the layout)."""
    if path is None:
        yield _NoResults()
        return
    import h5py

    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    os.close(fd)
    temporary = Path(name)
    try:
        _create_results_layout(temporary, scenarios, designs, trials, levels,
                               max(min(trials, block), 1), timed, drugs)
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
    head = f"{'scenario':<10} {'design':<10} " + " ".join(f"{t:>10}" for _, t in columns)
    lines = [f"method: {_method_text(summary)}", head, "-" * len(head)]
    if "timeline" in summary:
        lines.insert(1, _timeline_text(summary["timeline"]))
    for entry in summary["scenarios"]:
        lines.append(f"{entry['name']} (true MTD: {true_mtd_text(summary, entry)})")
        for name, oc in entry["designs"].items():
            cells = " ".join(f"{cell_text(key, oc.get(key)):>10}" for key, _ in columns)
            lines.append(f"{'':<10} {name:<10} " + cells)
            errors = [se_text(summary, key, oc) for key, _ in columns]
            if any(errors):
                lines.append(f"{'':<21} " + " ".join(f"{e:>10}" for e in errors))
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
    return 2 if key in ("n_mean", "duration", "pending_treated", "patients") else 3


def se_text(summary: dict, key: str, oc: dict) -> str:
    """The standard error of a simulated number, in brackets ("" for an exact one)."""
    simulated = summary["method"] == "simulate" or key in ("duration", "pending_treated")
    se = oc.get("se", {}).get(key)
    if isinstance(se, dict):
        se = se["mean"]
    if not simulated or se is None or oc.get(key) is None:
        return ""
    return f"({se:.{_decimals(key)}f})"


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
TIME_LEGEND = {
    "days": "mean trial duration, from the first dosing to the last patient's outcome",
    "pend. pts": "mean patients dosed while a patient of an earlier cohort was still in DLT "
                 "follow-up",
}


def legend(summary: dict) -> list[str]:
    """What the columns mean, under the table, one line each."""
    meanings = LEGEND | (TIME_LEGEND if "timeline" in summary else {})
    if any(se_text(summary, key, oc) for entry in summary["scenarios"]
           for oc in entry["designs"].values() for key in ("pcs", "duration")):
        meanings["(...)"] = "Monte Carlo standard error of the number above"
    return [""] + [f"{title:<10}  {meaning}" for title, meaning in meanings.items()]


def per_dose_table(summary: dict) -> list[str]:
    """``simulate --verbose``: per scenario and design, P(select) at each dose (and no dose)
    and the mean patients treated at each dose, with standard errors when simulated."""
    doses = len(summary["scenarios"][0]["p_true"])
    labels = summary.get("doses") or [f"level {k + 1}" for k in range(doses)]
    names = ", ".join(f"level {k + 1} = {label}" for k, label in enumerate(labels))
    head = (f"{'scenario':<10} {'design':<10} {'':<9}"
            + "".join(f" {f'level {k + 1}':>10}" for k in range(doses)) + f" {'none':>10}")
    lines = ["", f"per dose: {names}", head, "-" * len(head)]
    for entry in summary["scenarios"]:
        scenario = entry["name"]
        for name, oc in entry["designs"].items():
            rows = [("select", [*oc["select"], oc["select_none"]],
                     [*oc["se"]["select"], oc["se"]["select_none"]])]
            if "patients" in oc:
                rows.append(("patients", oc["patients"], oc["se"]["patients"]))
            for what, values, errors in rows:
                cells = "".join(f" {cell_text(what, v):>10}" for v in values)
                lines.append(f"{scenario:<10} {name:<10} {what:<9}{cells}")
                scenario = ""
                if summary["method"] == "simulate":
                    brackets = "".join(f" {f'({e:.{_decimals(what)}f})':>10}" for e in errors)
                    lines.append(f"{'':<31}{brackets}")
    return lines


def _timeline_text(timeline: dict) -> str:
    return (f"time: {timeline['accrual']} accrual, {timeline['arrivals_per_month']:.3g} "
            f"patients/month (mean gap {timeline['mean_gap_days']:.1f} days), "
            f"{timeline['dlt_window_days']}-day DLT window, {timeline['dlt_time']} DLT times")
