"""BLRM-EWOC as a simulated design: exactly the rules of ``bayesdose recommend``.

Every decision is ``rules.decide_batch`` (the rules of ``recommend``) on the exact engine's
posterior (Neuenschwander, Branson & Gsponer 2008; EWOC of Babb, Rogatko & Zacks 1998),
so what is simulated is what ``recommend`` does. The posterior depends on the counts alone:
the interval probabilities the rules read are cached by counts (up to ``MAX_CACHED`` data sets,
then forgotten: bounded memory in long studies), and all counts not yet seen in a step are
computed in one batched engine call (``ExactEngine.intervals``, without the mean and sd the
rules do not read); all new states of a step are decided in one batch.

The posteriors are first computed on a coarser grid, the screen (``SCREEN_GRID``, each density
a product of per-dose likelihood rows: ``LikelihoodTables``, a ninth of the cost). Both grids
answer within the engine's error bound, so where every probability the rules compare lies
more than ``MARGIN`` (twice the bound) from changing the decision
(``rules.decision_margin``: a threshold, or the lead of the dose chosen over the next best),
the decision is the design grid's; the other states are decided on the design grid's
posteriors, the numbers ``recommend`` prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import numpy as np

from bayesdose.designs.base import Actions, States
from bayesdose.designs.blrm.rules import Decisions, decide_batch, decision_margin
from bayesdose.inference.exact import ERROR_BOUND, GridSpec
from bayesdose.inference.likelihood_tables import LikelihoodTables
from bayesdose.posterior import exact_engine
from bayesdose.schema import Design
from bayesdose.simulation.distinct import group_rows, row_keys
from bayesdose.simulation.timedstates import MAX_CACHED

# The screen: the design grid's frame with 0.7 of its nodes along log alpha, which set the
# error, and a third of its rows, which hardly do (docs/exact-engine.md); each density a
# product of likelihood rows (``LikelihoodTables``), a ninth of the design grid's cost per
# posterior. Over the standard design's exact walk it resolved every posterior, within 1.3e-4
# of the design grid; a posterior it cannot resolve goes to a finer grid, as on any.
SCREEN_GRID = GridSpec(140, 20, 6.0)
# Both grids answer within ERROR_BOUND: a decision whose probabilities lie more than twice that
# from changing it is the design grid's decision.
MARGIN = 2 * ERROR_BOUND


def actions_of(decisions: Decisions) -> Actions:
    """What the simulator needs of the rules' decisions."""
    return Actions(decisions.next_level, decisions.cohort_size, decisions.stop_reason,
                   decisions.mtd_level)


class SummaryCache:
    """P(target) and P(overdosing) per dose of every data set seen, by a key of its data; the
    data sets a call has not seen are computed in one batched engine call. With ``limit``, it
    forgets everything once it holds more (bounds memory in long runs)."""

    def __init__(self, doses: int, limit: int | None = None) -> None:
        self.doses = doses
        self.limit = limit
        self._clear()

    def _clear(self) -> None:
        self._index: dict[bytes, int] = {}
        self.p_target = np.zeros((1024, self.doses))
        self.p_overdose = np.zeros_like(self.p_target)

    def rows(self, data: np.ndarray,
             compute: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """The row of each data set's summaries (``data``: one integer row per data set, its
        key); ``compute(where)`` gives P(target) and P(overdosing) of the data sets at rows
        ``where`` (of ``data``) not seen before, in the order they first occur. Equal rows are
        looked up once (``group_rows``): a step's thousands of trials hold far fewer data
        sets."""
        if self.limit is not None and len(self._index) > self.limit:
            self._clear()
        first, group = group_rows(data.astype(np.int64))
        keys = row_keys(data[first].astype(np.int16))
        found = np.fromiter((self._index.get(key, -1) for key in keys), np.int64, len(keys))
        new = np.flatnonzero(found < 0)
        if new.size:
            new = new[np.argsort(first[new])]
            start = len(self._index)
            self._store(start, *compute(first[new]))
            found[new] = np.arange(start, start + new.size)
            for i in new:
                self._index[keys[i]] = int(found[i])
        return found[group]

    def _store(self, start: int, p_target: np.ndarray, p_overdose: np.ndarray) -> None:
        stop = start + p_target.shape[0]
        if stop > self.p_target.shape[0]:
            size = max(stop, 2 * self.p_target.shape[0])
            for name in ("p_target", "p_overdose"):
                grown = np.zeros((size, self.doses))
                grown[:start] = getattr(self, name)[:start]
                setattr(self, name, grown)
        self.p_target[start:stop] = p_target
        self.p_overdose[start:stop] = p_overdose


class BlrmDesign:
    """BLRM with escalation with overdose control, decided by the exact engine."""

    name = "blrm"

    def __init__(self, design: Design) -> None:
        self.design = design
        self.max_cohort_size = design.cohorts.size
        self.max_patients = design.stopping.max_patients
        self._engine = exact_engine(design)
        self._cache = SummaryCache(len(design.levels), MAX_CACHED)
        self._screen = LikelihoodTables(exact_engine(design, SCREEN_GRID))
        self._screened = SummaryCache(len(design.levels), MAX_CACHED)
        self._expected = (np.zeros((0, len(design.levels)), np.int64),) * 2

    def expect(self, n: np.ndarray, dlt: np.ndarray) -> None:
        """Counts the next decisions will read: screened with the next ``screened`` call
        (one engine call for a step's escalation and backfill, not two: each call pads its
        data sets to the engine's chunk)."""
        self._expected = (n, dlt)

    def summaries(self, n: np.ndarray, dlt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(target) and P(overdosing) per dose (S, K) of each row of counts on the design's
        grid (cached): ``recommend``'s numbers."""
        rows = self._cache.rows(np.hstack([n, dlt]),
                                lambda where: self._engine.intervals(n[where], dlt[where]))
        return self._cache.p_target[rows], self._cache.p_overdose[rows]

    def screened(self, n: np.ndarray, dlt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``summaries`` on the screen's grid (``SCREEN_GRID``), with the expected counts."""
        asked = n.shape[0]
        n, dlt = np.vstack([n, self._expected[0]]), np.vstack([dlt, self._expected[1]])
        self._expected = (n[:0], dlt[:0])
        rows = self._screened.rows(np.hstack([n, dlt]), lambda where: self._screen.intervals(
            n[where], dlt[where]))[:asked]
        return self._screened.p_target[rows], self._screened.p_overdose[rows]

    def decide(self, states: States) -> Actions:
        """The rules' decisions on the screen's posteriors, and on the design grid's wherever
        the screen's lie within ``MARGIN`` of changing them (module)."""
        n, dlt = states.n, states.dlt
        p_target, p_overdose = self.screened(n, dlt)
        decisions = decide_batch(self.design, n, dlt, p_target, p_overdose, states.last_level,
                                 states.last_dlt)
        actions = actions_of(decisions)
        unsure = np.flatnonzero(
            decision_margin(self.design, decisions, n, p_target, p_overdose) <= MARGIN)
        if unsure.size:  # decided again, those states alone, on the design's grid
            on_grid = actions_of(decide_batch(
                self.design, n[unsure], dlt[unsure], *self.summaries(n[unsure], dlt[unsure]),
                states.last_level[unsure], states.last_dlt[unsure]))
            for field in fields(Actions):
                getattr(actions, field.name)[unsure] = getattr(on_grid, field.name)
        return actions
