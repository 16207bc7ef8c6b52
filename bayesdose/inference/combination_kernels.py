"""Compiled loops of the combination engine (``inference.combination``): the Laplace step, the
posterior density at every node of every line, the frame's moments and each line's
integrals, one data set and one line at a time, with no array bigger than a line's.

They compute what the engine's method defines (its module docstring), in float64, with
numba's IEEE arithmetic (no fast-math). Three things are computed in other words than
``models.combination`` and the NumPy engine used, equal up to rounding:

- P(DLT) at a pair from each drug's P(DLT) per dose level, p0 = p_A + p_B (1 - p_A) and
  1 - p0 = (1 - p_A)(1 - p_B), p = p0 E / (1 - p0 + p0 E) with E = exp(eta g): a division
  a pair and node where logit, softplus and expit took four transcendental functions;
  logit p = log(p0 / (1 - p0)) + eta g, needed only for the pairs with data and for the
  four nodes around a crossing (the model's own formulas where p0 or 1 - p0 underflows).
- E along a line by one multiplication a node (eta is linear in the node).
- Each line's integrals are computed with the density scaled to a maximum of 1 on that line,
  and rescaled to the data set's maximum at the end (the summaries are ratios).

A drug's linear predictor l = log alpha + beta log(d / d*) is computed once per dose level and
node; beta is constant along a line (the inner direction leaves log beta alone).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# The model as arrays (``inference.combination.model_arrays``), in this order:
# levels_a, levels_b: each drug's log dose ratios (levels,);
# pair_a, pair_b: each pair's level of each drug (pairs,), the number of levels if absent;
# g: the interaction covariate (pairs,);
# prior_log_w (2, K), prior_mean (2, K, 2), prior_precision (2, K, 2, 2), prior_log_norm
# (2, K): each drug's prior as normal components (log weight -inf pads the shorter);
# eta_prior: (mean, sd, log normalising constant).


@njit(cache=True, error_model="numpy", inline="always")
def _softplus(x: float) -> float:
    """log(1 + e^x) as numpy's logaddexp(0, x)."""
    if x > 0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@njit(cache=True, error_model="numpy", inline="always")
def _drug_levels(intercept, slope, levels, lin, p, t):
    """One drug at one node: per dose level the linear predictor, P(DLT) and 1 - P(DLT)
    (the slot after the last level, the drug absent, stays -inf, 0, 1)."""
    for k in range(levels.size):
        lin[k] = intercept + slope * levels[k]
        e = math.exp(-abs(lin[k]))
        inverse = 1 / (1 + e)
        small = e * inverse
        p[k], t[k] = (inverse, small) if lin[k] > 0 else (small, inverse)


@njit(cache=True, error_model="numpy", inline="always")
def _drug_log_prior(x0, x1, log_w, mean, precision, log_norm):
    """One drug's log prior at (log alpha, log beta) = (x0, x1): a mixture of normals (a
    running log-sum-exp over the components)."""
    top, total = -math.inf, 0.0
    for k in range(log_w.size):
        d0, d1 = x0 - mean[k, 0], x1 - mean[k, 1]
        quad = d0 * (precision[k, 0, 0] * d0 + precision[k, 0, 1] * d1) + d1 * (
            precision[k, 1, 0] * d0 + precision[k, 1, 1] * d1)
        term = log_w[k] + log_norm[k] - 0.5 * quad
        if term > top:
            total = total * math.exp(top - term) + 1.0
            top = term
        else:
            total += math.exp(term - top)
    return top + math.log(total)


@njit(cache=True, error_model="numpy", inline="always")
def _log_prior(theta, prior_log_w, prior_mean, prior_precision, prior_log_norm, eta_prior):
    """The log prior at theta (5,): each drug's and eta's."""
    z = (theta[4] - eta_prior[0]) / eta_prior[1]
    total = -0.5 * z * z - eta_prior[2]
    for i in range(2):
        total += _drug_log_prior(theta[2 * i], theta[2 * i + 1], prior_log_w[i], prior_mean[i],
                                 prior_precision[i], prior_log_norm[i])
    return total


@njit(cache=True, error_model="numpy", inline="always")
def _log_softplus(x):
    """log(log(1 + e^x)), as ``models.combination._log_softplus``."""
    return x if x < -30 else math.log(_softplus(x))


@njit(cache=True, error_model="numpy", inline="always")
def _logit(i, j, a, b, levels, eta, g):
    """logit P(DLT) at node i and pair j (drug levels a, b): log(p0 / (1 - p0)) + eta g. Where
    p0 underflows (both linear predictors below about -690), log p0 = log(softplus(l_A) +
    softplus(l_B)) in logs, as ``models.combination``; where 1 - p0 does, log(1 - p0) =
    -softplus(l_A) - softplus(l_B)."""
    p0 = levels[1, i, a] + levels[4, i, b] * levels[2, i, a]
    q = levels[2, i, a] * levels[5, i, b]
    if p0 < 1e-300:
        x, y = _log_softplus(levels[0, i, a]), _log_softplus(levels[3, i, b])
        return max(x, y) + math.log1p(math.exp(-abs(x - y))) + eta[i] * g[j]
    if q < 1e-300:
        return (math.log(p0) + _softplus(levels[0, i, a]) + _softplus(levels[3, i, b])
                + eta[i] * g[j])
    return math.log(p0 / q) + eta[i] * g[j]


@njit(cache=True, error_model="numpy", inline="always")
def _log_likelihood(i, n, dlt, pending, pair_a, pair_b, g, levels, eta):
    """The binomial log-likelihood of one data set at node i (pairs without patients add
    nothing); patients in follow-up (``pending`` by whole days of a T-day window) with their
    TITE weight, as ``models.combination.log_likelihood``."""
    total = 0.0
    window = pending.shape[1]
    for j in range(n.size):
        if n[j] == 0:
            continue
        lp = _logit(i, j, pair_a[j], pair_b[j], levels, eta, g)
        sp = _softplus(lp)
        waiting = 0.0
        for day in range(window):
            waiting += pending[j, day]
        total += dlt[j] * lp - (n[j] - waiting) * sp
        for day in range(1, window):
            if pending[j, day] > 0:
                w = day / window
                x, y = math.log1p(-w), math.log(w) - sp
                total += pending[j, day] * (max(x, y) + math.log1p(math.exp(-abs(x - y))))
    return total


@njit(cache=True, error_model="numpy", inline="always")
def _line(base, v, r, log_q, model, n, dlt, pending, theta, log_f, levels):
    """The log density (posterior over the outer proposal) at the nodes of one line into
    ``log_f``, each node's parameters into ``theta`` (nodes, 5) and the drugs' per-level
    terms into ``levels`` (6, nodes, levels + 1: ``_level_buffers``); returns its maximum."""
    levels_a, levels_b, pair_a, pair_b, g, log_w, mean, precision, log_norm, eta_prior = model
    slope_a, slope_b = math.exp(base[1]), math.exp(base[3])
    eta = theta[:, 4]
    top = -math.inf
    for i in range(r.size):
        for k in range(5):
            theta[i, k] = base[k] + r[i] * v[k]
        _drug_levels(theta[i, 0], slope_a, levels_a, levels[0, i], levels[1, i], levels[2, i])
        _drug_levels(theta[i, 2], slope_b, levels_b, levels[3, i], levels[4, i], levels[5, i])
        log_f[i] = (_log_likelihood(i, n, dlt, pending, pair_a, pair_b, g, levels, eta)
                    + _log_prior(theta[i], log_w, mean, precision, log_norm, eta_prior)
                    - log_q)
        top = max(top, log_f[i])
    return top


@njit(cache=True, error_model="numpy")
def _level_buffers(model, nodes):
    """Room for each drug's per-level terms at the nodes of one line: linear predictor,
    P(DLT), 1 - P(DLT) (drug A's in 0-2, B's in 3-5), with the slot of the drug absent set."""
    count_a, count_b = model[0].size, model[1].size
    levels = np.zeros((6, nodes, max(count_a, count_b) + 1))
    levels[0, :, count_a], levels[2, :, count_a] = -math.inf, 1.0
    levels[3, :, count_b], levels[5, :, count_b] = -math.inf, 1.0
    return levels


@njit(cache=True, error_model="numpy", nogil=True)
def moments(base, v, r, log_q, model, n, dlt, pending):
    """The posterior mean (data sets, 5) and covariance (data sets, 5, 5) of theta on the
    lines ``base`` (data sets, lines, 5) + r v (data sets, 5), weighted by the density at
    the nodes (not by the cell rule)."""
    sets, lines, nodes = base.shape[0], base.shape[1], r.size
    mean_out = np.zeros((sets, 5))
    cov_out = np.zeros((sets, 5, 5))
    levels = _level_buffers(model, nodes)
    theta = np.empty((lines, nodes, 5))
    f = np.empty((lines, nodes))
    for s in range(sets):
        top = -math.inf
        for line in range(lines):
            top = max(top, _line(base[s, line], v[s], r, log_q[line], model, n[s], dlt[s],
                                 pending[s], theta[line], f[line], levels))
        total = 0.0
        for line in range(lines):
            for i in range(nodes):
                f[line, i] = math.exp(f[line, i] - top)
                total += f[line, i]
        mean = mean_out[s]
        for line in range(lines):
            for i in range(nodes):
                w = f[line, i] / total
                for k in range(5):
                    mean[k] += w * theta[line, i, k]
        cov = cov_out[s]
        for line in range(lines):
            for i in range(nodes):
                w = f[line, i] / total
                for k in range(5):
                    dk = w * (theta[line, i, k] - mean[k])
                    for m in range(5):
                        cov[k, m] += dk * (theta[line, i, m] - mean[m])
    return mean_out, cov_out


@njit(cache=True, error_model="numpy", inline="always")
def _cell_integrals(f, h, cumulative):
    """Cumulative integrals of ``f`` from the first node to each node by the cell rule
    h (-f[i-1] + 13 f[i] + 13 f[i+1] - f[i+2]) / 24, zero beyond the ends."""
    nodes = f.size
    cumulative[0] = 0.0
    for i in range(nodes - 1):
        left = f[i - 1] if i > 0 else 0.0
        right = f[i + 2] if i + 2 < nodes else 0.0
        cumulative[i + 1] = cumulative[i] + (13 * (f[i] + f[i + 1]) - left - right) * (h / 24)
    return cumulative[nodes - 1]


@njit(cache=True, error_model="numpy", inline="always")
def _partial_cell(frac, f, cell, h):
    """The integral of the cubic through f[cell - 1 .. cell + 2] (0 outside the line) from
    node ``cell`` to ``cell + frac`` (``exact._partial_cell_weights``)."""
    f2, f3, f4 = frac * frac, frac ** 3, frac ** 4
    weights = (-(f4 / 4 - f3 + f2) / 6, (f4 / 4 - 2 * f3 / 3 - f2 / 2 + 2 * frac) / 2,
               -(f4 / 4 - f3 / 3 - f2) / 2, (f4 / 4 - f2 / 2) / 6)
    total = 0.0
    for k in range(4):
        node = cell - 1 + k
        if 0 <= node < f.size:
            total += weights[k] * f[node]
    return total * h


@njit(cache=True, error_model="numpy", inline="always")
def _below(count, cut, j, f, cumulative, mass, h, model, levels, eta):
    """The integral of the density along one line over logit p < ``cut`` at pair j, where
    ``count`` nodes lie below it: whole cells by the cell rule, the cell holding the crossing
    by the cubic through its four nearest nodes up to the crossing, found by inverse cubic
    interpolation of the log-odds."""
    nodes = f.size
    if count == 0:
        return 0.0
    if count == nodes:
        return mass
    cell = min(max(count - 1, 0), nodes - 2)
    first = min(max(cell - 1, 0), nodes - 4)
    a, b, g = model[2][j], model[3][j], model[4]
    y = (_logit(first, j, a, b, levels, eta, g), _logit(first + 1, j, a, b, levels, eta, g),
         _logit(first + 2, j, a, b, levels, eta, g), _logit(first + 3, j, a, b, levels, eta, g))
    position = 0.0
    for k in range(4):
        term = float(first + k)
        for m in range(4):
            if m != k:
                term = term * (cut - y[m]) / (y[k] - y[m])
        position += term
    frac = position - cell
    frac = 0.5 if math.isnan(frac) else min(max(frac, 0.0), 1.0)
    return cumulative[cell] + _partial_cell(frac, f, cell, h)


@njit(cache=True, error_model="numpy", inline="always")
def _pair_on_line(j, f, cumulative, mass, h, eta, eta_step, model, levels, cut_p, cut_logit,
                  out):
    """One pair on one line: sum f p, sum f p^2 over the nodes and the integrals below the
    two cuts into ``out`` (4,). exp(eta g) is carried along the line (eta is linear in the
    node, so each node's factor is the last one's times exp(eta_step g); the rounding grows
    by an ulp a node)."""
    a, b, g = model[2][j], model[3][j], model[4][j]
    exp_eta_g = math.exp(eta[0] * g)
    ratio = math.exp(eta_step * g)
    count_a, count_b = 0, 0
    sum_p, sum_p2 = 0.0, 0.0
    for i in range(f.size):
        if i:
            exp_eta_g *= ratio
        odds_part = (levels[1, i, a] + levels[4, i, b] * levels[2, i, a]) * exp_eta_g
        p = odds_part / (levels[2, i, a] * levels[5, i, b] + odds_part)
        sum_p += f[i] * p
        sum_p2 += f[i] * p * p
        count_a += p < cut_p[0]
        count_b += p < cut_p[1]
    out[0], out[1] = sum_p, sum_p2
    out[2] = _below(count_a, cut_logit[0], j, f, cumulative, mass, h, model, levels, eta)
    out[3] = _below(count_b, cut_logit[1], j, f, cumulative, mass, h, model, levels, eta)


@njit(cache=True, error_model="numpy", inline="always")
def _sum_lines(top, line_sums, pair_sums, h, first, second, below):
    """One data set's summaries from its lines' sums, each rescaled from its line's maximum
    to the data set's; returns the ESS of the line weights and the edge mass."""
    peak = top.max()
    total, squares, edge_mass = 0.0, 0.0, 0.0
    for line in range(top.size):
        scale = math.exp(top[line] - peak)
        mass = line_sums[line, 0] * scale
        total += mass
        squares += mass * mass
        edge_mass += line_sums[line, 1] * scale
        for j in range(first.size):
            first[j] += pair_sums[line, j, 0] * scale
            second[j] += pair_sums[line, j, 1] * scale
            below[0, j] += pair_sums[line, j, 2] * scale
            below[1, j] += pair_sums[line, j, 3] * scale
    first *= h / total
    second *= h / total
    below /= total
    return total * total / squares, edge_mass * h / total


@njit(cache=True, error_model="numpy", nogil=True)
def integrals(base, v, r, log_q, model, n, dlt, pending, cut_p, cut_logit, edge):
    """Per data set on lines ``base`` (data sets, lines, 5) + r v (data sets, 5): the
    posterior mean and second moment of P(DLT) (data sets, pairs) each, P(p < c) for the two
    cuts (2, data sets, pairs), the ESS of the line weights and the mass at the ``edge``
    nodes (data sets,). Each line's sums are in its own scale (its density's maximum 1)."""
    sets, lines, nodes = base.shape[0], base.shape[1], r.size
    pairs = model[4].size
    h = r[1] - r[0]
    first, second = np.zeros((sets, pairs)), np.zeros((sets, pairs))
    below = np.zeros((2, sets, pairs))
    ess, edge_mass = np.zeros(sets), np.zeros(sets)
    levels = _level_buffers(model, nodes)
    theta = np.empty((nodes, 5))
    log_f, f, cumulative = np.empty(nodes), np.empty(nodes), np.empty(nodes)
    top = np.empty(lines)  # each line's maximum log density
    line_sums = np.empty((lines, 2))  # its mass and its mass at the edge nodes
    pair_sums = np.empty((lines, pairs, 4))  # per pair: _pair_on_line's
    for s in range(sets):
        for line in range(lines):
            top[line] = _line(base[s, line], v[s], r, log_q[line], model, n[s], dlt[s],
                              pending[s], theta, log_f, levels)
            at_edge = 0.0
            for i in range(nodes):
                f[i] = math.exp(log_f[i] - top[line])
                if edge[i]:
                    at_edge += f[i]
            mass = _cell_integrals(f, h, cumulative)
            line_sums[line, 0], line_sums[line, 1] = mass, at_edge
            for j in range(pairs):
                _pair_on_line(j, f, cumulative, mass, h, theta[:, 4], h * v[s, 4], model,
                              levels, cut_p, cut_logit, pair_sums[line, j])
        ess[s], edge_mass[s] = _sum_lines(top, line_sums, pair_sums, h, first[s], second[s],
                                          below[:, s])
    return first, second, below, ess, edge_mass


@njit(cache=True, error_model="numpy")
def _newton_terms(theta, n, dlt, model, prior_mean, prior_precision, levels, eta,
                  derivatives):
    """At theta (5,): the log posterior under the normal prior (``prior_mean``,
    ``prior_precision``) with binomial data ``n``, ``dlt``; with ``derivatives`` also its
    gradient and the Gauss-Newton Hessian of its negative, J' diag(n p (1 - p)) J + prior
    precision (J the gradient of the log-odds: d/dl_i = p_i / p0, d/deta = g)."""
    levels_a, levels_b, pair_a, pair_b, g = model[0], model[1], model[2], model[3], model[4]
    slope_a, slope_b = math.exp(theta[1]), math.exp(theta[3])
    _drug_levels(theta[0], slope_a, levels_a, levels[0, 0], levels[1, 0], levels[2, 0])
    _drug_levels(theta[2], slope_b, levels_b, levels[3, 0], levels[4, 0], levels[5, 0])
    eta[0] = theta[4]
    d = theta - prior_mean
    value = -0.5 * (d @ (prior_precision @ d))
    grad = -(prior_precision @ d)
    hess = prior_precision.copy()
    jac = np.empty(5)
    for j in range(n.size):
        if n[j] == 0:
            continue
        a, b = pair_a[j], pair_b[j]
        lp = _logit(0, j, a, b, levels, eta, g)
        value += dlt[j] * lp - n[j] * _softplus(lp)
        if not derivatives:
            continue
        p = 1 / (1 + math.exp(-lp)) if lp >= 0 else math.exp(lp) / (1 + math.exp(lp))
        p0 = levels[1, 0, a] + levels[4, 0, b] * levels[2, 0, a]
        jac[0] = levels[1, 0, a] / p0
        jac[1] = jac[0] * slope_a * (levels_a[a] if a < levels_a.size else 0.0)
        jac[2] = levels[4, 0, b] / p0
        jac[3] = jac[2] * slope_b * (levels_b[b] if b < levels_b.size else 0.0)
        jac[4] = g[j]
        w = n[j] * p * (1 - p)
        for k in range(5):
            grad[k] += (dlt[j] - n[j] * p) * jac[k]
            for m in range(5):
                hess[k, m] += w * jac[k] * jac[m]
    return value, grad, hess


@njit(cache=True, error_model="numpy", nogil=True)
def laplace(n, dlt, model, prior_mean, prior_precision, max_steps):
    """Per data set (rows of ``n``, ``dlt``): the mode of the posterior under the normal
    prior by Gauss-Newton from the prior mean, and the Hessian there. Each step backtracks
    (halving) until it does not go downhill or is below 1e-6; the iteration stops when a
    step moves no parameter by more than 1e-7."""
    sets = n.shape[0]
    modes = np.empty((sets, 5))
    hessians = np.empty((sets, 5, 5))
    levels = _level_buffers(model, 1)
    eta = np.empty(1)
    for s in range(sets):
        theta = prior_mean.copy()
        value, grad, hess = _newton_terms(theta, n[s], dlt[s], model, prior_mean,
                                          prior_precision, levels, eta, True)
        for _ in range(max_steps):
            step = np.linalg.solve(hess, grad)
            length = 1.0
            while True:
                trial = theta + length * step
                trial_value = _newton_terms(trial, n[s], dlt[s], model, prior_mean,
                                            prior_precision, levels, eta, False)[0]
                if not trial_value < value - 1e-12 or length < 1e-6:
                    break
                length /= 2
            theta = trial
            value, grad, hess = _newton_terms(theta, n[s], dlt[s], model, prior_mean,
                                              prior_precision, levels, eta, True)
            if np.abs(length * step).max() <= 1e-7:
                break
        modes[s], hessians[s] = theta, hess
    return modes, hessians
