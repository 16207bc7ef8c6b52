"""Properties every design keeps, searched for counterexamples with hypothesis (issue 7).

- Coherence (Cheung 2005): no escalation right after a cohort with a DLT, no de-escalation
  right after a cohort without one (BLRM-EWOC: unless EWOC bars the last dose).
- Posterior monotonicity and well-formed interval probabilities (exact engine).
- The answer does not depend on the order of the rows of the data file.
- Simulation invariants: allocations and selections add up; the seed alone fixes the result.

Every search is bounded (``max_examples``) so the file runs in well under a minute.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayesdose.cli import main
from bayesdose.designs.base import CONTINUE, NO_DOSE, States
from bayesdose.designs.blrm.rules import decide
from bayesdose.designs.boin.core import boin_boundaries
from bayesdose.designs.registry import make_design
from bayesdose.posterior import exact_engine
from bayesdose.schema import Design, design_from_dict, load_design
from bayesdose.simulation.scenarios import load_scenarios
from bayesdose.simulation.study import run_study

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ROOT / "configs" / "standard-5dose.toml"
STANDARD_SCENARIOS = ROOT / "configs" / "scenarios" / "standard-5dose.toml"
NBG = ROOT / "configs" / "nbg-2008.toml"
DOSES = 5
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def blrm_design(prior: int) -> Design:
    """Two priors: the derived default of the standard panel and an informative one."""
    raw: dict = {"doses": {"levels": [1, 2, 4, 8, 16], "reference": 4},
                 "stopping": {"max_patients": 60}}
    if prior == 1:
        raw["model"] = {"prior_mean": [-1.1, 0.3], "prior_sd": [1.0, 0.7],
                        "prior_correlation": 0.3}
    return design_from_dict(raw, f"prior-{prior}.toml")


DESIGNS = [blrm_design(0), blrm_design(1)]

# A patient-level trial history: cohorts of (0-based level, size, DLTs).
cohort = st.integers(0, DOSES - 1).flatmap(
    lambda level: st.integers(1, 3).flatmap(
        lambda size: st.tuples(st.just(level), st.just(size), st.integers(0, size))
    )
)
history = st.lists(cohort, min_size=1, max_size=8)


def counts(cohorts: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    n, y = np.zeros(DOSES, np.int64), np.zeros(DOSES, np.int64)
    for level, size, dlts in cohorts:
        n[level] += size
        y[level] += dlts
    return n, y


def posterior(design: Design, n: np.ndarray, y: np.ndarray):
    return exact_engine(design).batch(n[None], y[None])


# -- coherence ------------------------------------------------------------------------------


@FAST
@given(history, st.sampled_from([0, 1]))
def test_blrm_ewoc_decisions_are_coherent(cohorts: list, prior: int) -> None:
    design = DESIGNS[prior]
    assert design.decision.coherence  # on by default
    n, y = counts(cohorts)
    s = posterior(design, n, y)
    last_level, _, last_dlts = cohorts[-1]
    d = decide(design, n, y, s.p_target[0], s.p_overdose[0], (last_level, last_dlts))
    if d.next_level is None:
        return
    if last_dlts > 0:
        assert d.next_level <= last_level, "escalated right after a cohort with a DLT"
    elif d.next_level < last_level:
        assert d.barred_by[last_level] == "overdose_probability", (
            "de-escalated after a DLT-free cohort although EWOC allows its dose")


def walk(name: str, design: Design, outcomes: list[int]) -> list[tuple[int, int, int]]:
    """Drive a simulated design through its own decisions; ``outcomes`` draws each cohort's
    DLTs (modulo the cohort size + 1). Returns (dose, DLTs, next dose) per cohort."""
    sim = make_design(name, design)
    n, y = np.zeros(DOSES, np.int64), np.zeros(DOSES, np.int64)
    last = (NO_DOSE, 0)
    steps = []
    for draw in outcomes:
        a = sim.decide(States(n[None].copy(), y[None].copy(), np.array([last[0]]),
                              np.array([last[1]])))
        if a.stop_reason[0] != CONTINUE:
            break
        level, size = int(a.next_level[0]), int(a.cohort_size[0])
        if steps:
            steps[-1] = (*steps[-1][:2], level)
        dlts = draw % (size + 1)
        n[level] += size
        y[level] += dlts
        last = (level, dlts)
        steps.append((level, dlts, level))
    return steps[:-1]  # the last cohort's next dose was not asked for


@FAST
@given(st.sampled_from(["crm", "boin", "blrm"]), st.lists(st.integers(0, 3), max_size=12))
def test_simulated_designs_are_coherent(name: str, outcomes: list[int]) -> None:
    """BOIN decides on the cumulative DLT rate at the current dose (Liu & Yuan 2015), so it
    may escalate after a cohort with a DLT when that rate is still <= lambda_e (e.g. 0/3,
    then 1/3 more: 1/6 <= 0.236): for BOIN the property is the cumulative one."""
    design = load_design(STANDARD)
    lambda_e, lambda_d = boin_boundaries(design.decision.target)
    n = np.zeros(DOSES, np.int64)
    y = np.zeros(DOSES, np.int64)
    for level, dlts, following in walk(name, design, outcomes):
        n[level] += design.cohorts.size
        y[level] += dlts
        rate = y[level] / n[level]
        if name == "boin":
            assert following <= level or rate <= lambda_e, "boin escalated above lambda_e"
            assert following >= level or rate >= lambda_d, "boin de-escalated below lambda_d"
        elif dlts > 0:
            assert following <= level, f"{name} escalated right after a DLT"
        elif name != "blrm":  # the BLRM may de-escalate when EWOC bars the dose (tested above)
            assert following >= level, f"{name} de-escalated right after no DLT"


# -- the posterior ----------------------------------------------------------------------------


@FAST
@given(history, st.sampled_from([0, 1]))
def test_interval_probabilities_are_probabilities(cohorts: list, prior: int) -> None:
    n, y = counts(cohorts)
    s = posterior(DESIGNS[prior], n, y)
    parts = np.stack([s.p_underdose, s.p_target, s.p_overdose])
    assert np.all(parts >= 0) and np.all(parts <= 1)
    np.testing.assert_allclose(parts.sum(axis=0), 1.0, atol=1e-12)


@FAST
@given(history, st.sampled_from([0, 1]))
def test_p_overdose_increases_with_dose(cohorts: list, prior: int) -> None:
    n, y = counts(cohorts)
    p = posterior(DESIGNS[prior], n, y).p_overdose[0]
    assert np.all(np.diff(p) >= -1e-12), p


@FAST
@given(history, st.sampled_from([0, 1]), st.data())
def test_a_dlt_more_never_lowers_p_overdose(cohorts: list, prior: int, data) -> None:
    n, y = counts(cohorts)
    candidates = np.flatnonzero(n > y)
    if candidates.size == 0:
        return
    k = int(data.draw(st.sampled_from(candidates.tolist())))
    worse = y.copy()
    worse[k] += 1  # one patient at dose k: no DLT -> DLT
    before = posterior(DESIGNS[prior], n, y).p_overdose[0, k]
    after = posterior(DESIGNS[prior], n, worse).p_overdose[0, k]
    assert after >= before - 1e-12


# -- order of rows ----------------------------------------------------------------------------


def recommend_json(tmp: Path, config: Path, rows: list[str], header: str, tag: str) -> dict:
    data, out = tmp / f"{tag}.csv", tmp / f"{tag}.json"
    data.write_text(header + "\n" + "\n".join(rows) + "\n")
    result = CliRunner().invoke(main, ["recommend", str(config), str(data), "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    document.pop("inputs")  # names and hashes the file, which differs
    return document


@settings(max_examples=2, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_recommendation_does_not_depend_on_row_order(tmp_path: Path, rng: random.Random) -> None:
    for example in ("nbg-2008.csv", "nbg-2008-aggregated.csv"):
        lines = (ROOT / "configs" / "examples" / example).read_text().splitlines()
        header, rows = lines[0], [r for r in lines[1:] if r.strip()]
        shuffled = rows[:]
        rng.shuffle(shuffled)
        assert recommend_json(tmp_path, NBG, shuffled, header, "b") == recommend_json(
            tmp_path, NBG, rows, header, "a")


# -- simulation invariants ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def standard() -> tuple[Design, list]:
    design = load_design(STANDARD)
    return design, load_scenarios(STANDARD_SCENARIOS, len(design.levels))


NAMES = ["blrm", "3+3", "crm", "boin"]


def test_allocations_and_selections_add_up(standard: tuple[Design, list]) -> None:
    design, scenarios = standard
    summary = run_study(design, scenarios, NAMES, 30, 3, "simulate", chunk_size=25).summary
    for entry in summary["scenarios"]:
        for name, oc in entry["designs"].items():
            assert sum(oc["select"]) + oc["select_none"] == pytest.approx(1.0, abs=1e-12), name
            assert all(0 <= p <= 1 for p in oc["select"]), name
            if "patients" in oc:
                assert sum(oc["patients"]) == pytest.approx(oc["n_mean"], rel=1e-12), name
                assert oc["n_mean"] <= max(design.stopping.max_patients, 36)


def test_per_trial_patients_sum_to_the_sample_size(standard: tuple[Design, list]) -> None:
    from bayesdose.simulation.study import run_chunk

    design, scenarios = standard
    _, _, arrays = run_chunk(design, scenarios, ["blrm", "crm", "boin"], 5, 0, 30)
    for s in range(len(scenarios)):
        for d in range(3):
            n, y = arrays[f"n_{s}_{d}"], arrays[f"dlt_{s}_{d}"]
            assert np.all(n.sum(axis=1) <= design.stopping.max_patients)
            assert np.all(n.sum(axis=1) >= 1) and np.all((y >= 0) & (y <= n))


@settings(max_examples=3, deadline=None)
@given(st.integers(1, 2**31), st.sampled_from([1, 3, 7, 16]))
def test_the_seed_alone_fixes_the_result(seed: int, chunk: int) -> None:
    design = load_design(STANDARD)
    scenarios = load_scenarios(STANDARD_SCENARIOS, DOSES)[:2]
    whole = run_study(design, scenarios, ["blrm", "boin"], 16, seed, "simulate", chunk_size=16)
    parts = run_study(design, scenarios, ["blrm", "boin"], 16, seed, "simulate",
                      chunk_size=chunk)
    assert parts.summary == whole.summary
