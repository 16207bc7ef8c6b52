"""Trial data: the DLT outcomes so far, read from CSV and reduced to per-dose counts.

Two layouts, told apart by the header:
- patient level, ``patient_id,cohort,dose,dlt``: one row per patient (dlt 0/1); keeps the order
  of cohorts, so rules that read the last cohort (coherence) can apply;
- aggregated, ``dose,n,dlt``: one row per dose; the order of cohorts is unknown.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bayesdose.design import Design, dose_index
from bayesdose.errors import InputError

PATIENT_COLUMNS = ("patient_id", "cohort", "dose", "dlt")
AGGREGATED_COLUMNS = ("dose", "n", "dlt")


@dataclass(frozen=True)
class Patient:
    patient_id: str
    cohort: int
    level: int  # 0-based dose level
    dlt: int


@dataclass(frozen=True)
class TrialData:
    """Per-dose counts of patients (``n``) and DLTs (``dlt``), plus patients when known."""

    n: np.ndarray
    dlt: np.ndarray
    patients: tuple[Patient, ...] | None = None
    source: str = "<data>"

    @property
    def patient_level(self) -> bool:
        return self.patients is not None

    @property
    def total_patients(self) -> int:
        return int(self.n.sum())

    @property
    def highest_level_given(self) -> int | None:
        given = np.flatnonzero(self.n > 0)
        return int(given[-1]) if given.size else None

    @property
    def last_cohort(self) -> tuple[int, int] | None:
        """(0-based dose level, DLTs) of the most recent cohort, if the order is known."""
        if not self.patients:
            return None
        last = max(p.cohort for p in self.patients)
        members = [p for p in self.patients if p.cohort == last]
        return members[0].level, sum(p.dlt for p in members)


def read_trial_data(path: str | Path, design: Design) -> TrialData:
    """Read a trial data CSV; every problem names the file, the row and the field."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(source, None, "file not found") from None
    if not raw:
        raise InputError(source, None, "the file is empty (expected at least a header line)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(source, f"byte {err.start}", "not a UTF-8 text file") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(source, "row 1", "missing header line")
    header = [cell.strip().lower() for cell in rows[0]]
    body = [(i, row) for i, row in enumerate(rows[1:], start=2) if any(c.strip() for c in row)]
    if "patient_id" in header:
        return _patient_level(header, body, design, source)
    if "n" in header:
        return _aggregated(header, body, design, source)
    raise InputError(
        source,
        "row 1",
        f"unrecognised header {','.join(header)!r}; expected "
        f"{','.join(PATIENT_COLUMNS)!r} or {','.join(AGGREGATED_COLUMNS)!r}",
    )


def _columns(header: list[str], expected: tuple[str, ...], source: str) -> dict[str, int]:
    for name in header:
        if name not in expected:
            raise InputError(
                source, "row 1", f"unexpected column {name!r}; expected {','.join(expected)}"
            )
    for name in expected:
        if name not in header:
            raise InputError(source, "row 1", f"missing column {name!r}")
    if len(set(header)) != len(header):
        raise InputError(source, "row 1", "a column name appears twice")
    return {name: header.index(name) for name in expected}


class _Row:
    """One CSV row, with field access that reports the file, row and column on error."""

    def __init__(self, cells: list[str], columns: dict[str, int], number: int, source: str):
        if len(cells) != len(columns):
            raise InputError(
                source, f"row {number}", f"expected {len(columns)} fields, got {len(cells)}"
            )
        self.cells, self.columns, self.number, self.source = cells, columns, number, source

    def fail(self, column: str, problem: str) -> InputError:
        return InputError(self.source, f"row {self.number}, column {column!r}", problem)

    def text(self, column: str) -> str:
        value = self.cells[self.columns[column]].strip()
        if not value:
            raise self.fail(column, "empty value")
        return value

    def count(self, column: str) -> int:
        value = self.text(column)
        try:
            number = int(value)
        except ValueError:
            raise self.fail(column, f"expected a whole number >= 0, got {value!r}") from None
        if number < 0:
            raise self.fail(column, f"expected a whole number >= 0, got {value!r}")
        return number

    def dose_level(self, column: str, levels: tuple[float, ...]) -> int:
        value = self.text(column)
        try:
            dose = float(value)
        except ValueError:
            raise self.fail(column, f"expected a number, got {value!r}") from None
        try:
            if not math.isfinite(dose):
                raise ValueError(dose)
            return dose_index(levels, dose)
        except ValueError:
            panel = ", ".join(f"{d:g}" for d in levels)
            raise self.fail(column, f"dose {value} is not in the panel ({panel})") from None


def _patient_level(header, body, design: Design, source: str) -> TrialData:
    columns = _columns(header, PATIENT_COLUMNS, source)
    patients: list[Patient] = []
    seen: dict[str, int] = {}
    cohort_level: dict[int, tuple[int, int]] = {}
    for number, cells in body:
        row = _Row(cells, columns, number, source)
        pid = row.text("patient_id")
        if pid in seen:
            raise row.fail("patient_id", f"duplicate patient id {pid!r} (also in row {seen[pid]})")
        seen[pid] = number
        cohort = row.count("cohort")
        level = row.dose_level("dose", design.levels)
        dlt = row.count("dlt")
        if dlt > 1:
            raise row.fail("dlt", f"expected 0 or 1, got {dlt}")
        first = cohort_level.setdefault(cohort, (level, number))
        if first[0] != level:
            raise row.fail("dose", f"cohort {cohort} was given another dose in row {first[1]}")
        patients.append(Patient(pid, cohort, level, dlt))
    n = np.zeros(len(design.levels), dtype=np.int64)
    y = np.zeros_like(n)
    for p in patients:
        n[p.level] += 1
        y[p.level] += p.dlt
    return TrialData(n, y, tuple(patients), source)


def _aggregated(header, body, design: Design, source: str) -> TrialData:
    columns = _columns(header, AGGREGATED_COLUMNS, source)
    n = np.zeros(len(design.levels), dtype=np.int64)
    y = np.zeros_like(n)
    seen: dict[int, int] = {}
    for number, cells in body:
        row = _Row(cells, columns, number, source)
        level = row.dose_level("dose", design.levels)
        if level in seen:
            raise row.fail("dose", f"dose {design.levels[level]:g} also in row {seen[level]}")
        seen[level] = number
        count, dlt = row.count("n"), row.count("dlt")
        if dlt > count:
            raise row.fail("dlt", f"{dlt} DLTs is more than n = {count}")
        n[level], y[level] = count, dlt
    return TrialData(n, y, None, source)
