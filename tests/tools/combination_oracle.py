"""The test oracle for the combination engine (bayesdose.inference.combination): posterior
summaries of the two-drug BLRM by plain Monte Carlo importance sampling with very many
pseudo-random points, coded apart from the engine (probabilities, not log-odds; scipy's
densities; its own optimiser), each number with its Monte Carlo standard error.

- No data: 2^22 independent draws from the prior itself (every weight 1).
- Data: 2^22 draws from a multivariate t with 3 degrees of freedom at the posterior mode
  (scipy.optimize on the exact log posterior), scale 1.5 x the inverse numerical Hessian;
  self-normalised weights, delta-method standard errors.

Run:  PYTHONPATH=. python tests/tools/combination_oracle.py   (about a minute per case)
Writes tests/reference/combination_oracle.json; the engine's tests read it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

OUT = Path(__file__).resolve().parents[1] / "reference" / "combination_oracle.json"
DRAWS = 2**22
CHUNK = 2**18
SEED = 777
TARGET = (0.16, 0.33)
LEVELS_A, LEVELS_B, REFERENCE = [25.0, 50.0, 80.0, 100.0], [0.5, 1.0, 3.0], [80.0, 1.0]
PAIRS = ([[a, b] for a in LEVELS_A for b in LEVELS_B]
         + [[a, 0.0] for a in LEVELS_A] + [[0.0, b] for b in LEVELS_B])


def _normal(mean, sd, rho=0.0):
    return {"weights": [1.0], "components": [{"mean": mean, "sd": sd, "correlation": rho}]}


def _mixture(w, m_alpha, m_beta, s_alpha, s_beta, rho):
    return {"weights": w, "components": [
        {"mean": [a, b], "sd": [sa, sb], "correlation": r}
        for a, b, sa, sb, r in zip(m_alpha, m_beta, s_alpha, s_beta, rho, strict=True)]}


# OncoBayes2's MAP vignette: RBesT automixfit's mixtures as printed (w, m, s, rho)
MAP_A = _mixture([0.56206771, 0.43793229], [-1.88227571, -1.52601780], [0.59136954, 0.01259954],
                 [0.68030368, 0.92524450], [0.59829373, 0.73241598], [-0.29870546, 0.12832698])
MAP_B = _mixture([0.37748737, 0.37130812, 0.25120451], [-2.62052660, -2.62077157, -3.09269497],
                 [-0.36785969, -0.78173676, -0.08761646], [0.42385373, 0.66468212, 0.66682656],
                 [0.40861667, 0.51156577, 0.40148441], [-0.39229212, -0.05739021, -0.50121005])
# the independent normals of tests/reference/oncobayes2/combo_blrm.R
NORMAL_A, NORMAL_B = _normal([-1.73, 0.36], [0.80, 0.72]), _normal([-2.76, -0.45], [0.64, 0.55])
VIGNETTE_ETA = {"form": "saturating", "mean": 0.0, "sd": math.log(9) / 1.96}


def _data(rows):
    """Counts per pair of PAIRS from rows (dose A, dose B, n, dlt)."""
    n, y = [0] * len(PAIRS), [0] * len(PAIRS)
    for a, b, k, d in rows:
        i = PAIRS.index([a, b])
        n[i], y[i] = n[i] + k, y[i] + d
    return {"n": n, "dlt": y}


CASES = {
    "prior_map": dict(prior_a=MAP_A, prior_b=MAP_B, interaction=VIGNETTE_ETA, data=_data([])),
    "weak_map": dict(prior_a=MAP_A, prior_b=MAP_B, interaction=VIGNETTE_ETA,
                     data=_data([(25, 0.5, 3, 0), (50, 0.5, 3, 1)])),
    "informative_saturating": dict(
        prior_a=NORMAL_A, prior_b=NORMAL_B, interaction=VIGNETTE_ETA, data=_data([
            (25, 0.5, 3, 0), (50, 0.5, 3, 0), (50, 1, 6, 1), (80, 1, 6, 2), (80, 3, 3, 2),
            (0, 1, 3, 0), (50, 0, 3, 0)])),
    "strong_interaction_linear": dict(
        prior_a=NORMAL_A, prior_b=NORMAL_B,
        interaction={"form": "linear", "mean": 0.5, "sd": 1.0},
        data=_data([(25, 0.5, 3, 1), (50, 0.5, 3, 2), (50, 0, 6, 0), (0, 1, 6, 0),
                    (25, 1, 3, 2)])),
    "monotherapy_only": dict(prior_a=MAP_A, prior_b=MAP_B, interaction=VIGNETTE_ETA, data=_data([
        (25, 0, 3, 0), (50, 0, 6, 1), (80, 0, 6, 2), (0, 1, 3, 0), (0, 3, 6, 1)])),
    "large_correlated": dict(
        prior_a=_normal([-1.5, 0.2], [1.2, 0.8], -0.3),
        prior_b=_normal([-2.5, -0.3], [1.0, 0.7], 0.2),
        interaction={"form": "saturating", "mean": 0.3, "sd": 0.8}, data=_data([
            (25, 0.5, 6, 0), (50, 0.5, 9, 1), (50, 1, 12, 2), (80, 1, 12, 4), (80, 3, 6, 3),
            (100, 0.5, 9, 3), (25, 3, 6, 1)])),
}


class Posterior:
    """Log prior, log-likelihood and P(DLT) of one case, in probability space."""

    def __init__(self, case):
        self.priors = [self._mixture(case["prior_a"]), self._mixture(case["prior_b"])]
        self.eta = stats.norm(case["interaction"]["mean"], case["interaction"]["sd"])
        pairs = np.array(PAIRS)
        x = (pairs[:, 0] / REFERENCE[0]) * (pairs[:, 1] / REFERENCE[1])
        forms = {"linear": x, "saturating": 2 * x / (1 + x), "none": 0 * x}
        self.g = forms[case["interaction"]["form"]]
        self.pairs = pairs
        self.n, self.y = (np.array(case["data"][k], dtype=float) for k in ("n", "dlt"))

    @staticmethod
    def _mixture(spec):
        comps = []
        for w, c in zip(spec["weights"], spec["components"], strict=True):
            (sa, sb), r = c["sd"], c["correlation"]
            comps.append((w, stats.multivariate_normal(c["mean"], [[sa * sa, r * sa * sb],
                                                                    [r * sa * sb, sb * sb]])))
        return comps

    def log_prior(self, th):
        out = self.eta.logpdf(th[:, 4])
        for i, comps in enumerate(self.priors):
            dens = sum(w * d.pdf(th[:, 2 * i:2 * i + 2]) for w, d in comps)
            out = out + np.log(np.maximum(dens, 1e-300))
        return out

    def sample_prior(self, rng, size):
        cols = []
        for comps in self.priors:
            which = rng.choice(len(comps), size=size, p=[w for w, _ in comps])
            draws = np.empty((size, 2))
            for k, (_, d) in enumerate(comps):
                sel = which == k
                draws[sel] = d.rvs(size=int(sel.sum()), random_state=rng).reshape(-1, 2)
            cols.append(draws)
        return np.column_stack([*cols, self.eta.rvs(size=size, random_state=rng)])

    def p_dlt(self, th):
        def single(la, lb, dose, ref):
            with np.errstate(divide="ignore", over="ignore"):
                p = 1 / (1 + np.exp(-(la[:, None] + np.exp(lb)[:, None] * np.log(dose / ref))))
            return np.where(dose > 0, p, 0.0)
        p1 = single(th[:, 0], th[:, 1], self.pairs[:, 0], REFERENCE[0])
        p2 = single(th[:, 2], th[:, 3], self.pairs[:, 1], REFERENCE[1])
        p0 = 1 - (1 - p1) * (1 - p2)
        with np.errstate(divide="ignore"):  # logit p = logit p0 + eta g; p0 may be 0 or 1
            return special.expit(np.log(p0) - np.log1p(-p0) + th[:, 4:5] * self.g)

    def log_lik(self, th):
        p = np.clip(self.p_dlt(th), 1e-300, 1 - 1e-16)
        return (self.y * np.log(p) + (self.n - self.y) * np.log1p(-p)).sum(axis=1)


def _numerical_hessian(f, x, h=1e-4):
    k = len(x)
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j)
                          + f(x - e_i - e_j)) / (4 * h * h)
    return hess


def run_case(case):
    post = Posterior(case)
    rng = np.random.default_rng(SEED)
    sums = None
    has_data = post.n.sum() > 0
    if has_data:
        neg = lambda th: -(post.log_lik(th[None]) + post.log_prior(th[None]))[0]  # noqa: E731
        start = post.sample_prior(np.random.default_rng(1), 1)[0] * 0
        best = optimize.minimize(neg, start, method="Nelder-Mead",
                                 options={"maxiter": 20000, "xatol": 1e-9, "fatol": 1e-12})
        best = optimize.minimize(neg, best.x, method="BFGS")
        cov = np.linalg.inv(_numerical_hessian(neg, best.x)) * 1.5**2
        proposal = stats.multivariate_t(best.x, cov, df=3)
    for _ in range(0, DRAWS, CHUNK):
        if has_data:
            th = proposal.rvs(size=CHUNK, random_state=rng)
            log_w = post.log_lik(th) + post.log_prior(th) - proposal.logpdf(th)
        else:
            th = post.sample_prior(rng, CHUNK)
            log_w = np.zeros(CHUNK)
        p = post.p_dlt(th)
        f = np.stack([p, p * p, p < TARGET[0], (p >= TARGET[0]) & (p < TARGET[1]),
                      p >= TARGET[1]], axis=-1)  # (draws, pairs, 5)
        sums = _accumulate(sums, log_w, f)
    return _estimates(sums)


def _accumulate(sums, log_w, f):
    """Running sums for self-normalised estimates with a common log scale."""
    shift = log_w.max() if sums is None else max(sums["shift"], log_w.max())
    w = np.exp(log_w - shift)
    new = {"shift": shift, "w": w.sum(), "w2": (w * w).sum(),
           "wf": np.einsum("d,dpk->pk", w, f), "w2f": np.einsum("d,dpk->pk", w * w, f),
           "w2f2": np.einsum("d,dpk->pk", w * w, f * f)}
    if sums is not None:
        r = math.exp(sums["shift"] - shift)
        for k in ("w", "wf"):
            new[k] += sums[k] * r
        for k in ("w2", "w2f", "w2f2"):
            new[k] += sums[k] * r * r
    return new


def _estimates(s):
    est = s["wf"] / s["w"]
    # delta method: var = sum w^2 (f - est)^2 / (sum w)^2
    var = (s["w2f2"] - 2 * est * s["w2f"] + est**2 * s["w2"]) / s["w"] ** 2
    se = np.sqrt(np.maximum(var, 0))
    mean, second = est[:, 0], est[:, 1]
    return {"mean": mean.tolist(), "sd": np.sqrt(second - mean**2).tolist(),
            "p_underdose": est[:, 2].tolist(), "p_target": est[:, 3].tolist(),
            "p_overdose": est[:, 4].tolist(),
            "se": {"mean": se[:, 0].tolist(), "p_underdose": se[:, 2].tolist(),
                   "p_target": se[:, 3].tolist(), "p_overdose": se[:, 4].tolist()},
            "ess": float(s["w"] ** 2 / s["w2"])}


def main():
    out = {"description": __doc__.split("\n\n")[0], "draws": DRAWS, "seed": SEED,
           "target_interval": TARGET, "reference": REFERENCE, "pairs": PAIRS, "cases": {}}
    for name, case in CASES.items():
        t0 = time.perf_counter()
        result = run_case(case)
        print(f"{name}: {time.perf_counter() - t0:.0f} s, ESS {result['ess']:.0f}, max se "
              f"{max(max(v) for v in result['se'].values()):.1e}", flush=True)
        out["cases"][name] = {**case, "result": result}
    OUT.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
