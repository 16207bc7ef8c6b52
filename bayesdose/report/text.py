"""How numbers and doses are written in reports and figures (plain text, escaped later)."""

from __future__ import annotations

from bayesdose.doseformat import power_of_ten
from bayesdose.schema import Design


def number(x: float) -> str:
    """A number that is not a dose as a reader writes it: ``1e-06`` becomes ``1×10⁻⁶``, ``0.5``
    stays ``0.5`` (doses: ``dose_number``, in the panel's ``[doses] format``)."""
    text = f"{x:g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return power_of_ten(mantissa, int(exponent), rich=True)


def dose_number(design: Design, x: float) -> str:
    """A dose without its unit, as HTML and figures write it (``3×10⁸``)."""
    return design.panel.number(x, rich=True)


def dose(design: Design, level: int) -> str:
    """Dose level ``level`` (0-based) with its unit, as HTML and figures write it."""
    return design.panel.label(level, rich=True)


def probability(x: float | None, digits: int = 3) -> str:
    """A probability or rate to ``digits`` decimals; a dash for a missing value."""
    return "—" if x is None else f"{x:.{digits}f}"


def patients(count: int) -> str:
    return f"{count} patient" + ("" if count == 1 else "s")


def dlts(count: int) -> str:
    """``1 DLT``, ``2 DLTs``."""
    return f"{count} DLT" + ("" if count == 1 else "s")
