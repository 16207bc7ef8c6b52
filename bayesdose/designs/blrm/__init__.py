"""BLRM-EWOC: the rules (``rules``: one ``decide_batch`` for recommend and simulate), the
simulated design (``simulated``) and its time-aware form, TITE-BLRM (``tite``). Its settings
are the top-level sections [model], [decision], [cohorts] and [stopping] (``bayesdose.schema``);
its posterior comes from the engines (``bayesdose.posterior``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bayesdose.schema import Design


def describe(design: Design, name: str) -> str:
    if name == "tite-blrm":
        return ("TITE-BLRM: BLRM-EWOC deciding at each cohort's arrival, patients still in "
                "follow-up weighted by days followed (Cheung & Chappell 2000).")
    return ("BLRM-EWOC: this design, with the rules of section 3 (exactly as bayesdose "
            "recommend decides).")
