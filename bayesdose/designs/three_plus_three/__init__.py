"""3+3 and 3+3 with de-escalation (``simulated``), the rule that applied on real data (``step``);
no settings of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bayesdose.schema import Design


def describe(design: Design, name: str) -> str:
    if name == "3+3-deesc":
        return ("3+3 with de-escalation: as 3+3, but when it stops, the dose below is filled "
                "to six patients before it is declared.")
    return ("3+3 (Storer 1989): 0/3 escalate, 1/3 add three, 1/6 escalate, otherwise stop and "
            "declare the dose below (below a start dose above the lowest, an untried dose "
            "below is treated first); ignores the maximum sample size.")
