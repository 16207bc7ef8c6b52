"""Priors on a model's parameters: what the engines need of a prior, and two families.

An engine asks a prior for these things:

- ``log_density(theta)``: the normalised log density at parameter vectors ``theta`` (..., 2)
  (the brute-force integrator and any engine that evaluates the prior pointwise);
- ``frame``: a bivariate normal that covers the prior, on which the exact engine shears its
  grid (rows at fixed log beta, nodes along log alpha centred on the frame's conditional mean),
  and from which the MCMC engine starts its non-centred parameterisation;
- ``log_density_in_frame(z, s)``: the log density at the frame's standardised coordinates
  (z along log beta, s along log alpha given log beta), up to a constant: what the exact
  engine adds to the log-likelihood at its grid nodes;
- ``grid_scales()``: the smallest standard deviations, along z and along s given z, of any
  part of the prior in the frame's coordinates: what a grid must resolve (the exact engine
  refuses a prior narrower than its grid resolves, rather than answer beyond its error bound);
- ``frame_extent(sds)``: the half-width, in frame sds, that holds every part of the prior out
  to ``sds`` of its own standard deviations (the exact engine widens its grid to it);
- ``pymc_log_density(theta)``: the same normalised log density as a PyTensor expression
  (MCMC);
- ``kind``, ``derived``, ``explanation`` and ``as_dict()``: the family and how the prior was
  chosen, for the outputs.

A prior family is one class with these methods; the engines never see a mean or a
covariance. ``BivariateNormal`` is its own frame (its density in the frame's coordinates is
exactly the standard normal's), so the grid and the sampler are as they were designed for it.
``Mixture`` (a weighted sum of bivariate normals, as a meta-analytic-predictive prior is
approximated) uses the moment-matched normal as its frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Protocol

import numpy as np


class Prior(Protocol):
    """What an engine needs of a prior on (log alpha, log beta)."""

    kind: ClassVar[str]  # "normal", "mixture": the family, as recommend's JSON names it
    derived: bool
    explanation: str

    @property
    def frame(self) -> BivariateNormal: ...

    def log_density(self, theta: np.ndarray) -> np.ndarray: ...

    def log_density_in_frame(self, z: np.ndarray, s: np.ndarray) -> np.ndarray: ...

    def grid_scales(self) -> tuple[float, float]: ...

    def frame_extent(self, sds: float) -> float: ...

    def pymc_log_density(self, theta: Any) -> Any: ...

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class BivariateNormal:
    """Bivariate normal prior on (log alpha, log beta)."""

    kind: ClassVar[str] = "normal"
    mean: tuple[float, float]
    sd: tuple[float, float]
    correlation: float
    derived: bool = False
    explanation: str = ""

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (*self.mean, *self.sd, self.correlation)):
            raise ValueError("a bivariate normal needs finite means, sds and correlation")
        if not (min(self.sd) > 0 and -1 < self.correlation < 1):
            raise ValueError("a bivariate normal needs sds > 0 and a correlation in (-1, 1)")

    @classmethod
    def from_covariance(cls, mean: Any, cov: Any) -> BivariateNormal:
        """The normal with this mean vector and covariance matrix."""
        cov = np.asarray(cov, dtype=float)
        sd = np.sqrt(np.diag(cov))
        return cls(tuple(float(m) for m in mean), (float(sd[0]), float(sd[1])),
                   float(cov[0, 1] / (sd[0] * sd[1])))

    @property
    def cov(self) -> list[list[float]]:
        s1, s2 = self.sd
        c = self.correlation * s1 * s2
        return [[s1 * s1, c], [c, s2 * s2]]

    @property
    def frame(self) -> BivariateNormal:
        return self

    @cached_property
    def _precision(self) -> np.ndarray:
        return np.linalg.inv(np.asarray(self.cov))

    @cached_property
    def _log_norm(self) -> float:
        """The log of the density's normalising constant."""
        return -math.log(2 * math.pi) - 0.5 * math.log(np.linalg.det(self.cov))

    def log_density(self, theta: np.ndarray) -> np.ndarray:
        d = np.asarray(theta, dtype=float) - np.asarray(self.mean)
        return self._log_norm - 0.5 * np.einsum("...i,ij,...j->...", d, self._precision, d)

    def log_density_in_frame(self, z: np.ndarray, s: np.ndarray) -> np.ndarray:
        return -(z**2 + s**2) / 2

    def grid_scales(self) -> tuple[float, float]:
        return 1.0, 1.0  # its own frame: standard normal in z and in s

    def frame_extent(self, sds: float) -> float:
        return sds

    def pymc_log_density(self, theta: Any) -> Any:
        import pytensor.tensor as pt

        d = theta - np.asarray(self.mean)
        return self._log_norm - 0.5 * pt.dot(d, pt.dot(self._precision, d))

    def in_frame(self, frame: BivariateNormal) -> tuple[np.ndarray, np.ndarray]:
        """This normal's mean (z, s) and covariance in ``frame``'s standardised coordinates."""
        (sd_a, sd_b), rho = frame.sd, frame.correlation
        # (z, s) = A (theta - frame mean), theta in (log alpha, log beta) order
        a = np.array([[0.0, 1 / sd_b],
                      [1 / (sd_a * math.sqrt(1 - rho**2)),
                       -rho / (sd_b * math.sqrt(1 - rho**2))]])
        return a @ (np.asarray(self.mean) - np.asarray(frame.mean)), a @ np.asarray(self.cov) @ a.T

    def to_frame(self, z: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log alpha, log beta) at the standardised coordinates (z, s) of this normal."""
        (mu_a, mu_b), (sd_a, sd_b) = self.mean, self.sd
        rho = self.correlation
        log_beta = mu_b + sd_b * z
        log_alpha = mu_a + rho * sd_a * z + sd_a * math.sqrt(1 - rho**2) * s
        return log_alpha, log_beta

    def as_dict(self) -> dict[str, Any]:
        return {
            "mean": list(self.mean),
            "sd": list(self.sd),
            "correlation": self.correlation,
            "derived": self.derived,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Mixture:
    """A mixture of bivariate normals: ``sum_k weight_k N(mean_k, cov_k)``, weights summing
    to one. Its frame is the moment-matched normal (the mixture's mean and covariance);
    ``frame_extent`` and ``grid_scales`` tell the exact engine how far to widen and how much
    to refine its grid so that it covers every component."""

    kind: ClassVar[str] = "mixture"
    weights: tuple[float, ...]
    components: tuple[BivariateNormal, ...]
    derived: bool = False
    explanation: str = ""

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.components) or not self.components:
            raise ValueError("a mixture needs one weight per component, and a component")
        if any(w <= 0 for w in self.weights) or not math.isclose(sum(self.weights), 1.0):
            raise ValueError("mixture weights must be positive and sum to 1")

    @cached_property
    def frame(self) -> BivariateNormal:
        w = np.asarray(self.weights)
        means = np.array([c.mean for c in self.components])
        mean = w @ means
        cov = sum(wk * (np.asarray(c.cov) + np.outer(m - mean, m - mean))
                  for wk, c, m in zip(w, self.components, means, strict=True))
        return BivariateNormal.from_covariance(mean, cov)

    def log_density(self, theta: np.ndarray) -> np.ndarray:
        terms = [math.log(w) + c.log_density(theta)
                 for w, c in zip(self.weights, self.components, strict=True)]
        return np.logaddexp.reduce(np.stack(terms), axis=0)

    def log_density_in_frame(self, z: np.ndarray, s: np.ndarray) -> np.ndarray:
        log_alpha, log_beta = self.frame.to_frame(z, s)
        return self.log_density(np.stack(np.broadcast_arrays(log_alpha, log_beta), axis=-1))

    def grid_scales(self) -> tuple[float, float]:
        """The smallest component sd along z, and along s given z, in the frame."""
        covs = [c.in_frame(self.frame)[1] for c in self.components]
        return (min(math.sqrt(v[0, 0]) for v in covs),
                min(math.sqrt(np.linalg.det(v) / v[0, 0]) for v in covs))

    def frame_extent(self, sds: float) -> float:
        """The farthest any component reaches, in frame sds, out to ``sds`` of its own."""
        frame = self.frame
        reach = 0.0
        for c in self.components:
            centre, cov = c.in_frame(frame)
            reach = max(reach, *(abs(centre[k]) + sds * math.sqrt(cov[k, k]) for k in (0, 1)))
        return reach

    def pymc_log_density(self, theta: Any) -> Any:
        import pytensor.tensor as pt

        terms = [math.log(w) + c.pymc_log_density(theta)
                 for w, c in zip(self.weights, self.components, strict=True)]
        return pt.logsumexp(pt.stack(terms))

    def as_dict(self) -> dict[str, Any]:
        return {
            "mixture": [{"weight": w, **c.as_dict()}
                        for w, c in zip(self.weights, self.components, strict=True)],
            "derived": self.derived,
            "explanation": self.explanation,
        }


def mixture_of(weights: Sequence[float],
               normals: Sequence[BivariateNormal]) -> BivariateNormal | Mixture:
    """The mixture ``sum_k weight_k normal_k``, weights normalised to sum to one; one normal
    is that bivariate normal itself, so a one-component mixture gives exactly the numbers of
    the same normal prior. The config's mixtures and fitted ones are built here alike, so a
    fitted mixture written to a config reads back equal."""
    if len(normals) == 1:
        return normals[0]
    total = sum(weights)
    weights = tuple(w / total for w in weights)
    return Mixture(weights, tuple(normals), explanation=(
        f"mixture of {len(normals)} bivariate normals, weights "
        + ", ".join(f"{w:g}" for w in weights)))


def mixture_prior(components: Any) -> BivariateNormal | Mixture:
    """The prior of ``[[model.components]]`` (weight, mean, sd, correlation each)."""
    return mixture_of([c.weight for c in components],
                      [BivariateNormal(tuple(c.mean), tuple(c.sd), c.correlation)
                       for c in components])


# The default prior, when [model] gives none: prior medians of P(DLT) at the lowest and the
# highest dose fix the medians of (log alpha, log beta), with standard deviations that let the
# data dominate within a few cohorts. The values are a rule of the panel, tuned by `bayesdose
# calibrate` (derived.* knobs) on 200 random curves of the standard 5-dose panel and checked on
# other panels, targets and reference doses (docs/calibration.md,
# benchmarks/research/calibration.py): sd 1.5 of log alpha is the narrowest that keeps the
# share of patients above the MTD at most BOIN's on 6 doses as well.
@dataclass(frozen=True)
class DerivationRule:
    """How a prior is derived from a dose panel: the prior median P(DLT) at the lowest and at
    the highest dose, and the standard deviations of (log alpha, log beta). ``calibrate``
    tunes these numbers as ``derived.*`` knobs."""

    p_lowest: float = 0.05
    p_highest: float = 0.30
    sd: tuple[float, float] = (1.5, 0.35)

    def __post_init__(self) -> None:
        if not 0 < self.p_lowest < self.p_highest < 1:
            raise ValueError("a derived prior needs 0 < p_lowest < p_highest < 1 (got "
                             f"{self.p_lowest:g} and {self.p_highest:g})")
        if not min(self.sd) > 0:
            raise ValueError(f"a derived prior needs sds > 0 (got {self.sd})")


DEFAULT_RULE = DerivationRule()


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def derive_prior(levels: tuple[float, ...], reference: float, correlation: float,
                 rule: DerivationRule = DEFAULT_RULE) -> BivariateNormal:
    """A weakly informative prior from the dose panel (at least two doses).

    Prior medians: P(DLT) = ``rule.p_lowest`` at the lowest dose and ``rule.p_highest`` at the
    highest, so median beta = (logit p_high - logit p_low) / log(d_high / d_low) and
    median log alpha follows at the reference dose; standard deviations ``rule.sd``.
    """
    lo, hi = _logit(rule.p_lowest), _logit(rule.p_highest)
    beta = (hi - lo) / (math.log(levels[-1]) - math.log(levels[0]))  # ratios could overflow
    log_alpha = hi - beta * (math.log(levels[-1]) - math.log(reference))
    mean = (round(log_alpha, 4), round(math.log(beta), 4))
    explanation = (
        f"derived from the dose panel: prior median P(DLT) {rule.p_lowest:g} at the lowest "
        f"dose and {rule.p_highest:g} at the highest; log alpha ~ N({mean[0]}, "
        f"{rule.sd[0]:g}^2), log beta ~ N({mean[1]}, {rule.sd[1]:g}^2), "
        f"correlation {correlation:g}"
    )
    return BivariateNormal(mean, rule.sd, correlation, True, explanation)
