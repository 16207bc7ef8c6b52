"""Matrix scenarios of a two-drug trial: the true DLT rate of every dose pair, and what is right.

A scenario file holds ``[[scenario]]`` tables, each with ``name`` and ``p_true`` as a matrix:
one row per level of the first drug ([drugs] names), one column per level of the second, rates
in [0, 1] that do not decrease with either drug's dose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bayesdose.errors import InputError
from bayesdose.input_files import unprintable
from bayesdose.schema import read_toml
from bayesdose.simulation.scenarios import TIE_TOLERANCE, scenario_tables, unique_names

CONTOUR_MARGIN = 0.05  # R's waterfall: a row's MTD is at most target + 0.05


@dataclass(frozen=True)
class MatrixScenario:
    name: str
    p_true: tuple[tuple[float, ...], ...]  # rows: the first drug's levels

    @property
    def matrix(self) -> np.ndarray:
        return np.array(self.p_true)


def true_mtd_set(p_true: np.ndarray, target: float) -> np.ndarray:
    """(rows, cols) bool: the pairs whose true rate is closest to the target, ties (within
    1e-9) included (R's get.oc.comb: its ``pcs`` counts them all)."""
    distance = np.abs(p_true - target)
    return distance <= distance.min() + TIE_TOLERANCE


def true_contour(p_true: np.ndarray, target: float) -> np.ndarray:
    """(rows, cols) bool: the true MTD contour as R's waterfall defines it: in each row the
    first pair closest to the target, if its rate is at most target + 0.05."""
    out = np.zeros(p_true.shape, bool)
    for r, row in enumerate(p_true):
        c = int(np.argmin(np.abs(row - target)))
        out[r, c] = row[c] <= target + CONTOUR_MARGIN + TIE_TOLERANCE
    return out


def load_matrix_scenarios(path: str | Path, shape: tuple[int, int],
                          names: tuple[str, ...]) -> list[MatrixScenario]:
    """Read and check a scenario set for a grid of ``shape`` (rows the drug ``names[0]``)."""
    source = str(path)
    tables = scenario_tables(read_toml(path), source)
    return unique_names([_scenario(t, i, shape, names, source) for i, t in enumerate(tables)],
                        source)


def _scenario(table: Any, index: int, shape: tuple[int, int], names: tuple[str, ...],
              source: str) -> MatrixScenario:
    where = f"[[scenario]] #{index + 1}"
    if not isinstance(table, dict):
        raise InputError(source, where, "expected a table with name and p_true")
    unknown = sorted(set(table) - {"name", "p_true"})
    if unknown:
        raise InputError(source, f"{where} {unknown[0]}", "unknown key; expected name, p_true")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(source, f"{where} name", "expected a non-empty string")
    if problem := unprintable(name):
        raise InputError(source, f"{where} name", f"{problem} in {name!r}")
    where = f"scenario {name!r} p_true"
    rows, cols = shape
    p = table.get("p_true")
    grid = (f"a matrix of {rows} rows ({names[0]}'s levels) of {cols} rates ({names[1]}'s "
            "levels)")
    if not isinstance(p, list) or len(p) != rows or not all(isinstance(r, list) for r in p):
        raise InputError(source, where, f"expected {grid}")
    for r, row in enumerate(p):
        if len(row) != cols:
            raise InputError(source, f"{where}[{r}]", f"has {len(row)} values; expected {grid}")
        for c, v in enumerate(row):
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or not 0 <= v <= 1:
                raise InputError(source, f"{where}[{r}][{c}]",
                                 f"expected a probability in [0, 1], got {v!r}")
    matrix = np.array(p, float)
    for axis, drug in ((0, names[0]), (1, names[1])):
        falls = np.argwhere(np.diff(matrix, axis=axis) < 0)
        if falls.size:
            r, c = falls[0]
            at = (r + 1, c) if axis == 0 else (r, c + 1)
            raise InputError(source, f"{where}[{at[0]}][{at[1]}]",
                             f"DLT rates must not decrease with {drug}'s dose "
                             f"({matrix[at]:g} < {matrix[r, c]:g})")
    return MatrixScenario(name, tuple(tuple(float(v) for v in row) for row in p))
