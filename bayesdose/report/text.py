"""How numbers and doses are written in reports and figures (plain text, escaped later)."""

from __future__ import annotations

from bayesdose.schema import Design

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def number(x: float) -> str:
    """A number as a reader writes it: ``3e+08`` becomes ``3×10⁸``, ``0.5`` stays ``0.5``."""
    text = f"{x:g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = "10" + str(int(exponent)).translate(_SUPERSCRIPT)
    return power if mantissa == "1" else f"{mantissa}×{power}"


def dose(design: Design, level: int) -> str:
    """Dose level ``level`` (0-based) with its unit."""
    return f"{number(design.levels[level])} {design.doses.unit}".rstrip()


def probability(x: float | None, digits: int = 3) -> str:
    """A probability or rate to ``digits`` decimals; a dash for a missing value."""
    return "—" if x is None else f"{x:.{digits}f}"


def patients(count: int) -> str:
    return f"{count} patient" + ("" if count == 1 else "s")


def dlts(count: int) -> str:
    """``1 DLT``, ``2 DLTs``."""
    return f"{count} DLT" + ("" if count == 1 else "s")
