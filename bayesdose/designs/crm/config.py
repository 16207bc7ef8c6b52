"""``[designs.crm]``: the CRM's working model and skeleton, and their checks."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bayesdose.schema_fields import documented, requirement


@dataclass(frozen=True)
class CrmSection:
    skeleton: tuple[float, ...] | None = documented(
        "CRM skeleton: prior guesses of P(DLT), one per dose, strictly increasing in (0, 1). "
        "Required by the crm design unless halfwidth and prior_mtd_level are given.",
        None,
    )
    halfwidth: float | None = documented(
        "Derive the skeleton as dfcrm's getprior does (Lee & Cheung 2009): half-width of the "
        "indifference intervals around [decision] target (with prior_mtd_level).",
        None,
    )
    prior_mtd_level: int | None = documented(
        "Derived skeleton: the 1-based level whose skeleton value is the target.", None
    )
    model: str = documented(
        "Working model: 'empiric' (skeleton^exp(a)) or 'logistic' (dfcrm's fixed intercept 3).",
        "empiric",
    )
    prior_variance: float = documented(
        "Variance of the normal prior on the CRM parameter a.", 1.34)

    def check(self, n_doses: int, target: float, source: str) -> None:
        """Checks of the values (a missing skeleton is the crm design's error, raised only
        when that design is used)."""
        require = requirement(source, "designs.crm")
        if self.skeleton is not None:
            sk = self.skeleton
            require(len(sk) == n_doses, "skeleton", f"has {len(sk)} values for {n_doses} doses")
            require(all(0 < p < 1 for p in sk), "skeleton", "values must lie in (0, 1)")
            require(all(a < b for a, b in zip(sk, sk[1:], strict=False)), "skeleton",
                    "values must be strictly increasing")
            require(self.model != "logistic" or sk[-1] < 1 / (1 + math.exp(-3)), "skeleton",
                    "the logistic model (intercept 3) needs every value < 0.9526")
            require(self.halfwidth is None and self.prior_mtd_level is None, "",
                    "give skeleton, or halfwidth and prior_mtd_level, not both")
        require((self.halfwidth is None) == (self.prior_mtd_level is None), "",
                "give both halfwidth and prior_mtd_level (to derive the skeleton), or neither")
        if self.halfwidth is not None:
            require(0 < self.halfwidth < min(target, 1 - target), "halfwidth",
                    f"must be in (0, {min(target, 1 - target):g}) for target {target:g}")
        if self.prior_mtd_level is not None:
            require(1 <= self.prior_mtd_level <= n_doses, "prior_mtd_level",
                    f"must be between 1 and the number of levels ({n_doses})")
        require(self.model in ("empiric", "logistic"), "model",
                f"expected 'empiric' or 'logistic', got {self.model!r}")
        require(self.prior_variance > 0, "prior_variance", "must be > 0")
