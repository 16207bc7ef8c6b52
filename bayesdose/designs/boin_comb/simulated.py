"""BOIN for drug combinations (Lin & Yin 2017) as R's BOIN 2.7.2 ``get.oc.comb(mtd.contour =
FALSE)`` runs it, all trials of a chunk in lockstep, one cohort per step.

After each cohort at pair (a, b) with y DLTs in n patients there:

1. elimination: y >= the elimination count of n eliminates (a, b) and every pair (i >= a,
   j >= b); at the lowest pair the trial stops with no MTD;
2. early stop: n >= ``n_earlystop`` and the rule would stay (y above the escalation count, or
   no admissible pair up) and not de-escalate (y below the de-escalation count, or at the
   lowest pair): the trial stops and selects;
3. y <= the escalation count: move to the admissible (in the grid, not eliminated) neighbour
   up in one drug, (a + 1, b) or (a, b + 1), with the higher ``rules.target_probability``;
   y >= the de-escalation count: to (a - 1, b) or (a, b - 1) likewise (eliminated or not, as
   R); equal scores are a coin toss (R: ``runif``), here from the trial's own uniform of that
   cohort; no neighbour: stay.

At the end (``ncohort`` cohorts, [stopping] max_patients / [cohorts] size, the last cohort cut
to fit as elsewhere in bayesdose), ``selection.select_mtd_comb(rounded=False)`` selects one
pair, computed once per distinct final record of a chunk.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from bayesdose.designs.base import MAX_PATIENTS, MTD_DECLARED, SAFETY
from bayesdose.designs.boin_comb.rules import CombinationRecords, RuleArrays, target_probability
from bayesdose.designs.boin_comb.selection import select_many
from bayesdose.errors import InputError
from bayesdose.simulation.distinct import group_rows

if TYPE_CHECKING:
    from bayesdose.schema import Design
    from bayesdose.simulation.patients import DLTTable

R_MAX_PATIENTS = 100  # get.oc.comb's boundary table stops at 100 patients
MAX_PAIRS = 63  # selections are bit masks in int64


class BoinComb:
    """The simulated BOIN-comb design of a two-drug trial design."""

    name = "boin-comb"

    def __init__(self, design: Design) -> None:
        check_r_shape(design, self.name)
        panel = design.pair_panel
        self.rows, self.cols = panel.shape
        self.target = design.decision.target
        self.size = design.cohorts.size
        self.max_patients = design.stopping.max_patients
        if self.max_patients > R_MAX_PATIENTS:
            raise InputError(design.source, "[stopping] max_patients",
                             f"boin-comb follows R's get.oc.comb, whose boundaries stop at "
                             f"{R_MAX_PATIENTS} patients")
        boin = design.designs.boin
        self.cutoff = boin.elimination_cutoff
        self.n_earlystop = boin.n_earlystop
        self.rules = RuleArrays.of(self.target, self.max_patients, self.cutoff)
        self.score = target_probability(self.target, self.max_patients)
        self.start = design.start_pair
        self.cohorts = math.ceil(self.max_patients / self.size)

    @property
    def draws(self) -> int:
        """Uniforms per trial for coin tosses: one per cohort."""
        return self.cohorts

    def simulate(self, patients: DLTTable, coins: np.ndarray) -> CombinationRecords:
        """Every trial of ``patients`` (DLTs of its patients at every flat pair), with
        ``coins`` (trials, cohorts) uniforms for ties."""
        trials = patients.counts.shape[2]
        rows, cols = self.rows, self.cols
        pairs = rows * cols
        n = np.zeros((trials, pairs), np.int64)
        y = np.zeros((trials, pairs), np.int64)
        elim = np.zeros((trials, pairs), bool)
        stop = np.full(trials, MAX_PATIENTS, np.int8)
        row_of, col_of = np.divmod(np.arange(pairs), cols)
        trial = np.arange(trials)
        at = np.full(trials, self.start, np.int64)
        treated = 0
        rules = self.rules
        for cohort in range(self.cohorts):
            if trial.size == 0:
                break
            size = min(self.size, self.max_patients - treated)
            dlts = patients.cohort_dlts(trial, at, np.full(trial.size, treated),
                                        np.full(trial.size, treated + size))
            treated += size
            n[trial, at] += size
            y[trial, at] += dlts
            nc, yc = n[trial, at], y[trial, at]
            a, b = row_of[at], col_of[at]
            hit = yc >= rules.eliminate[nc]
            if hit.any():
                block = (row_of[None, :] >= a[hit, None]) & (col_of[None, :] >= b[hit, None])
                elim[trial[hit]] |= block
            unsafe = hit & (at == 0)
            stop[trial[unsafe]] = SAFETY
            up_a = np.where(a + 1 < rows, at + cols, -1)
            up_b = np.where(b + 1 < cols, at + 1, -1)
            open_a = (up_a >= 0) & ~elim[trial, np.maximum(up_a, 0)]
            open_b = (up_b >= 0) & ~elim[trial, np.maximum(up_b, 0)]
            stays = (yc > rules.escalate[nc]) | ~(open_a | open_b)
            holds = (yc < rules.deescalate[nc]) | (at == 0)
            settled = ~unsafe & (nc >= self.n_earlystop) & stays & holds
            stop[trial[settled]] = MTD_DECLARED
            go_up = yc <= rules.escalate[nc]
            go_down = yc >= rules.deescalate[nc]
            down_a = np.where(a > 0, at - cols, -1)
            down_b = np.where(b > 0, at - 1, -1)
            first = np.where(go_up, np.where(open_a, up_a, -1), down_a)
            second = np.where(go_up, np.where(open_b, up_b, -1), down_b)
            moving = go_up | go_down
            at = np.where(moving, self._choose(trial, n, y, at, first, second,
                                               coins[trial, cohort]), at)
            going = ~(unsafe | settled)
            trial, at = trial[going], at[going]
        selected = self._select(n, y, stop)
        return CombinationRecords(selected, n, y, stop)

    def _choose(self, trial: np.ndarray, n: np.ndarray, y: np.ndarray, at: np.ndarray,
                first: np.ndarray, second: np.ndarray, coin: np.ndarray) -> np.ndarray:
        """The neighbour (-1: none) with the higher score, or ``at`` where neither exists;
        equal scores: the first if the coin < 1/2 (R's ``as.integer(runif(1) * 2 + 1)``)."""
        def score(pair: np.ndarray) -> np.ndarray:
            safe = np.maximum(pair, 0)
            return np.where(pair >= 0, self.score[y[trial, safe], n[trial, safe]], 0.0)

        s1, s2 = score(first), score(second)
        best = np.maximum(s1, s2)
        pick_first = (s1 > s2) | ((s1 == s2) & (coin < 0.5))
        choice = np.where(pick_first, first, second)
        return np.where(best == 0, at, choice)

    def _select(self, n: np.ndarray, y: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Each trial's selected pair as a bit mask (0: none, and after a safety stop),
        computed once per distinct final record."""
        first, group = group_rows(np.concatenate([n, y], axis=1))
        shape = (-1, self.rows, self.cols)
        flat = select_many(self.target, n[first].reshape(shape), y[first].reshape(shape),
                           self.cutoff)
        masks = np.where(flat >= 0, np.left_shift(1, np.maximum(flat, 0)), 0)
        selected = masks[group]
        return np.where(stop == SAFETY, 0, selected)


def check_r_shape(design: Design, name: str) -> None:
    """R's combination designs are for two drugs, the first with no more levels than the
    second."""
    if not design.is_combination:
        raise InputError(design.source, "[drugs]", f"{name} is a two-drug design: the config "
                         "needs [drugs] names and each drug's [doses.<name>]")
    rows, cols = design.pair_panel.shape
    if rows * cols > MAX_PAIRS:
        raise InputError(design.source, "[drugs] names",
                         f"{name} simulates at most {MAX_PAIRS} dose pairs (a trial's selected "
                         f"pairs are one 64-bit mask); this grid has {rows} x {cols}")
    if rows > cols:
        raise InputError(design.source, "[drugs] names",
                         f"{name} follows R's get.oc.comb, which needs the first drug to have "
                         f"no more levels than the second ({rows} > {cols}): name the drug "
                         "with fewer levels first")
