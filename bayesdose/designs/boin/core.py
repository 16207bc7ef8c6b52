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
    One trial's ``select_mtd_levels``."""
    n = np.asarray(npts, dtype=int)
    y = np.asarray(ntox, dtype=int)
    if n.shape != y.shape or n.ndim != 1:
        raise ValueError("npts and ntox must be 1-d and of equal length")
    level = int(select_mtd_levels(target, n[None], y[None], cutoff_eli, boundMTD, p_tox,
                                  extrasafe, offset)[0])
    return None if level < 0 else level + 1


def select_mtd_levels(
    target: float,
    npts: np.ndarray,
    ntox: np.ndarray,
    cutoff_eli: float = 0.95,
    boundMTD: bool = False,
    p_tox: float | None = None,
    extrasafe: bool = False,
    offset: float = 0.05,
) -> np.ndarray:
    """R's BOIN ``select.mtd`` for many trials at once: (S,) 0-based levels, -1 where R gives
    99, from (S, K) patients ``npts`` and DLTs ``ntox``.

    1. Elimination: the lowest dose with n >= 3 and Pr(p > target) > ``cutoff_eli`` (uniform
       prior) and all higher doses are eliminated. ``extrasafe`` also eliminates everything when
       the lowest dose has n >= 3 and Pr(p_1 > target) > ``cutoff_eli - offset``.
    2. None if the lowest dose is eliminated or no non-eliminated dose was treated.
    3. Over treated (n > 0), non-eliminated doses: :func:`isotonic_estimates` (here by the
       max-min formula, ``_isotonic``: the same unique fit as R's pool-adjacent-violators), plus
       ``k * 1e-10`` for the k-th of those doses (k = 1, 2, ...), so ties resolve to the higher
       dose below the target and to the lower dose above it (the offsets dwarf any rounding
       difference between the two ways of computing the fit).
    4. ``boundMTD``: keep only doses whose estimate is < lambda_d (from ``p_tox``, default
       1.4 target); None if there are none.
    5. The first dose minimising |phat - target| (R's stable ``sort(..., index.return=TRUE)``).
    """
    n = np.asarray(npts, dtype=float)
    y = np.asarray(ntox, dtype=float)
    unsafe = (n >= 3) & (prob_overdose(target, y, n) > cutoff_eli)
    eliminated = np.logical_or.accumulate(unsafe, axis=1)
    if extrasafe:
        first_unsafe = (n[:, 0] >= 3) & (prob_overdose(target, y[:, 0], n[:, 0])
                                          > cutoff_eli - offset)
        eliminated |= first_unsafe[:, None]
    admissible = (n > 0) & ~eliminated
    phat = (y + 0.05) / (n + 0.1)
    variance = (y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 0.1 + 1))
    fit = _isotonic(phat, np.where(admissible, 1 / variance, 0.0))
    fit = fit + np.cumsum(admissible, axis=1) * 1e-10
    if boundMTD:
        admissible &= fit < boin_boundaries(target, p_tox=p_tox)[1]
    distance = np.where(admissible, np.abs(fit - target), np.inf)
    level = np.argmin(distance, axis=1)
    return np.where(eliminated[:, 0] | ~admissible.any(axis=1), -1, level)


def _isotonic(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(S, K): the weighted non-decreasing fit of each row of ``x`` at the entries of positive
    weight (others are ignored and get any value): fit_i = max over j <= i of min over l >= i
    of the weighted mean of entries j..l (Barlow et al. 1972, the max-min formula; all window
    means at once, for the few doses of a trial)."""
    rows, k = x.shape
    cum_w = np.concatenate([np.zeros((rows, 1)), np.cumsum(weights, axis=1)], axis=1)
    cum_x = np.concatenate([np.zeros((rows, 1)), np.cumsum(weights * x, axis=1)], axis=1)
    start, end = np.triu_indices(k)
    window = np.full((rows, k, k), np.inf)  # [j, l]: mean of j..l (l >= j)
    with np.errstate(invalid="ignore", divide="ignore"):
        window[:, start, end] = ((cum_x[:, end + 1] - cum_x[:, start])
                                 / (cum_w[:, end + 1] - cum_w[:, start]))
    window = np.where(np.isnan(window), np.inf, window)  # windows of no weight
    upper = np.minimum.accumulate(window[:, :, ::-1], axis=2)[:, :, ::-1]  # min over l >= i
    later, earlier = np.tril_indices(k, -1)
    upper[:, later, earlier] = -np.inf  # [j, i] with j > i: only j <= i counts
    return upper.max(axis=1)
