"""Prior-data conflict (bayesdose/conflict.py): the prior predictive tails and Box's p-value
against their closed form (a bivariate normal with tiny sds predicts Binomial(n, p0) counts)
and against 2-D quadrature of the prior (a vague normal and a mixture), enumeration against
Monte Carlo, and which patients count."""

import itertools
import math
from datetime import date

import numpy as np
import pytest
from conftest import CONFIGS
from scipy import stats
from scipy.special import expit
from test_mixture_prior import TWO, config

from bayesdose import conflict
from bayesdose.conflict import prior_conflict
from bayesdose.data import TrialData, read_trial_data
from bayesdose.models.prior import Mixture
from bayesdose.schema import load_design

XJ = CONFIGS / "xj-mk-002.toml"
XJ_DATA = CONFIGS / "examples" / "xj-mk-002.csv"
NBG = CONFIGS / "nbg-2008.toml"
NBG_DATA = CONFIGS / "examples" / "nbg-2008.csv"
SMOOTH = 1e-6  # see test_the_predictive_matches_quadrature


def counts(n, dlt) -> TrialData:
    return TrialData(np.array(n), np.array(dlt))


def box_p(joint: dict[tuple[int, ...], float], observed: tuple[int, ...]) -> float:
    """Box's p from a joint predictive distribution over all outcomes."""
    return sum(m for m in joint.values() if m <= joint[observed] * (1 + 1e-9))


def test_a_point_prior_predicts_binomial_counts(tmp_path):
    """sds of 1e-4: P(DLT | d) is p0(d) = expit(log alpha + beta x_d) up to ~1e-4, so the
    counts are independent Binomial(n_d, p0(d)) (closed form)."""
    model = ("[model]\nprior_mean = [-1.0, 0.3]\nprior_sd = [1e-4, 1e-4]\n"
             "prior_correlation = 0.0\n")
    design = load_design(config(tmp_path, model))
    p0 = expit(-1.0 + math.exp(0.3) * design.dlt_model.covariate)
    n, dlt = [2, 4, 3], [0, 3, 1]
    result = prior_conflict(design, counts(n, dlt))
    for entry, k in zip(result.per_dose, range(3), strict=True):
        binomial = stats.binom(n[k], p0[k])
        assert entry.expected == pytest.approx(n[k] * p0[k], abs=1e-3)
        assert entry.p_upper == pytest.approx(binomial.sf(dlt[k] - 1), abs=1e-3)
        two_sided = min(1, 2 * min(binomial.sf(dlt[k] - 1), binomial.cdf(dlt[k])))
        assert entry.p_two_sided == pytest.approx(two_sided, abs=1e-3)
    joint = {y: math.prod(stats.binom.pmf(y[k], n[k], p0[k]) for k in range(3))
             for y in itertools.product(*(range(m + 1) for m in n))}
    assert result.method == "enumeration" and result.mcse is None
    assert result.overall_p == pytest.approx(box_p(joint, tuple(dlt)), abs=1e-3)


def quadrature_predictive(design, n: list[int]) -> dict[tuple[int, ...], float]:
    """m(y) for every joint outcome y: the integral of the prior density x prod_d
    Binomial(y_d; n_d, p_d) over (log alpha, log beta), by composite Gauss-Legendre on the
    prior frame +- 12 sds along each axis (64 panels of 16 nodes: no relation to the
    engine's sheared grid; the mixture's components lie well within the box)."""
    frame = design.prior.frame
    t, w = np.polynomial.legendre.leggauss(16)
    axes = []
    for mu, sd in zip(frame.mean, frame.sd, strict=True):
        edges = np.linspace(mu - 12 * sd, mu + 12 * sd, 65)
        half = np.diff(edges)[:, None] / 2
        axes.append((((edges[:-1, None] + half) + half * t).ravel(), (half * w).ravel()))
    (a, wa), (b, wb) = axes
    a, b = np.meshgrid(a, b, indexing="ij")
    density = np.exp(design.prior.log_density(np.stack([a, b], axis=-1))) * np.outer(wa, wb)
    p = expit(a[..., None] + np.exp(b)[..., None] * design.dlt_model.covariate)

    def binomial(k: int, y: int) -> np.ndarray:
        return math.comb(n[k], y) * p[..., k] ** y * (1 - p[..., k]) ** (n[k] - y)

    return {y: float(np.sum(density * math.prod(binomial(k, y[k]) for k in range(len(n)))))
            for y in itertools.product(*(range(m + 1) for m in n))}


@pytest.mark.parametrize("model", [None, TWO], ids=["vague normal", "mixture"])
def test_the_predictive_matches_quadrature(tmp_path, model):
    """Every joint outcome of 1 and 3 patients at two doses (XJ-MK-002's data) by 2-D
    quadrature: the per-dose tails, means and Box's p agree to 1e-6. The engine's stated
    error bound (ERROR_BOUND, 1e-3) is set by the cells an interval probability's threshold
    cuts; a predictive probability is a smooth integral (the kind of the normalising
    constant, spectrally accurate on the grid: 2e-9 measured here), so the test asks for
    far less than the bound allows."""
    design = load_design(XJ if model is None else config(tmp_path, model))
    assert model is None or isinstance(design.prior, Mixture)
    n, observed = [1, 3], (0, 1)
    joint = quadrature_predictive(design, n)
    assert sum(joint.values()) == pytest.approx(1, abs=1e-8)
    result = prior_conflict(design, read_trial_data(XJ_DATA, design))
    for k, entry in enumerate(result.per_dose):
        marginal = [sum(m for y, m in joint.items() if y[k] == j) for j in range(n[k] + 1)]
        assert entry.p_upper == pytest.approx(sum(marginal[observed[k]:]), abs=SMOOTH)
        assert entry.expected == pytest.approx(np.arange(n[k] + 1) @ marginal,
                                               abs=SMOOTH)
    assert result.overall_p == pytest.approx(box_p(joint, observed), abs=SMOOTH)


@pytest.mark.parametrize("path, data", [(XJ, XJ_DATA), (NBG, NBG_DATA)])
def test_monte_carlo_agrees_with_enumeration(monkeypatch, path, data):
    design = load_design(path)
    trial = read_trial_data(data, design)
    exact = prior_conflict(design, trial)
    monkeypatch.setattr(conflict, "WORK", 0)  # too much work to enumerate: Monte Carlo
    estimate = prior_conflict(design, trial)
    assert (exact.method, estimate.method) == ("enumeration", "monte carlo")
    assert abs(estimate.overall_p - exact.overall_p) <= 4 * estimate.mcse
    assert 0 < estimate.mcse <= 0.008
    assert estimate.per_dose == exact.per_dose  # the tails are always exact
    assert prior_conflict(design, trial) == estimate  # a fixed seed: deterministic


def test_the_shipped_examples():
    """XJ-MK-002 (1 DLT in 3 at 3e8) fits its prior; Neuenschwander et al.'s 2 DLTs in 2 at
    25 mg are more than the prior expected (0.2): the upper tail there is below 0.05."""
    xj = load_design(XJ)
    result = prior_conflict(xj, read_trial_data(XJ_DATA, xj))
    assert [(e.n, e.dlt) for e in result.per_dose] == [(1, 0), (3, 1)]
    assert result.overall_p == pytest.approx(0.3998, abs=1e-4) and not result.flagged
    nbg = load_design(NBG)
    result = prior_conflict(nbg, read_trial_data(NBG_DATA, nbg))
    last = result.per_dose[-1]
    assert (last.dose, last.n, last.dlt) == (25.0, 2, 2)
    assert last.p_upper == pytest.approx(0.0422, abs=1e-4) and result.flagged
    assert result.overall_p == pytest.approx(0.1349, abs=1e-4)


def test_only_final_outcomes_count():
    """XJ-04 is 16 of 28 days into follow-up without a DLT: not yet an outcome."""
    design = load_design(XJ)
    dated = read_trial_data(CONFIGS / "examples" / "xj-mk-002-dated.csv", design,
                            as_of=date(2025, 11, 5))
    result = prior_conflict(design, dated)
    assert [e.n for e in result.per_dose] == [int(c) for c in dated.complete if c > 0]
    assert sum(e.n for e in result.per_dose) == dated.total_patients - 1


def test_no_outcome_yet_is_no_conflict():
    design = load_design(XJ)
    result = prior_conflict(design, counts([0, 0, 0], [0, 0, 0]))
    assert result.per_dose == () and result.overall_p == pytest.approx(1.0)
    assert not result.flagged


def test_recommend_reports_the_ess_and_the_conflict():
    """JSON prior.conflict beside prior.ess; the table's prior ESS column and conflict line
    (with the disagreement spelt out when flagged); the same in the HTML fragment."""
    from bayesdose.designs.blrm.recommendation import format_table, recommend, to_json

    nbg = load_design(NBG)
    rec = recommend(nbg, read_trial_data(NBG_DATA, nbg))
    prior = to_json(rec)["prior"]
    assert prior["kind"] == "normal" and len(prior["ess"]) == 15
    entry = prior["conflict"]
    assert entry["method"] == "enumeration" and entry["mcse"] is None and entry["flagged"]
    assert entry["per_dose"][-1] == {"dose": 25.0, "n": 2, "dlt": 2,
                                     "expected": rec.conflict.per_dose[-1].expected,
                                     "p_upper": rec.conflict.per_dose[-1].p_upper,
                                     "p_two_sided": rec.conflict.per_dose[-1].p_two_sided}
    assert "Box's (1980)" in entry["definition"]
    lines = format_table(rec).splitlines()
    assert lines[1].split()[-3:] == ["prior", "ESS", "allowed"]
    assert lines[2].split()[-2:] == [f"{rec.ess[0]:.1f}", "yes"]
    assert ("prior-data conflict: overall p = 0.135 (Box's prior predictive p-value, by "
            "enumeration); per dose P(DLTs >= observed): 1: 1.000, 2.5: 1.000, 5: 1.000, "
            "10: 1.000, 25: 0.042") in lines
    disagree = next(line for line in lines if line.startswith("the data disagree"))
    assert "more DLTs than it expected at 25 mg (2 of 2, expected 0.20; P(DLTs >= 2) = 0.042)" \
        in disagree
    html = rec._repr_html_()
    assert "<th>prior ESS</th>" in html and "the data disagree with the prior" in html
    xj = load_design(XJ)
    text = format_table(recommend(xj, read_trial_data(XJ_DATA, xj)))
    assert "overall p = 0.400" in text and "disagree" not in text
