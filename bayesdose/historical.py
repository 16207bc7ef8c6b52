"""Historical trials: the DLT counts of earlier trials of the drug, read from a CSV file.

Layout ``trial,dose,n,dlt``: one row per trial and dose, doses in the unit of the current
trial's panel (any positive dose, not only the panel's levels), ``n`` patients with ``dlt``
DLTs. A meta-analytic model (``bayesdose.models.hierarchy``) borrows from them.
"""

from __future__ import annotations

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


def read_historical(path: str | Path) -> HistoricalTrials:
    """Read a historical-trials CSV; every problem names the file, the row and the column."""
    source = str(path)
    header_cells, body = read_csv_rows(path)
    header = [cell.strip().lower() for cell in header_cells]
    if not any(header):
        raise InputError(source, "row 1", "missing header line")
    columns = check_columns(header, HISTORICAL_COLUMNS, source, "row 1")
    names: dict[str, int] = {}
    seen: dict[tuple[str, float], str] = {}
    rows = []
    for label, cells in body:
        if not any(c.strip() for c in cells):
            continue
        row = CsvRow(cells, columns, label, source)
        name, dose = row.text("trial"), row.positive("dose")
        n, dlt = row.count("n"), row.count("dlt")
        if dlt > n:
            raise row.fail("dlt", f"dlt = {dlt} is more than n = {n}")
        if (name, dose) in seen:
            raise row.fail("dose", f"trial {name!r} has dose {dose:g} also in "
                           f"{seen[name, dose]}")
        seen[name, dose] = label
        rows.append((names.setdefault(name, len(names)), dose, n, dlt))
    if not rows:
        raise InputError(source, None, "no historical data rows (expected trial,dose,n,dlt)")
    trial, dose, n, dlt = (tuple(column) for column in zip(*rows, strict=True))
    return HistoricalTrials(tuple(names), trial, dose, n, dlt, source)
