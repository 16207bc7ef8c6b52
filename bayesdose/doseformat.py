"""How a dose is written: the one helper behind the terminal, the JSON's sentences, HTML and
figures.

``[doses] format`` chooses the digits: ``"auto"`` (decimals, or powers of ten for the whole
panel when its doses are too large or too small to read as decimals), ``"scientific"``,
``"plain"`` (decimals, never a power of ten), or a Python format spec such as ``".1e"``,
``",.0f"`` or ``".3g"``. The digits are the same everywhere; only the power of ten is written
for the medium: ``3x10^8`` in plain text (the terminal, the sentences of the JSON and the
decision records: ASCII, so any console prints it) and ``3×10⁸`` in HTML and figures.
``rich_text`` rewrites the first into the second inside a sentence written as plain text.
"""

from __future__ import annotations

import re
from decimal import Decimal

FORMATS = ("auto", "scientific", "plain")
SCIENTIFIC_FROM = 1e5  # "auto": powers of ten when the largest dose is at least this ...
SCIENTIFIC_BELOW = 1e-3  # ... or the smallest is below this

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_PLAIN_POWER = re.compile(r"(?<![\w.^])(\d+(?:\.\d+)?)x10\^(-?\d+)(?!\d)")
_EXPONENT = re.compile(r"^(.*?)[eE]([+-]?\d+)(.*)$")


def check(fmt: str) -> str | None:
    """What is wrong with ``fmt`` as a ``[doses] format``, or None."""
    if fmt in FORMATS:
        return None
    try:
        if not fmt:
            raise ValueError(fmt)
        format(1.5, fmt)
    except (ValueError, TypeError):
        return (f"expected 'auto', 'scientific', 'plain' or a format spec for a number such "
                f"as '.1e' or ',.0f', got {fmt!r}")
    return None


def resolve(fmt: str, levels: tuple[float, ...]) -> str:
    """``fmt`` with ``"auto"`` decided for a panel of ``levels``: ``"scientific"`` when the
    largest is at least ``SCIENTIFIC_FROM`` or the smallest below ``SCIENTIFIC_BELOW``, else
    ``"plain"``; one form for every dose of the panel."""
    if fmt != "auto":
        return fmt
    wide = bool(levels) and (max(levels) >= SCIENTIFIC_FROM or min(levels) < SCIENTIFIC_BELOW)
    return "scientific" if wide else "plain"


def format_number(x: float, fmt: str = "plain", rich: bool = False) -> str:
    """``x`` in the resolved format ``fmt`` (``resolve``): as plain text, or for HTML and
    figures when ``rich``."""
    if fmt not in ("plain", "scientific"):
        return _powers(format(float(x), fmt), rich)
    shortest = Decimal(repr(float(x))).normalize()  # the digits that give x back, no more
    if fmt == "plain" or shortest.is_zero():
        return format(shortest, "f")
    sign, digits, exponent = shortest.as_tuple()
    text = "".join(map(str, digits))
    mantissa = "-" * sign + text[0] + (f".{text[1:]}" if len(text) > 1 else "")
    return power_of_ten(mantissa, len(digits) - 1 + exponent, rich)


def power_of_ten(mantissa: str, exponent: int, rich: bool) -> str:
    """``mantissa`` times ten to the ``exponent``: ``3x10^8``, or ``3×10⁸`` when ``rich``."""
    if rich:
        return f"{mantissa}×10{str(exponent).translate(_SUPERSCRIPT)}"
    return f"{mantissa}x10^{exponent}"


def _powers(text: str, rich: bool) -> str:
    """``3e+08`` (as Python writes it) as a power of ten; other text as it is."""
    match = _EXPONENT.match(text)
    if match is None or not any(c.isdigit() for c in match.group(1)):
        return text
    head, exponent, tail = match.groups()
    return power_of_ten(head, int(exponent), rich) + tail


def rich_text(text: str) -> str:
    """A sentence written as plain text (``3x10^8 viable cells``) as HTML and figures write
    it (``3×10⁸ viable cells``)."""
    return _PLAIN_POWER.sub(lambda m: power_of_ten(m.group(1), int(m.group(2)), True), text)
