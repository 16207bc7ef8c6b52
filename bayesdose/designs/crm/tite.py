"""TITE-CRM as a simulated design: dfcrm's CRM with the time-to-event weights of ``titecrm``.

Cheung & Chappell (2000), Sequential designs for phase I clinical trials with late-onset
toxicities, Biometrics 56, 1177-1182. A patient followed k of T days without a DLT counts with
weight k / T (dfcrm's linear scheme), so each cohort is decided at its arrival with patients
pending. Everything else is the ``crm`` design (``crm.simulated``): the dose closest to the
target at the posterior mean, at most one level above the last cohort's dose, no escalation
right after a cohort whose DLTs known so far reach the target rate (crmsim's ``restrict``; dfcrm's
``titesim`` itself only forbids skipping), accelerated titration, no early stopping, and the
final MTD from all patients once their outcomes are final (as ``titesim``).
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.base import TimedStates, require_window
from bayesdose.designs.crm.core import crm_mtd, crm_tite_posterior_mean, dose_toxicity
from bayesdose.designs.crm.simulated import CrmDesign
from bayesdose.schema import Design


class TiteCrm(CrmDesign):
    """The CRM deciding with pending patients weighted by days followed."""

    name = "tite-crm"
    waits = False

    def __init__(self, design: Design) -> None:
        super().__init__(design)
        require_window(design, self.name)

    def model_levels(self, states: TimedStates, rows: np.ndarray) -> np.ndarray:
        a = crm_tite_posterior_mean(self.skeleton, states.n[rows], states.dlt[rows],
                                    states.pending[rows], self.model, self.prior_variance)
        ptox = dose_toxicity(a, self.scaled, self.model)
        return np.asarray(crm_mtd(ptox, self.target)).reshape(-1) - 1
