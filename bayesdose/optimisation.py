"""Dose optimisation at the end of a trial: the optimal biological dose (OBD) by a utility of
toxicity and efficacy among the doses with acceptable toxicity.

- Acceptable toxicity: the treated doses at or below the MTD the design selected (no MTD, no
  OBD), so every design's own toxicity rule bounds the choice.
- Estimates per dose: BOIN's isotonic estimates (``boin.core.isotonic_rows``: Beta(0.05,
  0.05) posterior means pooled by weighted pool-adjacent-violators into a non-decreasing
  curve) of the DLT rate p and, the same way, of the response rate q: efficacy is assumed not
  to fall with dose (it may plateau), as toxicity.
- Utility (Lin, Zhou & Yuan 2020, BOIN12, JCO Precision Oncology 4:16-26): u = (response
  without DLT, response with DLT, neither, DLT without response), default (100, 60, 40, 0);
  with toxicity and response independent given the dose, the expected utility is
  U = u1 q (1 - p) + u2 q p + u3 (1 - q)(1 - p) + u4 (1 - q) p.
- The OBD maximises U; of doses with equal U (to 1e-12), the lowest.
The true OBD of a scenario is the same maximisation on the true rates among the doses at or
below the true MTD.
"""

from __future__ import annotations

from collections.abc import Sequence
import numpy as np

from bayesdose.designs.base import NO_DOSE
from bayesdose.designs.boin.core import isotonic_rows

BOIN12_UTILITY = (100.0, 60.0, 40.0, 0.0)
TIE = 1e-12


def expected_utility(p_tox: np.ndarray, q_eff: np.ndarray,
                     utility: Sequence[float] = BOIN12_UTILITY) -> np.ndarray:
    """Expected utility per dose of DLT rates ``p_tox`` and response rates ``q_eff``."""
    p, q = np.asarray(p_tox, float), np.asarray(q_eff, float)
    u1, u2, u3, u4 = utility
    return u1 * q * (1 - p) + u2 * q * p + u3 * (1 - q) * (1 - p) + u4 * (1 - q) * p


def best_dose(values: np.ndarray) -> int:
    """The lowest index whose value is within ``TIE`` of the largest."""
    return int(np.flatnonzero(values >= values.max() - TIE)[0])


def true_obd(p_true: Sequence[float], p_response: Sequence[float], mtd: int | None,
             utility: Sequence[float] = BOIN12_UTILITY) -> int:
    """The scenario's OBD (0-based; -1 without a true MTD)."""
    if mtd is None:
        return NO_DOSE
    values = expected_utility(np.asarray(p_true[: mtd + 1]), np.asarray(p_response[: mtd + 1]),
                              utility)
    return best_dose(values)


def estimated_obd(n: Sequence[int], dlt: Sequence[int], response: Sequence[int], mtd: int,
                  utility: Sequence[float] = BOIN12_UTILITY) -> int:
    """A trial's OBD (0-based; -1 when no MTD was selected) from its patients, DLTs and
    responses per dose and its selected MTD."""
    rows = [np.asarray([v]) for v in (n, dlt, response)]
    return int(estimated_obd_rows(*rows, np.asarray([mtd]), utility)[0])


def estimated_obd_rows(n: np.ndarray, dlt: np.ndarray, response: np.ndarray, mtd: np.ndarray,
                       utility: Sequence[float] = BOIN12_UTILITY) -> np.ndarray:
    """``estimated_obd`` of every trial at once: rows of patients, DLTs and responses per
    dose (trials, K) and the selected MTDs (trials,)."""
    used = (n > 0) & (np.arange(n.shape[1]) <= mtd[:, None])
    p, q = isotonic_rows(n, dlt, used), isotonic_rows(n, response, used)
    values = np.where(used, expected_utility(p, q, utility), -np.inf)
    best = np.argmax(values >= values.max(axis=1, keepdims=True) - TIE, axis=1)
    return np.where(used.any(axis=1), best, NO_DOSE)
