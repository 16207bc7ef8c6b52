"""BOIN for drug combinations (Lin & Yin 2017), as R's BOIN 2.7.2 ``get.oc.comb(mtd.contour =
FALSE)`` and ``select.mtd.comb`` run it: the per-dose rules (``rules``), the isotonic fit
(``isotonic``, R's ``Iso::biviso``), the selections (``selection``, also the waterfall's) and the
simulated design (``simulated``). Its settings are BOIN's, ``[designs.boin]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bayesdose.schema import Design


def describe(design: Design, name: str) -> str:
    return (f"BOIN for combinations (Lin & Yin 2017, as BOIN's get.oc.comb): target "
            f"{design.decision.target:g}, escalating one drug at a time, elimination when "
            f"P(DLT rate > target) > {design.designs.boin.elimination_cutoff:g}.")
