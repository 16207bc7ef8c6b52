"""Tests of the MCMC engine against a brute-force grid posterior computed here, independently."""

import json

import numpy as np
import pytest
from scipy.special import expit, logit

pytest.importorskip("pymc")

from bayesdose.inference.mcmc import fit_mcmc  # noqa: E402
from bayesdose.models.blrm import SingleAgentBlrm  # noqa: E402
from bayesdose.models.prior import BivariateNormal  # noqa: E402

DOSES = np.array([1, 2.5, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 250.0])
X = np.log(DOSES / 250.0)
PRIOR_MEAN = np.array([-1.3863, 0.0])
PRIOR_COV = np.diag([2.0, 1.0]) ** 2
BOUNDS = (0.16, 0.33)
# Neuenschwander et al. (2008) "hist" data: 3 at 1, 4 at 2.5, 5 at 5, 4 at 10 (no DLT), 2 at 25
# (1 DLT). Rows are aggregated where identical: count is a multiplier.
HIST = {"dose_index": np.array([0, 1, 2, 3, 6, 6]), "dlt": np.array([0, 0, 0, 0, 0, 1]),
        "weight": np.ones(6), "count": np.array([3, 4, 5, 4, 1, 1])}
# Same, plus two patients still in follow-up (TITE weight 0.5) at 25 and 40.
TITE = {"dose_index": np.array([0, 1, 2, 3, 6, 6, 6, 8]),
        "dlt": np.array([0, 0, 0, 0, 0, 1, 0, 0]),
        "weight": np.array([1, 1, 1, 1, 1, 1, 0.5, 0.5]),
        "count": np.array([3, 4, 5, 4, 1, 1, 1, 1])}
NO_DATA = {"dose_index": np.array([], dtype=int), "dlt": np.array([], dtype=int),
           "weight": np.array([]), "count": np.array([], dtype=int)}
VARS = ["mean", "sd", "q025", "median", "q975", "p_underdose", "p_target", "p_overdose",
        "mcse_p_underdose", "mcse_p_target", "mcse_p_overdose", "mcse_mean"]


def fit(data, prior_cov=PRIOR_COV, seed=2024, **kw):
    prior = BivariateNormal.from_covariance(PRIOR_MEAN, prior_cov)
    return fit_mcmc(SingleAgentBlrm(tuple(X)), prior, **data, bounds=BOUNDS, doses=DOSES,
                    seed=seed, cohort_size=3, **kw)


def exact_summary(data, prior_cov=PRIOR_COV, n_grid=600, width=7.0):
    """Posterior mean of P(DLT) and P(overdose) per dose by brute force on a grid.

    Midpoint rule over (log alpha, log beta) within +-width prior sd; the interval probability
    counts, for each cell, the fraction of it (along log alpha) beyond the bound, which is exact
    in log alpha: p >= c <=> log alpha >= logit(c) - beta x. The likelihood is evaluated per
    patient (counts expanded) as p^y (1 - w p)^(1 - y). Accurate to about 2e-5 here.
    """
    sd = np.sqrt(np.diag(prior_cov))
    h = 2 * width * sd / n_grid
    axes = PRIOR_MEAN[:, None] - width * sd[:, None] + (np.arange(n_grid) + 0.5) * h[:, None]
    la, lb = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
    dev = np.stack([la, lb]) - PRIOR_MEAN[:, None]
    logw = -0.5 * np.einsum("ik,ij,jk->k", dev, np.linalg.inv(prior_cov), dev)
    reps = data["count"].astype(int)
    patients = zip(*(np.repeat(data[k], reps) for k in ("dose_index", "dlt", "weight")),
                   strict=True)
    with np.errstate(divide="ignore"):
        for i, y, w in patients:
            p = expit(la + np.exp(lb) * X[i])
            logw += np.log(p) if y else np.log1p(-w * p)
    wts = np.exp(logw - logw.max())
    wts /= wts.sum()
    slope = np.exp(lb)[:, None] * X[None, :]
    above = np.clip((la[:, None] + h[0] / 2 - (logit(BOUNDS[1]) - slope)) / h[0], 0.0, 1.0)
    return wts @ expit(la[:, None] + slope), wts @ above


@pytest.fixture(scope="module")
def hist_fit():
    return fit(HIST)


def assert_matches_exact(summary, data, prior_cov=PRIOR_COV):
    mean, p_over = exact_summary(data, prior_cov)
    for name, exact in (("mean", mean), ("p_overdose", p_over)):
        err = np.abs(summary[name].values - exact)
        tol = 4 * summary[f"mcse_{name}"].values + 1e-3  # floor: mcse is 0 where all draws agree
        assert np.all(err <= tol), (name, err, tol)


def test_summary_structure(hist_fit):
    summary, _ = hist_fit
    assert sorted(summary.data_vars) == sorted([*VARS, "predictive"])
    assert summary.attrs == {"engine": "mcmc"}
    np.testing.assert_array_equal(summary["dose"].values, DOSES)
    assert all(summary[v].dtype == np.float64 and summary[v].dims == ("dose",) for v in VARS)
    total = summary["p_underdose"] + summary["p_target"] + summary["p_overdose"]
    np.testing.assert_allclose(total, 1.0)
    assert np.all((summary["q025"] <= summary["median"]) & (summary["median"] <= summary["q975"]))
    assert np.all(np.diff(summary["mean"].values) > 0)


def test_predictive_of_the_next_cohort(hist_fit):
    """The draws' mixture of binomials for a cohort of 3: probabilities summing to one whose
    mean is 3 x the draws' mean of P(DLT) (an identity for any weighted atoms; the mean itself
    is checked against brute force below)."""
    summary, _ = hist_fit
    predictive = summary["predictive"].values
    assert summary["predictive"].dims == ("dose", "dlts") and predictive.shape == (15, 4)
    np.testing.assert_allclose(predictive.sum(axis=1), 1.0)
    np.testing.assert_allclose(predictive @ np.arange(4), 3 * summary["mean"].values)
    assert np.all(np.diff(predictive[:, 0]) < 0)  # fewer cohorts without a DLT as doses rise


def test_hist_matches_exact(hist_fit):
    assert_matches_exact(hist_fit[0], HIST)


def test_tite_matches_exact():
    summary, diagnostics = fit(TITE)
    assert diagnostics["diagnostics_ok"], diagnostics["messages"]
    assert_matches_exact(summary, TITE)
    # Pending patients without DLT count for less than complete ones: posterior lies between.
    full = {**TITE, "weight": np.ones(8)}
    mean_full, _ = exact_summary(full)
    mean_hist, _ = exact_summary(HIST)
    assert np.all(mean_full < summary["mean"].values + 4 * summary["mcse_mean"].values)
    assert np.all(summary["mean"].values < mean_hist + 4 * summary["mcse_mean"].values)


def test_no_data_matches_prior():
    cov = np.array([[4.0, 0.6], [0.6, 1.0]])  # correlated prior exercises the Cholesky mapping
    summary, diagnostics = fit(NO_DATA, prior_cov=cov)
    assert diagnostics["diagnostics_ok"], diagnostics["messages"]
    assert_matches_exact(summary, NO_DATA, prior_cov=cov)


def test_reproducible_from_seed():
    a = fit(HIST, seed=7, draws=200, tune=200)
    b = fit(HIST, seed=7, draws=200, tune=200)
    c = fit(HIST, seed=8, draws=200, tune=200)
    assert a[0].identical(b[0]) and a[1] == b[1]
    assert not a[0].identical(c[0])


def test_diagnostics_on_example(hist_fit):
    _, d = hist_fit
    assert set(d) == {"engine", "sampler", "chains", "draws", "tune", "target_accept", "seed",
                      "rhat_max", "ess_bulk_min", "ess_tail_min", "divergences",
                      "diagnostics_ok", "resampled", "messages"}
    assert d["engine"] == "mcmc" and d["sampler"] == "pymc-nuts"
    assert (d["chains"], d["draws"], d["tune"], d["seed"]) == (4, 1000, 1000, 2024)
    assert d["diagnostics_ok"] is True and d["resampled"] is False and d["messages"] == []
    assert d["rhat_max"] <= 1.01 and d["divergences"] == 0
    assert min(d["ess_bulk_min"], d["ess_tail_min"]) >= 400
    assert json.loads(json.dumps(d)) == d
    assert all(type(d[k]) is float for k in ("rhat_max", "ess_bulk_min", "ess_tail_min"))


def test_failed_diagnostics_resample_and_report():
    _, d = fit(HIST, chains=2, draws=40, tune=40)  # far too few draws for ESS >= 400
    assert d["resampled"] is True and d["diagnostics_ok"] is False
    assert (d["draws"], d["tune"], d["seed"]) == (80, 80, 2025)
    assert len(d["messages"]) == 2 and "ess" in d["messages"][1]
    json.dumps(d)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        fit({**HIST, "weight": np.zeros(6)})
