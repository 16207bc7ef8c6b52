"""The waterfall design (Zhang & Yuan 2016) as R's BOIN 2.7.2 ``get.oc.comb(mtd.contour =
TRUE)`` runs it, the trials of a chunk in lockstep within each round of subtrials.

A subtrial is a one-drug BOIN along a path of pairs: the first climbs the first column (the
first drug alone escalating, second drug at its lowest level) then along the last row; each
later one walks one row (columns 2..K) starting one column right of the MTD found in the row
above it. In a subtrial, after each cohort at the path's dose d: eliminate d and the path above
it when y reaches the elimination count (at the path's first dose the subtrial stops with no
MTD); escalate one step if y <= the escalation count and the next dose is not eliminated;
de-escalate if y >= the de-escalation count; end when the dose moved to holds ``n_earlystop``
patients, when the subtrial's cohorts are used, or after ``subtrial_cohorts[i]`` cohorts. Its
MTD is BOIN's ``select.mtd`` on the path (``boin.core.select_mtd``).

Between subtrials (R's outer loop, kept with its quirks): a first subtrial whose MTD is in the
first column (row i < J) eliminates the rows above i and, if that MTD's count would still
escalate, runs a subtrial along row i; then the next row below is walked, the pairs right of
the MTD in the current row eliminated; the trial ends at the first row, when a subtrial selects
no MTD (R then drops that subtrial's patients and DLTs from its counts: ``kept_n``), or once the
kept patients reach the sum of subtrial cohorts x cohort size. The final MTD contour is
``selection.waterfall_many``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bayesdose.designs.base import MAX_PATIENTS, SAFETY
from bayesdose.designs.boin.core import select_mtd
from bayesdose.designs.boin_comb.rules import CombinationRecords, RuleArrays
from bayesdose.designs.boin_comb.selection import waterfall_many
from bayesdose.designs.boin_comb.simulated import check_r_shape

if TYPE_CHECKING:
    from bayesdose.schema import Design
    from bayesdose.simulation.patients import DLTTable

R_TABLE_PATIENTS = 150  # the waterfall's get.boundary(ncohort = 150, cohortsize = 1)


@dataclass
class _Trial:
    """One trial between subtrials: where the next subtrial walks and what is kept."""

    path: list[int]
    start: int
    subtrial: int  # 0-based index into the subtrial cohorts
    kind: str  # "first", "row-after-column" or "row"
    fallback: int = -1  # row-after-column: the first subtrial's MTD (flat)


class Waterfall:
    """The simulated waterfall design of a two-drug trial design."""

    name = "waterfall"
    draws = 0  # no coin tosses

    def __init__(self, design: Design) -> None:
        check_r_shape(design, self.name)
        self.rows, self.cols = design.pair_panel.shape
        self.target = design.decision.target
        self.size = design.cohorts.size
        settings = design.designs.waterfall
        self.cohorts = settings.cohorts(self.rows, self.cols, self.size)
        if len(self.cohorts) != self.rows:
            from bayesdose.errors import InputError

            raise InputError(design.source, "[designs.waterfall] subtrial_cohorts",
                             f"expected one number per level of {design.drugs.names[0]} "
                             f"({self.rows}), got {len(self.cohorts)}")
        self.n_earlystop = settings.n_earlystop
        self.cutoff = design.designs.boin.elimination_cutoff
        self.budget = sum(self.cohorts) * self.size
        self.rules = RuleArrays.of(self.target, max(R_TABLE_PATIENTS, self.budget),
                                   self.cutoff)
        self.max_patients = self.budget
        self._subtrial_mtd: dict[bytes, tuple[int, bool]] = {}

    def simulate(self, patients: DLTTable, coins: np.ndarray) -> CombinationRecords:
        trials = patients.counts.shape[2]
        pairs = self.rows * self.cols
        n = np.zeros((trials, pairs), np.int64)  # every patient treated
        y = np.zeros((trials, pairs), np.int64)
        kept_n = np.zeros((trials, pairs), np.int64)  # as R keeps them
        kept_y = np.zeros((trials, pairs), np.int64)
        elim = np.zeros((trials, pairs), bool)
        treated = np.zeros(trials, np.int64)
        stop = np.full(trials, MAX_PATIENTS, np.int8)
        first_path = [r * self.cols for r in range(self.rows - 1)]
        first_path += [(self.rows - 1) * self.cols + c for c in range(self.cols)]
        plan = {t: _Trial(first_path, 0, 0, "first") for t in range(trials)}
        while plan:
            ids = np.array(sorted(plan))
            runs = self._subtrials(patients, [plan[t] for t in ids], ids, treated)
            following = {}
            for t, (sn, sy, selm, mtd, escalate, early) in zip(ids, runs, strict=True):
                step = plan[t]
                path = step.path
                n[t, path] += sn
                y[t, path] += sy
                if mtd < 0 and step.kind != "row-after-column":
                    stop[t] = SAFETY if early else stop[t]
                    continue  # R breaks before keeping this subtrial's counts
                kept_n[t, path], kept_y[t, path], elim[t, path] = sn, sy, selm
                nxt = self._next(t, step, mtd, escalate, elim, kept_n)
                if nxt is not None:
                    following[t] = nxt
            plan = following
        selected = self._contours(kept_n, kept_y, elim)
        return CombinationRecords(selected, n, y, stop, kept_n, kept_y)

    def _next(self, t: int, step: _Trial, mtd: int, escalate: bool, elim: np.ndarray,
              kept_n: np.ndarray) -> _Trial | None:
        """The subtrial after ``step`` (None: the trial ends), R's outer loop."""
        cols = self.cols
        if step.kind == "row-after-column":
            mtd = step.fallback if mtd < 0 else mtd
        di, dj = divmod(mtd, cols)
        subtrial = step.subtrial
        if step.kind == "first" and dj == 0 and di < self.rows - 1:
            elim[t, (di + 1) * cols:] = True
            if escalate:
                return _Trial([di * cols + c for c in range(1, cols)], 0, subtrial + 1,
                              "row-after-column", fallback=mtd)
        if di == 0:
            return None
        if dj < cols - 1:
            elim[t, di * cols + dj + 1:(di + 1) * cols] = True
        if kept_n[t].sum() >= self.budget:
            return None
        start = dj if dj < cols - 1 else cols - 2  # R's startdose dj (1-based) on columns 2..K
        return _Trial([(di - 1) * cols + c for c in range(1, cols)], start, subtrial + 1, "row")

    def _subtrials(self, patients: DLTTable, steps: list[_Trial], ids: np.ndarray,
                   treated: np.ndarray) -> list[tuple]:
        """Run one subtrial of each trial ``ids`` in lockstep; per trial its counts, its
        eliminations, its MTD (flat pair, -1 none), whether that MTD would escalate, and
        whether it stopped for toxicity at its first dose."""
        m = len(steps)
        width = max(len(s.path) for s in steps)
        path = np.full((m, width), -1, np.int64)
        length = np.array([len(s.path) for s in steps])
        for i, s in enumerate(steps):
            path[i, : len(s.path)] = s.path
        cohorts = np.array([self.cohorts[s.subtrial] for s in steps])
        d = np.array([s.start for s in steps])
        sn = np.zeros((m, width), np.int64)
        sy = np.zeros((m, width), np.int64)
        selm = np.zeros((m, width), bool)
        early = np.zeros(m, bool)
        running = np.ones(m, bool)
        rules, size, positions = self.rules, self.size, np.arange(width)
        for cohort in range(int(cohorts.max())):
            i = np.flatnonzero(running & (cohort < cohorts))
            if i.size == 0:
                break
            t = ids[i]
            dlts = patients.cohort_dlts(t, path[i, d[i]], treated[t], treated[t] + size)
            treated[t] += size
            at = d[i]
            sn[i, at] += size
            sy[i, at] += dlts
            nd, yd = sn[i, at], sy[i, at]
            hit = yd >= rules.eliminate[nd]
            selm[i] |= hit[:, None] & (positions[None, :] >= at[:, None])
            stopped = hit & (at == 0)
            early[i[stopped]] = True
            up = (yd <= rules.escalate[nd]) & (at != length[i] - 1)
            free = ~selm[i, np.minimum(at + 1, width - 1)]
            down = ~up & (yd >= rules.deescalate[nd]) & (at != 0)
            new = np.where(up & free, at + 1, np.where(down, at - 1, at))
            d[i] = np.where(stopped, at, new)
            full = (sn[i, d[i]] >= self.n_earlystop) | (sn[i].sum(axis=1) >= cohorts[i] * size)
            running[i[stopped | full]] = False
        out = []
        for k in range(m):
            span = slice(0, length[k])
            if early[k]:
                out.append((sn[k, span], sy[k, span], np.ones(length[k], bool), -1, False, True))
                continue
            pick, escalate = self._mtd(sn[k, span], sy[k, span])
            mtd = -1 if pick < 0 else int(path[k, pick])
            out.append((sn[k, span], sy[k, span], selm[k, span], mtd, escalate, False))
        return out

    def _mtd(self, n: np.ndarray, y: np.ndarray) -> tuple[int, bool]:
        """A subtrial's MTD on its path (-1 none; R's waterfall.subtrial.mtd) and whether its
        count would escalate; cached by the counts."""
        key = n.tobytes() + y.tobytes()
        if key not in self._subtrial_mtd:
            level = select_mtd(self.target, n, y, self.cutoff)
            if level is None:
                self._subtrial_mtd[key] = (-1, False)
            else:
                k = level - 1
                self._subtrial_mtd[key] = (k, bool(y[k] <= self.rules.escalate[n[k]]))
        return self._subtrial_mtd[key]

    def _contours(self, n: np.ndarray, y: np.ndarray, elim: np.ndarray) -> np.ndarray:
        """Each trial's final MTD contour as a bit mask, once per distinct record."""
        keys = np.concatenate([n, y, elim], axis=1)
        records, inverse = np.unique(keys, axis=0, return_inverse=True)
        pairs = self.rows * self.cols
        shape = (-1, self.rows, self.cols)
        picks = waterfall_many(self.target, records[:, :pairs].reshape(shape),
                               records[:, pairs:2 * pairs].reshape(shape),
                               records[:, 2 * pairs:].astype(bool).reshape(shape))
        flat = np.arange(self.rows)[None, :] * self.cols + picks
        bits = np.where(picks >= 0, np.left_shift(1, np.maximum(flat, 0)), 0)
        return bits.sum(axis=1)[inverse.reshape(-1)]
