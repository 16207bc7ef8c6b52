"""Platelet endpoints of a product that raises platelet counts, and a response from them.

``bayesdose endpoints CONFIG COUNTS``: from each patient's platelet counts (a long CSV, one row
per patient and time point), the body surface area, the weight and the dose given, the
platelet increment, the corrected count increment (CCI) and the percent platelet recovery (PPR)
at every time point, and a response (0/1) by ``[efficacy.response]``: endpoint >= threshold at
the rule's time point, empty while that count is missing. The output, one row per patient, is
ready to merge into the trial data as its ``response`` column.

The transfusion-medicine formulas (sources in docs/efficacy.md), with the dose N given in the
config's unit (platelets for a platelet transfusion; viable megakaryocytes for XJ-MK-002, whose
cells replace the platelets transfused):

    increment(t) = PLT(t) - PLT(baseline)                      x10^9/L
    CCI(t)       = increment(t) x BSA / (N / 10^11)            BSA in m^2
    PPR(t)       = 100 x increment(t) x 10^9 x BV / (N x 2/3)  %, BV = 0.07 L/kg x weight

2/3 is the share of transfused platelets expected in the circulation (a third pools in a
normal spleen).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from bayesdose.data import CsvRow, check_columns, read_csv_rows
from bayesdose.errors import InputError
from bayesdose.schema import Design, ResponseRuleSection, time_point_hours, time_point_problem

COUNT_COLUMNS = ("patient_id", "time", "platelets")
PATIENT_VALUES = ("dose", "bsa_m2", "weight_kg")  # on a patient's baseline row, or every row
BASELINE = "baseline"
BLOOD_VOLUME_L_PER_KG = 0.07  # estimated blood volume, 70 mL per kg of body weight
CIRCULATING_SHARE = 2 / 3  # of transfused platelets; the rest pools in the spleen
PER_CCI_UNIT = 1e11  # the CCI counts the dose in units of 10^11 platelets (or cells)
PER_LITRE = 1e9  # platelet counts are in 10^9/L
DOSE_FACTOR = 2  # the dose given lies within this factor of the panel's range


@dataclass(frozen=True)
class Counts:
    """One patient's platelet counts (x10^9/L) by time point, and what the formulas need."""

    patient_id: str
    dose: float  # platelets or cells given, in the config's unit
    bsa_m2: float
    weight_kg: float
    baseline: float
    after: dict[str, float]  # time point ('1h', '7d') -> count, in the order of the file
    hours: dict[str, float]  # time point -> hours after dosing


@dataclass(frozen=True)
class Endpoints:
    """One patient's endpoints at each time point and the rule's response (None: the rule's
    time point has no count yet)."""

    counts: Counts
    increment: dict[str, float]
    cci: dict[str, float]
    ppr: dict[str, float]
    response: int | None

    @property
    def blood_volume_l(self) -> float:
        return blood_volume(self.counts.weight_kg)


def blood_volume(weight_kg: float) -> float:
    """Estimated blood volume in litres: 70 mL per kg."""
    return BLOOD_VOLUME_L_PER_KG * weight_kg


def cci(increment: float, bsa_m2: float, dose: float) -> float:
    """Corrected count increment: increment (x10^9/L) x BSA (m^2) / dose (x10^11)."""
    return increment * bsa_m2 / (dose / PER_CCI_UNIT)


def ppr(increment: float, weight_kg: float, dose: float) -> float:
    """Percent platelet recovery: platelets gained in the blood volume over the 2/3 of the
    dose expected to circulate, in %."""
    return 100 * increment * PER_LITRE * blood_volume(weight_kg) / (dose * CIRCULATING_SHARE)


def endpoints(counts: Counts, rule: ResponseRuleSection) -> Endpoints:
    """A patient's increment, CCI and PPR at each time point, and the response by ``rule``."""
    increment = {t: count - counts.baseline for t, count in counts.after.items()}
    values = {
        "increment": increment,
        "cci": {t: cci(i, counts.bsa_m2, counts.dose) for t, i in increment.items()},
        "ppr": {t: ppr(i, counts.weight_kg, counts.dose) for t, i in increment.items()},
    }
    at = _time_point(counts, rule.time)
    value = None if at is None else values[rule.endpoint][at]
    response = None if value is None else int(value >= rule.threshold)
    return Endpoints(counts, increment, values["cci"], values["ppr"], response)


def _time_point(counts: Counts, time: str) -> str | None:
    """The patient's time point at the hours of ``time`` ('24h' is '1d'), or None."""
    hours = time_point_hours(time)
    return next((t for t, h in counts.hours.items() if h == hours), None)


def read_counts(path: str | Path, design: Design, content: bytes | None = None
                ) -> list[Counts]:
    """Each patient's counts from a long CSV ``patient_id,time,platelets,dose,bsa_m2,
    weight_kg``; ``time`` is 'baseline' (the count before dosing) or a time after it ('1h',
    '7d'). A problem names the file, the row and the column."""
    source = str(path)
    header, body = read_csv_rows(path, content)
    columns = check_columns([c.strip().lower() for c in header], COUNT_COLUMNS + PATIENT_VALUES,
                            source, "row 1")
    rows: dict[str, list[CsvRow]] = {}
    for label, cells in body:
        if any(c.strip() for c in cells):
            row = CsvRow(cells, columns, label, source)
            rows.setdefault(row.text("patient_id"), []).append(row)
    if not rows:
        raise InputError(source, None, "no counts: expected a row per patient and time point")
    return [_patient(pid, patient_rows, design, source) for pid, patient_rows in rows.items()]


def _patient(pid: str, rows: list[CsvRow], design: Design, source: str) -> Counts:
    """One patient's counts; each time point once, a baseline, and the per-patient values."""
    baseline = None
    after: dict[str, float] = {}
    hours: dict[str, float] = {}
    seen: dict[float | str, str] = {}
    for row in rows:
        time = row.text("time").lower()
        if time != BASELINE and (problem := time_point_problem(time)):
            raise row.fail("time", f"{problem}, or {BASELINE!r} for the count before dosing")
        key = BASELINE if time == BASELINE else time_point_hours(time)
        if key in seen:
            raise row.fail("time", f"patient {pid!r} has a count at {time} already in "
                           f"{seen[key]}")
        seen[key] = row.label
        count = _count(row)
        if time == BASELINE:
            baseline = count
        else:
            after[time], hours[time] = count, key
    if baseline is None:
        raise InputError(source, f"patient {pid!r}", f"no {BASELINE!r} count (the platelet "
                         "count before dosing, from which increments are measured)")
    dose, bsa, weight = (_patient_value(rows, name, pid) for name in PATIENT_VALUES)
    _check_dose(dose, rows, design)
    return Counts(pid, dose, bsa, weight, baseline, after, hours)


def _check_dose(dose: float, rows: list[CsvRow], design: Design) -> None:
    """The dose given may differ from its level (a bag's actual count), not by a factor: 3
    for 3e8 cells would make every CCI and PPR 10^8 times too large."""
    low, high = min(design.levels), max(design.levels)
    if not low / DOSE_FACTOR <= dose <= high * DOSE_FACTOR:
        row = next(row for row in rows if row.optional("dose"))
        raise row.fail("dose", f"{row.text('dose')} is not within a factor {DOSE_FACTOR:g} of "
                       f"the dose panel ({design.format_dose(low)} to "
                       f"{design.format_dose(high)}): give the dose given in the config's unit")


def _count(row: CsvRow) -> float:
    value = row.number("platelets")
    if not (math.isfinite(value) and value >= 0):
        raise row.fail("platelets", f"expected a count >= 0 (x10^9/L), got "
                       f"{row.text('platelets')!r}")
    return value


def _patient_value(rows: list[CsvRow], column: str, pid: str) -> float:
    """A value given once per patient (on any of its rows; rows that repeat it agree)."""
    given = [(row, row.positive(column)) for row in rows if row.optional(column)]
    if not given:
        raise rows[0].fail(column, f"patient {pid!r} has no {column} on any row")
    first_row, value = given[0]
    for row, other in given[1:]:
        if other != value:
            raise row.fail(column, f"{row.text(column)} differs from {first_row.text(column)} "
                           f"in {first_row.label} (one value per patient)")
    return value


def rule_text(design: Design) -> str:
    """The response rule in words: ``response: increment >= 10 at 7d``."""
    rule = design.efficacy.response
    return f"response: {rule.endpoint} >= {rule.threshold:g} at {rule.time}"


def rule_note(design: Design) -> str | None:
    """A warning when the rule reads a time point later than the day the trial data take a
    response as known (``[efficacy] assessment_days``), None otherwise."""
    days = design.efficacy.assessment_days
    time = design.efficacy.response.time
    if days == 0 or time_point_hours(time) <= 24 * days:
        return None
    return (f"[efficacy.response] time = {time!r} is later than [efficacy] assessment_days = "
            f"{days} of {design.source}: the trial data would take a response as known "
            "before its count is taken")


def time_points(results: list[Endpoints]) -> list[str]:
    """Every time point in the data, by hours after dosing (as first written)."""
    by_hours: dict[float, str] = {}
    for result in results:
        for time, hours in result.counts.hours.items():
            by_hours.setdefault(hours, time)
    return [by_hours[h] for h in sorted(by_hours)]


def endpoints_csv(results: list[Endpoints]) -> str:
    """One row per patient: the inputs, each time point's increment, CCI and PPR, and the
    response (empty while the rule's time point has no count)."""
    times = time_points(results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["patient_id", *PATIENT_VALUES, "blood_volume_l", "baseline",
                     *(f"{name}_{t}" for t in times for name in ("platelets", "increment",
                                                                  "cci", "ppr")),
                     "response"])
    for r in results:
        c = r.counts
        cells = [c.patient_id, _number(c.dose), _number(c.bsa_m2), _number(c.weight_kg),
                 _number(r.blood_volume_l), _number(c.baseline)]
        for t in times:
            at = _time_point(c, t)
            cells += (["", "", "", ""] if at is None else
                      [_number(v) for v in (c.after[at], r.increment[at], r.cci[at], r.ppr[at])])
        writer.writerow([*cells, "" if r.response is None else str(r.response)])
    return out.getvalue()


def _number(x: float) -> str:
    """A number to 4 decimals, without trailing zeros or an exponent (3e8 is 300000000)."""
    return f"{round(x, 4):f}".rstrip("0").rstrip(".")
