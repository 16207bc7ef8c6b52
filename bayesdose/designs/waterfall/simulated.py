"""The waterfall design (Zhang & Yuan 2016) as R's BOIN 2.7.2 ``get.oc.comb(mtd.contour =
TRUE)`` runs it, the trials of a chunk in lockstep: a round runs one subtrial of every
trial still going, and the moves between rounds are array operations too.

A subtrial is a one-drug BOIN along a path of pairs: the first climbs the first column (the
first drug alone escalating, second drug at its lowest level) then along the last row; each
later one walks one row (columns 2..K) starting one column right of the MTD found in the row
above it. In a subtrial, after each cohort at the path's dose d: eliminate d and the path above
it when y reaches the elimination count (at the path's first dose the subtrial stops with no
MTD); escalate one step if y <= the escalation count and the next dose is not eliminated;
de-escalate if y >= the de-escalation count; end when the dose moved to holds ``n_earlystop``
patients, when the subtrial's cohorts are used, or after ``subtrial_cohorts[i]`` cohorts. Its
MTD is BOIN's ``select.mtd`` on the path (``boin.core.select_mtd_levels``).

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
from bayesdose.designs.boin.core import select_mtd_levels
from bayesdose.designs.boin_comb.rules import CombinationRecords, RuleArrays
from bayesdose.designs.boin_comb.selection import waterfall_many
from bayesdose.designs.boin_comb.simulated import check_r_shape
from bayesdose.simulation.distinct import group_rows, row_keys

if TYPE_CHECKING:
    from bayesdose.schema import Design
    from bayesdose.simulation.patients import DLTTable

R_TABLE_PATIENTS = 150  # the waterfall's get.boundary(ncohort = 150, cohortsize = 1)

FIRST, ROW_AFTER_COLUMN, ROW = 0, 1, 2  # kinds of subtrial
MAX_CONTOURS = 200_000  # final records' contours kept per process (about 30 MB on 3 x 5)


@dataclass
class _Round:
    """The subtrials of one round, one per trial ``ids``: its kind, the row it walks (FIRST:
    the first column and the last row), its start on its path, its index into the subtrial
    cohorts, and (ROW_AFTER_COLUMN) the first subtrial's MTD it falls back on."""

    ids: np.ndarray
    kind: np.ndarray
    row: np.ndarray
    start: np.ndarray
    subtrial: np.ndarray
    fallback: np.ndarray


@dataclass
class _Subtrials:
    """What the subtrials of a round did, per trial: counts and eliminations along the path
    (padded), its MTD (flat pair, -1 none), whether that MTD's count would escalate, and
    whether it stopped for toxicity at its first dose."""

    n: np.ndarray
    y: np.ndarray
    elim: np.ndarray
    mtd: np.ndarray
    escalate: np.ndarray
    early: np.ndarray


@dataclass
class _Kept:
    """Per trial and pair, the counts as R keeps them and the eliminations."""

    n: np.ndarray
    y: np.ndarray
    elim: np.ndarray


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
        self._subtrial_mtd: dict[bytes, tuple[int, int]] = {}
        self._contour: dict[bytes, int] = {}  # final record -> its contour's bit mask
        # the record's counts as the key: the narrowest type that holds the sample size
        self._key_type = next(t for t in (np.int8, np.int16, np.int32, np.int64)
                              if self.budget <= np.iinfo(t).max)

    def simulate(self, patients: DLTTable, coins: np.ndarray) -> CombinationRecords:
        trials = patients.counts.shape[2]
        pairs = self.rows * self.cols
        n = np.zeros((trials, pairs), np.int64)  # every patient treated
        y = np.zeros((trials, pairs), np.int64)
        kept = _Kept(np.zeros((trials, pairs), np.int64), np.zeros((trials, pairs), np.int64),
                     np.zeros((trials, pairs), bool))  # as R keeps them
        treated = np.zeros(trials, np.int64)
        stop = np.full(trials, MAX_PATIENTS, np.int8)
        zeros = np.zeros(trials, np.int64)
        step = _Round(np.arange(trials), np.full(trials, FIRST), zeros, zeros, zeros,
                      np.full(trials, -1))
        while step.ids.size:
            paths, length = self._paths(step)
            done = self._subtrials(patients, step, paths, length, treated)
            valid = paths >= 0
            t = np.broadcast_to(step.ids[:, None], paths.shape)[valid]
            n[t, paths[valid]] += done.n[valid]
            y[t, paths[valid]] += done.y[valid]
            ends = (done.mtd < 0) & (step.kind != ROW_AFTER_COLUMN)
            stop[step.ids[ends & done.early]] = SAFETY
            keep = valid & ~ends[:, None]  # R breaks before keeping an ending subtrial
            t = np.broadcast_to(step.ids[:, None], paths.shape)[keep]
            kept.n[t, paths[keep]] = done.n[keep]
            kept.y[t, paths[keep]] = done.y[keep]
            kept.elim[t, paths[keep]] = done.elim[keep]
            step = self._next(step, done, ~ends, kept)
        selected = self._contours(kept.n, kept.y, kept.elim)
        return CombinationRecords(selected, n, y, stop, kept.n, kept.y)

    def _paths(self, step: _Round) -> tuple[np.ndarray, np.ndarray]:
        """Each subtrial's path of flat pairs (padded with -1) and its length: FIRST climbs
        the first column and then the last row, the others walk columns 2..K of their row."""
        first = np.array([r * self.cols for r in range(self.rows - 1)]
                         + [(self.rows - 1) * self.cols + c for c in range(self.cols)])
        is_first = step.kind == FIRST
        paths = np.full((step.ids.size, first.size), -1, np.int64)
        paths[:, : self.cols - 1] = step.row[:, None] * self.cols + np.arange(1, self.cols)
        paths[is_first] = first
        if not is_first.any():
            paths = paths[:, : self.cols - 1]
        return paths, np.where(is_first, first.size, self.cols - 1)

    def _next(self, step: _Round, done: _Subtrials, going: np.ndarray, kept: _Kept) -> _Round:
        """R's outer loop: the subtrial after each of ``step`` whose trial is ``going``
        (trials without one end). A first subtrial whose MTD is in the first column, row
        i < J, eliminates the rows above i and, if that MTD would escalate, walks row i;
        else the next row down is walked from the MTD's column, the pairs right of the MTD
        eliminated, unless the MTD is in the first row or the kept patients fill the budget."""
        cols = self.cols
        mtd = np.where((step.kind == ROW_AFTER_COLUMN) & (done.mtd < 0), step.fallback,
                       done.mtd)
        di, dj = np.divmod(mtd, cols)
        flat = np.arange(self.rows * cols)[None, :]
        column = going & (step.kind == FIRST) & (dj == 0) & (di < self.rows - 1)
        again = column & done.escalate
        down = going & ~again & (di > 0)
        right = (down & (dj < cols - 1))[:, None] & (flat > mtd[:, None]) & (
            flat < (di[:, None] + 1) * cols)
        above = column[:, None] & (flat >= (di[:, None] + 1) * cols)
        kept.elim[step.ids] |= right | above
        down &= kept.n[step.ids].sum(axis=1) < self.budget
        # R's startdose dj (1-based) on columns 2..K
        start = np.where(again, 0, np.minimum(dj, cols - 2))
        more = again | down
        return _Round(step.ids[more], np.where(again, ROW_AFTER_COLUMN, ROW)[more],
                      np.where(again, di, di - 1)[more], start[more], step.subtrial[more] + 1,
                      np.where(again, mtd, -1)[more])

    def _subtrials(self, patients: DLTTable, step: _Round, path: np.ndarray,
                   length: np.ndarray, treated: np.ndarray) -> _Subtrials:
        """Run one subtrial of each trial of ``step`` along its path, in lockstep."""
        m, width = path.shape
        ids = step.ids
        cohorts = np.array(self.cohorts)[step.subtrial]
        d = step.start.copy()
        sn = np.zeros((m, width), np.int64)
        sy = np.zeros((m, width), np.int64)
        selm = np.zeros((m, width), bool)
        total = np.zeros(m, np.int64)  # the subtrial's patients
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
            total[i] += size
            hit = yd >= rules.eliminate[nd]
            selm[i[hit]] |= positions[None, :] >= at[hit, None]
            stopped = hit & (at == 0)
            early[i[stopped]] = True
            up = (yd <= rules.escalate[nd]) & (at != length[i] - 1)
            free = ~selm[i, np.minimum(at + 1, width - 1)]
            down = ~up & (yd >= rules.deescalate[nd]) & (at != 0)
            new = np.where(up & free, at + 1, np.where(down, at - 1, at))
            d[i] = np.where(stopped, at, new)
            full = (sn[i, d[i]] >= self.n_earlystop) | (total[i] >= cohorts[i] * size)
            running[i[stopped | full]] = False
        on_path = positions[None, :] < length[:, None]
        selm = np.where(early[:, None], on_path, selm & on_path)
        pick, escalate = self._mtds(sn, sy, length)
        mtd = np.where(early | (pick < 0), -1, path[np.arange(m), np.maximum(pick, 0)])
        return _Subtrials(sn, sy, selm, mtd, escalate & ~early, early)

    def _mtds(self, n: np.ndarray, y: np.ndarray, length: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray]:
        """Each subtrial's MTD as a position on its path (-1 none; R's
        waterfall.subtrial.mtd) and whether its count would escalate: once per distinct
        record of the round, and cached across rounds and chunks (a few thousand records)."""
        keys = np.column_stack([length, n, y])
        first, group = group_rows(keys)
        records = keys[first]
        names = row_keys(records)
        new = np.array([name not in self._subtrial_mtd for name in names])
        for k in np.unique(records[new, 0]):
            length_k = np.flatnonzero(new & (records[:, 0] == k))
            self._select(records[length_k], [names[i] for i in length_k])
        found = np.array([self._subtrial_mtd[name] for name in names], np.int64).reshape(-1, 2)
        pick, escalate = found[group].T
        return pick, escalate.astype(bool)

    def _select(self, records: np.ndarray, names: list[bytes]) -> None:
        """Cache under ``names`` (position, escalates) of records of one path length (each its
        length, then n and y padded): BOIN's ``select.mtd`` of all of them at once."""
        k, width = int(records[0, 0]), (records.shape[1] - 1) // 2
        n, y = records[:, 1 : 1 + k], records[:, 1 + width : 1 + width + k]
        level = select_mtd_levels(self.target, n, y, self.cutoff)
        at = np.maximum(level, 0)[:, None]
        n_at, y_at = (np.take_along_axis(v, at, axis=1)[:, 0] for v in (n, y))
        escalate = y_at <= self.rules.escalate[n_at]
        for name, pick, up in zip(names, level.tolist(), escalate.tolist(), strict=True):
            self._subtrial_mtd[name] = (-1, 0) if pick < 0 else (pick, int(up))

    def _contours(self, n: np.ndarray, y: np.ndarray, elim: np.ndarray) -> np.ndarray:
        """Each trial's final MTD contour as a bit mask, once per distinct record, and cached
        across chunks (a quarter of a long run's records are met again in later chunks; once
        the cache holds more than ``MAX_CONTOURS``, it is emptied before the next chunk)."""
        records = np.concatenate([n, y, elim], axis=1)
        first, group = group_rows(records)
        if len(self._contour) > MAX_CONTOURS:
            self._contour.clear()
        keys = row_keys(records[first].astype(self._key_type))
        masks = np.fromiter((self._contour.get(key, -1) for key in keys), np.int64, len(keys))
        new = np.flatnonzero(masks < 0)  # a mask of at most 63 pairs is never negative
        if new.size:
            masks[new] = self._masks(n[first[new]], y[first[new]], elim[first[new]])
            self._contour.update(zip([keys[i] for i in new], masks[new].tolist(), strict=True))
        return masks[group]

    def _masks(self, n: np.ndarray, y: np.ndarray, elim: np.ndarray) -> np.ndarray:
        """The contours of records (rows) as bit masks (``selection.waterfall_many``)."""
        shape = (-1, self.rows, self.cols)
        picks = waterfall_many(self.target, n.reshape(shape), y.reshape(shape),
                               elim.reshape(shape))
        flat = np.arange(self.rows)[None, :] * self.cols + picks
        bits = np.where(picks >= 0, np.left_shift(1, np.maximum(flat, 0)), 0)
        return bits.sum(axis=1)
