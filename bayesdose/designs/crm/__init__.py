"""The CRM (dfcrm): statistics (``core``), settings (``config``, ``[designs.crm]``), the
simulated design (``simulated``), TITE-CRM (``tite``) and its numbers on real data (``step``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bayesdose.schema import Design


def describe(design: Design, name: str) -> str:
    from bayesdose.report.text import number

    crm = design.designs.crm
    prefix = "TITE-CRM (Cheung & Chappell 2000) " if name == "tite-crm" else "CRM "
    return (f"{prefix}(O'Quigley, Pepe & Fisher 1990, as dfcrm's crmsim): {crm.model} working "
            f"model, target {number(design.decision.target)}, prior variance "
            f"{number(crm.prior_variance)}; no skipping, no escalation right after a DLT, runs "
            f"to the maximum sample size.")
