"""BOIN (R's BOIN 2.7.2): statistics (``core``), settings (``config``, ``[designs.boin]``), the
simulated design (``simulated``), its reasons on real data (``step``) and the protocol's
boundary table (``boundaries``, ``bayesdose boundaries``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bayesdose.schema import Design


def describe(design: Design, name: str) -> str:
    from bayesdose.report.text import number

    return (f"BOIN (Liu & Yuan 2015, as BOIN's get.oc): target {number(design.decision.target)}, "
            f"elimination when P(DLT rate > target) > "
            f"{number(design.designs.boin.elimination_cutoff)}.")
