"""Statistical core of the continual reassessment method (CRM), matching R's dfcrm 0.2-2.1.

O'Quigley, J., Pepe, M. and Fisher, L. (1990). Continual reassessment method: a practical design
for phase I clinical trials in cancer. Biometrics 46, 33-48. Cheung, Y. K. (2011). Dose Finding
by the Continual Reassessment Method. Chapman & Hall/CRC. Lee, S. M. and Cheung, Y. K. (2009).
Model calibration in the continual reassessment method. Clinical Trials 6, 227-238.

One-parameter working models, as dfcrm's ``crm``/``titecrm`` (``a`` ~ N(0, ``prior_var``)):

* empiric: ``p_k(a) = skeleton_k ** exp(a)``;
* logistic: ``p_k(a) = 1 / (1 + exp(-intcpt - exp(a) * x_k))`` with the scaled doses
  ``x_k = logit(skeleton_k) - intcpt`` (all must be < 0), so that ``p_k(0) = skeleton_k``.

Likelihood of patient i (dose level l_i, outcome y_i, TITE weight w_i; w = 1 in plain CRM):
``p^y (1 - w p)^(1 - y)``. dfcrm integrates with R's ``integrate`` (rel.tol ~1.2e-4, abs.tol 0),
whose error on the posterior mean exceeds 1e-8 for ~1% of the crmsim reference's 24,000 updates
(at most 7e-6).
Here the posterior moments use a fixed composite Gauss-Legendre rule (accurate to ~1e-14),
evaluated as cached array operations so whole simulated trials, or many trials at once, are
cheap; ``integration="dfcrm"`` reproduces dfcrm's own quadrature for bit-level comparisons.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bayesdose.simulation.distinct import group_rows

Model = Literal["empiric", "logistic"]

PRIOR_VAR = 1.34
"""dfcrm's default prior variance of ``a`` (``scale = sqrt(1.34)``)."""

_PANELS = 160
_NODES_PER_PANEL = 16
_HALF_WIDTH_IN_PRIOR_SD = 10.0


@dataclass(frozen=True, eq=False)
class CrmFit:
    """A CRM update, as dfcrm's ``crm`` object (1-based ``mtd``).

    ``estimate`` and ``post_var`` are the posterior mean and variance of ``a``; ``ptox`` is the
    working model at the posterior mean (dfcrm's plug-in, not the posterior mean of P(DLT));
    ``ptox_lower``/``ptox_upper`` plug ``estimate +/- z sqrt(post_var)`` into the model
    (``z = qnorm(0.5 + conf_level / 2)``), as dfcrm's ``ptoxL``/``ptoxU``.
    """

    estimate: float
    post_var: float
    ptox: np.ndarray
    ptox_lower: np.ndarray
    ptox_upper: np.ndarray
    mtd: int
    target: float
    model: Model
    prior_var: float
    intcpt: float
    conf_level: float
    dosescaled: np.ndarray


def scaled_doses(skeleton: Sequence[float] | np.ndarray, model: Model = "empiric",
                 intcpt: float = 3.0) -> np.ndarray:
    """dfcrm's ``dosescaled``: the skeleton (empiric) or ``logit(skeleton) - intcpt`` (logistic).

    As dfcrm, the logistic model needs every scaled dose < 0 (else the intercept is too small).
    """
    skeleton = np.asarray(skeleton, dtype=float)
    if np.any((skeleton <= 0) | (skeleton >= 1)):
        raise ValueError("skeleton probabilities must lie in (0, 1)")
    if model == "empiric":
        return skeleton
    if model == "logistic":
        x = np.log(skeleton / (1 - skeleton)) - intcpt
        if not np.all(x < 0):
            raise ValueError("intercept of the logistic model is too small: scaled doses > 0")
        return x
    raise ValueError(f"unknown model {model!r}")


def dose_toxicity(a: float | np.ndarray, dosescaled: np.ndarray, model: Model = "empiric",
                  intcpt: float = 3.0) -> np.ndarray:
    """P(DLT) at each scaled dose for parameter value(s) ``a`` (shape ``a.shape + (K,)``)."""
    slope = np.exp(np.asarray(a, dtype=float))[..., None]
    if model == "empiric":
        return dosescaled**slope
    return (1 + np.exp(-intcpt - slope * dosescaled)) ** -1.0


def _log_tox(nodes: np.ndarray, dosescaled: np.ndarray, model: Model,
             intcpt: float) -> tuple[np.ndarray, np.ndarray]:
    """log p and log(1 - p) at every (dose, node): arrays of shape (K, N).

    Computed without cancellation; -inf (p = 0 or 1 to double precision, far in the tails) is
    replaced by -1e250 so that a zero count times it is 0, not NaN.
    """
    with np.errstate(over="ignore", divide="ignore"):
        slope = np.exp(nodes)[None, :]
        if model == "empiric":
            log_p = np.log(dosescaled)[:, None] * slope
            log_q = np.log(-np.expm1(log_p))
        else:
            from scipy.special import log_expit  # here: the empiric model needs no SciPy

            eta = intcpt + slope * dosescaled[:, None]
            log_p, log_q = log_expit(eta), log_expit(-eta)
    return np.maximum(log_p, -1e250), np.maximum(log_q, -1e250)


@functools.lru_cache(maxsize=32)
def _quadrature(prior_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log(weight x unnormalised N(0, prior_sd^2) density) of a composite rule.

    Composite Gauss-Legendre (160 panels x 16 nodes) on [-L, L], L = 10 max(1, prior_sd):
    the prior mass outside is < 2e-23 and the integrands are smooth, so the moments are exact
    to ~1e-14 even for a few hundred patients (checked against adaptive quadrature in tests).
    Meant for informative priors (prior_sd up to ~2: still 1e-10 with 400 patients); with a
    vague prior (dfcrm's scale = 500 device) the panels get too wide: use
    ``integration="dfcrm"`` there.
    """
    half_width = _HALF_WIDTH_IN_PRIOR_SD * max(1.0, prior_sd)
    t, w = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
    edges = np.linspace(-half_width, half_width, _PANELS + 1)
    centre = (edges[:-1] + edges[1:])[:, None] / 2
    half = (edges[1:] - edges[:-1])[:, None] / 2
    nodes = (centre + half * t).ravel()
    log_weights = np.log((half * w).ravel()) - nodes**2 / 2 / prior_sd**2
    for array in (nodes, log_weights):
        array.flags.writeable = False
    return nodes, log_weights


@functools.lru_cache(maxsize=64)
def _tables(dosescaled: tuple[float, ...], model: Model, intcpt: float,
            prior_sd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quadrature nodes, log weights and the (K, N) tables of log p and log(1 - p)."""
    nodes, log_weights = _quadrature(prior_sd)
    log_p, log_q = _log_tox(nodes, np.array(dosescaled), model, intcpt)
    for array in (log_p, log_q):
        array.flags.writeable = False
    return nodes, log_weights, log_p, log_q


def _moments(log_integrand: np.ndarray, nodes: np.ndarray,
             with_var: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior mean and variance of ``a`` from log(weight x prior x likelihood), last axis."""
    f = np.exp(log_integrand - log_integrand.max(axis=-1, keepdims=True))
    total = f.sum(axis=-1)
    mean = (f @ nodes) / total
    if not with_var:
        return mean, None
    return mean, (f * (nodes - mean[..., None]) ** 2).sum(axis=-1) / total


@functools.lru_cache(maxsize=16384)
def _count_moments(dosescaled: tuple[float, ...], model: Model, intcpt: float, prior_sd: float,
                   npts: tuple[int, ...], ntox: tuple[int, ...]) -> tuple[float, float]:
    """Posterior mean and variance of ``a`` from per-dose counts (cached: simulated trials
    revisit the same counts over and over)."""
    nodes, log_weights, log_p, log_q = _tables(dosescaled, model, intcpt, prior_sd)
    n, y = np.array(npts, dtype=float), np.array(ntox, dtype=float)
    mean, var = _moments(log_weights + y @ log_p + (n - y) @ log_q, nodes)
    return float(mean), float(var)


def _fixed_rule_moments(dosescaled: np.ndarray, level: np.ndarray, tox: np.ndarray,
                        weights: np.ndarray | None, model: Model, intcpt: float,
                        prior_sd: float) -> tuple[float, float]:
    """Posterior mean and variance of ``a`` by the cached composite Gauss-Legendre rule."""
    k = dosescaled.size
    if weights is None:  # the per-dose counts are sufficient
        npts = np.bincount(level - 1, minlength=k)
        ntox = np.bincount(level - 1, weights=tox, minlength=k).astype(int)
        return _count_moments(tuple(dosescaled.tolist()), model, intcpt, prior_sd,
                              tuple(npts.tolist()), tuple(ntox.tolist()))
    # TITE: log(1 - w p) for patients without DLT
    nodes, log_weights, log_p, _ = _tables(tuple(dosescaled.tolist()), model, intcpt,
                                           prior_sd)
    log_p_i = log_p[level - 1]
    log_q_i = np.log1p(-weights[:, None] * np.exp(log_p_i))
    loglik = np.where(tox[:, None] == 1, log_p_i, log_q_i).sum(axis=0)
    mean, var = _moments(log_weights + loglik, nodes)
    return float(mean), float(var)


def _dfcrm_moments(dosescaled: np.ndarray, level: np.ndarray, tox: np.ndarray,
                   weights: np.ndarray | None, model: Model, intcpt: float,
                   prior_sd: float) -> tuple[float, float]:
    """Posterior mean and variance of ``a`` computed as dfcrm 0.2-2.1 computes them.

    ``den = integrate(h, -Inf, Inf, abs.tol=0)``, ``est = integrate(a h, -10, 10,
    abs.tol=0) / den``, ``e2 = integrate(a^2 h, -10, 10, abs.tol=0) / den`` with R's default
    rel.tol = eps^0.25 ~ 1.2e-4 and h = exp(-a^2/2/s^2) x likelihood, multiplied patient by
    patient in dfcrm's order. scipy's ``quad`` runs the same QUADPACK routines (qagi/qags), so
    this reproduces dfcrm's numbers, quadrature error included, to ~1e-14. Slow (ms per call).
    """
    from scipy import integrate  # here: a second to import, and simulations never need it

    x = dosescaled[level - 1]
    y = tox.astype(float)
    w = np.ones(x.size) if weights is None else weights
    s2 = prior_sd**2

    @np.errstate(over="ignore")  # exp(a) overflows far out in the tails, as in R
    def posterior(a: float) -> float:
        if model == "empiric":
            p = x ** np.exp(a)
        else:
            p = (1 + np.exp(-intcpt - np.exp(a) * x)) ** -1.0
        factors = np.column_stack([p**y, (1 - w * p) ** (1 - y)]).ravel()
        return math.prod([math.exp(-a * a / 2 / s2), *factors])

    tol = np.finfo(float).eps ** 0.25
    den = integrate.quad(posterior, -np.inf, np.inf, epsabs=0, epsrel=tol, limit=100)[0]
    first = integrate.quad(lambda a: a * posterior(a), -10, 10, epsabs=0, epsrel=tol,
                           limit=100)[0]
    second = integrate.quad(lambda a: a * a * posterior(a), -10, 10, epsabs=0, epsrel=tol,
                            limit=100)[0]
    estimate = first / den
    return estimate, second / den - estimate**2


def crm_mtd(ptox: np.ndarray, target: float) -> int | np.ndarray:
    """dfcrm's recommended level (1-based) from the plug-in curve ``ptox`` (last axis = doses).

    All ptox <= target: the highest dose; all ptox >= target: dose 1; otherwise the first dose
    minimising |ptox - target| (R's ``order(...)[1]``, so ties go to the lower dose).
    """
    ptox = np.asarray(ptox, dtype=float)
    closest = np.argmin(np.abs(ptox - target), axis=-1) + 1
    closest = np.where(np.all(ptox >= target, axis=-1), 1, closest)
    closest = np.where(np.all(ptox <= target, axis=-1), ptox.shape[-1], closest)
    return int(closest) if closest.ndim == 0 else closest


def _posterior_moments(
    skeleton: Sequence[float] | np.ndarray,
    level: Sequence[int] | np.ndarray,
    tox: Sequence[int] | np.ndarray,
    model: Model,
    prior_var: float,
    intcpt: float,
    weights: Sequence[float] | np.ndarray | None,
    integration: Literal["fixed", "dfcrm"],
) -> tuple[np.ndarray, float, float]:
    """Validated inputs -> (scaled doses, posterior mean of a, posterior variance of a)."""
    dosescaled = scaled_doses(skeleton, model, intcpt)
    level = np.asarray(level, dtype=int)
    tox = np.asarray(tox, dtype=int)
    w = None if weights is None else np.asarray(weights, dtype=float)
    if level.shape != tox.shape or level.ndim != 1 or (w is not None and w.shape != tox.shape):
        raise ValueError("level, tox and weights must be 1-d and of equal length")
    if level.size and (level.min() < 1 or level.max() > dosescaled.size):
        raise ValueError("dose levels must be between 1 and the number of doses")
    if np.any((tox != 0) & (tox != 1)):
        raise ValueError("tox must be 0 or 1")
    if w is not None and np.any((w < 0) | (w > 1)):
        raise ValueError("weights must lie in [0, 1]")
    moments = {"fixed": _fixed_rule_moments, "dfcrm": _dfcrm_moments}[integration]
    estimate, post_var = moments(dosescaled, level, tox, w, model, intcpt,
                                 float(np.sqrt(prior_var)))
    return dosescaled, estimate, post_var


def crm_posterior(
    skeleton: Sequence[float] | np.ndarray,
    level: Sequence[int] | np.ndarray,
    tox: Sequence[int] | np.ndarray,
    target: float,
    model: Model = "empiric",
    prior_var: float = PRIOR_VAR,
    intcpt: float = 3.0,
    weights: Sequence[float] | np.ndarray | None = None,
    conf_level: float = 0.90,
    integration: Literal["fixed", "dfcrm"] = "fixed",
) -> CrmFit:
    """Bayesian CRM update, as dfcrm's ``crm`` (``weights``: ``titecrm``) with method="bayes".

    ``level`` holds 1-based dose levels, ``tox`` 0/1 outcomes, ``weights`` TITE weights in
    [0, 1] (None: all 1; as in titecrm they only enter for patients without DLT).
    ``integration="fixed"`` (default) integrates accurately (~1e-14) with a cached fixed rule;
    ``"dfcrm"`` reproduces dfcrm's own, coarser, adaptive quadrature (rel.tol 1.2e-4), for
    bit-level comparison with R output.
    """
    from scipy.special import ndtri  # here: a simulated CRM needs no SciPy

    dosescaled, estimate, post_var = _posterior_moments(
        skeleton, level, tox, model, prior_var, intcpt, weights, integration
    )
    half = ndtri(0.5 + conf_level / 2) * np.sqrt(post_var)
    ptox = dose_toxicity(estimate, dosescaled, model, intcpt)
    return CrmFit(
        estimate=estimate,
        post_var=post_var,
        ptox=ptox,
        ptox_lower=dose_toxicity(estimate + half, dosescaled, model, intcpt),
        ptox_upper=dose_toxicity(estimate - half, dosescaled, model, intcpt),
        mtd=crm_mtd(ptox, target),
        target=target,
        model=model,
        prior_var=prior_var,
        intcpt=intcpt,
        conf_level=conf_level,
        dosescaled=dosescaled,
    )


def crm_posterior_mean(
    skeleton: Sequence[float] | np.ndarray,
    npts: np.ndarray,
    ntox: np.ndarray,
    model: Model = "empiric",
    prior_var: float = PRIOR_VAR,
    intcpt: float = 3.0,
) -> np.ndarray:
    """Posterior mean of ``a`` from per-dose counts, vectorised over trials (no TITE weights).

    ``npts``, ``ntox``: arrays of shape (..., K) of patients and DLTs per dose (the sufficient
    statistics of the plain CRM likelihood). Returns shape (...). Same fixed rule as
    :func:`crm_posterior`, for simulating many trials at once.
    """
    dosescaled = scaled_doses(skeleton, model, intcpt)
    nodes, log_weights, log_p, log_q = _tables(tuple(dosescaled.tolist()), model, intcpt,
                                               float(np.sqrt(prior_var)))
    npts = np.asarray(npts, dtype=float)
    ntox = np.asarray(ntox, dtype=float)
    counts = np.concatenate([npts, ntox], axis=-1).reshape(-1, 2 * dosescaled.size)
    first, group = group_rows(counts.astype(np.int64))  # trials share counts
    rows = first.size
    unique = np.pad(counts[first], ((0, -rows % _BLOCK), (0, 0)))  # whole blocks (_BLOCK)
    n, y = np.split(unique.astype(np.int64), 2, axis=1)
    tables = (tuple(dosescaled.tolist()), model, intcpt, float(np.sqrt(prior_var)))
    stack, index = _table_stack(tables, n, y)
    # rows with equal tables together, so a block can skip a dose none of its rows was given
    order = np.lexsort(index.T[::-1])
    n, y, index = n[order], y[order], index[order]
    prior = np.exp(log_weights - log_weights.max())
    mean = np.empty(n.shape[0])
    for start in range(0, n.shape[0], _BLOCK):
        block = slice(start, start + _BLOCK)
        density = prior * stack[index[block, 0]]
        for dose in range(1, n.shape[1]):
            if index[block, dose].any():  # a factor 1 (table 0) is exact: skipped alike
                density *= stack[index[block, dose]]
        low = np.flatnonzero(density.max(axis=1) < _TABLE_FLOOR)  # far from every peak
        density[low] = np.exp(_log_density(log_weights, log_p, log_q, n[block][low],
                                           y[block][low]))
        mean[block] = (density @ nodes) / density.sum(axis=1)
    mean[order] = mean.copy()
    return mean[:rows][group].reshape(npts.shape[:-1])


# A product of likelihood tables whose maximum falls below this is recomputed in logs.
_TABLE_FLOOR = 1e-250
# Rows of counts whose density is formed at once: (rows x nodes) stays in the core's cache
# through the products (a whole batch at once went through main memory for every one). Every
# block is whole (padded with rows of no patients), so a row's mean is computed alike in any
# batch: BLAS's matrix-vector product sums a lone row in another order than a block's rows.
_BLOCK = 32


def _table_stack(tables: tuple, n: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The likelihood tables the counts ``n``, ``y`` (rows, K) need, stacked (tables, nodes),
    row 0 all ones (no patients at a dose), and each row's table per dose (rows, K): the
    density of a row is the prior times its K tables, in dose order (a factor 1 is exact, so
    these are the bits of multiplying only the doses with patients)."""
    doses = np.broadcast_to(np.arange(n.shape[1]), n.shape)
    treated = n > 0
    triples = np.column_stack([doses[treated], n[treated], y[treated]])
    first, group = group_rows(triples)
    ones = np.ones((1, _tables(*tables)[0].size))
    stack = np.vstack([ones, *(_likelihood_table(tables, *map(int, t)) for t in triples[first])])
    index = np.zeros(n.shape, np.int64)
    index[treated] = group + 1
    return stack, index


@functools.lru_cache(maxsize=4096)
def _likelihood_table(tables: tuple, dose: int, patients: int, dlts: int) -> np.ndarray:
    """The likelihood of ``dlts`` DLTs in ``patients`` at ``dose`` on the quadrature nodes of
    ``_tables(*tables)``, scaled to maximum 1: a posterior of per-dose counts is the prior
    weights times one such table per dose with patients, a few multiplications per node
    instead of an exponential (cached: simulated trials share them)."""
    _, _, log_p, log_q = _tables(*tables)
    log_l = dlts * log_p[dose] + (patients - dlts) * log_q[dose]
    log_l -= log_l.max()
    # exp is 0 below _ZERO_EXP but takes several times as long there (underflow): skipped
    table = np.exp(log_l, out=np.zeros_like(log_l), where=log_l > _ZERO_EXP)
    table.flags.writeable = False
    return table


# exp(x) rounds to 0.0 for every x below this (half the smallest subnormal is exp(-745.13...))
_ZERO_EXP = -746.0


def _log_density(log_weights: np.ndarray, log_p: np.ndarray, log_q: np.ndarray,
                 n: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(rows, nodes): log(weight x prior x likelihood) of per-dose counts, each row shifted
    to maximum 0."""
    log_density = log_weights + y @ log_p + (n - y) @ log_q
    return log_density - log_density.max(axis=1, keepdims=True)


def crm_tite_posterior_mean(
    skeleton: Sequence[float] | np.ndarray,
    npts: np.ndarray,
    ntox: np.ndarray,
    pending: np.ndarray,
    model: Model = "empiric",
    prior_var: float = PRIOR_VAR,
    intcpt: float = 3.0,
) -> np.ndarray:
    """TITE-CRM posterior mean of ``a`` from per-dose counts, vectorised over trials.

    ``pending`` (..., K, T) counts patients without a DLT still in a T-day window by whole days
    followed (0 .. T - 1); they are part of ``npts``. Each contributes log(1 - (d / T) p), every
    other patient without a DLT log(1 - p): dfcrm's ``titecrm`` with the linear weights
    ``min(followup / obswin, 1)`` (Cheung & Chappell 2000). Same fixed rule as
    :func:`crm_posterior`; with no one pending it equals :func:`crm_posterior_mean`.
    """
    dosescaled = scaled_doses(skeleton, model, intcpt)
    nodes, log_weights, log_p, log_q = _tables(tuple(dosescaled.tolist()), model, intcpt,
                                               float(np.sqrt(prior_var)))
    pending = np.asarray(pending, dtype=float)
    k, window = pending.shape[-2:]
    npts = np.asarray(npts, dtype=float).reshape(-1, k)
    ntox = np.asarray(ntox, dtype=float).reshape(-1, k)
    waiting = pending.reshape(-1, k, window)
    weights = np.arange(window) / window
    log_tite = np.log1p(-weights[None, :, None] * np.exp(log_p)[:, None, :])  # (K, T, N)
    complete = npts - ntox - waiting.sum(axis=2)
    loglik = (ntox @ log_p + complete @ log_q
              + waiting.reshape(-1, k * window) @ log_tite.reshape(k * window, -1))
    mean, _ = _moments(log_weights + loglik, nodes, with_var=False)
    return mean.reshape(np.shape(pending)[:-2])


def crmsim_restrict(recommended: int | np.ndarray, current_level: int | np.ndarray,
                    cohort_dlt_rate: float | np.ndarray, target: float) -> int | np.ndarray:
    """dfcrm ``crmsim``'s ``restrict=TRUE`` rule applied to the model's recommendation.

    ``current_level`` is the dose of the most recent cohort (the last patient), not the highest
    dose tried. If that cohort's DLT proportion is >= ``target`` (with one patient: a DLT), the
    next dose is at most ``current_level`` (coherence: no escalation right after a DLT);
    otherwise at most ``current_level + 1`` (no skipping when escalating). De-escalation is never
    restricted.
    """
    cap = np.where(np.asarray(cohort_dlt_rate) >= target, current_level,
                   np.asarray(current_level) + 1)
    out = np.minimum(recommended, cap)
    return int(out) if np.ndim(out) == 0 else out


def crmsim_next_dose(
    skeleton: Sequence[float] | np.ndarray,
    target: float,
    level: Sequence[int] | np.ndarray,
    tox: Sequence[int] | np.ndarray,
    x0: int,
    cohort_size: int = 1,
    restrict: bool = True,
    model: Model = "empiric",
    prior_var: float = PRIOR_VAR,
    intcpt: float = 3.0,
) -> tuple[int, float]:
    """Next cohort's dose and the posterior mean it used, as dfcrm ``crmsim`` (one-stage).

    No patients yet: ``(x0, 0.0)`` (crmsim records beta.hat = 0 for the first cohort).
    Otherwise :func:`crm_mtd` of the plug-in curve at the posterior mean from all patients so
    far, then :func:`crmsim_restrict` on the last ``cohort_size`` outcomes if ``restrict``.
    """
    level = np.asarray(level, dtype=int)
    tox = np.asarray(tox, dtype=int)
    if level.size == 0:
        return x0, 0.0
    dosescaled, estimate, _ = _posterior_moments(  # crmsim calls crm(..., var.est=FALSE)
        skeleton, level, tox, model, prior_var, intcpt, None, "fixed"
    )
    dose = crm_mtd(dose_toxicity(estimate, dosescaled, model, intcpt), target)
    if restrict:
        dose = crmsim_restrict(dose, int(level[-1]), tox[-cohort_size:].sum() / cohort_size,
                               target)
    return dose, estimate


def getprior(halfwidth: float, target: float, nu: int, nlevel: int, model: Model = "empiric",
             intcpt: float = 3.0) -> np.ndarray:
    """Skeleton with indifference intervals target +/- ``halfwidth``, as dfcrm's ``getprior``.

    Lee & Cheung (2009): the prior MTD ``nu`` (1-based) gets skeleton ``target``; going up, dose
    k+1 is placed so that the working curve through p_k = target - halfwidth passes through
    p_{k+1} = target + halfwidth (the switching point between k and k+1), and likewise going
    down. Empiric: log(s_{k+1}) / log(s_k) = log(target + hw) / log(target - hw). Logistic: the
    scaled doses satisfy x_{k+1} / x_k = (logit(target + hw) - intcpt) /
    (logit(target - hw) - intcpt), and the skeleton is 1 / (1 + exp(-intcpt - x)).
    The arithmetic follows dfcrm's (via the switching points b_k = log(...)).
    """
    if not 1 <= nu <= nlevel:
        raise ValueError("nu must be a dose level between 1 and nlevel")
    if not 0 < halfwidth < min(target, 1 - target):
        raise ValueError("need 0 < halfwidth < min(target, 1 - target)")
    if model == "empiric":  # dfcrm works on the skeleton itself, through log(.)
        low, high = np.log(target - halfwidth), np.log(target + halfwidth)
        to_x, from_x, start = np.log, np.exp, target
    elif model == "logistic":  # ... and on the scaled doses here
        low = np.log((target - halfwidth) / (1 - target + halfwidth)) - intcpt
        high = np.log((target + halfwidth) / (1 - target - halfwidth)) - intcpt
        to_x = from_x = np.positive  # identity
        start = np.log(target / (1 - target)) - intcpt
    else:
        raise ValueError(f"unknown model {model!r}")
    scaled = np.full(nlevel, np.nan)
    scaled[nu - 1] = start
    for k in range(nu - 1, 0, -1):  # downwards: b_k = log(high / x_k)
        scaled[k - 1] = from_x(low / np.exp(np.log(high / to_x(scaled[k]))))
    for k in range(nu - 1, nlevel - 1):  # upwards: b_{k+1} = log(low / x_k)
        scaled[k + 1] = from_x(high / np.exp(np.log(low / to_x(scaled[k]))))
    return scaled if model == "empiric" else (1 + np.exp(-intcpt - scaled)) ** -1.0
