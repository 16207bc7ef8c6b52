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

EPS1 = math.sqrt(np.finfo(float).eps)  # biviso's eps: sqrt(.Machine$double.eps)
EPS2 = 1e-9  # biviso's eps2: a violation smaller than this is no violation
NCYCLE = 50000
DELTA = 1e-5  # weights below this are replaced (AS 206's DELTA); BOIN's are >= 0.1


def biviso(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The fit non-decreasing along each row and each column of ``y`` (rows x columns, at
    least 2 x 2) with weights ``w`` (all >= 1e-5), as ``Iso::biviso(y, w)``."""
    return biviso_many(np.asarray(y, float)[None], np.asarray(w, float)[None])[0]


def biviso_many(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``biviso`` of each matrix ``y[m]`` with weights ``w[m]`` (compiled: a simulation fits
    thousands of distinct final records)."""
    if y.ndim != 3 or y.shape[1] < 2 or y.shape[2] < 2:
        raise ValueError("biviso needs matrices of at least 2 rows and 2 columns")
    if np.any(w < DELTA):
        raise ValueError("biviso here takes weights of at least 1e-5")
    out = np.empty_like(y, dtype=float)
    _fit_all(np.ascontiguousarray(y, float), np.ascontiguousarray(w, float), out)
    return out


@njit(cache=True)
def _fit_all(y: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    for m in range(y.shape[0]):
        out[m] = _fit(y[m], w[m])


@njit(cache=True)
def _fit(x: np.ndarray, wt: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """AS 206's SMOOTH: cycles of row and column passes, restarted twice to choose which
    comes first (the pass whose corrections were larger, DELR vs DELC)."""
    rows, cols = x.shape
    del_r = 0.0
    del_c = 0.0
    flag = 0
    tic = 0
    g = x.copy()
    while True:  # label 8: (re)start the cycles
        tic += 1
        g = x.copy()
        a1 = np.zeros((rows, cols))  # row corrections
        a2 = np.zeros((rows, cols))  # column corrections
        count = 0
        rows_next = not (flag == 1 or (tic == 3 and del_c > del_r))
        while True:
            if rows_next:
                unchanged = _smooth_rows(g, a1, wt)
                count += 1
                if count == 2 and flag == 1:
                    del_r = _dist(a1)
                    flag += 1
                if count == 2 and flag == 2 and tic == 2:
                    break  # restart
                if count != 1 and (count == NCYCLE or unchanged == rows):
                    return g
                rows_next = False
            else:
                unchanged = _smooth_columns(g, a2, wt)
                count += 1
                if count == 2 and flag == 0:
                    del_c = _dist(a2)
                    flag += 1
                if count == 2 and flag == 1:
                    break  # restart
                if count != 1 and (unchanged == cols or count == NCYCLE):
                    return g
                rows_next = True
    return g


@njit(cache=True)
def _smooth_rows(g: np.ndarray, a1: np.ndarray, w: np.ndarray) -> int:  # pragma: no cover
    """One pass over the rows (AS 206's loop 50); the number of rows left unchanged."""
    rows, cols = g.shape
    unchanged = 0
    for i in range(rows):
        b1 = g[i] - a1[i]
        fitted = pav(b1, w[i].copy())
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
def _smooth_columns(g: np.ndarray, a2: np.ndarray, w: np.ndarray) -> int:  # pragma: no cover
    """One pass over the columns (AS 206's loop 80); the number of columns left unchanged."""
    rows, cols = g.shape
    unchanged = 0
    for j in range(cols):
        for i in range(rows):
            a2[i, j] = g[i, j] - a2[i, j]
        fitted = pav(a2[:, j].copy(), w[:, j].copy())
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
def pav(x: np.ndarray, w: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """AS 206.1: weighted pool-adjacent-violators (increasing), pooling only violations
    larger than ``EPS2``, in the Fortran's order (a pass pools forward, then repeats)."""
    k = x.size
    fx = x.copy()
    pw = w * x
    w1 = w.copy()
    nw = np.ones(k, np.int64)
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
    out = np.empty(k)
    at = 0
    for b in range(below + 1):
        for _ in range(nw[b]):
            out[at] = fx[b]
            at += 1
    return out
