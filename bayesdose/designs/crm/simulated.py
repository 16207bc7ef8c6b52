"""The continual reassessment method (CRM) as a simulated design, as R's dfcrm ``crmsim`` runs it.

O'Quigley, Pepe & Fisher (1990); Cheung (2011), Dose Finding by the Continual Reassessment
Method. The statistics are ``bayesdose.designs.crm.core`` (checked against dfcrm); the trial:

- the first cohort at the start dose (``[cohorts] start_dose``), cohorts of ``[cohorts] size``;
- then each cohort at the dose whose working-model DLT probability at the posterior mean of the
  parameter is closest to ``[decision] target`` (dfcrm's ``ptox`` and ``crm``'s ``mtd``), from
  all patients so far, restricted as crmsim's ``restrict=TRUE``: at most the last cohort's dose
  if that cohort's DLT proportion is >= the target (no escalation right after a DLT), otherwise
  at most one level above it (no skipping); de-escalation is free;
- no early stopping: the trial runs to ``[stopping] max_patients`` (the last cohort cut to fit),
  and the MTD is the model's recommendation from all patients;
- accelerated titration (``[cohorts] titration_until_level``): single patients one level apart
  until the first DLT or the titration level; then the model decides, the titration patient
  counting as a cohort of one (so a DLT bars escalation), as in Cheung's two-stage CRM.

Working model (``[designs.crm]``): empiric ``skeleton^exp(a)`` or dfcrm's one-parameter logistic
(intercept 3), ``a ~ N(0, prior_variance)``; the skeleton is given, or derived as dfcrm's
``getprior`` from a half-width, the target and the prior MTD level (Lee & Cheung 2009).
The design decides a batch of distinct states at once: one vectorised posterior per batch
(``crm_posterior_mean``: blocks of states, each in cache).
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.base import CONTINUE, MAX_PATIENTS, NO_DOSE, Actions, States
from bayesdose.designs.crm.core import (
    crm_mtd,
    crm_posterior_mean,
    dose_toxicity,
    getprior,
    scaled_doses,
)
from bayesdose.designs.crm.core import crmsim_restrict as restrict
from bayesdose.designs.titration import Titration
from bayesdose.errors import InputError
from bayesdose.schema import Design


def crm_skeleton(design: Design) -> np.ndarray:
    """``[designs.crm] skeleton``, or the one dfcrm's ``getprior`` derives; an InputError if
    neither is configured."""
    crm = design.designs.crm
    if crm.skeleton is not None:
        return np.array(crm.skeleton)
    if crm.halfwidth is None or crm.prior_mtd_level is None:
        raise InputError(
            design.source, "[designs.crm] skeleton",
            "the crm design needs a skeleton (or halfwidth and prior_mtd_level to derive one)",
        )
    return getprior(crm.halfwidth, design.decision.target, crm.prior_mtd_level,
                    len(design.levels), crm.model)


class CrmDesign:
    """dfcrm's one-stage CRM (``crmsim``), with an optional accelerated-titration start."""

    name = "crm"

    def __init__(self, design: Design) -> None:
        crm = design.designs.crm
        self.skeleton = crm_skeleton(design)
        self.model = crm.model
        self.prior_variance = crm.prior_variance
        self.scaled = scaled_doses(self.skeleton, crm.model)
        self.target = design.decision.target
        self.cohort = design.cohorts.size
        self.max_cohort_size = design.cohorts.size
        self.max_patients = design.stopping.max_patients
        self.start = design.start_level
        self.titration = Titration(design)

    def recommended(self, n: np.ndarray, dlt: np.ndarray) -> np.ndarray:
        """The model's dose (0-based) from per-dose counts (S, K): the dose whose DLT
        probability at the posterior mean of the parameter is closest to the target."""
        mean = crm_posterior_mean(self.skeleton, n, dlt, self.model, self.prior_variance)
        ptox = dose_toxicity(mean, self.scaled, self.model)
        return np.asarray(crm_mtd(ptox, self.target)).reshape(-1) - 1

    def model_levels(self, states: States, rows: np.ndarray) -> np.ndarray:
        """The model's dose for the states selected by ``rows`` (those with patients)."""
        return self.recommended(states.n[rows], states.dlt[rows])

    def last_cohort_rate(self, states: States) -> np.ndarray:
        """The last cohort's DLT rate as the restriction reads it: its DLTs over the configured
        cohort size (a titration patient is a cohort of one)."""
        size = np.where(self.titration.last_was_titration(states), 1, self.cohort)
        return states.last_dlt / size

    def decide(self, states: States) -> Actions:
        """The model's dose, restricted, overridden by the first cohort and titration; at
        ``max_patients`` the end, with the model's (unrestricted) dose as the MTD."""
        treated = states.n.sum(axis=1)
        first = states.last_level < 0
        titrate = self.titration.continues(states)
        level = np.full(len(states), NO_DOSE)
        if not first.all():
            level[~first] = self.model_levels(states, ~first)
        done = treated >= self.max_patients
        mtd = np.where(done, level, NO_DOSE)  # the final MTD: from all patients, unrestricted
        level = restrict(level, states.last_level, self.last_cohort_rate(states), self.target)
        level[first] = self.start
        level[titrate] = states.last_level[titrate] + 1
        single = titrate | (first & self.titration.starts)
        size = np.minimum(np.where(single, 1, self.cohort), self.max_patients - treated)
        return Actions(
            next_level=np.where(done, NO_DOSE, level).astype(np.int64),
            cohort_size=np.where(done, 0, size).astype(np.int64),
            stop_reason=np.where(done, MAX_PATIENTS, CONTINUE).astype(np.int64),
            mtd=mtd.astype(np.int64),
        )
