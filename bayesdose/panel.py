"""The dose panel: a trial's dose levels, their covariate in the model, and their labels.

One drug's levels now (a level is a 0-based index into ``levels``); a two-drug panel of dose
pairs will map a flat index to a pair the same way, so code that walks levels by index (data,
escalation limits, coherence, the simulator's state keys) keeps working.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bayesdose.doseformat import format_number, resolve

MATCH_REL_TOL = 1e-6  # a dose in the data matches a level within this relative tolerance


@dataclass(frozen=True)
class DosePanel:
    """Dose levels (positive, increasing) in ``unit``, with the model's reference dose, and
    how a dose is written (``[doses] format``: see ``doseformat``)."""

    levels: tuple[float, ...]
    unit: str
    reference: float
    number_format: str = "auto"

    @property
    def log_dose_ratio(self) -> tuple[float, ...]:
        """x_d = log(d / d_ref) for each dose level."""
        ref = math.log(self.reference)
        return tuple(math.log(d) - ref for d in self.levels)  # d / d_ref could underflow

    def index(self, dose: float, rel_tol: float = MATCH_REL_TOL) -> int:
        """0-based index of ``dose`` (relative tolerance, so 3e8 matches 300000000); a
        ValueError if it is not a level."""
        return dose_index(self.levels, dose, rel_tol)

    def dose(self, level: int) -> float:
        return float(self.levels[level])

    def number(self, dose: float, rich: bool = False) -> str:
        """A dose without its unit, in the panel's format: ``3x10^8`` as plain text, ``3×10⁸``
        for HTML and figures (``rich``); every dose of the panel in the same form."""
        return format_number(dose, resolve(self.number_format, self.levels), rich)

    def format(self, dose: float, rich: bool = False) -> str:
        """A dose with its unit (``3x10^8 viable cells``; ``rich``: ``3×10⁸ viable cells``)."""
        return f"{self.number(dose, rich)} {self.unit}".rstrip()

    def label(self, level: int, rich: bool = False) -> str:
        """Dose level ``level`` (0-based) with its unit."""
        return self.format(self.levels[level], rich)


def dose_index(levels: tuple[float, ...], dose: float, rel_tol: float = MATCH_REL_TOL) -> int:
    """0-based index of ``dose`` in ``levels`` (relative tolerance); a ValueError if absent."""
    for i, level in enumerate(levels):
        if math.isclose(dose, level, rel_tol=rel_tol):
            return i
    raise ValueError(dose)


def indistinct_levels(levels: tuple[float, ...],
                      rel_tol: float = MATCH_REL_TOL) -> tuple[float, float] | None:
    """The first two neighbouring (increasing) levels that matching with ``rel_tol`` cannot tell
    apart, or None. Two levels are apart when no dose is within the tolerance of both: their
    gap exceeds twice the tolerance of the larger (otherwise data at 1.0000005 would count at
    level 1 of ``[1, 1.0000005, ...]``)."""
    for a, b in zip(levels, levels[1:], strict=False):
        if abs(b - a) <= 2 * rel_tol * max(abs(a), abs(b)):
            return a, b
    return None


@dataclass(frozen=True)
class PairPanel:
    """Two drugs' dose pairs: every level of the first drug with every level of the second.

    A pair is a flat 0-based index ``a * columns + b``, rows (``a``) the first drug's levels and
    columns (``b``) the second's, so per-pair arrays are the grid read row by row and code that
    walks doses by index (counts per dose, DLT tables of simulated patients) walks pairs.
    """

    names: tuple[str, str]
    drugs: tuple[DosePanel, DosePanel]

    @property
    def shape(self) -> tuple[int, int]:
        """(levels of the first drug, levels of the second)."""
        return len(self.drugs[0].levels), len(self.drugs[1].levels)

    @property
    def size(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def index(self, a: int, b: int) -> int:
        """Flat index of levels (a, b), 0-based."""
        rows, cols = self.shape
        if not (0 <= a < rows and 0 <= b < cols):
            raise IndexError((a, b))
        return a * cols + b

    def pair(self, index: int) -> tuple[int, int]:
        """Levels (a, b) of a flat index."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        return divmod(index, self.shape[1])

    def index_of_doses(self, doses: dict[str, float]) -> int:
        """Flat index of the doses ``{name: dose}`` of both drugs; a ValueError naming the
        drug whose dose is not one of its levels."""
        levels = []
        for name, panel in zip(self.names, self.drugs, strict=True):
            try:
                levels.append(panel.index(doses[name]))
            except ValueError:
                raise ValueError(name) from None
        return self.index(*levels)

    def doses(self, index: int) -> dict[str, float]:
        """The pair's dose of each drug, by name."""
        return {name: panel.dose(level) for name, panel, level
                in zip(self.names, self.drugs, self.pair(index), strict=True)}

    def neighbours(self, index: int) -> dict[str, list[int]]:
        """The pairs one level up (``up``) and down (``down``) in one drug, first drug first."""
        a, b = self.pair(index)
        rows, cols = self.shape
        up = [self.index(a + 1, b)] if a + 1 < rows else []
        up += [self.index(a, b + 1)] if b + 1 < cols else []
        down = [self.index(a - 1, b)] if a > 0 else []
        down += [self.index(a, b - 1)] if b > 0 else []
        return {"up": up, "down": down}

    def label(self, index: int, rich: bool = False) -> str:
        """``A 2 mg + B 1 mg``: each drug's name and dose with its unit."""
        return " + ".join(f"{name} {panel.label(level, rich)}" for name, panel, level
                          in zip(self.names, self.drugs, self.pair(index), strict=True))
