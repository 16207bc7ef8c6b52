"""Hypothetical cohorts after the trial so far: what dose-transition pathways add to the data
at each step, for one drug (``report.pathways``) and two (``designs.blrm_comb.pathways``)
alike. It lives apart from both so that neither the designs nor the report import the other
for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bayesdose.data import Patient, TrialData, arm_count
from bayesdose.schema import Design


@dataclass(frozen=True)
class Cohort:
    """A cohort of ``size`` patients at dose ``level`` (0-based; two drugs: a flat pair
    index), ``dlts`` of whom had a DLT."""

    level: int
    size: int
    dlts: int


def no_patients(design: Design, source: str = "no patients yet") -> TrialData:
    """Patient-level data of a trial before its first patient."""
    zeros = np.zeros(arm_count(design), dtype=np.int64)
    return TrialData(zeros, zeros.copy(), (), source=source)


def with_cohorts(data: TrialData, cohorts: tuple[Cohort, ...]) -> TrialData:
    """The data plus ``cohorts``, each a patient-level cohort after the last (the first
    ``dlts`` of its patients with a DLT; the order within a cohort matters to no rule). With
    aggregated data only the hypothetical patients are listed: the last cohort, hence the
    current dose and coherence, is theirs. Hypothetical patients have complete follow-up."""
    n, dlt = data.n.copy(), data.dlt.copy()
    known = data.patients or ()
    number = max((p.cohort for p in known), default=0)
    added: list[Patient] = []
    for cohort in cohorts:
        number += 1
        n[cohort.level] += cohort.size
        dlt[cohort.level] += cohort.dlts
        added += [Patient(f"H{len(added) + i + 1}", number, cohort.level, int(i < cohort.dlts))
                  for i in range(cohort.size)]
    return replace(data, n=n, dlt=dlt, patients=(*known, *added),
                   source=f"{data.source} + hypothetical cohorts")
