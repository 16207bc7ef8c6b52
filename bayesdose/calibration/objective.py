"""What a calibration measures of a design on a scenario set: mean operating characteristics.

Per scenario, as ``simulation.metrics`` defines them: the probability of correct selection
(PCS; selecting no dose is correct when no dose is acceptable), of selecting a dose above the
true MTD, the share of patients treated above it (all of them when no dose is acceptable) and
the mean sample size; then their means over the scenarios. Exact, from the final-state
distribution of every scenario at once (``treeplan``), when the tree of trial states is small
enough; otherwise simulated, every setting on the same patients (common random numbers: the
same seed and trial indices), so differences between settings are not Monte Carlo noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesdose.designs.base import NO_DOSE
from bayesdose.designs.registry import make_design
from bayesdose.schema import Design
from bayesdose.simulation.patients import DLTTable, tolerances
from bayesdose.simulation.runner import simulate_trials
from bayesdose.simulation.scenarios import Scenario, true_mtd
from bayesdose.simulation.statespace import StateSpace
from bayesdose.simulation.tree import TreeTooLarge
from bayesdose.simulation.treeplan import TreePlan

MEASURES = ("pcs", "select_above_mtd", "p_above_mtd", "n_mean")


@dataclass(frozen=True)
class ScenarioSet:
    """Scenarios as arrays: true rates (S x doses) and 0-based true MTDs (NO_DOSE for none)."""

    scenarios: list[Scenario]
    p_true: np.ndarray
    mtd: np.ndarray

    @classmethod
    def of(cls, scenarios: list[Scenario], target: float) -> ScenarioSet:
        mtd = [true_mtd(s.p_true, target) for s in scenarios]
        return cls(scenarios, np.array([s.p_true for s in scenarios]),
                   np.array([NO_DOSE if m is None else m for m in mtd], np.int64))


def per_scenario(selected: np.ndarray, n: np.ndarray, weight: np.ndarray,
                 mtd: np.ndarray) -> dict[str, np.ndarray]:
    """Each measure per scenario, from final records (``selected``: F, ``n``: F x doses) and
    their weights under each scenario (F x S, columns summing to 1)."""
    total = n.sum(axis=1)
    tail = np.cumsum(n[:, ::-1], axis=1)[:, ::-1]  # tail[f, k]: patients at doses >= k
    tail = np.column_stack([tail, np.zeros(n.shape[0])])
    above = tail[:, mtd + 1]  # F x S (mtd = NO_DOSE: every patient)
    n_mean = total @ weight
    with np.errstate(invalid="ignore", divide="ignore"):
        p_above = np.where(n_mean > 0, (weight * above).sum(axis=0) / n_mean, 0.0)
    return {
        "pcs": ((selected[:, None] == mtd[None, :]) * weight).sum(axis=0),
        "select_above_mtd": ((selected[:, None] > mtd[None, :]) * weight).sum(axis=0),
        "p_above_mtd": p_above,
        "n_mean": n_mean,
    }


class Evaluator:
    """Mean measures of designs on one scenario set, exact or simulated (``method``: "auto",
    "exact" or "simulate"; ``trials`` and ``seed`` for simulation)."""

    def __init__(self, scenarios: ScenarioSet, method: str, trials: int, seed: int) -> None:
        self.scenarios = scenarios
        self.method = method
        self.trials = trials
        self.seed = seed

    def evaluate(self, design: Design, name: str) -> tuple[dict[str, float], str]:
        """The mean of each measure over the scenarios, and the method that gave it."""
        space = StateSpace(make_design(name, design), len(design.levels))
        if self.method != "simulate":
            try:
                return self._means(self._exact(space)), "exact"
            except (TreeTooLarge, MemoryError):
                if self.method == "exact":
                    raise
                space = StateSpace(make_design(name, design), len(design.levels))
        patients = max(space.design.max_patients, design.stopping.max_patients)
        return self._means(self._simulated(space, patients)), "simulate"

    def _means(self, measures: dict[str, np.ndarray]) -> dict[str, float]:
        return {key: float(np.mean(measures[key])) for key in MEASURES}

    def _exact(self, space: StateSpace) -> dict[str, np.ndarray]:
        plan = TreePlan.of(space)
        weight = plan.final_probabilities(self.scenarios.p_true)
        ids = plan.final_ids
        return per_scenario(space.mtd[ids], space.n[ids].astype(np.int64), weight,
                            self.scenarios.mtd)

    def _simulated(self, space: StateSpace, patients: int) -> dict[str, np.ndarray]:
        u = tolerances(self.seed, 0, self.trials, patients)
        columns = []
        for p_true, mtd in zip(self.scenarios.p_true, self.scenarios.mtd, strict=True):
            records = simulate_trials(space, DLTTable.of(u, p_true))
            weight = np.full((self.trials, 1), 1.0 / self.trials)
            columns.append(per_scenario(records.selected, records.n, weight, mtd[None]))
        return {key: np.concatenate([c[key] for c in columns]) for key in MEASURES}
