"""The search: the best mean PCS whose overdosing is no worse than the reference design's.

A setting is feasible when its mean probability of selecting a dose above the true MTD and its
mean share of patients above it are both at most the reference's (``--against``). The search
spends a budget of distinct settings: the input config's values first, then a space-filling
Latin hypercube (SciPy's ``qmc``, optimised for centred discrepancy) over 60% of the rest,
then Nelder-Mead (SciPy) from the best setting so far, restarted with a halved simplex until
the budget is spent. Nelder-Mead minimises -PCS for a feasible setting and 1 + the constraints'
excess otherwise, so any feasible setting beats every infeasible one. Values are on each
knob's grid (``knobs``), so a setting met twice is computed once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bayesdose.calibration.knobs import Knob

CONSTRAINED = ("select_above_mtd", "p_above_mtd")
FILL_SHARE = 0.6
FIRST_STEP = 0.15  # the refinement's first simplex: this share of each range
LAST_STEP = 0.005
TOLERANCE = 1e-9  # exact operating characteristics: equal within rounding is not worse


@dataclass(frozen=True)
class Setting:
    """One setting tried: its knob values, the stage that proposed it, its mean measures and
    how they were computed."""

    values: tuple[float | int, ...]
    stage: str  # "input", "space-filling" or "refinement"
    measures: dict[str, float]
    method: str
    seconds: float = 0.0  # to compute it (the exact engine's cost varies with the prior)

    def excess(self, reference: dict[str, float]) -> float:
        """How far the constrained measures exceed the reference's (0: feasible)."""
        return sum(max(0.0, self.measures[k] - reference[k] - TOLERANCE) for k in CONSTRAINED)

    def score(self, reference: dict[str, float]) -> float:
        """Minimised: -PCS when feasible, else 1 + the excess (worse than any feasible)."""
        excess = self.excess(reference)
        return -self.measures["pcs"] if excess == 0 else 1.0 + excess


class BudgetSpent(Exception):
    """Every setting of the budget has been computed."""


class Search:
    """Settings of ``knobs`` computed by ``measure(values) -> (measures, method)``, at most
    ``budget`` of them; ``on_setting`` sees each new one (a progress bar)."""

    def __init__(self, knobs: list[Knob], measure: Callable, reference: dict[str, float],
                 budget: int, seed: int, on_setting: Callable[[Setting], None]) -> None:
        self.knobs = knobs
        self.measure = measure
        self.reference = reference
        self.budget = budget
        self.seed = seed
        self.on_setting = on_setting
        self.settings: dict[tuple, Setting] = {}

    def run(self, start: tuple[float | int, ...]) -> list[Setting]:
        """Every setting tried, in order: ``start`` (the input's values), the space-filling
        design, the refinement."""
        try:
            self._try(start, "input")
            self._fill()
            self._refine()
        except BudgetSpent:
            pass
        return list(self.settings.values())

    def best(self) -> Setting | None:
        """The feasible setting of highest PCS (the first met, of equals), or None."""
        feasible = [s for s in self.settings.values() if s.excess(self.reference) == 0]
        return max(feasible, key=lambda s: s.measures["pcs"], default=None)

    def _values(self, unit: np.ndarray) -> tuple[float | int, ...]:
        return tuple(k.value(float(u)) for k, u in zip(self.knobs, unit, strict=True))

    def _try(self, values: tuple[float | int, ...], stage: str) -> Setting:
        found = self.settings.get(values)
        if found is not None:
            return found
        if len(self.settings) >= self.budget:
            raise BudgetSpent
        started = time.perf_counter()
        measures, method = self.measure(values)
        setting = Setting(values, stage, measures, method, time.perf_counter() - started)
        self.settings[values] = setting
        self.on_setting(setting)
        return setting

    def _fill(self) -> None:
        from scipy.stats import qmc

        count = math.ceil(FILL_SHARE * (self.budget - 1))
        if count < 1:
            return
        design = qmc.LatinHypercube(len(self.knobs), optimization="random-cd", rng=self.seed)
        for unit in design.random(count):
            self._try(self._values(unit), "space-filling")

    def _refine(self) -> None:
        from scipy.optimize import minimize

        def objective(unit: np.ndarray) -> float:
            return self._try(self._values(unit), "refinement").score(self.reference)

        step = FIRST_STEP
        while step >= LAST_STEP:
            best = min(self.settings.values(), key=lambda s: s.score(self.reference))
            x0 = np.array([k.unit(v) for k, v in zip(self.knobs, best.values, strict=True)])
            x0 = np.clip(x0, 0.0, 1.0)
            minimize(objective, x0, method="Nelder-Mead", bounds=[(0.0, 1.0)] * x0.size,
                     options={"initial_simplex": _simplex(x0, step), "maxfev": 20 * self.budget,
                              "xatol": LAST_STEP, "fatol": TOLERANCE})
            step /= 2


def _simplex(x0: np.ndarray, step: float) -> np.ndarray:
    """x0 and one vertex ``step`` along each axis (inwards, so it stays in [0, 1])."""
    vertices = [x0]
    for i in range(x0.size):
        vertex = x0.copy()
        vertex[i] += step if x0[i] + step <= 1 else -step
        vertices.append(vertex)
    return np.array(vertices)
