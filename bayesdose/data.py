"""Trial data: the DLT outcomes so far, read from CSV and reduced to per-dose counts.

Two layouts, told apart by the header:
- patient level, ``patient_id,cohort,dose,dlt``: one row per patient (dlt 0/1); keeps the order
  of cohorts, so rules that read the last cohort (coherence) can apply. Optional columns for
  late-onset toxicity: ``enrolled`` (ISO date of dosing), ``dlt_day`` (whole days from dosing
  to the DLT), ``followup_end`` (ISO date follow-up ended, empty while ongoing) and
  ``evaluable`` (1 by default; 0 leaves the patient out of the model). With dates, a patient
  followed d days without a DLT so far, of a window of T, counts with weight min(d / T, 1)
  (Cheung & Chappell 2000), as of a date the caller gives (never today's clock). An optional
  ``response`` column holds efficacy (0/1, empty while not yet assessed): counted per dose
  beside the DLTs, it changes no toxicity decision. An optional ``backfill`` column (1: a
  backfill patient, enrolled at a cleared dose while the escalation cohort was in follow-up;
  0 or empty: an escalation patient) marks the patients ``[stopping] max_patients`` does not
  count: every patient's DLTs count in every decision, but the sample size, the last cohort
  and the check that a cohort has one dose are the escalation's;
- aggregated, ``dose,n,dlt``: one row per dose; the order of cohorts is unknown.

A two-drug trial ([drugs] names) has a column ``dose_<name>`` per drug in place of ``dose``
(``patient_id,cohort,dose_A,dose_B,dlt`` or ``dose_A,dose_B,n,dlt``): a row is a pair of the
grid, or one drug alone (the other's dose 0, monotherapy). Its counts are per arm
(``PairPanel.arms``: the pairs, then each drug's levels alone), dated data's pending patients
too; responses and backfill patients are read for one drug only.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np

from bayesdose.errors import InputError
from bayesdose.input_files import read_input, unprintable
from bayesdose.panel import DosePanel
from bayesdose.schema import Design

PATIENT_COLUMNS = ("patient_id", "cohort", "dose", "dlt")
DATE_COLUMNS = ("enrolled", "dlt_day", "followup_end", "evaluable")
EFFICACY_COLUMNS = ("response",)
BACKFILL_COLUMNS = ("backfill",)
AGGREGATED_COLUMNS = ("dose", "n", "dlt")
MAX_COUNT = 1_000_000  # no count of a trial (patients, cohorts, days) comes near this


@dataclass(frozen=True)
class Patient:
    patient_id: str
    cohort: int
    level: int  # 0-based dose level
    dlt: int
    days_followed: int | None = None  # None: no dates, the outcome is complete
    evaluable: bool = True
    response: int | None = None  # efficacy 0/1; None: not assessed (yet), or no such column
    backfill: bool = False  # a backfill patient (not counted by max_patients)


@dataclass(frozen=True)
class TrialData:
    """Per-dose counts of evaluable patients (``n``) and DLTs (``dlt``), plus patients when
    known. With dates: ``pending`` (doses, T) counts patients still in follow-up without a DLT
    by whole days followed; ``complete`` counts patients whose outcome is final (a DLT, or the
    whole window followed); ``excluded`` lists non-evaluable patients. With a ``response``
    column: per dose ``responses`` and ``assessed`` (patients whose response is recorded,
    evaluable for DLT or not: a patient's DLT evaluability says nothing of its response);
    None without the column."""

    n: np.ndarray
    dlt: np.ndarray
    patients: tuple[Patient, ...] | None = None
    source: str = "<data>"
    pending: np.ndarray | None = None
    excluded: tuple[Patient, ...] = field(default=())
    as_of: date | None = None
    responses: np.ndarray | None = None
    assessed: np.ndarray | None = None

    @property
    def has_responses(self) -> bool:
        """Whether the data have a ``response`` column (even with no response recorded yet)."""
        return self.responses is not None

    def response_counts(self, level: int) -> dict[str, int]:
        """``responses`` and ``assessed`` at a 0-based dose level, as a document's per-dose
        entry holds them; empty without a ``response`` column."""
        if not self.has_responses:
            return {}
        return {"responses": int(self.responses[level]), "assessed": int(self.assessed[level])}

    @property
    def not_assessed(self) -> list[Patient]:
        """Patients without a recorded response, when the data have a ``response`` column."""
        if not self.has_responses:
            return []
        return [p for p in self.patients if p.response is None]

    @property
    def complete(self) -> np.ndarray:
        if self.pending is None:
            return self.n
        return self.n - self.pending.sum(axis=1)

    @property
    def pending_patients(self) -> list[Patient]:
        if self.pending is None or not self.patients:
            return []
        return [p for p in self.patients
                if p.evaluable and p.days_followed is not None and self._open(p)]

    def _open(self, p: Patient) -> bool:
        return p.dlt == 0 and p.days_followed < self.pending.shape[1]

    @property
    def patient_level(self) -> bool:
        return self.patients is not None

    @property
    def total_patients(self) -> int:
        return int(self.n.sum())

    @property
    def escalation(self) -> tuple[Patient, ...]:
        """The escalation patients (every patient when none is marked ``backfill``)."""
        return tuple(p for p in self.patients or () if not p.backfill)

    @property
    def backfilled(self) -> bool:
        """Whether the data mark any patient as a backfill patient."""
        return any(p.backfill for p in self.patients or ())

    @property
    def backfill_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per dose, the evaluable backfill patients and their DLTs (zeros when none is
        marked): a part of ``n`` and ``dlt``."""
        n, dlt = np.zeros_like(self.n), np.zeros_like(self.dlt)
        for p in self.patients or ():
            if p.backfill and p.evaluable:
                n[p.level] += 1
                dlt[p.level] += p.dlt
        return n, dlt

    @property
    def escalated(self) -> int:
        """Evaluable escalation patients: what ``[stopping] max_patients`` counts against the
        evaluable patients ``n`` (backfill patients come on top)."""
        return self.total_patients - sum(p.evaluable for p in self.patients or () if p.backfill)

    @property
    def highest_level_given(self) -> int | None:
        given = np.flatnonzero(self.n > 0)
        return int(given[-1]) if given.size else None

    @property
    def last_cohort(self) -> tuple[int, int] | None:
        """(0-based dose level, DLTs) of the most recent escalation cohort, if the order is
        known."""
        if not self.escalation:
            return None
        last = max(p.cohort for p in self.escalation)
        members = [p for p in self.escalation if p.cohort == last]
        return members[0].level, sum(p.dlt for p in members)


def read_trial_data(path: str | Path, design: Design, as_of: date | None = None,
                    content: bytes | None = None) -> TrialData:
    """Read a trial data CSV (from ``content`` when the file was read already); every problem
    names the file, the row and the field.

    Dated data (an ``enrolled`` column) needs ``as_of``: the date the decision is made on.
    """
    raw = read_input(path) if content is None else content
    header, body = read_csv_rows(path, raw)
    try:
        return _parse(header, body, design, str(path), as_of, "row 1")
    except InputError:
        if looks_like_design(raw):
            raise InputError(str(path), None, "this is a design config (TOML), not trial data: "
                             "give the design config first, then the data, as in "
                             "bayesdose recommend CONFIG DATA") from None
        raise


def over_enrolment(design: Design, data: TrialData) -> str | None:
    """A warning when the data hold more escalation patients (evaluable or not; backfill
    patients come on top) than ``[stopping] max_patients``, None otherwise. Not an error: a
    trial can over-run its sample size (a replaced patient, a cohort enrolled at once), and the
    committee still needs the analysis of every patient treated."""
    treated = (len(data.escalation) if data.patient_level
               else data.total_patients + len(data.excluded))
    most = design.stopping.max_patients
    if treated <= most:
        return None
    what = "escalation patients (backfill patients come on top)" if data.backfilled else \
        "patients"
    return (f"the data ({data.source}) hold {treated} {what}, more than [stopping] "
            f"max_patients = {most} of {design.source}: the trial has enrolled past its "
            "maximum sample size; check the data and the config")


def looks_like_design(raw: bytes) -> bool:
    """Whether a file is a TOML design config (it has a [doses] table)."""
    try:
        return "doses" in tomllib.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def read_csv_rows(path: str | Path, content: bytes | None = None,
                  ) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """A CSV file's header cells and its rows (of ``content`` when the file was read already),
    each labelled "row N" (N counts lines of the file, the header being row 1); a missing,
    empty, non-UTF-8 or unreadable file, or one that is not a regular file of sane size
    (``input_files.read_input``), is an InputError naming it."""
    source = str(path)
    raw = read_input(path) if content is None else content
    if not raw:
        raise InputError(source, None, "the file is empty (expected at least a header line)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(source, f"byte {err.start}", "not a UTF-8 text file") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as err:  # e.g. a field over the csv module's size limit, a NUL byte
        raise InputError(source, None, f"not a readable CSV file: {err}") from None
    return (rows[0] if rows else []), [(f"row {i}", row) for i, row in enumerate(rows[1:], 2)]


def trial_data_from_frame(frame: Any, design: Design, as_of: date | None = None,
                          source: str = "<DataFrame>") -> TrialData:
    """Trial data from a pandas DataFrame with the columns of the CSV (either layout).

    The frame goes through the CSV reader's checks: every cell is turned into the text it
    would have in a CSV file (missing values, NaN and NaT into empty cells, whole-number
    floats such as a column's 1.0 into "1", dates into YYYY-MM-DD), so the same data are
    accepted or refused with the same messages; a row is named by its index label.
    """
    header = [str(name) for name in frame.columns]
    body = [(f"row {label}", [_cell(value) for value in values])
            for label, *values in frame.itertuples(index=True, name=None)]
    return _parse(header, body, design, source, as_of, "columns")


def trial_data_from_records(records: Iterable[Mapping[str, Any]], design: Design,
                            as_of: date | None = None, source: str = "<records>") -> TrialData:
    """Trial data from a list of dicts, one per row, keyed by the CSV's column names.

    The columns are the keys of all records (a key a record lacks is an empty cell); every
    cell goes through the CSV reader's checks as in ``trial_data_from_frame``; a row is named
    by its 0-based position in the list ("record 3"). No records at all is patient-level data
    without patients (the start of a trial).
    """
    records = list(records)
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InputError(source, f"record {i}", f"expected a dict of column values, "
                             f"got {type(record).__name__}")
    if not records:
        return _parse(list(PATIENT_COLUMNS), [], design, source, as_of, "columns")
    header = list(dict.fromkeys(str(key) for record in records for key in record))
    body = [(f"record {i}", [_cell(_get(record, key)) for key in header])
            for i, record in enumerate(records)]
    return _parse(header, body, design, source, as_of, "columns")


def _get(record: Mapping[str, Any], key: str) -> Any:
    if key in record:
        return record[key]
    return next((v for k, v in record.items() if str(k) == key), None)


def _cell(value: Any) -> str:
    """The text a value would have in a CSV cell; the parser then checks it."""
    if value is None or _missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(value)  # refused as a count, as "True" in a CSV file would be
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):  # also pandas' Timestamp
        if value.time() == time() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()  # refused: a date has no time of day
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _missing(value: Any) -> bool:
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    pandas = sys.modules.get("pandas")
    return pandas is not None and (value is pandas.NA or value is pandas.NaT)


def _parse(header_cells: list[str], body: list[tuple[str, list[str]]], design: Design,
           source: str, as_of: date | None, header_where: str) -> TrialData:
    """The checks shared by every input: the header names the layout, each row is checked
    and named by its label ("row 7", "record 3") in every error."""
    if not any(cell.strip() for cell in header_cells):
        raise InputError(source, header_where, "missing header line")
    doses = dose_columns(design)
    spelled = {name.lower(): name for name in doses}  # dose_A as the config names the drug
    header = [spelled.get(cell.strip().lower(), cell.strip().lower()) for cell in header_cells]
    body = [(label, row) for label, row in body if any(c.strip() for c in row)]
    if "patient_id" in header:
        return _patient_level(header, body, design, source, as_of, header_where)
    if "n" in header:
        return _aggregated(header, body, design, source, header_where)
    raise InputError(
        source,
        header_where,
        f"unrecognised header {','.join(header)!r}; expected "
        f"{','.join(_layout(PATIENT_COLUMNS, doses))!r} or "
        f"{','.join(_layout(AGGREGATED_COLUMNS, doses))!r}",
    )


def dose_columns(design: Design) -> tuple[str, ...]:
    """The data's dose columns: ``dose``, or ``dose_<name>`` of each of two drugs."""
    if design.is_combination:
        return tuple(f"dose_{name}" for name in design.drugs.names)
    return ("dose",)


def _layout(columns: tuple[str, ...], doses: tuple[str, ...]) -> tuple[str, ...]:
    """A layout's columns with the design's dose columns in place of ``dose``."""
    at = columns.index("dose")
    return (*columns[:at], *doses, *columns[at + 1:])


def arm_count(design: Design) -> int:
    """How many doses (one drug) or arms (two drugs: ``PairPanel.arms``) data count."""
    return design.pair_panel.arms if design.is_combination else len(design.levels)


def _arm_text(design: Design, arm: int) -> str:
    """A dose (one drug) or an arm (two drugs) as an error names it."""
    if design.is_combination:
        return design.pair_panel.arm_label(arm)
    return design.panel.number(design.levels[arm])


def _arm_of(row: CsvRow, design: Design) -> int:
    """The row's dose level (one drug) or arm (two drugs: a pair, or one drug alone)."""
    if not design.is_combination:
        return row.dose_level("dose", design.panel)
    pairs = design.pair_panel
    doses = {name: row.dose_or_absent(f"dose_{name}") for name in pairs.names}
    try:
        return pairs.arm_index(doses)
    except ValueError as err:
        name = err.args[0]
        if name is None:
            raise row.fail(f"dose_{pairs.names[0]}", "both doses are 0: each patient gets at "
                           "least one drug") from None
        panel = pairs.drugs[pairs.names.index(name)]
        levels = ", ".join(panel.number(d) for d in panel.levels)
        raise row.fail(f"dose_{name}", f"dose {row.text(f'dose_{name}')} is not one of "
                       f"{name}'s levels ({levels}) nor 0 (not given)") from None


def check_columns(
    header: list[str], expected: tuple[str, ...], source: str, where: str,
    optional: tuple[str, ...] = (),
) -> dict[str, int]:
    for name in header:
        if name not in expected + optional:
            allowed = ",".join(expected + optional)
            raise InputError(source, where, f"unexpected column {name!r}; expected {allowed}")
    for name in expected:
        if name not in header:
            raise InputError(source, where, f"missing column {name!r}")
    if len(set(header)) != len(header):
        raise InputError(source, where, "a column name appears twice")
    return {name: header.index(name) for name in expected + optional if name in header}


class CsvRow:
    """One row of text cells, with field access that reports the source, the row (its label,
    e.g. "row 7") and the column on error."""

    def __init__(self, cells: list[str], columns: dict[str, int], label: str, source: str):
        if len(cells) != len(columns):
            raise InputError(
                source, label, f"expected {len(columns)} fields, got {len(cells)}"
            )
        self.cells, self.columns, self.label, self.source = cells, columns, label, source

    def fail(self, column: str, problem: str) -> InputError:
        return InputError(self.source, f"{self.label}, column {column!r}", problem)

    def text(self, column: str) -> str:
        """The cell's text, not empty and printable (a line break in a quoted cell would forge
        output lines)."""
        value = self.optional(column)
        if not value:
            raise self.fail(column, "empty value")
        if problem := unprintable(value):
            raise self.fail(column, f"{problem} in {value!r}")
        return value

    def optional(self, column: str) -> str:
        """The cell's text, or "" when empty or the column is absent."""
        return self.cells[self.columns[column]].strip() if column in self.columns else ""

    def date(self, column: str) -> date:
        value = self.text(column)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(column, f"expected a date as YYYY-MM-DD, got {value!r}") from None

    def count(self, column: str) -> int:
        """A whole number in [0, MAX_COUNT] (a count of 400 digits overflowed the arrays)."""
        value = self.text(column)
        try:
            number = int(_no_underscore(value))
        except ValueError:
            raise self.fail(column, f"expected a whole number >= 0, got {value!r}") from None
        if number < 0:
            raise self.fail(column, f"expected a whole number >= 0, got {value!r}")
        if number > MAX_COUNT:
            raise self.fail(column, f"{len(value)}-digit count: expected at most {MAX_COUNT:,}")
        return number

    def flag(self, column: str) -> int:
        """0 or 1 (a DLT: no or yes); anything else, "yes" or 2, names the two values."""
        value = self.text(column)
        if value.isdecimal() and int(value) in (0, 1):
            return int(value)
        shown = value if value.isdecimal() else repr(value)
        raise self.fail(column, f"expected 0 or 1, got {shown}")

    def number(self, column: str) -> float:
        value = self.text(column)
        try:
            return float(_no_underscore(value))
        except ValueError:
            raise self.fail(column, f"expected a number, got {value!r}") from None

    def positive(self, column: str) -> float:
        """A finite number > 0 (a dose off the panel, as in historical trials)."""
        number = self.number(column)
        if not (math.isfinite(number) and number > 0):
            raise self.fail(column, f"expected a number > 0, got {self.text(column)!r}")
        return number

    def dose_or_absent(self, column: str) -> float:
        """A finite dose >= 0 (two drugs: 0 is the drug not given)."""
        dose = self.number(column)
        if not (math.isfinite(dose) and dose >= 0):
            raise self.fail(column, f"expected a dose >= 0 (0: not given), got "
                            f"{self.text(column)!r}")
        return dose

    def dose_level(self, column: str, panel: DosePanel) -> int:
        dose = self.number(column)
        try:
            if not math.isfinite(dose):
                raise ValueError(dose)
            return panel.index(dose)
        except ValueError:
            doses = ", ".join(panel.number(d) for d in panel.levels)
            raise self.fail(column, f"dose {self.text(column)} is not in the panel "
                            f"({doses})") from None


def _no_underscore(value: str) -> str:
    """``value``, or a ValueError if it has an underscore: Python's int() and float() read
    ``1_6`` as 16, a typo in a CSV file rather than a number."""
    if "_" in value:
        raise ValueError(value)
    return value


def _patient_level(header, body, design: Design, source: str, as_of: date | None,
                   header_where: str) -> TrialData:
    later = DATE_COLUMNS + EFFICACY_COLUMNS + BACKFILL_COLUMNS
    if design.is_combination and (given := [c for c in header
                                            if c in EFFICACY_COLUMNS + BACKFILL_COLUMNS]):
        raise InputError(source, f"column {given[0]!r}", "responses and backfill patients are "
                         "read for one drug only: a two-drug trial's data have patient_id, "
                         f"cohort, {', '.join(dose_columns(design))}, dlt and the date columns")
    columns = check_columns(header, _layout(PATIENT_COLUMNS, dose_columns(design)), source,
                            header_where, later)
    dated = "enrolled" in columns
    undated = [name for name in ("dlt_day", "followup_end") if name in columns]
    if undated and not dated:
        raise InputError(source, f"column {undated[0]!r}",
                         "the date columns need 'enrolled' (the date of dosing)")
    window = design.cohorts.dlt_window_days
    if dated and as_of is None:
        raise InputError(source, "column 'enrolled'", "dated data needs --as-of DATE")
    if dated and window == 0:
        raise InputError(source, "column 'enrolled'",
                         "dated data needs a DLT window: set [cohorts] dlt_window_days")
    patients: list[Patient] = []
    seen: dict[str, str] = {}
    cohort_level: dict[int, tuple[int, str]] = {}
    for label, cells in body:
        row = CsvRow(cells, columns, label, source)
        pid = row.text("patient_id")
        if pid in seen:
            raise row.fail("patient_id", f"duplicate patient id {pid!r} (also in {seen[pid]})")
        seen[pid] = label
        cohort = row.count("cohort")
        level = _arm_of(row, design)
        dlt = row.flag("dlt")
        backfill = _backfill(row)
        first = cohort_level.setdefault(cohort, (level, label)) if not backfill else None
        if first is not None and first[0] != level:
            raise row.fail(dose_columns(design)[0], f"cohort {cohort} was given another dose "
                           f"in {first[1]}")
        days = _days_followed(row, dlt, window, as_of) if dated else None
        response = _response(row, design, as_of if dated else None)
        patients.append(Patient(pid, cohort, level, dlt, days, _evaluable(row, dated),
                                response, backfill))
    _check_backfill_doses(patients, body, design, source)
    return _counts(patients, design, source, window if dated else 0, as_of,
                   "response" in columns)


def _backfill(row: CsvRow) -> bool:
    """Whether the row is a backfill patient: 1; 0 or empty (or no column) an escalation
    patient."""
    value = row.optional("backfill") or "0"
    if value not in ("0", "1"):
        raise row.fail("backfill", f"expected 1 (a backfill patient) or 0 / empty (an "
                       f"escalation patient), got {value!r}")
    return value == "1"


def _check_backfill_doses(patients: list[Patient], body: list[tuple[str, list[str]]],
                          design: Design, source: str) -> None:
    """A backfill patient is treated at a dose already cleared: below the highest dose an
    escalation cohort has been given (an InputError naming the row otherwise)."""
    top = max((p.level for p in patients if not p.backfill), default=-1)
    for p, (label, _) in zip(patients, body, strict=True):
        if p.backfill and p.level >= top:
            cleared = ("no escalation patient is in the data" if top < 0 else
                       f"the highest dose an escalation cohort was given is "
                       f"{design.panel.number(design.levels[top])}")
            raise InputError(source, f"{label}, column 'backfill'", f"a backfill patient at "
                             f"dose {design.panel.number(design.levels[p.level])}, which is "
                             f"not below the escalation's: {cleared} (backfill enrols at "
                             "doses the escalation has cleared)")


def _response(row: CsvRow, design: Design, as_of: date | None) -> int | None:
    """The patient's response (0/1), None while not assessed. With dates (``as_of``), a
    response recorded fewer than ``[efficacy] assessment_days`` after dosing is an error, not
    a warning: it cannot have been known yet, so it is a mistake in the data (a wrong date, a
    wrong patient, an assessment outside the protocol), and the count of responses at a dose
    may open it to backfill; a protocol that reads responses earlier says so in the config."""
    value = row.optional("response")
    if not value:
        return None
    if value not in ("0", "1"):
        raise row.fail("response", f"expected 0 or 1 (empty while not yet assessed), got "
                       f"{value!r}")
    response = int(value)
    wait = design.efficacy.assessment_days
    if as_of is not None and (days := (as_of - row.date("enrolled")).days) < wait:
        raise row.fail("response", f"a response is recorded {days} day(s) after dosing (as of "
                       f"--as-of {as_of}), before it can be known: [efficacy] "
                       f"assessment_days = {wait} in {design.source}; leave it empty until "
                       "then, or check the dates")
    return response


def _evaluable(row: CsvRow, dated: bool) -> bool:
    value = row.optional("evaluable") or "1"
    if value not in ("0", "1"):
        raise row.fail("evaluable", f"expected 0 or 1, got {value!r}")
    return value == "1"


def _days_followed(row: CsvRow, dlt: int, window: int, as_of: date) -> int:
    """Whole days from dosing to the earlier of ``as_of`` and the end of follow-up."""
    enrolled = row.date("enrolled")
    if enrolled > as_of:
        raise row.fail("enrolled", f"{enrolled} is after --as-of {as_of}")
    end = as_of
    if row.optional("followup_end"):
        end = row.date("followup_end")
        if end > as_of:
            raise row.fail("followup_end", f"{end} is after --as-of {as_of}")
        if end < enrolled:
            raise row.fail("followup_end", f"{end} is before dosing on {enrolled}")
    if dlt and not row.optional("dlt_day"):
        raise row.fail("dlt_day", "a DLT needs its day (whole days after dosing)")
    if not dlt and row.optional("dlt_day"):
        raise row.fail("dlt_day", "a DLT day is given but dlt is 0")
    if dlt:
        day = row.count("dlt_day")
        if day > window:
            raise row.fail("dlt_day", f"day {day} is after the {window}-day DLT window")
        if (as_of - enrolled).days < day:
            raise row.fail("dlt_day", f"day {day} after dosing is after --as-of {as_of}")
        if (end - enrolled).days < day:
            raise row.fail("dlt_day", f"day {day} after dosing is after follow-up ended on "
                           f"{end} (day {(end - enrolled).days})")
    return (end - enrolled).days


def _counts(patients: list[Patient], design: Design, source: str, window: int,
            as_of: date | None, efficacy: bool = False) -> TrialData:
    doses = arm_count(design)
    n = np.zeros(doses, dtype=np.int64)
    y = np.zeros_like(n)
    responses = np.zeros_like(n) if efficacy else None
    assessed = np.zeros_like(n) if efficacy else None
    for p in patients:
        if efficacy and p.response is not None:
            assessed[p.level] += 1
            responses[p.level] += p.response
    pending = np.zeros((doses, window), dtype=np.int64) if window else None
    for p in patients:
        if not p.evaluable:
            continue
        n[p.level] += 1
        y[p.level] += p.dlt
        if pending is not None and p.dlt == 0 and p.days_followed < window:
            pending[p.level, p.days_followed] += 1
    excluded = tuple(p for p in patients if not p.evaluable)
    return TrialData(n, y, tuple(patients), source, pending, excluded, as_of, responses,
                     assessed)


def _aggregated(header, body, design: Design, source: str, header_where: str) -> TrialData:
    doses = dose_columns(design)
    columns = check_columns(header, _layout(AGGREGATED_COLUMNS, doses), source, header_where)
    n = np.zeros(arm_count(design), dtype=np.int64)
    y = np.zeros_like(n)
    seen: dict[int, str] = {}
    for label, cells in body:
        row = CsvRow(cells, columns, label, source)
        level = _arm_of(row, design)
        if level in seen:
            raise row.fail(doses[0], f"dose {_arm_text(design, level)} also in "
                           f"{seen[level]}")
        seen[level] = label
        count, dlt = row.count("n"), row.count("dlt")
        if dlt > count:
            raise row.fail("dlt", f"dlt = {dlt} is more than n = {count}")
        n[level], y[level] = count, dlt
    return TrialData(n, y, None, source)
