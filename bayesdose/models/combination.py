"""The two-drug Bayesian logistic regression model (Neuenschwander, Matano, Tang, Roychoudhury,
Wandel & Bailey 2015), in OncoBayes2's form (``blrm_exnex`` with ``blrm_formula_linear`` or
``blrm_formula_saturating``; its "MAP approach" vignette, appendix "Combination BLRM").

Each drug alone: logit p_i(d_i) = log alpha_i + beta_i log(d_i / d*_i), beta_i = exp(log beta_i),
i = A, B. Without interaction the two act independently: p0 = 1 - (1 - p_A)(1 - p_B). The
interaction multiplies the odds:

    odds(p_AB) = odds(p0) exp(eta g(x)),   x = (d_A / d*_A)(d_B / d*_B),

with g(x) = 0 (``"none"``), g(x) = x (``"linear"``: OncoBayes2's ``blrm_formula_linear``) or
g(x) = 2x / (1 + x) (``"saturating"``: ``blrm_formula_saturating``, which bounds the interaction
at an odds ratio exp(2 eta) and equals the linear form's exp(eta) at the reference pair). A dose
of 0 is that drug absent (p_i = 0, and x = 0 so g = 0): monotherapy rows of either drug belong to
the same trial. OncoBayes2 encodes an absent drug as log(0) = -Inf in the design matrix and
drops that drug's term; ``tests/reference/oncobayes2/combo_blrm.R`` checks this formula on
OncoBayes2 0.8-8's draws against its own ``summary()`` (agreement to 1e-16).

Parameters theta = (log alpha_A, log beta_A, log alpha_B, log beta_B, eta), in that order. Prior:
each drug's (log alpha_i, log beta_i) through ``bayesdose.models.prior`` (a bivariate normal or a
mixture, e.g. a MAP prior), independent of each other and of eta ~ N(mean, sd^2).

Computation is on the log-odds scale: with l_i the linear predictors, log(1 - p0) =
-softplus(l_A) - softplus(l_B) = -S, so logit p0 = log(-expm1(-S)) + S, stable at both ends
(p0 near 0 or 1; where S underflows, log S is summed in log space). Each drug's softplus is
computed once per dose level and shared by the pairs that contain it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesdose.models.prior import BivariateNormal, Mixture

PARAMETERS = ("log_alpha_A", "log_beta_A", "log_alpha_B", "log_beta_B", "eta")
FORMS = ("none", "linear", "saturating")
# OncoBayes2's vignette prior for eta: odds multipliers within [1/9, 9] with probability 0.95
DEFAULT_ETA_SD = math.log(9) / 1.96


@dataclass(frozen=True)
class Interaction:
    """The interaction term: its form and eta's normal prior."""

    form: str = "saturating"
    prior_mean: float = 0.0
    prior_sd: float = DEFAULT_ETA_SD

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"interaction form must be one of {', '.join(FORMS)}, "
                             f"not {self.form!r}")
        if not (math.isfinite(self.prior_mean) and self.prior_sd > 0):
            raise ValueError("the interaction prior needs a finite mean and an sd > 0")

    def g(self, x: np.ndarray) -> np.ndarray:
        """g(x) of the form, x = (d_A / d*_A)(d_B / d*_B)."""
        if self.form == "linear":
            return x
        if self.form == "saturating":
            return 2 * x / (1 + x)
        return np.zeros_like(x)

    def log_density(self, eta: np.ndarray) -> np.ndarray:
        z = (eta - self.prior_mean) / self.prior_sd
        return -0.5 * z * z - math.log(self.prior_sd * math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class Covariates:
    """What the model needs of dose pairs (pairs on the last axis): each drug's log dose
    ratio (0 where absent), whether it is present, and the interaction covariate g; and, per
    drug, its distinct log dose ratios (``levels``) and each pair's index into them
    (``level_of``; the number of levels where the drug is absent), so that a drug's
    log-odds are computed once per level, not once per pair."""

    log_ratio: np.ndarray  # (2, pairs)
    present: np.ndarray  # (2, pairs) bool
    g: np.ndarray  # (pairs,)
    levels: tuple[np.ndarray, np.ndarray]
    level_of: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class CombinationBlrm:
    """The two-drug BLRM: the reference doses, each drug's prior and the interaction."""

    reference: tuple[float, float]
    prior_a: BivariateNormal | Mixture
    prior_b: BivariateNormal | Mixture
    interaction: Interaction = Interaction()

    def __post_init__(self) -> None:
        if not all(math.isfinite(r) and r > 0 for r in self.reference):
            raise ValueError("reference doses must be finite and > 0")

    def covariates(self, pairs: Any) -> Covariates:
        """The covariates of dose pairs ``pairs`` (pairs, 2): doses >= 0, 0 = absent, at
        least one drug given in each pair."""
        doses = np.asarray(pairs, dtype=float)
        if doses.ndim != 2 or doses.shape[1] != 2:
            raise ValueError("dose pairs must be an array of shape (pairs, 2)")
        if not np.isfinite(doses).all() or (doses < 0).any():
            raise ValueError("doses must be finite and >= 0 (0: the drug is absent)")
        if (doses.sum(axis=1) == 0).any():
            raise ValueError("each pair must give at least one drug")
        ratio = doses / np.asarray(self.reference)
        present = (ratio > 0).T
        log_ratio = np.where(present, np.log(np.where(present, ratio.T, 1.0)), 0.0)
        levels, level_of = [], []
        for i in range(2):
            values, index = np.unique(log_ratio[i][present[i]], return_inverse=True)
            where = np.full(len(doses), len(values))
            where[present[i]] = index
            levels.append(values)
            level_of.append(where)
        return Covariates(log_ratio, present, self.interaction.g(ratio[:, 0] * ratio[:, 1]),
                          tuple(levels), tuple(level_of))

    def log_odds(self, theta: np.ndarray, cov: Covariates) -> np.ndarray:
        """logit P(DLT) at parameter vectors ``theta`` (..., 5) and the pairs of ``cov``:
        shape (..., pairs). S = softplus(l_A) + softplus(l_B) (each drug's term once per dose
        level, 0 where absent) and logit p0 = S + log(1 - e^-S); where S underflows (a linear
        predictor below about -700) the same in logs."""
        theta = np.asarray(theta, dtype=float)
        lin = [self._linear(theta, cov, i) for i in range(2)]
        s = sum(_per_pair(np.logaddexp(0.0, lin[i]), cov, i) for i in range(2))
        with np.errstate(divide="ignore"):
            lp = s + np.log(-np.expm1(-s))
        tiny = s < 1e-300
        if tiny.any():
            log_s = np.logaddexp(*(_per_pair(_log_softplus(lin[i]), cov, i, -np.inf)[tiny]
                                   for i in range(2)))
            lp[tiny] = log_s
        return lp + theta[..., 4][..., None] * cov.g

    @staticmethod
    def _linear(theta: np.ndarray, cov: Covariates, i: int) -> np.ndarray:
        """Drug i's linear predictor at its dose levels: (..., levels)."""
        return theta[..., 2 * i][..., None] + np.exp(theta[..., 2 * i + 1])[..., None] * (
            cov.levels[i])

    def log_odds_and_gradient(self, theta: np.ndarray, cov: Covariates
                              ) -> tuple[np.ndarray, np.ndarray]:
        """logit P(DLT) (..., pairs) and its gradient in theta (..., pairs, 5):
        d/dl_i = p_i / p0 (l_i drug i's linear predictor), d/deta = g."""
        theta = np.asarray(theta, dtype=float)
        lp = self.log_odds(theta, cov)
        eta_g = theta[..., 4][..., None] * cov.g
        log_p0 = -np.logaddexp(0.0, eta_g - lp)  # log p0 = -softplus(-logit p0)
        grad = np.empty(lp.shape + (5,))
        for i in range(2):
            log_p = -np.logaddexp(0.0, -self._linear(theta, cov, i))
            dl = np.exp(_per_pair(log_p, cov, i, -np.inf) - log_p0)
            grad[..., 2 * i] = dl
            grad[..., 2 * i + 1] = dl * np.exp(theta[..., 2 * i + 1])[..., None] * (
                cov.log_ratio[i])
        grad[..., 4] = cov.g
        return lp, grad

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        """The normalised log prior density at ``theta`` (..., 5)."""
        theta = np.asarray(theta, dtype=float)
        return (self.prior_a.log_density(theta[..., 0:2])
                + self.prior_b.log_density(theta[..., 2:4])
                + self.interaction.log_density(theta[..., 4]))

    def prior_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """The prior's mean and covariance (5, 5): each drug's moment-matched normal (its
        prior's frame) and eta's; the drugs and eta are independent a priori."""
        mean = np.zeros(5)
        cov = np.zeros((5, 5))
        for i, prior in enumerate((self.prior_a, self.prior_b)):
            frame = prior.frame
            mean[2 * i:2 * i + 2] = frame.mean
            cov[2 * i:2 * i + 2, 2 * i:2 * i + 2] = frame.cov
        mean[4], cov[4, 4] = self.interaction.prior_mean, self.interaction.prior_sd**2
        return mean, cov


def _per_pair(values: np.ndarray, cov: Covariates, i: int, absent: float = 0.0
              ) -> np.ndarray:
    """Drug i's per-level ``values`` (..., levels) at each pair (..., pairs), ``absent``
    where the drug is not given."""
    padded = np.concatenate([values, np.full(values.shape[:-1] + (1,), absent)], axis=-1)
    return np.take(padded, cov.level_of[i], axis=-1)


def _log_softplus(x: np.ndarray) -> np.ndarray:
    """log(log(1 + e^x)), exact to double precision also where e^x underflows."""
    return np.where(x < -30, x, np.log(np.logaddexp(0.0, np.maximum(x, -30))))


def log_likelihood(log_odds: np.ndarray, n: np.ndarray, dlt: np.ndarray,
                   pending: np.ndarray | None = None) -> np.ndarray:
    """Binomial log-likelihood (without the binomial coefficients) summed over pairs (last
    axis): sum y l - n softplus(l), l = logit p. Pairs without patients in any data set are
    skipped (they add exactly 0, so a data set's value does not depend on its batch).

    ``pending`` (..., pairs, T), with a DLT window of T days: patients still in follow-up
    without a DLT, by whole days followed d (part of ``n``); each counts with the TITE
    likelihood 1 - (d / T) p (Cheung & Chappell 2000, as the single agent's engines) in place
    of a complete outcome's 1 - p."""
    n, dlt = np.broadcast_arrays(n, dlt)
    total = np.zeros(np.broadcast_shapes(log_odds.shape, n.shape)[:-1])
    waiting = 0 if pending is None else pending.sum(axis=-1)
    for j in np.flatnonzero(n.reshape(-1, n.shape[-1]).any(axis=0)):
        lp = log_odds[..., j]
        complete = n[..., j] - (0 if pending is None else waiting[..., j])
        total += dlt[..., j] * lp - complete * np.logaddexp(0.0, lp)
        if pending is None:
            continue
        window = pending.shape[-1]
        for day in np.flatnonzero(pending[..., j, :].reshape(-1, window).any(axis=0)):
            if day:  # day 0: weight 0, a factor 1
                w = day / window
                total += pending[..., j, day] * np.logaddexp(
                    math.log1p(-w), math.log(w) - np.logaddexp(0.0, lp))
    return total


def folded_counts(n: np.ndarray, pending: np.ndarray | None) -> np.ndarray:
    """``n`` with each patient in follow-up (``pending``, as ``log_likelihood`` takes it)
    counted as the fraction d / T of a patient without a DLT: log(1 - w p) ~ w log(1 - p), an
    approximation for starting points, never for the posterior itself."""
    if pending is None:
        return n
    window = pending.shape[-1]
    return n - pending.sum(axis=-1) + pending @ (np.arange(window) / window)
