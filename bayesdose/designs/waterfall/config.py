"""``[designs.waterfall]``: the waterfall design's subtrial sizes and early stop."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bayesdose.schema_fields import documented, requirement


@dataclass(frozen=True)
class WaterfallSection:
    subtrial_cohorts: tuple[int, ...] = documented(
        "Waterfall: cohorts of each subtrial, one number per level of the first drug (R's "
        "ncohort vector); its sum times [cohorts] size is the waterfall's sample size "
        "(not [stopping] max_patients). Empty: R's default, ceiling(round(4 / size, 2) x "
        "(J + K - 1, K - 1, ..., K - 1)) for J x K pairs.", ())
    n_earlystop: int = documented(
        "Waterfall: end a subtrial when the dose it moves to holds this many patients (R's "
        "default 12 with mtd.contour = TRUE). The elimination cutoff is [designs.boin] "
        "elimination_cutoff.", 12)

    def check(self, n_doses: int, target: float, source: str) -> None:
        require = requirement(source, "designs.waterfall")
        require(all(c >= 1 for c in self.subtrial_cohorts), "subtrial_cohorts",
                "every subtrial needs at least one cohort")
        require(self.n_earlystop >= 1, "n_earlystop", "must be >= 1")

    def cohorts(self, rows: int, cols: int, size: int) -> tuple[int, ...]:
        """The cohorts of each of ``rows`` subtrials (given, or R's default)."""
        if self.subtrial_cohorts:
            return self.subtrial_cohorts
        per = round(4 / size, 2)
        return tuple(math.ceil(per * span) for span in (rows + cols - 1, *[cols - 1] * (rows - 1)))
