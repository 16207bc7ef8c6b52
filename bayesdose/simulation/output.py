"""Writing a study: ``summary.json`` (atomically), ``results.nc`` (per-trial records, xarray via
h5netcdf, atomically), and the comparison table printed on the terminal."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayesdose.record import atomic_write
from bayesdose.simulation.interface import STOP_REASONS
from bayesdose.simulation.study import StudyResult

TABLE_COLUMNS = (
    ("pcs", "P(correct)"), ("select_none", "none"), ("select_above_mtd", "sel>MTD"),
    ("p_above_mtd", "pts>MTD"), ("n_mean", "N"), ("dlt_rate", "DLT rate"),
    ("early_stop", "early stop"),
)


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


def results_dataset(result: StudyResult, levels: tuple[float, ...]) -> xr.Dataset:
    """Per trial: selected dose level (1-based, 0 = none), patients and DLTs per dose, stop
    reason; and the optimal benchmark's selection."""
    scenarios = list(result.records)
    designs = list(result.records[scenarios[0]])

    def stack(attr: str) -> np.ndarray:
        return np.stack([np.stack([getattr(result.records[s][d], attr) for d in designs])
                         for s in scenarios])

    dims = ("scenario", "design", "trial")
    reason_flags = " ".join(STOP_REASONS)
    return xr.Dataset(
        {
            "selected": (dims, (stack("selected") + 1).astype(np.int16),
                         {"description": "selected dose level, 1-based; 0 = no dose"}),
            "n": ((*dims, "dose"), stack("n").astype(np.int16), {"description": "patients"}),
            "dlt": ((*dims, "dose"), stack("dlt").astype(np.int16), {"description": "DLTs"}),
            "stop_reason": (dims, stack("stop_reason").astype(np.int8),
                            {"flag_values": np.arange(len(STOP_REASONS), dtype=np.int8),
                             "flag_meanings": reason_flags}),
            "optimal_selected": (("scenario", "trial"),
                                 (np.stack([result.optimal[s] for s in scenarios]) + 1)
                                 .astype(np.int16),
                                 {"description": "nonparametric optimal benchmark, 1-based"}),
        },
        coords={"scenario": scenarios, "design": designs,
                "trial": np.arange(result.records[scenarios[0]][designs[0]].selected.size),
                "dose": np.asarray(levels, float)},
    )


def write_results(path: Path, dataset: xr.Dataset) -> None:
    content = dataset.to_netcdf(engine="h5netcdf")
    atomic_write(path, bytes(content))


def format_table(summary: dict) -> str:
    """One row per scenario and design: the headline operating characteristics."""
    head = f"{'scenario':<10} {'design':<10} " + " ".join(f"{t:>10}" for _, t in TABLE_COLUMNS)
    lines = [f"method: {summary['method']}", head, "-" * len(head)]
    for entry in summary["scenarios"]:
        mtd = entry["true_mtd"]
        lines.append(f"{entry['name']} (true MTD: {'none' if mtd is None else mtd})")
        for name, oc in entry["designs"].items():
            cells = []
            for key, _ in TABLE_COLUMNS:
                value = oc.get(key)
                fmt = "{:>10.2f}" if key == "n_mean" else "{:>10.3f}"
                cells.append(f"{'-':>10}" if value is None else fmt.format(value))
            lines.append(f"{'':<10} {name:<10} " + " ".join(cells))
    return "\n".join(lines)
