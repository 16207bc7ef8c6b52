"""Historical trials: the DLT counts of earlier trials of the drug, read from a CSV file.

Layout ``trial,dose,n,dlt``: one row per trial and dose, doses in the unit of the current
trial's panel (any positive dose, not only the panel's levels), ``n`` patients with ``dlt``
DLTs. A meta-analytic model (``bayesdose.models.hierarchy``) borrows from them.

Two drugs (``[drugs] names``): ``trial,dose_A,dose_B,n,dlt`` (``dose_<name>``), one row per
trial and dose pair, a dose of 0 the drug not given, so monotherapy trials of either drug and
combination trials, historical or concurrent, share one file
(``bayesdose.models.combination_hierarchy`` borrows from them; each drug's monotherapy rows
give its MAP prior).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bayesdose.data import CsvRow, check_columns, read_csv_rows
from bayesdose.errors import InputError

HISTORICAL_COLUMNS = ("trial", "dose", "n", "dlt")


@dataclass(frozen=True)
class HistoricalTrials:
    """The rows of the historical data; ``trial[i]`` indexes ``names`` (in order of first
    appearance). Tuples, so that a fit can be cached on them."""

    names: tuple[str, ...]
    trial: tuple[int, ...]
    dose: tuple[float, ...]
    n: tuple[int, ...]
    dlt: tuple[int, ...]
    source: str = "<historical>"

    def rows_of(self, name: str) -> list[tuple[float, int, int]]:
        """(dose, n, DLTs) of one trial's rows."""
        g = self.names.index(name)
        return [(d, n, y) for t, d, n, y in zip(self.trial, self.dose, self.n, self.dlt,
                                                strict=True) if t == g]


@dataclass(frozen=True)
class CombinationHistory:
    """Two drugs' historical (and concurrent) trials: per row the trial (``trial[i]`` indexes
    ``names``), both doses (0: not given), ``n`` patients and ``dlt`` DLTs. Tuples, so that a
    fit can be cached on them."""

    drugs: tuple[str, str]
    names: tuple[str, ...]
    trial: tuple[int, ...]
    doses: tuple[tuple[float, float], ...]
    n: tuple[int, ...]
    dlt: tuple[int, ...]
    source: str = "<historical>"

    def monotherapy(self, drug: int) -> HistoricalTrials:
        """The rows where drug ``drug`` (0 or 1) was given alone, as one drug's history (the
        trials that have such rows, in order); an InputError if there are none."""
        rows = [(self.names[t], d[drug], n, y) for t, d, n, y
                in zip(self.trial, self.doses, self.n, self.dlt, strict=True)
                if d[drug] > 0 and d[1 - drug] == 0]
        if not rows:
            name = self.drugs[drug]
            fix = ("every row gives both drugs: combination rows inform only the joint model "
                   "(prior = 'exnex' for both drugs)"
                   if len(self.combination_rows()) == len(self.n)
                   else f"add its monotherapy trials, or give [model.{name}] another prior")
            raise InputError(self.source, None, f"no monotherapy rows of drug {name} "
                             f"(dose_{name} > 0, the other 0) for its MAP prior; {fix}")
        names = tuple(dict.fromkeys(r[0] for r in rows))
        return HistoricalTrials(names, tuple(names.index(r[0]) for r in rows),
                                *(tuple(r[k] for r in rows) for k in (1, 2, 3)),
                                source=self.source)

    def combination_rows(self) -> list[int]:
        """The rows that give both drugs (0-based): a drug's MAP prior does not use them."""
        return [i for i, d in enumerate(self.doses) if d[0] > 0 and d[1] > 0]


def read_historical(path: str | Path) -> HistoricalTrials:
    """Read a historical-trials CSV; every problem names the file, the row and the column."""
    names, rows = _read_rows(path, ("dose",), lambda row: row.positive("dose"))
    trial, dose, n, dlt = (tuple(column) for column in zip(*rows, strict=True))
    return HistoricalTrials(names, trial, dose, n, dlt, str(path))


def read_combination_history(path: str | Path, drugs: tuple[str, str]) -> CombinationHistory:
    """Read a two-drug historical-trials CSV (``trial,dose_A,dose_B,n,dlt`` for drugs A and
    B); every problem names the file, the row and the column."""
    columns = tuple(f"dose_{name}" for name in drugs)

    def pair(row: CsvRow) -> tuple[float, float]:
        doses = tuple(row.dose_or_absent(c) for c in columns)
        if not any(doses):
            raise row.fail(columns[0], "both doses are 0: each row gives at least one drug")
        return doses  # type: ignore[return-value]

    names, rows = _read_rows(path, columns, pair)
    trial, doses, n, dlt = (tuple(column) for column in zip(*rows, strict=True))
    return CombinationHistory(drugs, names, trial, doses, n, dlt, str(path))


def _read_rows(path: str | Path, dose_columns: tuple[str, ...],
               dose: Callable[[CsvRow], object]) -> tuple[tuple[str, ...], list[tuple]]:
    """The trials' names (in order of first appearance) and the rows (trial index, dose,
    n, dlt) of a historical CSV whose doses are in ``dose_columns`` (read by ``dose``)."""
    source = str(path)
    header_cells, body = read_csv_rows(path)
    spelled = {c.lower(): c for c in dose_columns}  # dose_A as the config names the drug
    header = [spelled.get(cell.strip().lower(), cell.strip().lower()) for cell in header_cells]
    if not any(header):
        raise InputError(source, "row 1", "missing header line")
    expected = ("trial", *dose_columns, "n", "dlt")
    columns = check_columns(header, expected, source, "row 1")
    names: dict[str, int] = {}
    seen: dict[tuple[str, object], str] = {}
    rows = []
    for label, cells in body:
        if not any(c.strip() for c in cells):
            continue
        row = CsvRow(cells, columns, label, source)
        name, value = row.text("trial"), dose(row)
        n, dlt = row.count("n"), row.count("dlt")
        if dlt > n:
            raise row.fail("dlt", f"dlt = {dlt} is more than n = {n}")
        if (name, value) in seen:
            raise row.fail(dose_columns[0], f"trial {name!r} has dose {_dose_text(value)} "
                           f"also in {seen[name, value]}")
        seen[name, value] = label
        rows.append((names.setdefault(name, len(names)), value, n, dlt))
    if not rows:
        raise InputError(source, None, "no historical data rows (expected "
                         f"{','.join(expected)})")
    return tuple(names), rows


def _dose_text(dose: object) -> str:
    """A dose (``10``) or a pair of doses (``(10, 0.5)``) as an error message shows it."""
    if isinstance(dose, tuple):
        return "(" + ", ".join(f"{d:g}" for d in dose) + ")"
    return f"{dose:g}"
