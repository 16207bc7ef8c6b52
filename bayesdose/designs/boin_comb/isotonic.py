"""Bivariate isotonic regression as R's ``Iso::biviso`` (Iso 0.0-21) computes it.

``Iso::biviso`` runs the Fortran of Applied Statistics algorithm AS 206 (Bril, Dykstra, Pillers
& Robertson 1984, with the corrections of AS vol. 35(3), 36(1) and 40(1)): Dykstra & Robertson's
(1982) cyclic projections, pooling adjacent violators along rows and then columns with a
correction term each, until a whole pass changes nothing (by more than ``eps1``). BOIN's
combination designs pick the pair whose estimate is closest to the target and break some ties
by exact floating-point equality, so this is a line-by-line port (the same operations in the
same order) rather than any isotonic regression: the same answer to the last bit (compiled
with numba, which keeps IEEE arithmetic: no fast-math).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bayesdose.inference.exact import slices_in_threads

EPS1 = math.sqrt(np.finfo(float).eps)  # biviso's eps: sqrt(.Machine$double.eps)
EPS2 = 1e-9  # biviso's eps2: a violation smaller than this is no violation
NCYCLE = 50000
DELTA = 1e-5  # weights below this are replaced (AS 206's DELTA); BOIN's are >= 0.1
THREAD_FITS = 256  # the least fits given to a thread


def biviso(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The fit non-decreasing along each row and each column of ``y`` (rows x columns, at
    least 2 x 2) with weights ``w`` (all >= 1e-5), as ``Iso::biviso(y, w)``."""
    return biviso_many(np.asarray(y, float)[None], np.asarray(w, float)[None])[0]


def biviso_many(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``biviso`` of each matrix ``y[m]`` with weights ``w[m]`` (compiled: a simulation fits
    thousands of distinct final records; shared between the engine's threads,
    ``exact.slices_in_threads``, each fit on its own: the same doubles on one thread or
    two)."""
    if y.ndim != 3 or y.shape[1] < 2 or y.shape[2] < 2:
        raise ValueError("biviso needs matrices of at least 2 rows and 2 columns")
    if np.any(w < DELTA):
        raise ValueError("biviso here takes weights of at least 1e-5")
    out = np.empty_like(y, dtype=float)
    y, w = np.ascontiguousarray(y, float), np.ascontiguousarray(w, float)
    slices_in_threads(lambda part: _fit_all(y[part], w[part], out[part]), y.shape[0],
                      least=THREAD_FITS)
    return out


@njit(cache=True, nogil=True)
def _fit_all(y: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    rows, cols = y.shape[1], y.shape[2]
    a1 = np.empty((rows, cols))  # row corrections
    a2 = np.empty((rows, cols))  # column corrections
    scratch = np.empty((6, max(rows, cols)))  # a line's values, weights, fit; PAV's own
    blocks = np.empty(max(rows, cols), np.int64)
    for m in range(y.shape[0]):
        _fit(y[m], w[m], out[m], a1, a2, scratch, blocks)


@njit(cache=True)
def _fit(x: np.ndarray, wt: np.ndarray, g: np.ndarray, a1: np.ndarray, a2: np.ndarray,
         scratch: np.ndarray, blocks: np.ndarray) -> None:  # pragma: no cover - compiled
    """AS 206's SMOOTH into ``g``. Work arrays are the caller's: a fit allocates nothing
    (allocation was most of its time)."""
    rows_next = start(x, wt, g, a1, a2, scratch, blocks)
    count = 1
    while not advance(g, a1, a2, wt, scratch, blocks, rows_next, count):
        rows_next = not rows_next
        count += 1


@njit(cache=True)
def start(x: np.ndarray, wt: np.ndarray, g: np.ndarray, a1: np.ndarray, a2: np.ndarray,
          scratch: np.ndarray, blocks: np.ndarray) -> bool:  # pragma: no cover - compiled
    """SMOOTH's two trial cycles and its restart: from ``x``, a row pass then a column pass
    (DELC, the column corrections' size), again from ``x`` a column pass then a row pass
    (DELR); then ``g = x`` with no corrections. Returns whether the cycles from here begin
    with rows (unless DELC > DELR). The Fortran's labels and flags (TIC, FLAG) always take
    this path."""
    _reset(x, g, a1, a2)
    _smooth_rows(g, a1, wt, scratch, blocks)
    _smooth_columns(g, a2, wt, scratch, blocks)
    del_c = _dist(a2)
    _reset(x, g, a1, a2)
    _smooth_columns(g, a2, wt, scratch, blocks)
    _smooth_rows(g, a1, wt, scratch, blocks)
    del_r = _dist(a1)
    _reset(x, g, a1, a2)
    return not del_c > del_r


@njit(cache=True)
def advance(g: np.ndarray, a1: np.ndarray, a2: np.ndarray, wt: np.ndarray,
            scratch: np.ndarray, blocks: np.ndarray, rows: bool,
            count: int) -> bool:  # pragma: no cover - compiled
    """Pass ``count`` (1, 2, ...) after ``start``, over the rows or the columns; whether the
    fit is done: a pass after the first that leaves every line unchanged, or the NCYCLE-th.
    Between passes (g, a1, a2) is Dykstra's state: ``g = x + a1 + a2`` (up to rounding)."""
    if rows:
        unchanged = _smooth_rows(g, a1, wt, scratch, blocks) == g.shape[0]
    else:
        unchanged = _smooth_columns(g, a2, wt, scratch, blocks) == g.shape[1]
    return count != 1 and (unchanged or count == NCYCLE)


@njit(cache=True)
def _reset(x: np.ndarray, g: np.ndarray, a1: np.ndarray,
           a2: np.ndarray) -> None:  # pragma: no cover - compiled
    g[:, :] = x
    a1[:, :] = 0.0
    a2[:, :] = 0.0


@njit(cache=True)
def _smooth_rows(g: np.ndarray, a1: np.ndarray, w: np.ndarray, scratch: np.ndarray,
                 blocks: np.ndarray) -> int:  # pragma: no cover - compiled
    """One pass over the rows (AS 206's loop 50); the number of rows left unchanged."""
    rows, cols = g.shape
    b1, weights, fitted = scratch[0], scratch[1], scratch[2]
    unchanged = 0
    for i in range(rows):
        for j in range(cols):
            b1[j] = g[i, j] - a1[i, j]
            weights[j] = w[i, j]
        _pav(b1, weights, cols, fitted, scratch, blocks)
        same = 0
        for j in range(cols):
            a1[i, j] = fitted[j] - b1[j]
            if abs(fitted[j] - g[i, j]) < EPS1:
                same += 1
            g[i, j] = fitted[j]
        if same == cols:
            unchanged += 1
    return unchanged


@njit(cache=True)
def _smooth_columns(g: np.ndarray, a2: np.ndarray, w: np.ndarray, scratch: np.ndarray,
                    blocks: np.ndarray) -> int:  # pragma: no cover - compiled
    """One pass over the columns (AS 206's loop 80); the number of columns left unchanged."""
    rows, cols = g.shape
    b2, weights, fitted = scratch[0], scratch[1], scratch[2]
    unchanged = 0
    for j in range(cols):
        for i in range(rows):
            a2[i, j] = g[i, j] - a2[i, j]
            b2[i] = a2[i, j]
            weights[i] = w[i, j]
        _pav(b2, weights, rows, fitted, scratch, blocks)
        same = 0
        for i in range(rows):
            a2[i, j] = fitted[i] - a2[i, j]
            if abs(fitted[i] - g[i, j]) < EPS1:
                same += 1
            g[i, j] = fitted[i]
        if same == rows:
            unchanged += 1
    return unchanged


@njit(cache=True)
def _dist(a: np.ndarray) -> float:  # pragma: no cover - compiled
    """AS 206.2: the sum of squares of a correction array, row by row as the Fortran."""
    total = 0.0
    rows, cols = a.shape
    for i in range(rows):
        for j in range(cols):
            total = total + a[i, j] * a[i, j]
    return total


@njit(cache=True)
def _pav(x: np.ndarray, w: np.ndarray, k: int, out: np.ndarray, scratch: np.ndarray,
         nw: np.ndarray) -> None:  # pragma: no cover - compiled
    """AS 206.1 into ``out[:k]``: weighted pool-adjacent-violators (increasing) of
    ``x[:k]``, pooling only violations larger than ``EPS2``, in the Fortran's order (a pass
    pools forward, then repeats); rows 3-5 of ``scratch`` and ``nw`` are its work space."""
    fx, pw, w1 = scratch[3], scratch[4], scratch[5]
    for i in range(k):
        fx[i] = x[i]
        pw[i] = w[i] * x[i]
        w1[i] = w[i]
        nw[i] = 1
    below = k - 1  # IBEL: blocks - 1
    while True:
        i = 0
        while i < below:
            if fx[i] - fx[i + 1] <= EPS2:
                i += 1
                continue
            pw[i] = pw[i] + pw[i + 1]
            w1[i] = w1[i] + w1[i + 1]
            fx[i] = pw[i] / w1[i]
            nw[i] = nw[i] + nw[i + 1]
            for j in range(i + 1, below):
                pw[j] = pw[j + 1]
                w1[j] = w1[j + 1]
                fx[j] = fx[j + 1]
                nw[j] = nw[j + 1]
            below -= 1
        ordered = True
        for m in range(below):
            if fx[m] - fx[m + 1] > EPS2:
                ordered = False
        if below <= 0 or ordered:
            break
    at = 0
    for b in range(below + 1):
        for _ in range(nw[b]):
            out[at] = fx[b]
            at += 1
