"""The combination BLRM with EWOC as a simulated design: what ``bayesdose recommend`` does, its
rules (``decision.decide_batch``) on its engine's posteriors (``inference.combination``, the
decision of record), so every simulated decision is the one ``recommend`` gives on that data.

Trials walk the project's state space (``simulation.statespace``: a decision per distinct
trial state, over the flat pairs of the grid), kept across chunks in one process. Posteriors
depend on the counts alone, so they are cached by counts (``SummaryCache``). The new states of
a step are computed in one batch: the engine computes each data set on its own (its numbers are
bit for bit those of a batch of one, as ``recommend`` computes it), so they cannot depend on
which other states share the batch, nor on the chunking of the run or the workers.

A trial selects one pair, the MTD of its stop (``recommend``'s ``mtd``): declared, or at the
maximum sample size the given pair with the highest P(target) among those EWOC allows; none
after a safety stop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bayesdose.designs.base import NO_DOSE, Actions, States
from bayesdose.designs.blrm.simulated import SummaryCache
from bayesdose.designs.blrm_comb.decision import decide_batch
from bayesdose.designs.boin_comb.rules import CombinationRecords
from bayesdose.designs.boin_comb.simulated import MAX_PAIRS
from bayesdose.errors import InputError
from bayesdose.inference.combination import CombinationEngine
from bayesdose.simulation.runner import simulate_trials
from bayesdose.simulation.statespace import StateSpace
from bayesdose.simulation.timedstates import MAX_CACHED

if TYPE_CHECKING:
    from bayesdose.schema import Design
    from bayesdose.simulation.patients import DLTTable


class BlrmComb:
    """The simulated combination BLRM of a two-drug trial design."""

    name = "blrm"
    draws = 0  # no coin tosses

    def __init__(self, design: Design) -> None:
        if not design.is_combination:
            raise InputError(design.source, "[drugs]", "the combination BLRM needs a two-drug "
                             "config")
        pairs = design.pair_panel
        if pairs.size > MAX_PAIRS:
            raise InputError(design.source, "[drugs] names",
                             f"the combination BLRM simulates at most {MAX_PAIRS} dose pairs "
                             f"(a trial's selection is one 64-bit mask); this grid has "
                             f"{pairs.shape[0]} x {pairs.shape[1]}")
        self.design = design
        self.shape = pairs.shape
        self.max_cohort_size = design.cohorts.size
        self.max_patients = design.stopping.max_patients
        doses = [[pairs.doses(k)[name] for name in pairs.names] for k in range(pairs.size)]
        self.engine = CombinationEngine(design.combination_model, np.array(doses),
                                        design.decision.target_interval)
        self.posteriors = 0  # computed by the engine in this process
        self._cache = SummaryCache(pairs.size, MAX_CACHED)
        self.space = StateSpace(self, pairs.size)

    def decide(self, states: States) -> Actions:
        """The rules on each state's posterior (cached by counts)."""
        n, dlt = states.n, states.dlt
        rows = self._cache.rows(np.hstack([n, dlt]),
                                lambda where: self._summaries(n[where], dlt[where]))
        grid = (-1, *self.shape)
        act = decide_batch(self.design, n.reshape(grid), n.sum(axis=1),
                           self._cache.p_target[rows].reshape(grid),
                           self._cache.p_overdose[rows].reshape(grid), states.last_level,
                           states.last_dlt)
        return Actions(act.next_pair, act.cohort_size, act.stop_reason, act.mtd_pair)

    def _summaries(self, n: np.ndarray, dlt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(target) and P(overdosing) per pair of the data sets (rows), in one engine batch."""
        self.posteriors += n.shape[0]
        summary = self.engine.summarise(n, dlt)[0]
        return summary.p_target, summary.p_overdose

    def simulate(self, patients: DLTTable, coins: np.ndarray) -> CombinationRecords:
        """Every trial of ``patients`` (DLTs of its patients at every flat pair); ``coins``
        unused (the design tosses none)."""
        records = simulate_trials(self.space, patients)
        mtd = records.selected
        selected = np.where(mtd == NO_DOSE, 0, np.left_shift(1, np.maximum(mtd, 0)))
        return CombinationRecords(selected, records.n, records.dlt, records.stop_reason)
