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

    # Arms: the pairs of the grid, then each drug alone at each of its levels (monotherapy,
    # the other drug's dose 0), as trial data count patients: index < size is a pair.

    @property
    def arms(self) -> int:
        """Pairs of the grid plus each drug's levels alone."""
        rows, cols = self.shape
        return self.size + rows + cols

    def arm_doses(self, arm: int) -> dict[str, float]:
        """Each drug's dose in an arm, by name (0: the drug is not given)."""
        if 0 <= arm < self.size:
            return self.doses(arm)
        rows = self.shape[0]
        drug, level = (0, arm - self.size) if arm < self.size + rows else (
            1, arm - self.size - rows)
        if not 0 <= level < len(self.drugs[drug].levels):
            raise IndexError(arm)
        doses = dict.fromkeys(self.names, 0.0)
        doses[self.names[drug]] = self.drugs[drug].dose(level)
        return doses

    def arm_index(self, doses: dict[str, float]) -> int:
        """The arm of each drug's dose ``{name: dose}`` (0: not given); a ValueError naming
        the drug whose dose is not one of its levels (nor 0), or ``None`` when neither drug
        is given."""
        given = [name for name in self.names if doses[name] != 0]
        if not given:
            raise ValueError(None)
        if len(given) == 2:
            return self.index_of_doses(doses)
        drug = self.names.index(given[0])
        try:
            level = self.drugs[drug].index(doses[given[0]])
        except ValueError:
            raise ValueError(given[0]) from None
        return self.size + (level if drug == 0 else self.shape[0] + level)

    def arm_label(self, arm: int, rich: bool = False) -> str:
        """A pair's label, or ``A 25 mg alone``."""
        if arm < self.size:
            return self.label(arm, rich)
        name, dose = next((n, d) for n, d in self.arm_doses(arm).items() if d)
        return f"{name} {self.drugs[self.names.index(name)].format(dose, rich)} alone"

    def format(self, doses: dict[str, float], rich: bool = False) -> str:
        """Each drug's dose with its unit, ``A 2 mg + B 1 mg`` (a drug at 0 left out)."""
        return " + ".join(f"{name} {panel.format(doses[name], rich)}" for name, panel
                          in zip(self.names, self.drugs, strict=True) if doses[name])
