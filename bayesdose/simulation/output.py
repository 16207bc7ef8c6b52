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
                           levels: tuple[float, ...], block: int, timed: bool = False) -> None:
    """The netCDF layout of ``results.nc`` (dimensions, coordinates, empty variables with their
    attributes), written by h5netcdf. Per trial: the selected dose level (1-based, 0 = none),
    patients and DLTs per dose, stop reason; and the optimal benchmark's selection. Compressed
    (gzip) in HDF5 chunks of ``block`` trials; xarray reads it with ``engine="h5netcdf"``."""
    import h5netcdf
    import h5py

    with h5netcdf.File(path, "w") as nc:
        nc.dimensions = {"scenario": len(scenarios), "design": len(designs), "trial": trials,
                         "dose": len(levels)}
        for name, values in (("scenario", scenarios), ("design", designs)):
            nc.create_variable(name, (name,), dtype=h5py.string_dtype())[:] = np.array(
                values, dtype=object
            )
        nc.create_variable("dose", ("dose",), dtype="f8")[:] = np.asarray(levels, float)
        trial = nc.create_variable("trial", ("trial",), dtype="i8", chunks=(block,))
        for first in range(0, trials, block):  # block by block: memory flat in trials
            trial[first : first + block] = np.arange(first, min(first + block, trials))

        def variable(name: str, dims: tuple[str, ...], dtype: str, **attrs: Any) -> None:
            chunks = tuple(block if d == "trial" else 1 for d in dims)
            if dims[-1] == "dose":
                chunks = (*chunks[:-1], len(levels))
            var = nc.create_variable(name, dims, dtype=dtype, chunks=chunks, compression="gzip",
                                     compression_opts=1, shuffle=True)
            var.attrs.update(attrs)

        per_trial = ("scenario", "design", "trial")
        variable("selected", per_trial, "i2",
                 description="selected dose level, 1-based; 0 = no dose")
        variable("n", (*per_trial, "dose"), "i2", description="patients")
        variable("dlt", (*per_trial, "dose"), "i2", description="DLTs")
        variable("stop_reason", per_trial, "i1",
                 flag_values=np.arange(len(STOP_REASONS), dtype=np.int8),
                 flag_meanings=" ".join(STOP_REASONS))
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

    def put_records(self, scenario: int, design: int, trials: slice,
                    records: TrialRecords) -> None:
        self.selected[scenario, design, trials] = records.selected + 1
        self.n[scenario, design, trials, :] = records.n
        self.dlt[scenario, design, trials, :] = records.dlt
        self.stop_reason[scenario, design, trials] = records.stop_reason

    def put_optimal(self, scenario: int, trials: slice, selected: np.ndarray) -> None:
        self.optimal[scenario, trials] = selected + 1

    def put_timing(self, scenario: int, design: int, trials: slice, duration: np.ndarray,
                   pending_treated: np.ndarray) -> None:
        for variable, values in zip(self.timing, (duration, pending_treated), strict=True):
            variable[scenario, design, trials] = values


@contextmanager
def results_file(path: Path | None, scenarios: list[str], designs: list[str], trials: int,
                 levels: tuple[float, ...], block: int,
                 timed: bool = False) -> Iterator[_NoResults]:
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
                               max(min(trials, block), 1), timed)
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


def format_table(summary: dict) -> str:
    """One row per scenario and design: the headline operating characteristics."""
    columns = TABLE_COLUMNS + (TIME_COLUMNS if "timeline" in summary else ())
    head = f"{'scenario':<10} {'design':<10} " + " ".join(f"{t:>10}" for _, t in columns)
    lines = [f"method: {summary['method']}", head, "-" * len(head)]
    if "timeline" in summary:
        lines.insert(1, _timeline_text(summary["timeline"]))
    for entry in summary["scenarios"]:
        mtd = entry["true_mtd"]
        lines.append(f"{entry['name']} (true MTD: {'none' if mtd is None else mtd})")
        for name, oc in entry["designs"].items():
            cells = " ".join(f"{cell_text(key, oc.get(key)):>10}" for key, _ in columns)
            lines.append(f"{'':<10} {name:<10} " + cells)
    return "\n".join(lines)


def cell_text(key: str, value: Any) -> str:
    """One operating characteristic as the table prints it ("-" when there is none)."""
    if isinstance(value, dict):  # duration: its mean, in days
        value = value["mean"]
    if value is None:
        return "-"
    return f"{value:.2f}" if key in ("n_mean", "duration", "pending_treated") else f"{value:.3f}"


def _timeline_text(timeline: dict) -> str:
    return (f"time: {timeline['accrual']} accrual, {timeline['arrivals_per_month']:.3g} "
            f"patients/month (mean gap {timeline['mean_gap_days']:.1f} days), "
            f"{timeline['dlt_window_days']}-day DLT window, {timeline['dlt_time']} DLT times; "
            "days = mean trial duration, pend. pts = mean patients dosed while others pending")
