"""Dose optimisation at the end of a trial: the optimal biological dose (OBD) by a utility of
toxicity and efficacy among the doses with acceptable toxicity.

- Acceptable toxicity: the treated doses at or below the MTD the design selected (no MTD, no
  OBD), so every design's own toxicity rule bounds the choice.
- Estimates per dose: BOIN's isotonic estimates (``boin.core.isotonic_estimates``: Beta(0.05,
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
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesdose.designs.base import NO_DOSE

if TYPE_CHECKING:
    from bayesdose.data import TrialData
    from bayesdose.schema import Design

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


def dose_utilities(n: np.ndarray, dlt: np.ndarray, assessed: np.ndarray,
                   responses: np.ndarray, utility: Sequence[float] = BOIN12_UTILITY
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, q, U) over the doses given (every array over the same doses, each with patients):
    the isotonic DLT rates of ``dlt`` of ``n``, response rates of ``responses`` of
    ``assessed``, and the expected utility."""
    from bayesdose.designs.boin.core import isotonic_estimates  # SciPy: only when estimating

    p = isotonic_estimates(np.asarray(n), np.asarray(dlt))
    q = isotonic_estimates(np.asarray(assessed), np.asarray(responses))
    return p, q, expected_utility(p, q, utility)


@lru_cache(maxsize=1 << 16)
def estimated_obd(n: tuple[int, ...], dlt: tuple[int, ...], response: tuple[int, ...],
                  mtd: int, utility: tuple[float, ...] = BOIN12_UTILITY) -> int:
    """A trial's OBD (0-based; -1 when no MTD was selected) from its patients, DLTs and
    responses per dose and its selected MTD."""
    if mtd < 0:
        return NO_DOSE
    npts = np.asarray(n[: mtd + 1])
    doses = np.flatnonzero(npts > 0)
    if doses.size == 0:
        return NO_DOSE
    given = npts[doses]
    values = dose_utilities(given, np.asarray(dlt)[doses], given,
                            np.asarray(response)[doses], utility)[2]
    return int(doses[best_dose(values)])


def obd_on_data(design: Design, data: TrialData, top: int, basis: str) -> dict[str, Any] | None:
    """The OBD on the trial's data so far (None without a ``response`` column), among the
    doses up to ``top`` (0-based; ``basis`` says what it is: the MTD, the next dose) that have
    both complete patients and assessed responses: DLT rates on the complete patients (a
    patient still in follow-up without a DLT would bias them down), response rates on the
    patients assessed."""
    if not data.has_responses:
        return None
    utility = design.optimisation.utility
    entry: dict[str, Any] = {
        "dose": None, "up_to": None if top == NO_DOSE else design.panel.dose(top),
        "basis": basis, "utility": list(utility), "doses": [], "rule": OBD_RULE}
    if top == NO_DOSE:
        return entry
    complete, assessed = data.complete[: top + 1], data.assessed[: top + 1]
    doses = np.flatnonzero((complete > 0) & (assessed > 0))
    if doses.size == 0:
        return entry
    p, q, u = dose_utilities(complete[doses], data.dlt[doses], assessed[doses],
                             data.responses[doses], utility)
    entry["dose"] = design.panel.dose(int(doses[best_dose(u)]))
    entry["doses"] = [{"dose": design.panel.dose(int(k)), "p_dlt": float(p[i]),
                       "p_response": float(q[i]), "utility": float(u[i])}
                      for i, k in enumerate(doses)]
    return entry


OBD_RULE = ("among the doses up to it with complete patients and assessed responses, the "
            "highest expected utility u1 q (1 - p) + u2 q p + u3 (1 - q)(1 - p) + u4 (1 - q) p "
            "([optimisation] utility, BOIN12's by default) of the isotonic DLT rate p (complete "
            "patients) and response rate q (patients assessed); ties: the lower dose")
"""The OBD's rule on trial data, as the outputs state it."""


def obd_line(design: Design, obd: dict[str, Any] | None) -> list[str]:
    """The printed line of an ``obd_on_data`` entry (none without one)."""
    if obd is None:
        return []
    bound = (f"{obd['basis']} (none)" if obd["up_to"] is None
             else f"{obd['basis']}, {design.format_dose(obd['up_to'])}")
    if obd["dose"] is None:
        return [f"optimal biological dose on the data so far: none up to {bound}"]
    values = ", ".join(f"{design.panel.number(e['dose'])}: {e['utility']:.1f}"
                       for e in obd["doses"])
    weights = ", ".join(f"{u:g}" for u in obd["utility"])
    return [f"optimal biological dose on the data so far: {design.format_dose(obd['dose'])}, "
            f"up to {bound}; expected utility {values} (utility {weights}; {obd['rule']})"]
