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
