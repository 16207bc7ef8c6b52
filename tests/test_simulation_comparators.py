"""CRM and BOIN as simulated designs: against R (dfcrm crmsim, BOIN get.oc), by hand, exactly.

R's random streams cannot be reproduced, so whole-trial comparisons are in distribution (within
3 combined Monte Carlo standard errors; the exact method has none); dfcrm's crmsim is also
replayed trial by trial from its recorded DLT sequences, decision by decision.
"""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate

from bayesdose.designs.base import (
    CONTINUE,
    MAX_PATIENTS,
    MTD_DECLARED,
    NO_DOSE,
    SAFETY,
    States,
)
from bayesdose.designs.crm.core import getprior
from bayesdose.designs.registry import make_design
from bayesdose.errors import InputError
from bayesdose.schema import design_from_dict
from bayesdose.simulation.patients import DLTTable, tolerances
from bayesdose.simulation.runner import TrialRecords, simulate_trials
from bayesdose.simulation.scenarios import Scenario
from bayesdose.simulation.statespace import StateSpace
from bayesdose.simulation.study import run_study
from bayesdose.simulation.tree import exact_final_states

REFERENCE = Path(__file__).parent / "data" / "reference"
GET_OC = json.loads((REFERENCE / "boin_get_oc_S1.json").read_text())["get_oc_S1"]
CRMSIM = json.loads((REFERENCE / "dfcrm_crmsim_1000.json").read_text())["crmsim_1000"]
CRMSIM_PI = np.array([0.05, 0.10, 0.20, 0.30, 0.50, 0.70])
CRMSIM_SKELETON = [0.05, 0.10, 0.20, 0.35, 0.50, 0.70]
P5 = np.array([0.05, 0.15, 0.30, 0.45, 0.60])
SKELETON5 = [0.05, 0.10, 0.20, 0.35, 0.50]


def five_doses(target: float = 0.3, size: int = 3, max_patients: int = 30, titration: int = 0,
               **designs: dict) -> object:
    decision = {"target": target}
    if target >= 0.33:  # the point target lies in the target interval (default [0.16, 0.33))
        decision["target_interval"] = [0.16, target + 0.1]
    return design_from_dict({
        "doses": {"levels": [1, 2, 4, 8, 16]},
        "decision": decision,
        "cohorts": {"size": size, "titration_until_level": titration},
        "stopping": {"max_patients": max_patients},
        "designs": {"crm": {"skeleton": SKELETON5}, **designs},
    })


def crmsim_design() -> object:
    """crmsim(PI, prior, target = 0.2, n = 24, x0 = 3): cohorts of 1 from dose 3."""
    return design_from_dict({
        "doses": {"levels": [1, 2, 3, 4, 5, 6]},
        "decision": {"target": 0.2},
        "cohorts": {"size": 1, "start_dose": 3},
        "stopping": {"max_patients": 24},
        "designs": {"crm": {"skeleton": CRMSIM_SKELETON}},
    })


def decide(design: object, name: str, n: list[int], y: list[int], last: int = -1,
           last_dlt: int | None = None) -> tuple[int, int, int, int]:
    """One state's action: (next level, cohort size, stop reason, MTD), all 0-based. The last
    cohort's DLTs default to all DLTs at its dose (right when that dose holds only it)."""
    if last_dlt is None:
        last_dlt = y[last] if last >= 0 else 0
    a = make_design(name, design).decide(States(
        np.array([n]), np.array([y]), np.array([last]), np.array([last_dlt])))
    return (int(a.next_level[0]), int(a.cohort_size[0]), int(a.stop_reason[0]), int(a.mtd[0]))


def simulate(design: object, name: str, p_true: np.ndarray, trials: int, seed: int
             ) -> TrialRecords:
    space = StateSpace(make_design(name, design), p_true.size)
    u = tolerances(seed, 0, trials, design.stopping.max_patients)
    return simulate_trials(space, DLTTable.of(u, p_true))


def mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column means of per-trial values and their Monte Carlo standard errors."""
    return x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])


def assert_within(ours: np.ndarray, theirs: object, se: np.ndarray, k: float = 3.0) -> None:
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    assert np.all(np.abs(ours - theirs) <= k * se + 1e-12), (ours, theirs, se)


# -- configuration -----------------------------------------------------------------------


def test_designs_section_defaults_and_derived_skeleton() -> None:
    design = design_from_dict({"doses": {"levels": [1, 2, 3, 4]}})
    assert design.designs.crm.model == "empiric" and design.designs.crm.prior_variance == 1.34
    assert design.designs.boin.elimination_cutoff == 0.95
    assert design.designs.boin.n_earlystop == 100
    with pytest.raises(InputError, match=r"\[designs.crm\] skeleton.*needs a skeleton"):
        make_design("crm", design)
    derived = design_from_dict({
        "doses": {"levels": [1, 2, 3, 4]}, "decision": {"target": 0.25},
        "designs": {"crm": {"halfwidth": 0.05, "prior_mtd_level": 2, "model": "logistic"}},
    })
    np.testing.assert_array_equal(make_design("crm", derived).skeleton,
                                  getprior(0.05, 0.25, 2, 4, "logistic"))


@pytest.mark.parametrize(
    ("crm", "where", "text"),
    [
        ({"skeleton": [0.1, 0.2]}, "[designs.crm] skeleton", "has 2 values for 3 doses"),
        ({"skeleton": [0.1, 0.3, 0.2]}, "[designs.crm] skeleton", "strictly increasing"),
        ({"skeleton": [0.0, 0.3, 0.5]}, "[designs.crm] skeleton", "(0, 1)"),
        ({"skeleton": [0.1, "x", 0.5]}, "[designs.crm] skeleton[1]", "expected a number"),
        ({"skeleton": [0.1, 0.5, 0.96], "model": "logistic"}, "skeleton", "< 0.9526"),
        ({"skeleton": [0.1, 0.2, 0.3], "halfwidth": 0.05, "prior_mtd_level": 2},
         "[designs.crm]", "not both"),
        ({"halfwidth": 0.05}, "[designs.crm]", "give both halfwidth"),
        ({"halfwidth": 0.4, "prior_mtd_level": 2}, "[designs.crm] halfwidth", "(0, 0.3)"),
        ({"halfwidth": 0.05, "prior_mtd_level": 4}, "prior_mtd_level", "between 1 and"),
        ({"model": "probit"}, "[designs.crm] model", "'empiric' or 'logistic'"),
        ({"prior_variance": 0}, "[designs.crm] prior_variance", "> 0"),
        ({"skelton": [0.1]}, "[designs.crm] skelton", "unknown key"),
    ],
)
def test_bad_design_settings_name_the_key(crm: dict, where: str, text: str) -> None:
    raw = {"doses": {"levels": [1, 2, 3]}, "decision": {"target": 0.3}, "designs": {"crm": crm}}
    with pytest.raises(InputError) as err:
        design_from_dict(raw, "x.toml")
    assert where in str(err.value) and text in str(err.value)


def test_bad_boin_settings_name_the_key() -> None:
    for boin, where in (({"elimination_cutoff": 1.0}, "elimination_cutoff"),
                        ({"n_earlystop": 0}, "n_earlystop")):
        with pytest.raises(InputError, match=rf"\[designs.boin\] {where}"):
            design_from_dict({"doses": {"levels": [1, 2]}, "designs": {"boin": boin}})


# -- BOIN by hand (target 0.3: with 3 patients escalate on 0 DLTs, de-escalate on >= 2,
# eliminate on 3; with 6: <= 1, >= 3, >= 4; with 9: <= 2, >= 4, >= 5) -----------------------


def test_boin_hand_cases() -> None:
    d = five_doses()
    z = [0] * 5
    assert decide(d, "boin", z, z) == (0, 3, CONTINUE, NO_DOSE)
    assert decide(d, "boin", [3, 0, 0, 0, 0], z, 0) == (1, 3, CONTINUE, NO_DOSE)
    assert decide(d, "boin", [3, 3, 0, 0, 0], [0, 1, 0, 0, 0], 1) == (1, 3, CONTINUE, NO_DOSE)
    assert decide(d, "boin", [3, 3, 0, 0, 0], [0, 2, 0, 0, 0], 1) == (0, 3, CONTINUE, NO_DOSE)
    assert decide(d, "boin", [3, 6, 0, 0, 0], [0, 1, 0, 0, 0], 1) == (2, 3, CONTINUE, NO_DOSE)
    # 3/3 at dose 2 eliminates doses 2-5: 0/6 at dose 1 then stays there
    assert decide(d, "boin", [6, 3, 0, 0, 0], [0, 3, 0, 0, 0], 0) == (0, 3, CONTINUE, NO_DOSE)
    # the lowest dose eliminated: stop, no MTD
    assert decide(d, "boin", [3, 0, 0, 0, 0], [3, 0, 0, 0, 0], 0) == (NO_DOSE, 0, SAFETY, NO_DOSE)
    assert decide(d, "boin", [6, 3, 0, 0, 0], [4, 1, 0, 0, 0], 0) == (NO_DOSE, 0, SAFETY, NO_DOSE)
    # the top dose: escalation called for, so stay
    assert decide(d, "boin", [3] * 5, z, 4) == (4, 3, CONTINUE, NO_DOSE)
    # 30 patients: select.mtd; phat 0.016, 0.172, 0.252, 0.445 (isotonic already): dose 3
    assert decide(d, "boin", [3, 6, 12, 9, 0], [0, 1, 3, 4, 0], 3) == (
        NO_DOSE, 0, MAX_PATIENTS, 2)
    # the last cohort is cut to fit max_patients
    assert decide(five_doses(max_patients=8), "boin", [3, 3, 0, 0, 0], z, 1) == (
        2, 2, CONTINUE, NO_DOSE)


def test_boin_n_earlystop_stops_only_when_the_rule_stays() -> None:
    d = five_doses(boin={"n_earlystop": 9})
    # 3/9 at dose 3: between the boundaries (2 and 4): stop and select the MTD (dose 3)
    assert decide(d, "boin", [3, 3, 9, 0, 0], [0, 0, 3, 0, 0], 2) == (
        NO_DOSE, 0, MTD_DECLARED, 2)
    # 2/9: escalate, so the trial goes on
    assert decide(d, "boin", [3, 3, 9, 0, 0], [0, 0, 2, 0, 0], 2) == (3, 3, CONTINUE, NO_DOSE)
    # 2/9 with the next dose eliminated: stay, so stop
    assert decide(d, "boin", [3, 3, 9, 3, 0], [0, 0, 2, 3, 0], 2)[2] == MTD_DECLARED


def test_boin_titration_hand_cases() -> None:
    d = five_doses(titration=3)
    z = [0] * 5
    assert decide(d, "boin", z, z) == (0, 1, CONTINUE, NO_DOSE)
    assert decide(d, "boin", [1, 0, 0, 0, 0], z, 0) == (1, 1, CONTINUE, NO_DOSE)
    assert decide(d, "boin", [1, 1, 0, 0, 0], z, 1) == (2, 1, CONTINUE, NO_DOSE)
    # titration ends (level 3 reached, or a DLT): two more make a cohort of 3 there (get.oc)
    assert decide(d, "boin", [1, 1, 1, 0, 0], z, 2) == (2, 2, CONTINUE, NO_DOSE)
    assert decide(d, "boin", [1, 1, 0, 0, 0], [0, 1, 0, 0, 0], 1) == (1, 2, CONTINUE, NO_DOSE)
    # then BOIN's rule on all patients at the dose: 1/3 stays, 0/3 escalates
    assert decide(d, "boin", [1, 3, 0, 0, 0], [0, 1, 0, 0, 0], 1, 0) == (
        1, 3, CONTINUE, NO_DOSE)
    assert decide(d, "boin", [1, 1, 3, 0, 0], z, 2) == (3, 3, CONTINUE, NO_DOSE)


# -- CRM by hand (skeleton 0.05, 0.10, 0.20, 0.35, 0.50; posterior means by quadrature) -----


def posterior_mean(n: list[int], y: list[int]) -> float:
    """E[a | data] by adaptive quadrature, a ~ N(0, 1.34), p_k = skeleton_k ^ exp(a)."""
    sk, n_, y_ = np.array(SKELETON5), np.array(n, float), np.array(y, float)

    def f(a: float) -> float:
        p = sk ** np.exp(a)
        return np.exp(-a * a / 2 / 1.34) * np.prod(p**y_ * (1 - p) ** (n_ - y_))

    den = integrate.quad(f, -12, 12, epsabs=0, epsrel=1e-12, limit=200)[0]
    return integrate.quad(lambda a: a * f(a), -12, 12, epsabs=0, epsrel=1e-12, limit=200)[0] / den


def model_dose(n: list[int], y: list[int], target: float) -> int:
    p = np.array(SKELETON5) ** np.exp(posterior_mean(n, y))
    return int(np.argmin(np.abs(p - target)))


@pytest.mark.parametrize(
    ("n", "y", "last", "target", "model", "want"),
    [
        # 0/3 at dose 1: the model says dose 4, no skipping: dose 2
        ([3, 0, 0, 0, 0], [0, 0, 0, 0, 0], 0, 0.2, 3, 1),
        # a DLT in the last cohort (1/3 >= 0.2): no escalation although the model says dose 4
        ([6, 6, 3, 0, 0], [0, 0, 1, 0, 0], 2, 0.2, 3, 2),
        ([9, 3, 0, 0, 0], [0, 1, 0, 0, 0], 1, 0.2, 2, 1),
        # ... but with target 0.35, 1/3 < target: escalation allowed (dfcrm's proportion rule)
        ([3, 3, 3, 0, 0], [0, 0, 1, 0, 0], 2, 0.35, 3, 3),
        # de-escalation is free
        ([3, 3, 0, 0, 0], [0, 3, 0, 0, 0], 1, 0.2, 0, 0),
    ],
)
def test_crm_hand_cases(n: list[int], y: list[int], last: int, target: float, model: int,
                        want: int) -> None:
    assert model_dose(n, y, target) == model
    assert decide(five_doses(target), "crm", n, y, last) == (want, 3, CONTINUE, NO_DOSE)


def test_crm_start_end_and_final_mtd_unrestricted() -> None:
    d = five_doses(0.2, max_patients=15)
    assert decide(d, "crm", [0] * 5, [0] * 5) == (0, 3, CONTINUE, NO_DOSE)
    assert decide(five_doses(0.2, max_patients=14), "crm", [6, 6, 0, 0, 0], [0] * 5, 1) == (
        2, 2, CONTINUE, NO_DOSE)  # the last cohort cut to fit
    # at max_patients the MTD is the model's dose from all patients, not restricted
    assert decide(d, "crm", [6, 6, 3, 0, 0], [0, 0, 1, 0, 0], 2) == (
        NO_DOSE, 0, MAX_PATIENTS, 3)


def test_crm_titration_hand_cases() -> None:
    d = five_doses(0.2, titration=3)
    z = [0] * 5
    assert decide(d, "crm", z, z) == (0, 1, CONTINUE, NO_DOSE)
    assert decide(d, "crm", [1, 0, 0, 0, 0], z, 0) == (1, 1, CONTINUE, NO_DOSE)
    assert decide(d, "crm", [1, 1, 0, 0, 0], z, 1) == (2, 1, CONTINUE, NO_DOSE)
    # titration done at level 3: the model (dose 4) decides, one level up at most, cohorts of 3
    assert model_dose([1, 1, 1, 0, 0], z, 0.2) == 3
    assert decide(d, "crm", [1, 1, 1, 0, 0], z, 2) == (3, 3, CONTINUE, NO_DOSE)
    # a DLT ends titration: the single patient is a cohort of one with DLT rate 1
    assert model_dose([1, 1, 0, 0, 0], [0, 1, 0, 0, 0], 0.35) == 1
    assert decide(five_doses(0.35, titration=3), "crm", [1, 1, 0, 0, 0], [0, 1, 0, 0, 0], 1) == (
        1, 3, CONTINUE, NO_DOSE)
    assert decide(d, "crm", [1, 1, 0, 0, 0], [0, 1, 0, 0, 0], 1) == (0, 3, CONTINUE, NO_DOSE)


# -- BOIN against R's get.oc -----------------------------------------------------------------


def boin_get_oc_design() -> object:
    """get.oc(target = 0.3, p.true = S1, ncohort = 10, cohortsize = 3): 30 patients."""
    return five_doses()


def test_boin_simulated_matches_get_oc_in_distribution() -> None:
    rec = simulate(boin_get_oc_design(), "boin", P5, 10_000, 6)
    se_r = GET_OC["mc_standard_error"]
    picks = np.stack([rec.selected == k for k in range(5)], axis=1) * 100.0
    for ours, key in ((picks, "selpercent"), (rec.n, "npatients"), (rec.dlt, "ntox")):
        m, s = mean_se(ours)
        assert_within(m, GET_OC[key], np.hypot(s, se_r[key]))
    for ours, key in ((rec.n.sum(axis=1), "totaln"), (rec.dlt.sum(axis=1), "totaltox"),
                      ((rec.selected == NO_DOSE) * 100.0, "percentstop")):
        m, s = mean_se(ours[:, None])
        assert_within(m, GET_OC[key], np.hypot(s, se_r[key]))


def test_boin_exact_matches_get_oc() -> None:
    space = StateSpace(make_design("boin", boin_get_oc_design()), 5)
    final = exact_final_states(space, P5)
    w, ids = final.probability, final.ids
    se_r = GET_OC["mc_standard_error"]
    select = np.array([w[space.mtd[ids] == k].sum() for k in range(5)]) * 100
    assert_within(select, GET_OC["selpercent"], np.array(se_r["selpercent"]))
    assert_within(w @ space.n[ids], GET_OC["npatients"], np.array(se_r["npatients"]))
    assert_within(w @ space.dlt[ids], GET_OC["ntox"], np.array(se_r["ntox"]))
    # get.oc's percentstop counts every trial without an MTD (its select.mtd's 99s)
    none = w[space.mtd[ids] == NO_DOSE].sum() * 100
    assert_within(none, GET_OC["percentstop"], se_r["percentstop"])
    assert w.sum() == pytest.approx(1.0, abs=1e-12)


# -- CRM against dfcrm's crmsim --------------------------------------------------------------


@cache
def crmsim_trials() -> dict[str, np.ndarray]:
    with open(REFERENCE / CRMSIM["per_trial_file"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "dose": np.array([[int(r[f"dose_pt{k}"]) - 1 for k in range(1, 25)] for r in rows]),
        "tox": np.array([[int(r[f"tox_pt{k}"]) for k in range(1, 25)] for r in rows]),
        "selected": np.array([int(r["selected"]) - 1 for r in rows]),
    }


def test_crm_replays_every_crmsim_trial_decision_by_decision() -> None:
    """All 1000 trials at once: each step feeds every trial's next recorded outcome to the
    design's decide() and checks the dose it chose; at 24 patients, the MTD."""
    ref = crmsim_trials()
    design = make_design("crm", crmsim_design())
    trials = np.arange(ref["tox"].shape[0])
    n, y = np.zeros((trials.size, 6), np.int64), np.zeros((trials.size, 6), np.int64)
    last, last_dlt = np.full(trials.size, -1), np.zeros(trials.size, np.int64)
    for patient in range(24):
        action = design.decide(States(n.copy(), y.copy(), last, last_dlt))
        assert np.all(action.stop_reason == CONTINUE) and np.all(action.cohort_size == 1)
        np.testing.assert_array_equal(action.next_level, ref["dose"][:, patient])
        last, last_dlt = action.next_level, ref["tox"][:, patient]
        n[trials, last] += 1
        y[trials, last] += last_dlt
    action = design.decide(States(n, y, last, last_dlt))
    assert np.all(action.stop_reason == MAX_PATIENTS)
    np.testing.assert_array_equal(action.mtd, ref["selected"])


def test_crm_simulated_matches_crmsim_in_distribution() -> None:
    rec = simulate(crmsim_design(), "crm", CRMSIM_PI, 8000, 1)
    se_r = CRMSIM["mc_standard_error"]
    picks = np.stack([rec.selected == k for k in range(6)], axis=1) * 100.0
    for ours, key, se_key in ((picks, "selection_percent", "selection_percent"),
                              (rec.n, "mean_patients_per_dose", "mean_patients_per_dose"),
                              (rec.dlt, "mean_tox_per_dose", "mean_tox_per_dose")):
        m, s = mean_se(ours)
        assert_within(m, CRMSIM[key], np.hypot(s, se_r[se_key]))
    assert np.all(rec.n.sum(axis=1) == 24) and np.all(rec.selected >= 0)


# -- exact and simulated operating characteristics agree -----------------------------------


def within(exact: float, simulated: float, se: float, k: float = 4.0) -> bool:
    return abs(exact - simulated) <= k * se + 1e-9


@pytest.mark.parametrize(("name", "titration", "max_patients"),
                         [("crm", 0, 30), ("boin", 0, 30), ("crm", 2, 18), ("boin", 2, 18)])
def test_exact_agrees_with_simulation(name: str, titration: int, max_patients: int) -> None:
    design = five_doses(titration=titration, max_patients=max_patients)
    scenarios = [Scenario("S", (0.08, 0.15, 0.28, 0.45, 0.6))]
    exact = run_study(design, scenarios, [name], 0, 1, "exact").summary["scenarios"][0]
    sim = run_study(design, scenarios, [name], 4000, 3, "simulate").summary["scenarios"][0]
    e, s = exact["designs"][name], sim["designs"][name]
    assert e["trials"] is None and e["se"]["pcs"] == 0.0
    for k in range(5):
        assert within(e["select"][k], s["select"][k], s["se"]["select"][k]), k
        assert within(e["patients"][k], s["patients"][k], s["se"]["patients"][k]), k
    for key in ("select_none", "pcs", "n_mean", "dlt_mean", "p_above_mtd", "early_stop"):
        assert within(e[key], s[key], s["se"][key]), key
