"""``[designs.boin]``: BOIN's elimination and early-stopping settings, and their checks."""

from __future__ import annotations

from dataclasses import dataclass

from bayesdose.schema_fields import documented, requirement


@dataclass(frozen=True)
class BoinSection:
    elimination_cutoff: float = documented(
        "BOIN: eliminate a dose (and all above) with n >= 3 and P(p > target | data) above "
        "this (Beta(1, 1) prior).",
        0.95,
    )
    n_earlystop: int = documented(
        "BOIN: stop when the current dose holds this many patients and the rule would stay "
        "there (as BOIN's get.oc).",
        100,
    )

    def check(self, n_doses: int, target: float, source: str) -> None:
        require = requirement(source, "designs.boin")
        require(0 < self.elimination_cutoff < 1, "elimination_cutoff", "must be in (0, 1)")
        require(self.n_earlystop >= 1, "n_earlystop", "must be >= 1")
