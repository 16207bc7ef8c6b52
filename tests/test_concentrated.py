"""Issue 19: the exact engine on concentrated posteriors (hundreds to thousands of patients, a
tight prior, a mixture prior) against the brute-force integrator, and the edge cases it found.
The numbers are in docs/exact-engine.md (``python -m benchmarks.research.concentrated``)."""

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.data import TrialData
from bayesdose.errors import InputError
from bayesdose.inference import exact
from bayesdose.inference.brute_force import BruteForcePosterior
from bayesdose.inference.exact import ERROR_BOUND, ExactEngine, resolving_grid
from bayesdose.models.prior import BivariateNormal, Mixture
from bayesdose.posterior import build_exact_engine, exact_summary
from bayesdose.schema import design_from_dict, load_design, read_toml

# Issue 19's case was stated under the prior then derived for this panel (medians 0.10 and 0.30
# at the lowest and highest dose, sds (2, 1)); the design states it, so the case is unchanged by
# the recalibrated default (issue 17)
_RAW = read_toml(CONFIGS / "standard-5dose.toml")
_RAW["model"] = {"prior_mean": [-0.8473, -0.7197], "prior_sd": [2.0, 1.0]}
STANDARD = design_from_dict(_RAW, str(CONFIGS / "standard-5dose.toml"))
MODEL, BOUNDS = STANDARD.dlt_model, STANDARD.decision.target_interval
DERIVED = STANDARD.prior
TIGHT = BivariateNormal((-0.8473, -0.7197), (0.05, 0.05), 0.0)
MIXTURE = Mixture((0.5, 0.5), (BivariateNormal((-0.8473, -0.7197), (2.0, 1.0), 0.0),
                               BivariateNormal((-1.5, -0.2), (0.5, 0.3), 0.3)))
ISSUE_200 = ([200] * 5, [10, 20, 36, 52, 61])

CASES = {  # name: (prior, n, DLTs, brute force box, whether the prior's grid answers)
    "200 per dose (issue 19)": (DERIVED, *ISSUE_200, "posterior", False),
    "1000 per dose (issue 19 x5)": (DERIVED, [1000] * 5, [50, 100, 180, 260, 305],
                                    "posterior", False),
    "3000 per dose": (DERIVED, [3000] * 5, [150, 300, 540, 780, 915], "posterior", False),
    "60 per dose": (DERIVED, [60] * 5, [3, 6, 11, 16, 18], "posterior", False),
    "12 per dose (unchanged)": (DERIVED, [12] * 5, [0, 1, 2, 3, 4], "posterior", True),
    "tight prior, 200 per dose": (TIGHT, *ISSUE_200, "posterior", True),
    "mixture prior, 200 per dose": (MIXTURE, *ISSUE_200, "posterior", False),
    "ridge: 200 at one dose": (DERIVED, [0, 0, 200, 0, 0], [0, 0, 40, 0, 0], "prior", False),
}


def engine_for(prior):
    grid = resolving_grid(prior)
    return ExactEngine(MODEL, prior, BOUNDS, grid)


def reference(prior, n, y, box):
    bf = BruteForcePosterior(MODEL, prior, n, y, box=box, scale=1 if box == "posterior" else 4)
    below = np.array([[bf.prob_below(d, c) for d in range(5)] for c in BOUNDS])
    mean = np.array([bf.moment(d, 1) for d in range(5)])
    sd = np.sqrt(np.array([bf.moment(d, 2) for d in range(5)]) - mean**2)
    return {"p_underdose": below[0], "p_target": below[1] - below[0],
            "p_overdose": 1 - below[1], "mean": mean, "sd": sd}


@pytest.mark.parametrize("name", list(CASES))
def test_concentrated_posteriors_match_brute_force(name):
    prior, n, y, box, on_prior_grid = CASES[name]
    engine = engine_for(prior)
    n, y = np.array(n, float), np.array(y, float)
    summary = engine.batch(n[None], y[None])
    answering = engine.for_data(n, y)
    assert (answering is engine) == on_prior_grid
    if not on_prior_grid and answering.on_prior_frame:  # the prior's frame, finer
        assert answering.grid.n_alpha > engine.grid.n_alpha
        counts = answering.observation_counts(n, y)
        assert not answering._unresolved(answering._functionals_of(counts[0])[None])[0]
    elif not on_prior_grid:  # placed on the posterior, checked against another grid
        assert answering.error_estimate <= ERROR_BOUND / 2
    ref = reference(prior, n, y, box)
    worst = max(np.max(np.abs(getattr(summary, k)[0] - ref[k])) for k in ref)
    assert worst < ERROR_BOUND / 4, (name, worst)


def test_the_prior_grid_alone_was_wrong_on_the_issue_case():
    """What the engine answered before it followed the posterior: 0.2535 against 0.2428."""
    engine = engine_for(DERIVED)
    counts = engine.observation_counts(*[np.array(v, float)[None] for v in ISSUE_200])
    out = engine._functionals_of(counts[0])[None]
    assert engine._unresolved(out)[0]
    assert engine._summaries(out).p_overdose[0, -1] == pytest.approx(0.2535, abs=1e-4)


def test_the_brute_force_on_the_posterior_has_converged():
    prior, n, y, *_ = CASES["1000 per dose (issue 19 x5)"]
    a = BruteForcePosterior(MODEL, prior, n, y, box="posterior")
    b = BruteForcePosterior(MODEL, prior, n, y, box="posterior", scale=2, sds=20)
    for d in range(5):
        assert abs(a.prob_below(d, BOUNDS[1]) - b.prob_below(d, BOUNDS[1])) < 1e-9


def test_recommend_on_the_issue_data_allows_the_top_dose():
    data = TrialData(np.array(ISSUE_200[0]), np.array(ISSUE_200[1]), source="issue19.csv")
    summary, diagnostics = exact_summary(STANDARD, data)
    assert float(summary.p_overdose[-1]) == pytest.approx(0.2428, abs=1e-4)
    assert float(summary.p_overdose[-1]) < STANDARD.decision.max_overdose_probability
    grid = diagnostics["grid"]  # not the default grid: a finer one on the prior's frame
    assert grid["frame"] == "prior" and (grid["n_alpha"], grid["n_beta"]) == (800, 240)
    lo, hi = float(summary.q025[-1]), float(summary.q975[-1])
    assert lo < float(summary["median"][-1]) < hi and hi - lo < 0.15


def test_a_concentrated_row_in_a_batch_gets_its_own_answer():
    engine = build_exact_engine(STANDARD)
    small = (np.array([3, 3, 0, 0, 0.]), np.array([0, 1, 0, 0, 0.]))
    n = np.array([small[0], ISSUE_200[0], small[0]], float)
    y = np.array([small[1], ISSUE_200[1], small[1]], float)
    batch = engine.batch(n, y)
    alone = engine.batch(n[1:2], y[1:2])
    small_alone = engine.batch(n[:1], y[:1])
    assert np.array_equal(batch.p_overdose[1], alone.p_overdose[0])
    assert np.array_equal(batch.p_overdose[0], small_alone.p_overdose[0])
    assert batch.p_overdose[1, -1] == pytest.approx(0.2428, abs=1e-4)


def test_data_beyond_the_engine_are_refused(monkeypatch):
    # no grid can settle: agreement within 1e-14 is never reached before 50,000 nodes
    monkeypatch.setattr(exact, "ERROR_BOUND", 1e-14)
    monkeypatch.setattr(exact, "MAX_NODES", 50_000)
    monkeypatch.setattr(exact, "FINER_MAX_NODES", 0)  # and no finer grid on the prior's frame
    design = load_design(CONFIGS / "standard-5dose.toml")  # a fresh engine
    data = TrialData(np.array(ISSUE_200[0]), np.array(ISSUE_200[1]), source="issue19.csv")
    from bayesdose import posterior
    posterior.exact_engine.cache_clear()
    try:
        with pytest.raises(InputError, match="--engine mcmc"):
            exact_summary(design, data)
    finally:
        posterior.exact_engine.cache_clear()


MINIMAL = {"doses": {"levels": [1, 2, 4, 8, 16]}}


@pytest.mark.parametrize("raw, where", [
    ({**MINIMAL, "model": {"prior_mean": [0, 0], "prior_sd": [1e-300, 1e-300]}},
     "[model] prior_sd"),
    ({"doses": {**MINIMAL["doses"], "reference": 1e300}}, "[doses] reference"),
    ({**MINIMAL, "cohorts": {"dlt_window_days": 100000}}, "[cohorts] dlt_window_days"),
])
def test_the_issue_edge_cases_are_refused_by_validation(raw, where):
    with pytest.raises(InputError, match=__import__("re").escape(where)):
        design_from_dict(raw)


def test_the_smallest_prior_sd_allowed_works():
    design = design_from_dict({**MINIMAL, "model": {"prior_mean": [-1, 0],
                                                    "prior_sd": [1e-6, 1e-6]}})
    data = TrialData(np.array([3, 3, 0, 0, 0]), np.array([0, 1, 0, 0, 0]))
    summary, _ = exact_summary(design, data)
    assert np.all(np.isfinite(summary.p_overdose))


def test_undated_data_never_build_the_window_rows():
    design = design_from_dict({**MINIMAL, "cohorts": {"dlt_window_days": 365}})
    engine = build_exact_engine(design)
    engine.batch(np.array([[3, 3, 0, 0, 0]]), np.array([[0, 1, 0, 0, 0]]))
    assert "_full_basis" not in engine.__dict__
    pending = np.zeros((1, 5, 365))
    pending[0, 1, 100] = 1
    engine.batch(np.array([[3, 3, 0, 0, 0]]), np.array([[0, 0, 0, 0, 0]]), pending)
    assert engine.__dict__["_full_basis"].shape == (5 * 2 + 5 * 365, engine._basis.shape[1])


def test_the_interval_probabilities_alone_are_the_batch_s_bits():
    """``intervals`` (what simulated designs decide on: the decisions' functionals only) gives
    the bits of ``batch`` on every path: the prior's grid, the finer prior-frame grids (24 and
    60 per dose) and a grid placed on the posterior (1,000 per dose)."""
    engine = build_exact_engine(STANDARD)
    n = np.array([[3, 3, 0, 0, 0], [24] * 5, [60] * 5, [1000] * 5, [6, 6, 3, 0, 0]], float)
    y = np.array([[0, 1, 0, 0, 0], [1, 3, 5, 7, 9], [3, 6, 11, 16, 18],
                  [50, 100, 180, 260, 305], [0, 1, 2, 0, 0]], float)
    grids = [engine.for_data(a, b) for a, b in zip(n, y, strict=True)]
    assert grids[0] is engine and grids[1] is engine.finer and not grids[3].on_prior_frame
    summary = engine.batch(n, y)
    p_target, p_overdose = engine.intervals(n, y)
    np.testing.assert_array_equal(p_target, summary.p_target)
    np.testing.assert_array_equal(p_overdose, summary.p_overdose)
    assert p_overdose[3, -1] == pytest.approx(0.0955, abs=1e-4)  # docs/exact-engine.md
