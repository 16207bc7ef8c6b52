"""A mixture of bivariate normals fitted to draws of (log alpha, log beta).

A meta-analytic-predictive (MAP) prior is known only by its MCMC draws; a protocol fixes it as
a mixture of bivariate normals (``[model] prior = "mixture"``), as RBesT does with
``automixfit(draws, type = "mvnorm")``:

- ``fit_mixture``: the maximum-likelihood mixture of K bivariate normals, by EM started from
  k-means;
- ``automixfit``: K chosen from 1..4 by an information criterion (by default RBesT's: AIC with
  a penalty of 6 per parameter);
- ``robustify``: ``(1 - w) * prior + w * robust``, a weakly informative component added;
- ``mixture_to_toml``: the ``[model]`` section that reads back as the same prior.

How this differs from RBesT (``EM_mnmm``, ``automixfit`` in its sources): RBesT starts EM from
a Student-t mixture EM, itself started from k-means on evenly spaced blocks of the draws, and
declares convergence when a running mean of parameter changes falls below 0.005; here EM
starts from k-means++ with a seed and stops on the change of the log-likelihood. Both are
maximum likelihood; they differ only in the path to the maximum and where they stop.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from bayesdose.models.prior import BivariateNormal, Mixture, mixture_of

# EM stops when an iteration raises the log-likelihood by less than this per draw (0.04 in all
# for 40000 draws). Components the draws need converge fast: on 40000 draws of two normals,
# 2 components stop after 11 iterations within 0.07 of the maximum log-likelihood. Components
# that overlap (more than the draws need) converge slowly: 2 to 4 components on draws of one
# or two normals stop after 80 to 155 iterations, within 2 to 5 of the maximum where measured
# (3000 iterations on): below an extra component's AIC penalty (6 parameters: 18
# log-likelihood units at RBesT's k = 6, 6 at k = 2), so that an overfit loses a little more
# to the criterion than it would at the maximum.
TOLERANCE_PER_DRAW = 1e-6
MAX_ITERATIONS = 2000  # a cap reached warns: the fit is then EM's last iterate
# Added to each component's variances, relative to the draws' own variances: a component
# cannot collapse onto a few draws (where the likelihood is unbounded). The bias is small: a
# component a tenth as wide as the draws has its sds raised by 0.005%, a hundredth by 0.5%.
COVARIANCE_FLOOR = 1e-6
KMEANS_STEPS = 10  # Lloyd steps after the k-means++ seeding, to start EM from clusters
MIN_CLUSTER = 10  # a smaller k-means cluster starts EM from the draws' own covariance
RBEST_PENALTY = 6.0  # RBesT automixfit's default k: AIC = -2 log L + k * parameters


def n_parameters(components: int) -> int:
    """Free parameters of a K-component bivariate normal mixture: 2 means, 2 sds and a
    correlation per component, and K - 1 weights (RBesT counts the same)."""
    return 5 * components + components - 1


def fit_mixture(draws: np.ndarray, components: int, seed: int = 1) -> BivariateNormal | Mixture:
    """The maximum-likelihood mixture of ``components`` bivariate normals for ``draws`` (n, 2).

    One component is the sample mean and the maximum-likelihood covariance (divided by n).
    More are fitted by EM, started from k-means clusters (k-means++ seeding with ``seed``,
    then up to KMEANS_STEPS Lloyd steps, on the draws standardised per column), and stopped
    when the log-likelihood rises by less than TOLERANCE_PER_DRAW per draw; a covariance
    floor (COVARIANCE_FLOOR of the draws' variances) keeps every component from collapsing.
    Components are ordered by weight, largest first. The same draws and seed give the same
    mixture.
    """
    return _fit(_checked(draws, components), components, seed)[0]


@dataclass(frozen=True)
class FitResult:
    """The mixture ``automixfit`` chose, and the criterion it chose it by."""

    prior: BivariateNormal | Mixture
    components: int  # K chosen
    criterion: str  # e.g. "AIC (penalty 6 per parameter)"
    scores: dict[int, float]  # K -> the criterion's value (smaller is better)
    log_likelihood: float  # of the draws under the chosen prior


def automixfit(draws: np.ndarray, max_components: int = 4, criterion: str = "aic",
               seed: int = 1, penalty: float = RBEST_PENALTY) -> FitResult:
    """The mixture of 1..``max_components`` bivariate normals with the smallest criterion.

    ``criterion`` "aic" is ``-2 log L + penalty * parameters``; "bic" is ``-2 log L +
    log(n) * parameters`` (``penalty`` unused). As RBesT's ``automixfit``: it fits Nc = 1..4
    components by default and keeps the one of smallest AIC, whose penalty k is 6 by default
    rather than the textbook 2, to favour fewer components (after Collett 2003, who
    suggests 2 to 6); parameters are counted as ``n_parameters``. Ties go to fewer
    components.
    """
    if criterion not in ("aic", "bic"):
        raise ValueError(f"criterion must be 'aic' or 'bic', got {criterion!r}")
    if criterion == "aic" and not penalty > 0:
        raise ValueError(f"the AIC penalty must be > 0, got {penalty!r}")
    x = _checked(draws, max_components)
    per_parameter = penalty if criterion == "aic" else math.log(len(x))
    fits, scores = {}, {}
    for k in range(1, max_components + 1):
        fits[k] = _fit(x, k, seed)
        scores[k] = -2 * fits[k][1] + per_parameter * n_parameters(k)
    best = min(scores, key=lambda k: (scores[k], k))
    name = f"AIC (penalty {penalty:g} per parameter)" if criterion == "aic" else "BIC"
    return FitResult(fits[best][0], best, name, scores, fits[best][1])


def robustify(prior: BivariateNormal | Mixture, weight: float,
              robust: BivariateNormal) -> BivariateNormal | Mixture:
    """``(1 - weight) * prior + weight * robust``, as RBesT's ``robustify`` (``mixcombine``):
    one mixture whose components are the prior's (a mixture's flattened, weights scaled by
    1 - weight) and then ``robust``. ``weight`` is in [0, 1); 0 gives ``prior`` unchanged.
    The weights sum to exactly one (the robust weight is one minus the others, which differs
    from ``weight`` by a rounding at most), so the result round-trips through a config."""
    if not 0 <= weight < 1:
        raise ValueError(f"the robust weight must be in [0, 1), got {weight!r}")
    if weight == 0:
        return prior
    weights, normals = _parts(prior)
    return mixture_of(_summing_to_one([(1 - weight) * w for w in weights] + [weight]),
                      [*normals, robust])


def mixture_to_toml(prior: BivariateNormal | Mixture, section: str = "model") -> str:
    """The ``[model]`` section (or ``[section]``: ``model.A`` for a drug of two) of a config
    that fixes ``prior``: ``prior = "mixture"`` and one ``[[model.components]]`` table per
    component (a bivariate normal is one component of weight 1). Numbers are written in full
    (``repr``), so the config reads back the same floats; the loader renormalises weights, so
    a mixture reads back equal when its weights sum to exactly one, as ``fit_mixture``'s and
    ``robustify``'s do."""
    lines = [f"[{section}]", 'prior = "mixture"']
    for w, c in zip(*_parts(prior), strict=True):
        lines += ["", f"[[{section}.components]]", f"weight = {float(w)!r}",
                  f"mean = [{float(c.mean[0])!r}, {float(c.mean[1])!r}]",
                  f"sd = [{float(c.sd[0])!r}, {float(c.sd[1])!r}]",
                  f"correlation = {float(c.correlation)!r}"]
    return "\n".join(lines) + "\n"


def _parts(prior: BivariateNormal | Mixture) -> tuple[list[float], list[BivariateNormal]]:
    """A prior's weights and normals: a bivariate normal is one component of weight 1."""
    if isinstance(prior, Mixture):
        return list(prior.weights), list(prior.components)
    return [1.0], [prior]


def _summing_to_one(weights: list[float]) -> list[float]:
    """``weights`` with the last replaced by one minus the others: then ``sum`` of them, in
    order, is exactly 1.0 (with s the others' sum, 1 - s is exact when s >= 1/2 and rounds
    by at most 2**-54 otherwise, which s + (1 - s) rounds away), so the config loader's
    normalisation leaves them as they are."""
    head = [float(w) for w in weights[:-1]]
    return [*head, 1.0 - sum(head)]


def _checked(draws: np.ndarray, components: int) -> np.ndarray:
    """``draws`` as an (n, 2) float array, after the checks a fit of ``components`` needs."""
    x = np.asarray(draws, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"draws must be an (n, 2) array of (log alpha, log beta), got shape "
                         f"{x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("draws must be finite")
    if not (isinstance(components, int) and components >= 1):
        raise ValueError(f"components must be an integer >= 1, got {components!r}")
    if len(x) <= n_parameters(components):
        raise ValueError(f"{len(x)} draws cannot fit {components} components "
                         f"({n_parameters(components)} parameters)")
    cov = np.cov(x, rowvar=False, bias=True)
    if not np.linalg.det(cov) > 1e-12 * cov[0, 0] * cov[1, 1]:
        raise ValueError("the draws lie on a line (or a point): no bivariate normal fits them")
    return x


def _fit(x: np.ndarray, k: int, seed: int) -> tuple[BivariateNormal | Mixture, float]:
    """The fitted prior and the log-likelihood of ``x`` under it."""
    if k == 1:
        prior = BivariateNormal.from_covariance(x.mean(axis=0),
                                                np.cov(x, rowvar=False, bias=True))
        return prior, float(prior.log_density(x).sum())
    floor = COVARIANCE_FLOOR * np.diag(x.var(axis=0))
    weights, means, covs = _kmeans_start(x, k, seed, floor)
    # Both steps are one matrix product with the draws' features (1, x, y, x^2, xy, y^2):
    # a log density is linear in them, and so are the moments of the M step. The draws are
    # centred first, so that the squares lose no precision to a distant mean.
    centre = x.mean(axis=0)
    u, v = (x - centre).T
    features = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v])  # (6, n)
    means = means - centre
    log_likelihood = -math.inf
    for _ in range(MAX_ITERATIONS):
        # einsum rather than @: no BLAS threads, so the same on every machine, and no faster
        # to thread at this size
        log_joint = np.einsum("kf,fn->kn", _log_density_coefficients(weights, means, covs),
                              features)
        top = log_joint.max(axis=0)
        # the one exp of an iteration, shared by both uses; a term below e^-100 of the largest
        # counts for nothing, and exp is several times slower on far smaller numbers
        joint = np.exp(np.maximum(log_joint - top, -100.0))
        total = joint.sum(axis=0)
        previous, log_likelihood = log_likelihood, float((top + np.log(total)).sum())
        if log_likelihood - previous < TOLERANCE_PER_DRAW * len(x):
            break
        weights, means, covs = _m_step(np.einsum("kn,fn->kf", joint / total, features),
                                       floor)
    else:
        warnings.warn(f"EM for {k} components stopped at {MAX_ITERATIONS} iterations, the "
                      f"log-likelihood still rising by {log_likelihood - previous:.3g}",
                      RuntimeWarning, stacklevel=3)
    order = np.argsort(-weights, kind="stable")
    normals = [BivariateNormal.from_covariance(means[j] + centre, covs[j]) for j in order]
    prior = mixture_of(_summing_to_one(list(weights[order])), normals)
    return prior, float(prior.log_density(x).sum())


def _log_density_coefficients(weights: np.ndarray, means: np.ndarray,
                              covs: np.ndarray) -> np.ndarray:
    """(k, 6): log(weight_j N(x; mean_j, cov_j)) is row j times the features
    (1, x, y, x^2, xy, y^2) of x = (x, y), expanding the quadratic form with P = cov^-1:
    -(x - m)' P (x - m) / 2 = -x' P x / 2 + (P m)' x - m' P m / 2."""
    precision = np.linalg.inv(covs)  # (k, 2, 2)
    pm = np.einsum("kij,kj->ki", precision, means)
    constant = (np.log(weights) - math.log(2 * math.pi) - 0.5 * np.log(np.linalg.det(covs))
                - 0.5 * np.einsum("ki,ki->k", means, pm))
    return np.column_stack([constant, pm[:, 0], pm[:, 1], -0.5 * precision[:, 0, 0],
                            -precision[:, 0, 1], -0.5 * precision[:, 1, 1]])


def _m_step(moments: np.ndarray,
            floor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, means and covariances (plus the floor) from each component's
    responsibility-weighted sums (k, 6) of the features (1, x, y, x^2, xy, y^2)."""
    totals = moments[:, 0]
    m = moments[:, 1:] / totals[:, None]  # E x, E y, E x^2, E xy, E y^2 per component
    means = m[:, :2]
    covs = np.empty((len(totals), 2, 2))
    covs[:, 0, 0] = m[:, 2] - means[:, 0] ** 2
    covs[:, 0, 1] = covs[:, 1, 0] = m[:, 3] - means[:, 0] * means[:, 1]
    covs[:, 1, 1] = m[:, 4] - means[:, 1] ** 2
    return totals / totals.sum(), means, covs + floor


def _kmeans_start(x: np.ndarray, k: int, seed: int,
                  floor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EM's start: weights, means and covariances of k-means clusters of the draws.

    The draws are standardised per column so that neither parameter dominates the distance;
    k-means++ (each new centre a draw chosen with probability proportional to its squared
    distance from the nearest centre) seeds up to KMEANS_STEPS Lloyd steps. A cluster of
    fewer than MIN_CLUSTER draws starts from the draws' own covariance.
    """
    rng = np.random.default_rng(seed)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    centres = [z[rng.integers(len(z))]]
    for _ in range(1, k):
        nearest = ((z[:, None, :] - np.array(centres)[None]) ** 2).sum(axis=2).min(axis=1)
        centres.append(z[rng.choice(len(z), p=nearest / nearest.sum())])
    labels = _nearest(z, np.array(centres))
    # every cluster holds its own centre (the centres are distinct draws); a Lloyd step that
    # would empty a cluster, leaving its centre undefined, is not taken
    for _ in range(KMEANS_STEPS):
        new = _nearest(z, np.array([z[labels == j].mean(axis=0) for j in range(k)]))
        if np.bincount(new, minlength=k).min() == 0 or np.array_equal(new, labels):
            break
        labels = new
    weights, means, covs = np.empty(k), np.empty((k, 2)), np.empty((k, 2, 2))
    whole = np.cov(x, rowvar=False, bias=True)
    for j in range(k):
        members = x[labels == j]
        weights[j] = len(members) / len(x)
        means[j] = members.mean(axis=0)
        covs[j] = (np.cov(members, rowvar=False, bias=True) if len(members) >= MIN_CLUSTER
                   else whole) + floor
    return weights, means, covs


def _nearest(z: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The index of each point's nearest centre (the first, on a tie)."""
    return ((z[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
