"""The waterfall design for drug combinations (Zhang & Yuan 2016), as R's BOIN 2.7.2
``get.oc.comb(mtd.contour = TRUE)`` runs it: settings (``config``, ``[designs.waterfall]``)
and the simulated design (``simulated``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bayesdose.schema import Design


def describe(design: Design, name: str) -> str:
    return (f"Waterfall design (Zhang & Yuan 2016, as BOIN's get.oc.comb with mtd.contour = "
            f"TRUE): BOIN subtrials along the grid's rows, selecting the MTD contour, target "
            f"{design.decision.target:g}.")
