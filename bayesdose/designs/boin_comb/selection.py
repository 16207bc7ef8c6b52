"""End-of-trial selection of BOIN's combination designs, as R's BOIN 2.7.2 computes it.

Three selections share the elimination rule and the bivariate isotonic estimates
(``isotonic.biviso`` of the Beta(0.05, 0.05) posterior means (y + 0.05) / (n + 0.1), weights
n + 0.1), then pick the pair(s) closest to the target:

- ``select_mtd_comb``: R's exported ``select.mtd.comb`` (a trial's data; the estimates rounded
  to 2 decimals), one pair (``mtd.contour = FALSE``) or one per row (``TRUE``);
- ``select_mtd_comb(..., rounded=False)``: the copy inside ``get.oc.comb`` that BOIN-comb's
  simulation uses (no rounding);
- ``waterfall_many``: the waterfall design's final selection inside ``get.oc.comb``
  (the trial's own eliminations, a different row rule).

Pairs are (row, column), 0-based: rows the first drug's levels, columns the second's. R's
conventions kept, quirks included: the elimination rule marks the column below and the row to
the right of the first eliminated pair of each row (not the block above it); ``1e-5 (i + j)``
(1-based) is added to every estimate, which breaks most ties towards lower pairs; a remaining
tie goes to the first pair in column-major order (``which(..., arr.ind = TRUE)``) or the first
column of a row (``sort(..., index.return = TRUE)``); a row is "untreated" when the elements of
the whole matrix picked by that row's non-eliminated mask recycled column-major (``n[kelimi ==
0]``) hold no patient.
"""

from __future__ import annotations

import numpy as np

from bayesdose.designs.boin.core import prob_overdose
from bayesdose.designs.boin_comb.certified import contour_picks
from bayesdose.designs.boin_comb.isotonic import biviso_many

Pair = tuple[int, int]
UNTREATED = 10.0  # R's estimate for untreated pairs: never closest to a target in (0, 1)
ELIMINATED = 1.1  # R's estimate for eliminated pairs


def eliminated_cross(target: float, n: np.ndarray, y: np.ndarray, cutoff: float) -> np.ndarray:
    """R's final elimination of (m, rows, cols) counts: in each row, the first pair with n >= 3
    and P(p > target) > ``cutoff`` marks itself, the pairs below it in its column and right of
    it in its row."""
    over = (n >= 3) & (prob_overdose(target, y, n) > cutoff)
    has = over.any(axis=2)  # (m, rows)
    first = np.argmax(over, axis=2)
    cols = np.arange(n.shape[2])
    at = has[:, :, None] & (cols[None, None, :] == first[:, :, None])
    right = has[:, :, None] & (cols[None, None, :] >= first[:, :, None])
    return np.logical_or.accumulate(at, axis=1) | right


def _offset(shape: tuple[int, ...]) -> np.ndarray:
    """R's ``1e-05 * (row + column)`` (1-based), the sum taken first as R does."""
    rows, cols = shape[-2:]
    return 1e-05 * (np.arange(1, rows + 1)[:, None] + np.arange(1, cols + 1)[None, :])


def _r_round(x: np.ndarray) -> np.ndarray:
    """R's ``round(x, 2)``: the nearest of the two 2-decimal neighbours of the exact binary
    value (Python's correctly rounded ``round``)."""
    return np.vectorize(lambda v: round(float(v), 2), otypes=[float])(x)


def select_mtd_comb(target: float, n: np.ndarray, y: np.ndarray, cutoff: float = 0.95,
                    contour: bool = False, rounded: bool = True) -> list[Pair]:
    """R's ``select.mtd.comb(target, npts, ntox, cutoff.eli, mtd.contour)$MTD`` as 0-based
    pairs (empty: R's 99, no MTD); ``rounded=False`` is get.oc.comb's internal copy."""
    n, y = np.asarray(n, np.int64)[None], np.asarray(y, np.int64)[None]
    if contour:
        return contour_many(target, n, y, cutoff, rounded)[0]
    flat = select_many(target, n, y, cutoff, rounded)[0]
    return [] if flat < 0 else [divmod(int(flat), n.shape[2])]


def _estimates(target: float, n: np.ndarray, y: np.ndarray, cutoff: float,
               rounded: bool) -> tuple[np.ndarray, np.ndarray]:
    """(eliminations, estimates as select.mtd.comb compares them) of (m, rows, cols)."""
    elim = eliminated_cross(target, n, y, cutoff)
    phat = biviso_many((y + 0.05) / (n + 0.1), n + 0.1)
    if rounded:
        phat = _r_round(phat)
    phat[elim] = ELIMINATED
    phat = phat * (n != 0) + _offset(n.shape)
    phat[n == 0] = UNTREATED
    return elim, phat


def select_many(target: float, n: np.ndarray, y: np.ndarray, cutoff: float,
                rounded: bool = False) -> np.ndarray:
    """``mtd.contour = FALSE`` of (m, rows, cols) counts: each one's flat pair (row * cols +
    column; -1 none), the first closest in column-major order."""
    elim, phat = _estimates(target, n, y, cutoff, rounded)
    m, rows, cols = n.shape
    distance = np.abs(phat - target).transpose(0, 2, 1).reshape(m, -1)  # column-major
    k = np.argmin(distance, axis=1)
    flat = (k % rows) * cols + k // rows
    return np.where(elim[:, 0, 0], -1, flat)


def contour_many(target: float, n: np.ndarray, y: np.ndarray, cutoff: float,
                 rounded: bool = True) -> list[list[Pair]]:
    """``mtd.contour = TRUE`` of (m, rows, cols) counts, last row first: a row whose upper
    neighbour selected the last column selects nothing."""
    elim, phat = _estimates(target, n, y, cutoff, rounded)
    rows, cols = n.shape[1:]
    picks = np.full((n.shape[0], rows), -1)
    for k in range(rows - 1, -1, -1):
        picks[:, k] = _row_picks(target, n, elim, phat, k)
        if k < rows - 1:
            picks[:, k] = np.where(picks[:, k + 1] == cols - 1, -1, picks[:, k])
    picks[elim[:, 0, 0]] = -1
    return [[(k, int(c)) for k, c in enumerate(row) if c >= 0] for row in picks]


def _row_picks(target: float, n: np.ndarray, elim: np.ndarray, phat: np.ndarray,
               k: int) -> np.ndarray:
    """Row k's column (-1: R's 99 or NA) of each record: the first treated non-eliminated
    column closest to the target; none when the row's first pair is eliminated or the
    elements of the whole matrix that the row's non-eliminated mask picks, recycled
    column-major (R's ``n[kelimi == 0]``), hold no patient."""
    admissible = (n[:, k, :] != 0) & ~elim[:, k, :]
    distance = np.where(admissible, np.abs(phat[:, k, :] - target), np.inf)
    col = np.argmin(distance, axis=1)
    return np.where(_row_none(n, elim, k) | ~admissible.any(axis=1), -1, col)


def _row_none(n: np.ndarray, elim: np.ndarray, k: int) -> np.ndarray:
    """Whether row k picks nothing whatever the estimates: its first pair is eliminated or
    the elements of the whole matrix that its non-eliminated mask picks, recycled
    column-major (R's ``n[kelimi == 0]``), hold no patient."""
    m, rows, cols = n.shape
    recycled = ~elim[:, k, np.arange(rows * cols) % cols]
    picked = (n.transpose(0, 2, 1).reshape(m, -1) * recycled).sum(axis=1)
    return elim[:, k, 0] | (picked == 0)


def waterfall_many(target: float, n: np.ndarray, y: np.ndarray,
                   elim: np.ndarray) -> np.ndarray:
    """The waterfall design's MTD contours in ``get.oc.comb`` from (m, rows, cols) counts and
    the trials' own eliminations, as (m, rows) columns (-1 none): eliminated pairs enter the
    isotonic fit at 1.1; each row's pick as ``_row_picks``; row by row from the last, a row
    whose pick is not right of its upper neighbour's takes that neighbour's column. The fit
    stops once the contour is certain (``certified.contour_picks``)."""
    raw = (y + 0.05) / (n + 0.1)
    raw[elim] = ELIMINATED
    rows = n.shape[1]
    none = np.stack([_row_none(n, elim, k) for k in range(rows)], axis=1)
    return contour_picks(target, raw, n + 0.1, (n != 0) & ~elim, none, _offset(n.shape))[0]
