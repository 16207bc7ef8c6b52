"""The waterfall's final MTD contour from the bivariate isotonic fit, stopping the fit as
soon as the contour is certain (the same picks as the finished fit, proved, not estimated).

The waterfall's selection (``selection.waterfall_many``) needs only, per row, the admissible
column whose ``biviso`` estimate (plus R's 1e-5 offsets) is closest to the target, then the
follow rule between rows. ``biviso`` (``isotonic``, AS 206) is Dykstra's algorithm: its fit
of a slowly converging record takes thousands of passes, most of a simulation's time.

Dykstra's algorithm is block coordinate ascent on the dual of the weighted projection
min 1/2 ||g - x||_W^2 over the matrices non-decreasing along rows (R) and columns (C): with
the corrections as dual variables, s = -(a1 + a2) (a1 in R's polar cone, a2 in C's, as every
pool-adjacent-violators pass leaves them), the dual value D = <s, x>_W - 1/2 ||s||_W^2 =
1/2 (||x||_W^2 - ||g||_W^2) never decreases from pass to pass, and g = x - s is the iterate.
For the projection g* and any g feasible (in R and C), 1/2 ||g_P - g*||_W^2 <= P(g) - D_P
(strong duality with a 1-strongly convex primal), and the same holds for every later iterate,
the finished fit g_F included. So |g_F - g_P| <= 2 sqrt(2 (P(g) - D_P)) / sqrt(w) per pair.
The feasible g is the best (least primal value) of two repairs of g_P (running maxima down
the columns then along the rows; running minima up the columns then leftwards) and their
midpoint, all three in R and C.

The bound is computed after ``CHECK_EVERY`` passes, then at intervals growing with the
passes done (a quarter of them: a tied record's long fit is checked a few dozen times). A
row's candidates are the admissible columns that could still be closest within the bound;
when every combination of the rows' candidates gives the same contour, that contour is the
finished fit's. Otherwise the fit runs to its end and the contour is read from it exactly as
``_row_picks`` reads it. Rows tied in the projection (two admissible pairs of one pooled
block, told apart by the 1e-5 offsets) are never certain before the end; they run in full.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bayesdose.designs.boin_comb.isotonic import THREAD_FITS, advance, start
from bayesdose.inference.exact import slices_in_threads

CHECK_EVERY = 4  # passes before the first check, and the least interval between checks
SLACK = 1e-9  # added to the bound's squared radius and to every distance: rounding
MAX_COMBINATIONS = 256  # more uncertain combinations: keep fitting


def contour_picks(target: float, raw: np.ndarray, w: np.ndarray, admissible: np.ndarray,
                  none: np.ndarray, offset: np.ndarray, check_every: int = CHECK_EVERY,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(m, rows) columns of the waterfall's contour (-1 none) of the fits ``biviso(raw[i],
    w[i])`` plus ``offset``: per row the first admissible column closest to the target
    (``none``: -1), then row by row from the last, a pick not right of its upper
    neighbour's takes that column. Also each fit's passes (negative: run to the end).
    ``check_every = 0``: every fit to its end. The fits are shared between the engine's
    threads (``exact.slices_in_threads``), each fit on its own: the same picks on one thread or
    two."""
    m, rows, cols = raw.shape
    picks = np.empty((m, rows), np.int64)
    passes = np.empty(m, np.int64)
    raw, w = np.ascontiguousarray(raw, float), np.ascontiguousarray(w, float)
    admissible, none = np.ascontiguousarray(admissible), np.ascontiguousarray(none)
    offset = np.ascontiguousarray(np.broadcast_to(offset, (rows, cols)), float)

    def work(part: slice) -> None:
        _all(target, raw[part], w[part], admissible[part], none[part], offset, check_every,
             picks[part], passes[part])

    slices_in_threads(work, m, least=THREAD_FITS)
    return picks, passes


@njit(cache=True, nogil=True)
def _all(target: float, raw: np.ndarray, w: np.ndarray, admissible: np.ndarray,
         none: np.ndarray, offset: np.ndarray, check_every: int, picks: np.ndarray,
         passes: np.ndarray) -> None:  # pragma: no cover - compiled
    rows, cols = raw.shape[1], raw.shape[2]
    g, a1, a2 = np.empty((rows, cols)), np.empty((rows, cols)), np.empty((rows, cols))
    upper, lower = np.empty((rows, cols)), np.empty((rows, cols))
    scratch = np.empty((6, max(rows, cols)))
    blocks = np.empty(max(rows, cols), np.int64)
    candidates = np.empty((rows, cols), np.int64)
    count_of, choice, other = (np.empty(rows, np.int64), np.empty(rows, np.int64),
                              np.empty(rows, np.int64))
    for i in range(raw.shape[0]):
        x, wt, ok, skip = raw[i], w[i], admissible[i], none[i]
        rows_next = start(x, wt, g, a1, a2, scratch, blocks)
        count, check = 1, check_every
        certain = False
        while not advance(g, a1, a2, wt, scratch, blocks, rows_next, count):
            if check_every and count == check:
                check += max(check_every, check // 4)
                radius = 2.0 * math.sqrt(2.0 * max(_gap(x, wt, g, a1, a2, upper, lower), 0.0)
                                         + SLACK)
                if _certain(target, g, wt, ok, skip, offset, radius, candidates, count_of,
                            choice, picks[i], other):
                    certain = True
                    break
            rows_next = not rows_next
            count += 1
        if not certain:
            _certain(target, g, wt, ok, skip, offset, 0.0, candidates, count_of, choice,
                     picks[i], other)
        passes[i] = count if certain else -count


@njit(cache=True)
def _gap(x: np.ndarray, w: np.ndarray, g: np.ndarray, a1: np.ndarray, a2: np.ndarray,
         upper: np.ndarray, lower: np.ndarray) -> float:  # pragma: no cover - compiled
    """P(g~) - D: the least primal value of three feasible repairs g~ of ``g`` (``upper``,
    ``lower``, their midpoint) minus the dual value of the corrections."""
    rows, cols = g.shape
    for j in range(cols):  # running maxima down each column, minima up it
        upper[0, j] = g[0, j]
        lower[rows - 1, j] = g[rows - 1, j]
        for r in range(1, rows):
            upper[r, j] = max(upper[r - 1, j], g[r, j])
            lower[rows - 1 - r, j] = min(lower[rows - r, j], g[rows - 1 - r, j])
    for r in range(rows):  # then along each row, rightwards and leftwards
        for j in range(1, cols):
            upper[r, j] = max(upper[r, j], upper[r, j - 1])
            lower[r, cols - 1 - j] = min(lower[r, cols - 1 - j], lower[r, cols - j])
    p_upper = p_lower = p_mid = dual = 0.0
    for r in range(rows):
        for j in range(cols):
            u, v, wt = upper[r, j] - x[r, j], lower[r, j] - x[r, j], w[r, j]
            mid = 0.5 * (upper[r, j] + lower[r, j]) - x[r, j]
            p_upper += wt * u * u
            p_lower += wt * v * v
            p_mid += wt * mid * mid
            iterate = x[r, j] + a1[r, j] + a2[r, j]
            dual += wt * (x[r, j] * x[r, j] - iterate * iterate)
    return 0.5 * (min(p_upper, p_lower, p_mid) - dual)


@njit(cache=True)
def _certain(target: float, g: np.ndarray, w: np.ndarray, admissible: np.ndarray,
             none: np.ndarray, offset: np.ndarray, radius: float, candidates: np.ndarray,
             count: np.ndarray, choice: np.ndarray, picks: np.ndarray,
             other: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Whether the contour is the same for every fit within ``radius`` (W-norm) of ``g``;
    if so, that contour into ``picks``. With radius 0: ``g``'s own contour (always).
    ``candidates``, ``count``, ``choice`` and ``other`` are work space."""
    rows, cols = g.shape
    combinations = 1
    for r in range(rows):
        best, closest = -1, np.inf
        if not none[r]:
            for j in range(cols):
                if admissible[r, j]:
                    d = abs(g[r, j] + offset[r, j] - target)
                    if d < closest:
                        best, closest = j, d
        candidates[r, 0] = best
        count[r] = 1
        if best >= 0 and radius > 0.0:
            reach = closest + radius / math.sqrt(w[r, best]) + SLACK
            for j in range(cols):
                if admissible[r, j] and j != best and (
                        abs(g[r, j] + offset[r, j] - target)
                        - radius / math.sqrt(w[r, j]) - SLACK <= reach):
                    candidates[r, count[r]] = j
                    count[r] += 1
        combinations *= count[r]
    if combinations > MAX_COMBINATIONS:
        return False
    choice[:] = 0
    _follow(candidates, choice, picks)
    for _ in range(combinations - 1):
        for r in range(rows):  # the next combination, mixed radix
            choice[r] += 1
            if choice[r] < count[r]:
                break
            choice[r] = 0
        _follow(candidates, choice, other)
        for r in range(rows):
            if other[r] != picks[r]:
                return False
    return True


@njit(cache=True)
def _follow(candidates: np.ndarray, choice: np.ndarray,
            picks: np.ndarray) -> None:  # pragma: no cover - compiled
    """The contour of one choice of each row's column: from the last row up, a row whose
    column is not right of the row above's takes that column (both picked)."""
    rows = picks.size
    for r in range(rows - 1, -1, -1):
        picks[r] = candidates[r, choice[r]]
        if r < rows - 1 and picks[r + 1] >= 0 and 0 <= picks[r] <= picks[r + 1]:
            picks[r] = picks[r + 1]
