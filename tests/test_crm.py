"""CRM core against R's dfcrm 0.2-2.1 (tests/data/reference/dfcrm_*.json, *.csv)."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from scipy.special import log_expit

from bayesdose.designs.crm.core import (
    _count_moments,
    crm_mtd,
    crm_posterior,
    crm_posterior_mean,
    crmsim_next_dose,
    crmsim_restrict,
    dose_toxicity,
    getprior,
    scaled_doses,
)

REFERENCE = Path(__file__).parent / "data" / "reference"
EXAMPLE = json.loads((REFERENCE / "dfcrm_crm_empiric.json").read_text())["crm_empiric"]
CRMSIM = json.loads((REFERENCE / "dfcrm_crmsim_1000.json").read_text())["crmsim_1000"]
SKELETON = [0.05, 0.10, 0.20, 0.35, 0.50, 0.70]
LEVEL = [3, 4, 4, 3, 3, 4, 3, 2, 2, 2]  # crm()'s help-page example
TOX = [0, 0, 1, 0, 0, 1, 1, 0, 0, 0]
Z90 = 1.6448536269514722  # qnorm(0.95)
CRMSIM_TARGET = 0.2  # crmsim(PI, prior = SKELETON, target = 0.2, n = 24, x0 = 3)


# --- crm() on its help-page example -------------------------------------------------------


def test_example_posterior_mean_matches_dfcrm_and_exact_integral() -> None:
    fit = crm_posterior(SKELETON, LEVEL, TOX, target=0.2)
    assert fit.estimate == pytest.approx(EXAMPLE["estimate"], abs=1e-8, rel=0)
    assert fit.estimate == pytest.approx(EXAMPLE["derived_posterior_mean_a"], abs=1e-12, rel=0)
    assert fit.post_var == pytest.approx(EXAMPLE["post.var"], abs=1e-8, rel=0)
    assert fit.post_var == pytest.approx(EXAMPLE["derived_posterior_var_a"], abs=1e-12, rel=0)
    assert fit.prior_var == pytest.approx(EXAMPLE["prior.var"], rel=1e-15)


def test_example_plug_in_curve_limits_and_mtd() -> None:
    fit = crm_posterior(SKELETON, LEVEL, TOX, target=0.2)
    np.testing.assert_allclose(fit.ptox, EXAMPLE["ptox"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(fit.ptox_lower, EXAMPLE["ptoxL"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(fit.ptox_upper, EXAMPLE["ptoxU"], rtol=0, atol=1e-9)
    # ptox is the model at the posterior mean of a, not the posterior mean of P(DLT)
    np.testing.assert_allclose(
        fit.ptox, EXAMPLE["derived_plugin_tox_at_exact_mean"], rtol=0, atol=1e-12
    )
    assert np.abs(fit.ptox - EXAMPLE["derived_posterior_mean_tox"]).min() > 1e-3
    assert fit.mtd == EXAMPLE["mtd"] == 2
    np.testing.assert_allclose(fit.dosescaled, EXAMPLE["dosescaled"], rtol=0, atol=0)


def test_limits_are_normal_approximation_plugged_into_the_model() -> None:
    """ptoxL/U = skeleton ^ exp(estimate +/- z sqrt(post.var)), z = qnorm(0.95), from R's own
    estimate and post.var."""
    half = Z90 * np.sqrt(EXAMPLE["post.var"])
    x = np.array(EXAMPLE["dosescaled"])
    np.testing.assert_allclose(
        dose_toxicity(EXAMPLE["estimate"] + half, x), EXAMPLE["ptoxL"], rtol=1e-14
    )
    np.testing.assert_allclose(
        dose_toxicity(EXAMPLE["estimate"] - half, x), EXAMPLE["ptoxU"], rtol=1e-14
    )


def test_dfcrm_integration_reproduces_r_output_to_rounding() -> None:
    fit = crm_posterior(SKELETON, LEVEL, TOX, target=0.2, integration="dfcrm")
    assert fit.estimate == pytest.approx(EXAMPLE["estimate"], abs=1e-14, rel=0)
    assert fit.post_var == pytest.approx(EXAMPLE["post.var"], abs=1e-14, rel=0)
    for ours, theirs in [("ptox", "ptox"), ("ptox_lower", "ptoxL"), ("ptox_upper", "ptoxU")]:
        np.testing.assert_allclose(getattr(fit, ours), EXAMPLE[theirs], rtol=0, atol=1e-14)


# --- accuracy of the fixed quadrature rule --------------------------------------------------


def _independent_moments(skeleton, level, tox, weights, model, prior_var=1.34, intcpt=3.0):
    """Posterior mean and variance of a by adaptive quadrature at tight tolerance, written
    directly from the model formulas (no code shared with bayesdose)."""
    skeleton = np.asarray(skeleton)
    x = skeleton if model == "empiric" else np.log(skeleton / (1 - skeleton)) - intcpt
    x, y, w = x[np.asarray(level) - 1], np.asarray(tox), np.asarray(weights)

    def log_post(a: float) -> float:
        slope = np.exp(a)
        log_p = slope * np.log(x) if model == "empiric" else log_expit(intcpt + slope * x)
        log_q = np.log1p(-w * np.exp(log_p))
        return float(np.sum(np.where(y == 1, log_p, log_q)) - a * a / (2 * prior_var))

    grid = np.linspace(-12, 12, 2401)
    values = np.array([log_post(a) for a in grid])
    peak, mode = values.max(), grid[values.argmax()]
    moments = [
        integrate.quad(lambda a, k=k: a**k * np.exp(log_post(a) - peak), -15, 15,
                       points=[mode - 1, mode, mode + 1], epsabs=0, epsrel=1e-12,
                       limit=500)[0]
        for k in range(3)
    ]
    mean = moments[1] / moments[0]
    return mean, moments[2] / moments[0] - mean**2


def _random_trials(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.choice([1, 2, 5, 12, 24, 40, 80]))
        level = rng.integers(1, 7, size=n)
        p_true = np.minimum(np.asarray(SKELETON)[level - 1] * rng.uniform(0.3, 2.0), 0.95)
        tox = rng.binomial(1, p_true)
        yield level, tox, rng.uniform(0.05, 1.0, size=n)


@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_posterior_moments_match_independent_integration(model: str) -> None:
    for level, tox, _ in _random_trials(seed=11 if model == "empiric" else 12, count=8):
        fit = crm_posterior(SKELETON, level, tox, target=0.2, model=model)
        mean, var = _independent_moments(SKELETON, level, tox, np.ones(tox.size), model)
        assert fit.estimate == pytest.approx(mean, abs=1e-10, rel=0)
        assert fit.post_var == pytest.approx(var, abs=1e-10, rel=0)


@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_tite_weighted_posterior_matches_independent_integration(model: str) -> None:
    for level, tox, weights in _random_trials(seed=21, count=4):
        fit = crm_posterior(SKELETON, level, tox, target=0.2, model=model, weights=weights)
        mean, var = _independent_moments(SKELETON, level, tox, weights, model)
        assert fit.estimate == pytest.approx(mean, abs=1e-10, rel=0)
        assert fit.post_var == pytest.approx(var, abs=1e-10, rel=0)


def test_unit_weights_equal_plain_crm_and_counts_are_sufficient() -> None:
    plain = crm_posterior(SKELETON, LEVEL, TOX, target=0.2)
    weighted = crm_posterior(SKELETON, LEVEL, TOX, target=0.2, weights=np.ones(len(TOX)))
    assert weighted.estimate == pytest.approx(plain.estimate, abs=1e-13)
    order = np.random.default_rng(0).permutation(len(TOX))
    shuffled = crm_posterior(SKELETON, np.array(LEVEL)[order], np.array(TOX)[order], 0.2)
    assert shuffled.estimate == plain.estimate
    npts = np.bincount(np.array(LEVEL) - 1, minlength=6)
    ntox = np.bincount(np.array(LEVEL) - 1, weights=TOX, minlength=6)
    assert crm_posterior_mean(SKELETON, npts, ntox) == pytest.approx(plain.estimate, abs=1e-15)


def test_no_data_gives_the_prior() -> None:
    fit = crm_posterior(SKELETON, [], [], target=0.2)
    assert fit.estimate == pytest.approx(0.0, abs=1e-14)
    assert fit.post_var == pytest.approx(1.34, abs=1e-12)
    np.testing.assert_allclose(fit.ptox, SKELETON, rtol=1e-14)


def test_logistic_working_model_scaling() -> None:
    x = scaled_doses(SKELETON, "logistic", intcpt=3)
    np.testing.assert_allclose(x, np.log(np.divide(SKELETON, np.subtract(1, SKELETON))) - 3)
    np.testing.assert_allclose(dose_toxicity(0.0, x, "logistic", 3), SKELETON, rtol=1e-14)
    with pytest.raises(ValueError, match="intercept"):
        scaled_doses([0.1, 0.97], "logistic", intcpt=3)


def test_logistic_dfcrm_integration_agrees_with_fixed_rule() -> None:
    fixed = crm_posterior(SKELETON, LEVEL, TOX, target=0.2, model="logistic")
    as_r = crm_posterior(SKELETON, LEVEL, TOX, target=0.2, model="logistic",
                         integration="dfcrm")
    assert as_r.estimate == pytest.approx(fixed.estimate, abs=1e-6)
    assert as_r.post_var == pytest.approx(fixed.post_var, abs=1e-6)


# --- dfcrm's dose rules ---------------------------------------------------------------------


def test_mtd_rule_of_crm() -> None:
    assert crm_mtd([0.05, 0.1, 0.15], 0.2) == 3  # all below target: highest dose
    assert crm_mtd([0.25, 0.3, 0.4], 0.2) == 1  # all above: lowest dose
    assert crm_mtd([0.1, 0.18, 0.23, 0.4], 0.2) == 2
    assert crm_mtd([0.0625, 0.125, 0.375, 0.5], 0.25) == 2  # exact tie -> lower (order()[1])
    ptox = np.array([[0.1, 0.35], [0.25, 0.3], [0.05, 0.1]])
    np.testing.assert_array_equal(crm_mtd(ptox, 0.2), [1, 1, 2])


def test_crmsim_restrictions() -> None:
    # after a DLT (cohort DLT rate 1 >= target): never above the current dose
    assert crmsim_restrict(5, current_level=3, cohort_dlt_rate=1.0, target=0.2) == 3
    assert crmsim_restrict(2, current_level=3, cohort_dlt_rate=1.0, target=0.2) == 2
    # no DLT: at most one level above the current dose, de-escalation free
    assert crmsim_restrict(5, current_level=3, cohort_dlt_rate=0.0, target=0.2) == 4
    assert crmsim_restrict(1, current_level=3, cohort_dlt_rate=0.0, target=0.2) == 1
    # cohorts: compares the cohort's DLT proportion with the target
    assert crmsim_restrict(5, current_level=2, cohort_dlt_rate=1 / 3, target=0.3) == 2
    assert crmsim_restrict(5, current_level=2, cohort_dlt_rate=1 / 3, target=0.35) == 3
    assert crmsim_next_dose(SKELETON, 0.2, [], [], x0=3) == (3, 0.0)


# --- getprior -------------------------------------------------------------------------------


@pytest.mark.parametrize("nu", [1, 3, 6])
def test_getprior_empiric_by_hand(nu: int) -> None:
    target, halfwidth = 0.25, 0.05
    skeleton = getprior(halfwidth, target, nu, 6)
    # s_nu = target and, between neighbours, s_{k+1} = s_k ^ (log(t + hw) / log(t - hw))
    ratio = np.log(target + halfwidth) / np.log(target - halfwidth)
    expected = target ** (ratio ** (np.arange(1, 7) - nu))
    np.testing.assert_allclose(skeleton, expected, rtol=1e-14)
    # indifference intervals: where dose k has P(DLT) = t - hw, dose k+1 has t + hw
    for k in range(5):
        a = np.log(np.log(target - halfwidth) / np.log(skeleton[k]))
        assert skeleton[k + 1] ** np.exp(a) == pytest.approx(target + halfwidth, rel=1e-13)


@pytest.mark.parametrize("nu", [1, 3, 6])
def test_getprior_logistic_by_hand(nu: int) -> None:
    target, halfwidth, intcpt = 0.25, 0.10, 3.0

    def logit(p):
        return np.log(p / (1 - p))

    skeleton = getprior(halfwidth, target, nu, 6, model="logistic", intcpt=intcpt)
    x = logit(skeleton) - intcpt
    ratio = (logit(target + halfwidth) - intcpt) / (logit(target - halfwidth) - intcpt)
    expected = (logit(target) - intcpt) * ratio ** (np.arange(1, 7) - nu)
    np.testing.assert_allclose(x, expected, rtol=1e-13)
    assert skeleton[nu - 1] == pytest.approx(target, rel=1e-14)


# --- crmsim: replay of 1000 simulated trials ------------------------------------------------


@cache
def _crmsim_trials() -> dict[str, np.ndarray]:
    with open(REFERENCE / CRMSIM["per_trial_file"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    n = 24

    def table(prefix: str, kind: type) -> np.ndarray:
        return np.array([[kind(r[f"{prefix}{k}"]) for k in range(1, n + 1)] for r in rows])

    return {
        "dose": table("dose_pt", int),
        "tox": table("tox_pt", int),
        "betahat": table("betahat_before_pt", float),
        "selected": np.array([int(r["selected"]) for r in rows]),
        "final_est": np.array([float(r["final_est"]) for r in rows]),
    }


def _check_against_dfcrm(ours: np.ndarray, theirs: np.ndarray, data: list) -> None:
    """Posterior means agree to 1e-8 except where dfcrm's own quadrature (R's integrate at
    rel.tol 1.2e-4) is that far off; there, re-doing dfcrm's integration reproduces R's
    number to rounding, so the difference is dfcrm's numerical error, not a different rule."""
    off = np.flatnonzero(np.abs(ours - theirs) > 1e-8)
    assert off.size < 0.01 * ours.size
    assert np.abs(ours - theirs).max() < 1e-5
    as_dfcrm = {}  # one slow dfcrm-style integration per distinct (dose, DLT) counts
    for i in off:
        level, tox = data[i]
        counts = (tuple(np.bincount(level, minlength=7)), tuple(np.bincount(level[tox == 1],
                                                                            minlength=7)))
        if counts not in as_dfcrm:
            fit = crm_posterior(SKELETON, level, tox, CRMSIM_TARGET, integration="dfcrm")
            as_dfcrm[counts] = fit.estimate
        assert as_dfcrm[counts] == pytest.approx(theirs[i], abs=1e-12, rel=0)


def test_crmsim_replay_patient_by_patient() -> None:
    """Feeding each trial's DLT sequence to crmsim_next_dose gives dfcrm's doses, posterior
    means and final MTD in all 1000 trials."""
    ref = _crmsim_trials()
    target, x0 = CRMSIM_TARGET, 3
    doses = np.zeros_like(ref["dose"])
    betahat = np.zeros(ref["betahat"].shape)
    final = np.zeros(len(doses))
    selected = np.zeros(len(doses), dtype=int)
    for trial, tox in enumerate(ref["tox"]):
        for patient in range(tox.size):
            doses[trial, patient], betahat[trial, patient] = crmsim_next_dose(
                SKELETON, target, doses[trial, :patient], tox[:patient], x0=x0
            )
        fit = crm_posterior(SKELETON, doses[trial], tox, target)
        final[trial], selected[trial] = fit.estimate, fit.mtd
    np.testing.assert_array_equal(doses, ref["dose"])
    np.testing.assert_array_equal(selected, ref["selected"])
    assert np.all(betahat[:, 0] == 0) and np.all(ref["betahat"][:, 0] == 0)
    data = [(doses[t, :p], ref["tox"][t, :p]) for t in range(len(doses)) for p in range(1, 24)]
    _check_against_dfcrm(betahat[:, 1:].ravel(), ref["betahat"][:, 1:].ravel(), data)
    _check_against_dfcrm(final, ref["final_est"], list(zip(doses, ref["tox"], strict=True)))



def test_crmsim_replay_vectorised_over_trials() -> None:
    """The same replay, all trials at once with crm_posterior_mean (the simulator's path)."""
    ref = _crmsim_trials()
    n_trials, n = ref["dose"].shape
    trials = np.arange(n_trials)
    npts, ntox = np.zeros((n_trials, 6)), np.zeros((n_trials, 6))
    doses, betahat = np.full((n_trials, n), 3), np.zeros((n_trials, n))
    for patient in range(n):
        if patient:
            betahat[:, patient] = crm_posterior_mean(SKELETON, npts, ntox)
            ptox = np.asarray(SKELETON) ** np.exp(betahat[:, patient])[:, None]
            doses[:, patient] = crmsim_restrict(crm_mtd(ptox, CRMSIM_TARGET),
                                                doses[:, patient - 1],
                                                ref["tox"][:, patient - 1], CRMSIM_TARGET)
        npts[trials, doses[:, patient] - 1] += 1
        ntox[trials, doses[:, patient] - 1] += ref["tox"][:, patient]
    final = crm_posterior_mean(SKELETON, npts, ntox)
    np.testing.assert_array_equal(doses, ref["dose"])
    selected = crm_mtd(np.asarray(SKELETON) ** np.exp(final)[:, None], CRMSIM_TARGET)
    np.testing.assert_array_equal(selected, ref["selected"])
    assert np.quantile(np.abs(betahat - ref["betahat"]), 0.99) < 1e-8
    assert np.abs(betahat - ref["betahat"]).max() < 1e-5
    assert np.quantile(np.abs(final - ref["final_est"]), 0.99) < 1e-8


def test_crmsim_summary_is_consistent_with_per_trial_file() -> None:
    ref = _crmsim_trials()
    selection = np.bincount(ref["selected"] - 1, minlength=6) / len(ref["selected"])
    np.testing.assert_allclose(selection, CRMSIM["selection_prob"], atol=1e-12)
    per_dose = [(ref["dose"] == k).sum(axis=1).mean() for k in range(1, 7)]
    np.testing.assert_allclose(per_dose, CRMSIM["mean_patients_per_dose"], atol=1e-12)
    dlts = [((ref["dose"] == k) & (ref["tox"] == 1)).sum(axis=1).mean() for k in range(1, 7)]
    np.testing.assert_allclose(dlts, CRMSIM["mean_tox_per_dose"], atol=1e-12)
    assert ref["final_est"].mean() == pytest.approx(CRMSIM["final_est_mean"], abs=1e-12)


def test_batched_posterior_mean_is_each_row_alone_and_the_log_space_integral() -> None:
    """The simulator's batched posterior (likelihood tables, blocks of rows) gives every row
    the bits it gets alone, whatever block it falls in, and the posterior mean computed in
    logs (``_count_moments``, no tables) to 1e-12; rows with no patients give the prior."""
    rng = np.random.default_rng(5)
    npts = rng.integers(0, 10, (100, 6)) * (rng.random((100, 6)) < 0.6)
    npts[:3] = 0
    ntox = rng.binomial(npts, 0.3)
    batch = crm_posterior_mean(SKELETON, npts, ntox)
    alone = np.array([crm_posterior_mean(SKELETON, n, y) for n, y in zip(npts, ntox, strict=True)])
    np.testing.assert_array_equal(batch, alone)
    np.testing.assert_array_equal(batch[:3], crm_posterior_mean(SKELETON, [0] * 6, [0] * 6))
    assert abs(batch[0]) < 1e-14
    tables = (tuple(SKELETON), "empiric", 3.0, float(np.sqrt(1.34)))
    in_logs = [_count_moments(*tables, tuple(n.tolist()), tuple(y.tolist()))[0]
               for n, y in zip(npts, ntox, strict=True)]
    np.testing.assert_allclose(batch, in_logs, rtol=0, atol=1e-12)
    assert len(set(batch.round(6))) > 50  # the rows differ: the test is not of one posterior
