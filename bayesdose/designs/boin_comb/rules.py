"""BOIN's per-dose rules as arrays indexed by the number of patients, and the combination
records every two-drug design returns from a simulation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betainc

from bayesdose.designs.boin.core import boin_boundaries, boundary_table

NEVER = 10**6  # an elimination count no cohort reaches (R's NA)


@dataclass(frozen=True)
class RuleArrays:
    """``get.boundary``'s rows for n = 0 .. max_n (index n; n = 0 never used): escalate if
    DLTs <= ``escalate[n]``, de-escalate if >= ``deescalate[n]``, eliminate if >=
    ``eliminate[n]``."""

    escalate: np.ndarray
    deescalate: np.ndarray
    eliminate: np.ndarray
    lambda_e: float
    lambda_d: float

    @classmethod
    def of(cls, target: float, max_n: int, cutoff: float) -> RuleArrays:
        table = boundary_table(target, max_n, cutoff)
        eliminate = [NEVER if e is None else e for e in table.eliminate]
        return cls(np.array([-1, *table.escalate]), np.array([NEVER, *table.deescalate]),
                   np.array([NEVER, *eliminate]), table.lambda_e, table.lambda_d)


def target_probability(target: float, max_n: int) -> np.ndarray:
    """BOIN-comb's score of a neighbour with y DLTs in n, ``[y, n]``: R's ``pbeta(lambda2, y +
    0.5, n - y + 0.5) - pbeta(lambda1, y + 0.5, n - y + 0.5) + n * 5e-4`` (Jeffreys posterior
    probability that the rate lies between the escalation and de-escalation boundaries, plus
    a small premium for patients there)."""
    lambda1, lambda2 = boin_boundaries(target)
    n = np.arange(max_n + 1)[None, :]
    y = np.arange(max_n + 1)[:, None]
    a, b = y + 0.5, np.maximum(n - y, 0) + 0.5
    score = (betainc(a, b, lambda2) - betainc(a, b, lambda1)) + n * 5e-4
    return np.where(y <= n, score, 0.0)


@dataclass(frozen=True)
class CombinationRecords:
    """Per trial: the selected pairs as a bit mask over flat pair indexes (bit a K + b; 0 =
    none), patients and DLTs per pair (flat, rows of the first drug first) and the stop
    reason (``designs.base`` codes). ``kept_n``/``kept_dlt``: the counts as R's get.oc.comb
    keeps them (the waterfall drops a subtrial that selects nothing), else None."""

    selected: np.ndarray
    n: np.ndarray
    dlt: np.ndarray
    stop_reason: np.ndarray
    kept_n: np.ndarray | None = None
    kept_dlt: np.ndarray | None = None

