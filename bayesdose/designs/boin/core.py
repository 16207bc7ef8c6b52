"""Statistical core of the Bayesian optimal interval (BOIN) design, matching R's BOIN 2.7.2.

Liu, S. and Yuan, Y. (2015). Bayesian optimal interval designs for phase I clinical trials.
JRSS-C 64, 507-523. Yan, F. et al. (2020). BOIN: an R package ... JSS 94(13).

Pure functions only: the escalation/de-escalation boundaries (``get.boundary``), the
elimination rule, the weighted pool-adjacent-violators algorithm and the end-of-trial MTD
selection (``select.mtd``). Conventions of the R code reproduced here:

* ``lambda_e``/``lambda_d`` are the closed forms of Liu & Yuan (2015, eq. 2) with
  ``p.saf = 0.6 target`` and ``p.tox = 1.4 target``; for ``n`` patients the escalation count is
  ``floor(lambda_e n)`` (escalate if ``ntox <= e_n``: the DLT rate is at most lambda_e) and the
  de-escalation count is the smallest integer above ``lambda_d n`` (de-escalate if
  ``ntox >= d_n``: the rate exceeds lambda_d; get.boundary takes ``ceiling`` except where
  ``lambda_d n`` is an integer to 1e-12), the latter capped at the elimination count.
* A dose is eliminated when ``n >= 3`` and ``1 - pbeta(target, y + 1, n - y + 1) > cutoff.eli``
  (strict ``>``, uniform Beta(1, 1) prior); it and every higher dose are eliminated.
* ``select.mtd`` uses the Beta(0.05, 0.05) posterior mean ``(y + 0.05) / (n + 0.1)``, PAVA
  weighted by the reciprocal posterior variance, over treated non-eliminated doses only; then adds
  ``k * 1e-10`` to the k-th of those doses and takes the first minimiser of ``|phat - target|``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import betainc

NO_MTD_R_CODE = 99
"""What R's ``select.mtd`` returns when no dose is selected; :func:`select_mtd` returns None."""


def boin_boundaries(
    target: float, p_saf: float | None = None, p_tox: float | None = None
) -> tuple[float, float]:
    """Escalation and de-escalation boundaries (lambda_e, lambda_d) of Liu & Yuan (2015).

    lambda_e = log((1 - p_saf) / (1 - target)) / log(target (1 - p_saf) / (p_saf (1 - target)))
    lambda_d = log((1 - target) / (1 - p_tox)) / log(p_tox (1 - target) / (target (1 - p_tox)))

    As R's ``get.boundary``: ``p_saf`` defaults to ``0.6 * target`` and ``p_tox`` to
    ``1.4 * target``.
    """
    p_saf = 0.6 * target if p_saf is None else p_saf
    p_tox = 1.4 * target if p_tox is None else p_tox
    if not 0 < p_saf < target < p_tox < 1:
        raise ValueError("need 0 < p_saf < target < p_tox < 1")
    lambda_e = math.log((1 - p_saf) / (1 - target)) / math.log(
        target * (1 - p_saf) / (p_saf * (1 - target))
    )
    lambda_d = math.log((1 - target) / (1 - p_tox)) / math.log(
        p_tox * (1 - target) / (target * (1 - p_tox))
    )
    return lambda_e, lambda_d


def prob_overdose(target: float, ntox: int | np.ndarray, npts: int | np.ndarray) -> np.ndarray:
    """Pr(p > target | y DLTs in n) under a uniform prior: ``1 - pbeta(target, y+1, n-y+1)``."""
    ntox = np.asarray(ntox, dtype=float)
    npts = np.asarray(npts, dtype=float)
    return 1.0 - betainc(ntox + 1.0, npts - ntox + 1.0, target)


def is_eliminated(target: float, ntox: int, npts: int, cutoff_eli: float = 0.95) -> bool:
    """BOIN's safety rule for one dose: ``n >= 3`` and Pr(p > target | data) > ``cutoff_eli``."""
    return npts >= 3 and float(prob_overdose(target, ntox, npts)) > cutoff_eli


def elimination_count(target: float, npts: int, cutoff_eli: float = 0.95) -> int | None:
    """Smallest DLT count that eliminates a dose with ``npts`` patients (None: never, or n < 3).

    As the inner loop of R's ``get.boundary``: the first ``ntox`` in ``1..n`` meeting the rule.
    """
    if npts < 3:
        return None
    for ntox in range(1, npts + 1):
        if is_eliminated(target, ntox, npts, cutoff_eli):
            return ntox
    return None


@dataclass(frozen=True)
class BoundaryTable:
    """BOIN decision table by number of patients treated at the current dose.

    ``escalate[i]``: escalate if #DLT <= it; ``deescalate[i]``: de-escalate if #DLT >= it;
    ``eliminate[i]``: eliminate if #DLT >= it (None where R prints NA), all for ``n[i]``
    patients.
    """

    n: tuple[int, ...]
    escalate: tuple[int, ...]
    deescalate: tuple[int, ...]
    eliminate: tuple[int | None, ...]
    lambda_e: float
    lambda_d: float

    def per_cohort(self, cohort_size: int) -> BoundaryTable:
        """The columns at multiples of ``cohort_size``, as R's ``$boundary_tab``."""
        keep = [i for i, n in enumerate(self.n) if n % cohort_size == 0]
        return BoundaryTable(
            n=tuple(self.n[i] for i in keep),
            escalate=tuple(self.escalate[i] for i in keep),
            deescalate=tuple(self.deescalate[i] for i in keep),
            eliminate=tuple(self.eliminate[i] for i in keep),
            lambda_e=self.lambda_e,
            lambda_d=self.lambda_d,
        )


def boundary_table(
    target: float,
    max_n: int,
    cutoff_eli: float = 0.95,
    p_saf: float | None = None,
    p_tox: float | None = None,
) -> BoundaryTable:
    """R's ``get.boundary(...)$full_boundary_tab`` for n = 1..``max_n`` (Liu & Yuan 2015).

    Escalate if ntox <= floor(lambda_e n); de-escalate if ntox >= :func:`deescalation_count`,
    capped at the elimination count when that exists; eliminate if ntox >=
    :func:`elimination_count`. (``get.boundary(ncohort, cohortsize, n.earlystop)`` has
    ``max_n = min(ncohort * cohortsize, n.earlystop)``.)
    """
    lambda_e, lambda_d = boin_boundaries(target, p_saf, p_tox)
    ns = tuple(range(1, max_n + 1))
    eliminate = tuple(elimination_count(target, n, cutoff_eli) for n in ns)
    escalate = tuple(math.floor(lambda_e * n) for n in ns)
    deescalate = tuple(
        deescalation_count(lambda_d, n) if elim is None
        else min(deescalation_count(lambda_d, n), elim)
        for n, elim in zip(ns, eliminate, strict=True)
    )
    return BoundaryTable(ns, escalate, deescalate, eliminate, lambda_e, lambda_d)


def deescalation_count(lambda_d: float, npts: int) -> int:
    """The fewest DLTs in ``npts`` whose rate exceeds ``lambda_d``, as R's ``get.boundary``:
    ``ceiling(lambda_d n)``, or ``lambda_d n + 1`` where that product is an integer (to 1e-12)."""
    product = lambda_d * npts
    nearest = round(product)
    return nearest + 1 if abs(nearest - product) < 1e-12 else math.ceil(product)


def pava(x: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None
         ) -> np.ndarray:
    """Weighted isotonic (non-decreasing) regression by pool-adjacent-violators.

    The same algorithm as the ``pava`` inside R's ``select.mtd`` (Barlow et al. 1972): repeatedly
    pool the first adjacent violation into the weighted mean of the two level sets.
    """
    x = np.array(x, dtype=float)
    wt = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.shape != wt.shape or x.ndim != 1:
        raise ValueError("x and weights must be 1-d and of equal length")
    if np.isnan(x).any() or np.isnan(wt).any():
        raise ValueError("missing values in x or weights not allowed")
    level_set = np.arange(x.size)
    while True:
        violations = np.flatnonzero(np.diff(x) < 0)
        if violations.size == 0:
            return x
        i = violations[0]
        pooled = (level_set == level_set[i]) | (level_set == level_set[i + 1])
        x[pooled] = np.sum(x[pooled] * wt[pooled]) / np.sum(wt[pooled])
        level_set[pooled] = level_set[i]


def _eliminated_doses(
    target: float, npts: np.ndarray, ntox: np.ndarray, cutoff_eli: float
) -> np.ndarray:
    """Boolean mask: the lowest dose meeting the elimination rule and all doses above it."""
    eliminated = np.zeros(npts.size, dtype=bool)
    for k in range(npts.size):
        if is_eliminated(target, int(ntox[k]), int(npts[k]), cutoff_eli):
            eliminated[k:] = True
            break
    return eliminated


def isotonic_estimates(npts: np.ndarray, ntox: np.ndarray) -> np.ndarray:
    """``select.mtd``'s PAVA-smoothed Beta(0.05, 0.05) posterior means (treated doses only).

    phat = (y + 0.05) / (n + 0.1), weights 1 / var with
    var = (y + 0.05)(n - y + 0.05) / ((n + 0.1)^2 (n + 0.1 + 1)).
    """
    y = np.asarray(ntox, dtype=float)
    n = np.asarray(npts, dtype=float)
    phat = (y + 0.05) / (n + 0.1)
    phat_var = (y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 0.1 + 1))
    return pava(phat, weights=1 / phat_var)


def select_mtd(
    target: float,
    npts: Sequence[int] | np.ndarray,
    ntox: Sequence[int] | np.ndarray,
    cutoff_eli: float = 0.95,
    boundMTD: bool = False,
    p_tox: float | None = None,
    extrasafe: bool = False,
    offset: float = 0.05,
) -> int | None:
    """End-of-trial MTD (1-based level) as R's BOIN ``select.mtd``; None where R gives 99.

    1. Elimination: the lowest dose with n >= 3 and Pr(p > target) > ``cutoff_eli`` (uniform
       prior) and all higher doses are eliminated. ``extrasafe`` also eliminates everything when
       the lowest dose has n >= 3 and Pr(p_1 > target) > ``cutoff_eli - offset``.
    2. None if the lowest dose is eliminated or no non-eliminated dose was treated.
    3. Over treated (n > 0), non-eliminated doses: :func:`isotonic_estimates`, plus ``k * 1e-10``
       for the k-th of those doses (k = 1, 2, ...), so ties resolve to the higher dose below the
       target and to the lower dose above it.
    4. ``boundMTD``: keep only doses whose estimate is < lambda_d (from ``p_tox``, default
       1.4 target); None if there are none.
    5. The first dose minimising |phat - target| (R's stable ``sort(..., index.return=TRUE)``).
    """
    n = np.asarray(npts, dtype=int)
    y = np.asarray(ntox, dtype=int)
    if n.shape != y.shape or n.ndim != 1:
        raise ValueError("npts and ntox must be 1-d and of equal length")
    eliminated = _eliminated_doses(target, n, y, cutoff_eli)
    if extrasafe and is_eliminated(target, int(y[0]), int(n[0]), cutoff_eli - offset):
        eliminated[:] = True
    if eliminated[0] or n[~eliminated].sum() == 0:
        return None
    admissible = np.flatnonzero((n != 0) & ~eliminated)
    phat = isotonic_estimates(n[admissible], y[admissible])
    phat = phat + np.arange(1, phat.size + 1) * 1e-10
    if boundMTD:
        _, lambda_d = boin_boundaries(target, p_tox=p_tox)
        below = phat < lambda_d
        if not below.any():
            return None
        # phat is non-decreasing, so the doses below lambda_d are a prefix of `admissible`.
        phat = phat[below]
    return int(admissible[np.argmin(np.abs(phat - target))]) + 1


def pava_rows(x: np.ndarray, weights: np.ndarray, used: np.ndarray) -> np.ndarray:
    """:func:`pava` on every row of ``x`` (S, K) at once, over the columns ``used`` of each
    row (the others are returned as NaN), pooling in the same order with the same sums, so
    each row equals :func:`pava` on its used values (the simulators decide thousands of
    states per step)."""
    order = np.argsort(~used, axis=1, kind="stable")  # used columns first, in dose order
    kept = np.take_along_axis(used, order, axis=1)
    values = np.where(kept, np.take_along_axis(np.asarray(x, float), order, axis=1), np.inf)
    wt = np.take_along_axis(np.asarray(weights, float), order, axis=1)
    label = np.broadcast_to(np.arange(x.shape[1]), x.shape).copy()
    for _ in range(x.shape[1]):  # each pass pools one violation per row: at most K - 1
        with np.errstate(invalid="ignore"):  # inf - inf past the used columns: no violation
            violation = np.diff(values, axis=1) < 0
        rows = np.flatnonzero(violation.any(axis=1))
        if rows.size == 0:
            break
        first = np.argmax(violation[rows], axis=1)
        sets = label[rows]
        pooled = (sets == sets[np.arange(rows.size), first][:, None]) | (
            sets == sets[np.arange(rows.size), first + 1][:, None])
        mean = _row_sum(values[rows] * wt[rows], pooled) / _row_sum(wt[rows], pooled)
        values[rows] = np.where(pooled, mean[:, None], values[rows])
        label[rows] = np.where(pooled, sets[np.arange(rows.size), first][:, None], sets)
    out = np.full(x.shape, np.nan)
    np.put_along_axis(out, order, np.where(kept, values, np.nan), axis=1)
    return out


def _row_sum(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sum of each row's masked entries, left to right (as ``np.sum`` of a short vector)."""
    total = np.zeros(x.shape[0])
    for j in range(x.shape[1]):
        total = np.where(mask[:, j], total + x[:, j], total)
    return total


def isotonic_rows(npts: np.ndarray, ntox: np.ndarray, used: np.ndarray) -> np.ndarray:
    """:func:`isotonic_estimates` of every row (S, K) over its columns ``used`` (NaN
    elsewhere)."""
    y = np.asarray(ntox, float)
    n = np.asarray(npts, float)
    phat = (y + 0.05) / (n + 0.1)
    phat_var = (y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 0.1 + 1))
    return pava_rows(phat, 1 / phat_var, used)


def select_mtd_rows(target: float, npts: np.ndarray, ntox: np.ndarray,
                    cutoff_eli: float = 0.95) -> np.ndarray:
    """:func:`select_mtd` (without ``boundMTD`` and ``extrasafe``) of every row (S, K) at
    once: the MTD, 0-based, -1 for none."""
    n, y = np.asarray(npts, int), np.asarray(ntox, int)
    meets = (n >= 3) & (prob_overdose(target, y, n) > cutoff_eli)
    eliminated = np.logical_or.accumulate(meets, axis=1)
    admissible = (n != 0) & ~eliminated
    phat = isotonic_rows(n, y, admissible)
    rank = np.cumsum(admissible, axis=1)  # k for the k-th admissible dose
    distance = np.where(admissible, np.abs(phat + rank * 1e-10 - target), np.inf)
    best = np.argmin(distance, axis=1)
    return np.where(eliminated[:, 0] | ~admissible.any(axis=1), -1, best)
