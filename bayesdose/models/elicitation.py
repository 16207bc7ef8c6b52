"""A bivariate normal prior from clinicians' statements about P(DLT) at given doses.

A statement is a quantile of the prior of the DLT rate at a dose: "median DLT rate 10% at the
reference dose" is (dose = d_ref, quantile = 0.5, p_dlt = 0.10); "95% sure it is below 40% at
the top dose" is (dose = top, quantile = 0.95, p_dlt = 0.40). The prior has four unknowns
(the means and sds of log alpha and log beta; the correlation is given), so four statements at
two or more doses fix it, and more are fitted by least squares.

At dose d, x = log(d / d_ref) and eta = logit P(DLT | d) = log alpha + exp(log beta) x. Given
log beta = m_b + s_b z (z standard normal), log alpha is normal with mean
m_a + rho s_a z and sd s_a sqrt(1 - rho^2), so

    P(eta <= c) = E_z[ Phi((c - m_a - rho s_a z - exp(m_b + s_b z) x) / (s_a sqrt(1 - rho^2))) ],

a one-dimensional integral over z, computed by the trapezoidal rule (``GRID_NODES`` nodes on
[-``GRID_HALF_WIDTH``, ``GRID_HALF_WIDTH``]). The integrand is smooth and decays like the
normal density, so the rule converges geometrically; unlike Gauss-Hermite nodes, which are
widely spaced where the integrand can step sharply (a narrow sd of log alpha against a wide
slope at a dose far from d_ref: 200 Gauss-Hermite nodes are up to 3e-3 off), the uniform grid
resolves such steps. At x = 0 the integral is Phi((c - m_a) / s_a), in closed form.

A statement holds when P(eta <= logit(p_dlt)) = quantile. ``scipy.optimize.least_squares``
solves these equations for (m_a, m_b, log s_a, log s_b), on the probit scale (residual
Phi^-1(P) - Phi^-1(quantile), which stays informative far from the solution).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.special import log_ndtr, ndtri, ndtri_exp

from bayesdose.models.prior import BivariateNormal, _logit
from bayesdose.panel import DosePanel
from bayesdose.schema import PRIOR_LIMIT

GRID_NODES = 2001
GRID_HALF_WIDTH = 9.0  # the normal's mass beyond 9 sds is 2e-19
# Largest |fitted level - stated quantile| accepted: four statements are four equations with
# an exact solution or none; more are a least-squares compromise, shown statement by statement.
EXACT_TOLERANCE = 1e-4
LEAST_SQUARES_TOLERANCE = 0.05
# A fit whose Jacobian's smallest singular value is below this fraction of its largest leaves
# some direction of (m_a, m_b, log s_a, log s_b) unfixed by the statements.
RANK_TOLERANCE = 1e-6
SMALLEST_SD = 1e-3
START_SDS = (0.3, 1.0, 3.0)  # each pair of sds of (log alpha, log beta) starts one solve
# Two exact solutions farther apart than this in any of (m_a, m_b, log s_a, log s_b) are two
# priors, not one found twice.
DISTINCT = 1e-3

_Z = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_NODES)
_LOG_W = (np.log(_Z[1] - _Z[0]) - 0.5 * math.log(2 * math.pi) - _Z**2 / 2)[None, :]


@dataclass(frozen=True)
class Statement:
    """A clinician's statement: P(DLT rate at ``dose`` <= ``p_dlt``) = ``quantile``."""

    dose: float
    quantile: float
    p_dlt: float

    def __post_init__(self) -> None:
        if not (self.dose > 0 and 0 < self.quantile < 1 and 0 < self.p_dlt < 1):
            raise ValueError(f"a statement needs dose > 0 and quantile, p_dlt in (0, 1), "
                             f"got {self}")


def _describe(statement: Statement, panel: DosePanel) -> str:
    q, p = statement.quantile, statement.p_dlt
    level = "median" if q == 0.5 else f"{100 * q:.4g}% quantile"
    return f"{level} {p:.4g} at {panel.format(statement.dose)}"


def _check_order(statements: Sequence[Statement], panel: DosePanel) -> None:
    """Every prior of the model has P(DLT) increasing in dose and its quantiles increasing in
    the level, so a statement at a dose and level both at or above another's needs a higher
    rate; otherwise no prior meets both."""
    for i, s in enumerate(statements, start=1):
        for j, t in enumerate(statements, start=1):
            above = (t.dose >= s.dose and t.quantile >= s.quantile
                     and (t.dose, t.quantile) != (s.dose, s.quantile))
            if (above and t.p_dlt <= s.p_dlt) or (
                    (t.dose, t.quantile) == (s.dose, s.quantile) and t.p_dlt != s.p_dlt):
                raise ValueError(
                    f"statements {i} ({_describe(s, panel)}) and {j} ({_describe(t, panel)}) "
                    "contradict each other: the DLT rate's quantiles increase with the dose "
                    "and with the level")


def _standardised(params: np.ndarray, x: np.ndarray,
                  c: np.ndarray, correlation: float) -> tuple[np.ndarray, np.ndarray]:
    """u = (c - E[log alpha | z] - exp(log beta) x) / sd(log alpha | z) at each statement's
    (x, c) (rows) and grid node z (columns), and its derivatives in
    (m_a, m_b, log s_a, log s_b) (first axis)."""
    m_a, m_b, s_a, s_b = params[0], params[1], math.exp(params[2]), math.exp(params[3])
    at_reference = x[:, None] == 0  # eta = log alpha: Phi((c - m_a) / s_a) exactly
    sd = np.where(at_reference, s_a, s_a * math.sqrt(1 - correlation**2))
    shift = np.where(at_reference, 0.0, correlation * s_a * _Z[None, :])
    with np.errstate(over="ignore", invalid="ignore"):  # exp(log beta) overflows far out
        slope = np.exp(m_b + s_b * _Z)[None, :] * x[:, None]  # 0 at the reference
        u = (c[:, None] - m_a - shift - slope) / sd
        du = np.stack([np.broadcast_to(-1 / sd, u.shape), -slope / sd, -shift / sd - u,
                       -slope * s_b * _Z[None, :] / sd])
    return u, du


def _log_tails(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log sum_z w Phi(u) and log sum_z w Phi(-u) per row: log P(eta <= c), log P(eta > c)."""

    def log_sum(terms: np.ndarray) -> np.ndarray:
        top = terms.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(terms - top).sum(axis=1, keepdims=True)))[:, 0]

    return log_sum(_LOG_W + log_ndtr(u)), log_sum(_LOG_W + log_ndtr(-u))


def log_cdf(params: np.ndarray, x: np.ndarray, c: np.ndarray,
            correlation: float) -> tuple[np.ndarray, np.ndarray]:
    """log P(eta <= c) and log P(eta > c) at each (x, c), for the normal with
    ``params`` = (m_a, m_b, log s_a, log s_b) and ``correlation`` (trapezoidal rule over z)."""
    return _log_tails(_standardised(params, x, c, correlation)[0])


def _probit_fit(params: np.ndarray, x: np.ndarray, c: np.ndarray,
                correlation: float) -> tuple[np.ndarray, np.ndarray]:
    """Phi^-1(P(eta <= c)) at each statement, accurate in both tails, and its Jacobian in
    (m_a, m_b, log s_a, log s_b): d Phi^-1(P) = sum_z w phi(u) du / phi(Phi^-1(P))."""
    u, du = _standardised(params, x, c, correlation)
    log_below, log_above = _log_tails(u)
    r = np.where(log_below < log_above, ndtri_exp(log_below), -ndtri_exp(log_above))
    with np.errstate(over="ignore", invalid="ignore"):
        weight = np.exp(_LOG_W - u**2 / 2 + r[:, None] ** 2 / 2)
        jac = np.nan_to_num(np.einsum("in,kin->ik", weight, du))
    return r, jac


def _starts(x: np.ndarray, c: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
    """Starts for the solver: logit p = m_a + beta x + sigma z fitted to the statements (a
    normal approximation of eta with one sd at every dose, slope kept in range), with sds of
    log alpha and log beta from ``START_SDS``: with a correlation, four statements can be met
    by more than one prior, and starts apart find them."""
    design = np.column_stack([np.ones_like(x), x, z])
    (m_a, beta, _), *_ = np.linalg.lstsq(design, c, rcond=None)
    log_beta = math.log(min(max(beta, 0.1), 10.0))
    return [np.array([m_a, log_beta, math.log(s_a), math.log(s_b)])
            for s_a in START_SDS for s_b in START_SDS]


def normal_from_quantiles(panel: DosePanel, statements: Sequence[Any],
                          correlation: float = 0.0) -> BivariateNormal:
    """The bivariate normal prior of (log alpha, log beta), with the given correlation, whose
    quantiles of P(DLT | dose) are the statements' (each with ``dose``, ``quantile`` and
    ``p_dlt``; four or more, at two or more doses; least squares with more than four).

    A ValueError says what is wrong: too few statements, statements that contradict each other
    or that no such prior meets (naming the statement and how far off it is), or statements
    that leave the prior undetermined. The result is ``derived``, with an ``explanation``
    listing the statements and the prior.
    """
    return _solve(panel, tuple(Statement(s.dose, s.quantile, s.p_dlt) for s in statements),
                  correlation)


@lru_cache(maxsize=64)  # a design and its [[sensitivity]] alternatives solve each set once
def _solve(panel: DosePanel, statements: tuple[Statement, ...],
           correlation: float) -> BivariateNormal:
    if len(statements) < 4:
        raise ValueError(f"need at least 4 statements (4 unknowns: the means and sds of log "
                         f"alpha and log beta), got {len(statements)}")
    if len({s.dose for s in statements}) < 2:
        raise ValueError("need statements at two or more doses: at one dose they cannot "
                         "separate log alpha from log beta")
    _check_order(statements, panel)
    x = np.array([math.log(s.dose) - math.log(panel.reference) for s in statements])
    c = np.array([_logit(s.p_dlt) for s in statements])
    q = np.array([s.quantile for s in statements])
    z = ndtri(q)

    def residuals(params: np.ndarray) -> np.ndarray:
        return _probit_fit(params, x, c, correlation)[0] - z

    def jacobian(params: np.ndarray) -> np.ndarray:
        return _probit_fit(params, x, c, correlation)[1]

    limit = math.log(PRIOR_LIMIT)
    bounds = ([-PRIOR_LIMIT, -limit, math.log(SMALLEST_SD), math.log(SMALLEST_SD)],
              [PRIOR_LIMIT, limit, limit, limit])
    fits = [least_squares(residuals, start, jacobian, bounds=bounds, xtol=1e-13, ftol=1e-13,
                          gtol=1e-13) for start in _starts(x, c, z)]
    fit = min(fits, key=lambda f: f.cost)
    levels = np.exp(log_cdf(fit.x, x, c, correlation)[0])
    tolerance = EXACT_TOLERANCE if len(statements) == 4 else LEAST_SQUARES_TOLERANCE
    worst = int(np.argmax(np.abs(levels - q)))
    if abs(levels[worst] - q[worst]) > tolerance:
        raise ValueError(
            f"no bivariate normal prior with correlation {correlation:g} meets the statements: "
            f"statement {worst + 1} ({_describe(statements[worst], panel)}) holds at best with "
            f"probability {levels[worst]:.4f} instead of {q[worst]:.4g} (off by "
            f"{abs(levels[worst] - q[worst]):.2g}, tolerance {tolerance:g})")
    if len(statements) == 4:
        exact = [f.x for f in fits if np.max(np.abs(
            np.exp(log_cdf(f.x, x, c, correlation)[0]) - q)) <= tolerance]
        other = next((e for e in exact if np.max(np.abs(e - fit.x)) > DISTINCT), None)
        if other is not None:
            raise ValueError(
                "more than one prior meets the four statements exactly (e.g. "
                f"{_normal_text(fit.x)} and {_normal_text(other)}): add a statement")
    singular = np.linalg.svd(fit.jac, compute_uv=False)
    if len(singular) < 4 or singular[-1] < RANK_TOLERANCE * singular[0]:
        raise ValueError("the statements do not determine the prior (more than one prior "
                         "meets them): give quantiles at two levels (e.g. a median and a 95% "
                         "bound) at each of two doses")
    listed = "; ".join(
        _describe(s, panel) + ("" if len(statements) == 4 else f" (fitted {level:.3f})")
        for s, level in zip(statements, levels, strict=True))
    return BivariateNormal(
        (float(fit.x[0]), float(fit.x[1])), (math.exp(fit.x[2]), math.exp(fit.x[3])),
        correlation, True, f"elicited from {len(statements)} statements on P(DLT) ({listed}): "
        f"{_normal_text(fit.x)}, correlation {correlation:g}")


def _normal_text(params: np.ndarray) -> str:
    m_a, m_b, s_a, s_b = params[0], params[1], math.exp(params[2]), math.exp(params[3])
    return f"log alpha ~ N({m_a:.4f}, {s_a:.4f}^2), log beta ~ N({m_b:.4f}, {s_b:.4f}^2)"
