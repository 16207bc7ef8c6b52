"""A slow, independent reference for the BLRM posterior, to check the exact engine against.

It integrates in the model's own coordinates (log alpha, log beta), not the engine's
standardised grid, with the prior's own log density (``Prior.log_density``) and composite
Gauss-Legendre rules on a box far wider than the prior, and splits the log-alpha integral
exactly at each interval bound, so every integrand it sees is smooth. Accurate to about 1e-12
on the test cases; far too slow for anything but checking.

A posterior much narrower than the prior (hundreds of patients, a tight prior) falls between
the panels of that box: ``box="posterior"`` integrates instead on a box placed on the
posterior itself, found without the engine (its mode by optimisation, its spread from the
Hessian of the log density there): log beta within +- 14 sds of the mode, log alpha within
+- 14 conditional sds of the line of conditional means; ``scale`` multiplies the number of
panels both ways (a convergence check: the tests compare scale 1 with 2 and a wider box).
"""

from __future__ import annotations

import math

import numpy as np

from bayesdose.models.blrm import SingleAgentBlrm
from bayesdose.models.prior import Prior

PANELS, NODES = 20, 16  # 1e-12 from a rule with 48 panels on a 60-patient data set


def _composite(lo: np.ndarray, hi: np.ndarray, panels: int = PANELS
               ) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on [lo, hi] (broadcast over leading axes)."""
    t, w = np.polynomial.legendre.leggauss(NODES)
    edges = np.linspace(0.0, 1.0, panels + 1)
    unit = ((edges[:-1, None] + edges[1:, None]) / 2 + (t / 2)[None, :] / panels).ravel()
    unit_w = np.tile(w / 2 / panels, panels)
    lo, hi = np.asarray(lo)[..., None], np.asarray(hi)[..., None]
    return lo + (hi - lo) * unit, (hi - lo) * unit_w


class BruteForcePosterior:
    """Posterior integrals for one data set: counts ``n`` and ``dlt`` per dose."""

    def __init__(self, model: SingleAgentBlrm, prior: Prior, n, dlt, pending=(),
                 box: str = "prior", scale: float = 1.0, sds: float = 14.0) -> None:
        """``pending``: (dose, weight) of each patient in follow-up without a DLT so far;
        such a patient is also counted in ``n``. The box is the prior's frame +- 10 (log beta)
        and +- 12-22 (log alpha) standard deviations."""
        self.model = model
        self.x = model.covariate
        self.prior = prior
        frame = prior.frame
        self.mu = np.asarray(frame.mean, float)
        self.cov = np.asarray(frame.cov, float)
        self.n = np.array(n, float)  # a copy: the pending patients are taken out below
        self.dlt = np.asarray(dlt, float)
        self.pending = list(pending)
        for dose, _ in self.pending:
            self.n[dose] -= 1  # counted through its weighted term below
        sd = np.sqrt(np.diag(self.cov))
        # a mixture: wider by how far its components reach, finer by how narrow they are
        extent = prior.frame_extent(10.0) / 10.0
        z_scale, s_scale = prior.grid_scales()
        prior_box_scale = scale if box == "prior" else 1.0
        self.panels_a = math.ceil(PANELS * prior_box_scale * extent / min(1.0, s_scale))
        panels_b = math.ceil(PANELS * prior_box_scale * extent / min(1.0, z_scale))
        self.b, self.wb = _composite(self.mu[1] - 10 * extent * sd[1],
                                     self.mu[1] + 10 * extent * sd[1], panels_b)
        rho = self.cov[0, 1] / (sd[0] * sd[1])
        half = (12 + 10 * abs(rho)) * extent * sd[0]
        self.a_lo, self.a_hi = self.mu[0] - half, self.mu[0] + half
        if box == "posterior":
            self._place_on_posterior(scale, sds)
        elif box != "prior":
            raise ValueError("box is 'prior' or 'posterior'")
        self.log_max = self._max_log_density()

    def _place_on_posterior(self, scale: float, sds: float) -> None:
        """The box on the posterior: its mode and the inverse Hessian there."""
        from scipy import optimize

        def negative(theta):
            return -float(self._log_density(np.array(theta[0]), np.array(theta[1])))

        starts = [self.mu, self.mu + [1.0, 0.0], self.mu - [1.0, 0.0], self.mu + [0.0, 0.5]]
        best = min((optimize.minimize(negative, x0, method="Nelder-Mead",
                                      options={"xatol": 1e-10, "fatol": 1e-12,
                                               "maxiter": 20000}) for x0 in starts),
                   key=lambda r: r.fun)
        mode = best.x
        hess = np.empty((2, 2))
        step = 1e-4 * np.maximum(1.0, np.abs(mode))
        for i in range(2):
            for j in range(2):
                ei, ej = np.eye(2)[i] * step[i], np.eye(2)[j] * step[j]
                hess[i, j] = (negative(mode + ei + ej) - negative(mode + ei - ej)
                              - negative(mode - ei + ej) + negative(mode - ei - ej)) / (
                                  4 * step[i] * step[j])
        cov = np.linalg.inv(hess)
        sd_a, sd_b = np.sqrt(np.diag(cov))
        slope = cov[0, 1] / cov[1, 1]
        cond_sd = math.sqrt(max(cov[0, 0] - cov[0, 1] ** 2 / cov[1, 1], 1e-300))
        panels = math.ceil(PANELS * scale)
        self.b, self.wb = _composite(mode[1] - sds * sd_b, mode[1] + sds * sd_b, panels)
        centre = mode[0] + slope * (self.b - mode[1])
        self.a_lo, self.a_hi = centre - sds * cond_sd, centre + sds * cond_sd
        self.panels_a = panels
        self.mode, self.mode_cov = mode, cov

    def _log_density(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.broadcast_arrays(a, b)
        log_prior = self.prior.log_density(np.stack([a, b], axis=-1))
        eta = self.model.linear_predictor(a[..., None], np.exp(b)[..., None])
        log_p = -np.logaddexp(0, -eta)
        loglik = (self.dlt * log_p + (self.n - self.dlt) * -np.logaddexp(0, eta)).sum(axis=-1)
        for dose, weight in self.pending:
            loglik = loglik + np.log1p(-weight * np.exp(log_p[..., dose]))
        return log_prior + loglik

    def _max_log_density(self) -> float:
        a, _ = _composite(np.broadcast_to(self.a_lo, self.b.shape),
                          np.broadcast_to(self.a_hi, self.b.shape), self.panels_a)
        return float(self._log_density(a, self.b[:, None]).max())

    def _integral(self, a_lo, a_hi, g=None) -> np.ndarray:
        """Integral over log beta, and log alpha in [a_lo(b), a_hi(b)], of density x g(a, b)."""
        a, wa = _composite(a_lo, a_hi, self.panels_a)  # (..., rows, nodes)
        b = self.b[:, None]
        f = np.exp(self._log_density(a, b) - self.log_max)
        if g is not None:
            f = f * g(a, b)
        return (f * wa).sum(axis=-1) @ self.wb

    def prob_below(self, dose: int, c: float) -> float:
        """P(P(DLT | dose) < c)."""
        t = np.log(c / (1 - c)) - np.exp(self.b) * self.x[dose]
        t = np.clip(t, self.a_lo, self.a_hi)
        below = self._integral(self.a_lo, t)
        above = self._integral(t, self.a_hi)
        return float(below / (below + above))

    def moment(self, dose: int, power: int) -> float:
        """E[P(DLT | dose) ** power]."""

        def p(a, b):
            return np.exp(-power * np.logaddexp(0, -(a + np.exp(b) * self.x[dose])))

        total = self._integral(self.a_lo, self.a_hi)
        return float(self._integral(self.a_lo, self.a_hi, p) / total)
