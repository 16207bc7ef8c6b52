"""Simulation with time: accrual, DLT days, TITE-BLRM, waiting designs, TITE-CRM, durations."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.base import MTD_DECLARED, NO_DOSE, SAFETY, STOP_REASONS
from bayesdose.designs.blrm.recommendation import recommend
from bayesdose.designs.crm.core import crm_posterior, crm_tite_posterior_mean
from bayesdose.errors import InputError
from bayesdose.schema import design_from_dict, read_toml
from bayesdose.simulation import withtime
from bayesdose.simulation.metrics import weighted_quantiles
from bayesdose.simulation.patients import DLTTable, lane_uniforms, tolerances
from bayesdose.simulation.runner import simulate_trials
from bayesdose.simulation.scenarios import load_scenarios
from bayesdose.simulation.study import run_study, state_space
from bayesdose.simulation.timedrunner import TimedRun, simulate_timed
from bayesdose.simulation.timeline import timeline

XJ = CONFIGS / "xj-mk-002.toml"
XJ_SCENARIOS = CONFIGS / "scenarios" / "xj-mk-002.toml"
WINDOW = 28
TIMED = ["tite-blrm", "blrm", "3+3", "tite-crm"]
SCENARIOS = ([0.03, 0.06, 0.10], [0.08, 0.25, 0.45], [0.40, 0.55, 0.70])


def xj(**simulation):
    raw = read_toml(XJ)
    raw["simulation"] = simulation
    return design_from_dict(raw, "xj.toml")


def run_timed(design, name: str, p_true, trials: int, seed: int = 3,
              names: list[str] = TIMED) -> tuple[TimedRun, np.ndarray]:
    patients = withtime.patients_needed(design, names)
    u = tolerances(seed, 0, trials, patients)
    clock = withtime.chunk_timeline(design, seed, 0, trials, patients)
    return simulate_timed(withtime.timed_cache(design, name), np.array(p_true), u, clock), u


# -- the timeline ----------------------------------------------------------------------------


def test_streams_depend_on_seed_trial_and_patient_only() -> None:
    whole = lane_uniforms(11, 0, 40, 9, 1)
    assert np.array_equal(lane_uniforms(11, 13, 29, 9, 1), whole[13:29])
    assert np.array_equal(lane_uniforms(11, 0, 40, 5, 1), whole[:, :5])
    assert np.array_equal(lane_uniforms(11, 0, 40, 9, 0), tolerances(11, 0, 40, 9))
    assert not np.any(np.isclose(lane_uniforms(11, 0, 40, 9, 2), whole))


def test_fixed_and_poisson_arrivals_and_dlt_days() -> None:
    fixed = timeline(xj(accrual_gap_days=10.5), 1, 0, 3, 5)
    assert fixed.arrival.tolist() == [[0, 10, 21, 31, 42]] * 3
    rate = xj(accrual="poisson", accrual_rate_per_month=3.0)
    clock = timeline(rate, 1, 0, 20_000, 2)
    gaps = clock.arrival[:, 1]  # floor of one exponential gap, mean 30.4375 / 3
    assert abs(gaps.mean() - (30.4375 / 3 - 0.5)) < 0.3
    days = clock.dlt_day.ravel()
    assert days.min() == 1 and days.max() == WINDOW
    assert np.allclose(np.bincount(days)[1:] / days.size, 1 / WINDOW, atol=0.004)
    early = timeline(xj(dlt_time="early"), 1, 0, 20_000, 2).dlt_day.mean()
    late = timeline(xj(dlt_time="late"), 1, 0, 20_000, 2).dlt_day.mean()
    assert early < days.mean() < late  # 1/3, 1/2 and 2/3 of the window, roughly


@pytest.mark.parametrize(
    ("simulation", "where", "text"),
    [
        ({"accrual": "weekly"}, "[simulation] accrual", "expected 'fixed' or 'poisson'"),
        ({"accrual_rate_per_month": 0}, "accrual_rate_per_month", "must be > 0"),
        ({"accrual_gap_days": -2}, "accrual_gap_days", "must be > 0"),
        ({"accrual": "poisson", "accrual_gap_days": 7}, "accrual_gap_days",
         "applies to accrual = 'fixed' only"),
        ({"dlt_time": "weibull"}, "[simulation] dlt_time", "expected 'uniform'"),
        ({"rate": 2}, "[simulation] rate", "unknown key"),
        ({"accrual_rate_per_month": "2"}, "accrual_rate_per_month", "expected a number"),
    ],
)
def test_bad_simulation_keys(simulation: dict, where: str, text: str) -> None:
    with pytest.raises(InputError) as err:
        xj(**simulation)
    assert where in str(err.value) and text in str(err.value)


def test_time_needs_a_window_and_no_exact_method() -> None:
    raw = read_toml(XJ)
    raw["cohorts"]["dlt_window_days"] = 0
    raw["cohorts"]["min_complete_followup"] = 0
    with pytest.raises(InputError) as err:  # time stated: every design would run in time
        design_from_dict(raw, "xj.toml")
    assert str(err.value) == (
        "xj.toml, [simulation] accrual: states time, in which every design is simulated: it "
        "needs a DLT window, [cohorts] dlt_window_days >= 1")
    del raw["simulation"]
    scenarios = load_scenarios(XJ_SCENARIOS, 3)
    with pytest.raises(InputError, match="needs a DLT window"):
        run_study(design_from_dict(raw), scenarios, ["tite-blrm"], 10, 1)
    with pytest.raises(InputError, match="exact method does not cover"):
        run_study(xj(), scenarios, ["blrm", "tite-crm"], 10, 1, method="exact")
    with pytest.raises(InputError,
                       match="tite-crm decide.s. or dose.s. with patients in follow-up"):
        run_study(xj(), scenarios, ["blrm", "tite-crm"], 10, 1, time=False)


def test_time_is_stated_by_accrual_or_fixed_gaps() -> None:
    assert xj(accrual="poisson").simulation.stated and xj(accrual_gap_days=7).simulation.stated
    unstated = xj(dlt_time="late")
    assert not unstated.simulation.stated and unstated.simulation.arrivals == "fixed"
    assert withtime.is_timed(unstated, ["tite-blrm"]) and not withtime.is_timed(unstated, ["3+3"])
    assert not withtime.is_timed(xj(accrual="fixed"), ["3+3"], time=False)


@pytest.mark.parametrize("name", ["blrm", "3+3", "3+3-deesc", "crm", "boin"])
def test_waiting_designs_decide_in_time_as_without_it(name: str) -> None:
    """Arrivals faster than the window (6 a month, 28 days): patients queue, but a design that
    waits decides on complete data, so every trial ends as it does without time (which is why
    a study of such designs keeps its exact operating characteristics)."""
    design = xj(accrual="poisson", accrual_rate_per_month=6.0)
    for p_true in SCENARIOS:
        run, u = run_timed(design, name, p_true, 300, names=[name])
        before = simulate_trials(state_space(design, name), DLTTable.of(u, np.array(p_true)))
        for field in ("selected", "n", "dlt", "stop_reason"):
            assert np.array_equal(getattr(run.records, field), getattr(before, field)), field
        assert (run.records.duration > 0).all()


# -- designs in time -------------------------------------------------------------------------


@pytest.mark.parametrize("p_true", SCENARIOS)
def test_gaps_longer_than_the_window_change_nothing_but_dates(p_true) -> None:
    """Every outcome is final before the next arrival: TITE-BLRM, the waiting BLRM and the BLRM
    without time make the same decisions trial by trial (TITE-CRM and the CRM, 3+3 too), and a
    trial of N patients lasts 30 (N - 1) days plus the last patient's outcome day."""
    design = xj(accrual_gap_days=30)
    untimed = {"tite-blrm": "blrm", "blrm": "blrm", "3+3": "3+3", "tite-crm": "crm"}
    for name, plain in untimed.items():
        run, u = run_timed(design, name, p_true, 400)
        before = simulate_trials(state_space(design, plain), DLTTable.of(u, np.array(p_true)))
        records = run.records
        for field in ("selected", "n", "dlt", "stop_reason"):
            assert np.array_equal(getattr(records, field), getattr(before, field)), (name, field)
        h = run.histories
        total = records.n.sum(axis=1)
        last = total - 1
        rows = np.arange(total.size)
        outcome_day = np.where(h.tox[rows, last], h.dlt_day[rows, last], WINDOW)
        assert np.array_equal(records.duration, 30 * last + outcome_day), name
        assert np.array_equal(h.dosed[rows, last], 30 * last)
        assert not records.pending_treated.any()


def test_fixed_accrual_hand_worked_durations() -> None:
    """Two doses, cohorts of 3, arrivals every 10 days, 28-day window, no DLTs.

    3+3 waits: cohort 1 dosed on days 0, 10, 20 (final on 28, 38, 48); cohort 2 arrives on
    30, 40, 50, dosed on 48, 48, 50 (final on 76, 76, 78); the top dose is declared on day 78.
    TITE-CRM and TITE-BLRM (6 patients) dose on arrival, 0 .. 50, and end on 50 + 28 = 78;
    of cohort 2, the patient dosed on day 30 is treated while patients 2 and 3 are pending
    (until 38 and 48), the one dosed on day 40 while patient 3 is; by day 50 all are final.
    """
    raw = {"doses": {"levels": [1, 2]}, "cohorts": {"dlt_window_days": WINDOW},
           "stopping": {"max_patients": 6}, "designs": {"crm": {"skeleton": [0.1, 0.25]}},
           "simulation": {"accrual_gap_days": 10}}
    design = design_from_dict(raw)
    names = ["3+3", "tite-crm", "tite-blrm"]
    run, _ = run_timed(design, "3+3", [0.0, 0.0], 5, names=names)
    assert run.histories.dosed[0, :6].tolist() == [0, 10, 20, 48, 48, 50]
    assert run.records.duration.tolist() == [78] * 5
    assert run.records.stop_reason.tolist() == [MTD_DECLARED] * 5
    assert run.records.selected.tolist() == [1] * 5 and not run.records.pending_treated.any()
    for name in ("tite-crm", "tite-blrm"):
        run, _ = run_timed(design, name, [0.0, 0.0], 5, names=names)
        assert run.histories.dosed[0, :6].tolist() == [0, 10, 20, 30, 40, 50], name
        assert run.records.duration.tolist() == [78] * 5
        assert run.records.pending_treated.tolist() == [2] * 5


def test_hand_worked_stop_on_dlts_ends_at_the_last_outcome() -> None:
    """3+3 with every patient toxic: three DLTs at the lowest dose stop the trial (no dose)
    on the day the last of them is known: max(0 + d1, 10 + d2, 20 + d3)."""
    design = design_from_dict({"doses": {"levels": [1, 2]},
                               "cohorts": {"dlt_window_days": WINDOW},
                               "simulation": {"accrual_gap_days": 10}})
    run, _ = run_timed(design, "3+3", [1.0, 1.0], 50, names=["3+3", "tite-blrm"])
    days = run.histories.dlt_day[:, :3]
    assert np.array_equal(run.records.duration, (days + [0, 10, 20]).max(axis=1))
    assert (run.records.stop_reason == SAFETY).all() and (run.records.selected == NO_DOSE).all()


@pytest.mark.parametrize("name", ["blrm", "3+3", "3+3-deesc", "crm", "boin"])
def test_waiting_designs_never_dose_while_anyone_is_pending(name: str) -> None:
    design = xj(accrual="poisson", accrual_rate_per_month=6.0)
    names = [name, "tite-blrm"]
    for p_true in SCENARIOS:
        run, _ = run_timed(design, name, p_true, 300, names=names)
        h = run.histories
        given = h.level >= 0
        final = h.resolved(WINDOW)
        earlier = (h.cohort[:, None, :] < h.cohort[:, :, None]) & given[:, None, :]
        open_when_dosed = earlier & (final[:, None, :] > h.dosed[:, :, None])
        assert not (open_when_dosed.any(axis=2) & given).any()
        assert not run.records.pending_treated.any()
        # ... and patients who arrive meanwhile queue: dosing is delayed, never skipped
        assert (h.dosed[given] >= withtime.chunk_timeline(
            design, 3, 0, 300, h.level.shape[1]).arrival[:, :-1][given]).all()


def test_tite_designs_dose_while_others_are_pending() -> None:
    design = xj(accrual="poisson", accrual_rate_per_month=6.0)
    for name in ("tite-blrm", "tite-crm"):
        run, _ = run_timed(design, name, SCENARIOS[1], 300)
        assert run.records.pending_treated.mean() > 3
        waiting, _ = run_timed(design, "blrm", SCENARIOS[1], 300)
        assert run.records.duration.mean() < waiting.records.duration.mean() - 20


def _dated_csv(path: Path, h, trial: int, before: int, now: int) -> date:
    """Patients of cohorts < ``before`` of one simulated trial as dated data on day ``now``."""
    start = date(2025, 1, 6)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["patient_id", "cohort", "dose", "dlt", "enrolled", "dlt_day",
                      "followup_end"])
        for j in np.flatnonzero((h.level[trial] >= 0) & (h.cohort[trial] < before)):
            dosed, day = int(h.dosed[trial, j]), int(h.dlt_day[trial, j])
            known = bool(h.tox[trial, j]) and dosed + day <= now
            out.writerow([f"P{j + 1}", int(h.cohort[trial, j]),
                          repr(float(XJ_LEVELS[h.level[trial, j]])), int(known),
                          (start + timedelta(days=dosed)).isoformat(), day if known else "", ""])
    return start + timedelta(days=now)


XJ_LEVELS = (1e8, 3e8, 6e8)


def test_tite_blrm_decides_as_recommend_on_the_dated_csv(tmp_path: Path) -> None:
    """At every cohort's dosing date, and at the end, `recommend` on the trial's dated data
    (patients pending with their days followed) gives the simulator's dose and cohort size."""
    design = xj(accrual="poisson", accrual_rate_per_month=4.0)
    run, _ = run_timed(design, "tite-blrm", SCENARIOS[1], 8)
    h, checked, pending_seen = run.histories, 0, 0
    for trial in range(8):
        cohorts = int(h.cohort[trial].max())
        for c in range(2, cohorts + 1):
            members = np.flatnonzero(h.cohort[trial] == c)
            now = int(h.dosed[trial, members[0]])
            as_of = _dated_csv(tmp_path / "d.csv", h, trial, c, now)
            data = read_trial_data(tmp_path / "d.csv", design, as_of)
            decision = recommend(design, data).decision
            assert decision.next_level == h.level[trial, members[0]], (trial, c)
            assert decision.cohort_size == members.size, (trial, c)
            pending_seen += bool(data.pending_patients)
            checked += 1
        end = int(h.dosed[trial, 0] + run.records.duration[trial])
        as_of = _dated_csv(tmp_path / "d.csv", h, trial, cohorts + 1, end)
        decision = recommend(design, read_trial_data(tmp_path / "d.csv", design, as_of)).decision
        assert decision.stop and decision.mtd_level == (
            None if run.records.selected[trial] < 0 else run.records.selected[trial])
        assert decision.stop_reason == STOP_REASONS[run.records.stop_reason[trial]]
    assert checked > 20 and pending_seen > 10


def test_tite_crm_posterior_mean_is_titecrm_with_linear_weights() -> None:
    skeleton = [0.05, 0.12, 0.25, 0.4]
    level = np.array([1, 1, 1, 2, 2, 2, 3, 3, 3, 3])
    tox = np.array([0, 0, 0, 0, 1, 0, 0, 1, 0, 0])
    days = np.array([28, 28, 28, 28, 9, 20, 13, 4, 5, 0])  # followed; the window is 28
    weights = np.where(tox == 1, 1.0, np.minimum(days / 28, 1))
    pending = np.zeros((4, 28))
    for lv, y, d in zip(level, tox, days, strict=True):
        if not y and d < 28:
            pending[lv - 1, d] += 1
    npts, ntox = np.bincount(level - 1, minlength=4), np.bincount(level - 1, tox, 4)
    for model in ("empiric", "logistic"):
        fit = crm_posterior(skeleton, level, tox, 0.25, model, weights=weights)
        mean = crm_tite_posterior_mean(skeleton, npts, ntox, pending, model)
        assert abs(float(mean) - fit.estimate) < 1e-12


# -- studies ---------------------------------------------------------------------------------


def test_study_reproducible_across_chunking_and_summarised(tmp_path: Path) -> None:
    design = xj(accrual="poisson", accrual_rate_per_month=2.0)
    scenarios = load_scenarios(XJ_SCENARIOS, 3)
    one = run_study(design, scenarios, TIMED, 60, 5, chunk_size=60).summary
    many = run_study(design, scenarios, TIMED, 60, 5, chunk_size=7).summary
    assert one == many and one["method"] == "simulate"
    assert one["timeline"]["accrual"] == "poisson"
    oc = one["scenarios"][1]["designs"]["tite-blrm"]
    assert set(oc["duration"]) == {"mean", "q10", "q50", "q90"}
    assert oc["duration"]["q10"] <= oc["duration"]["q50"] <= oc["duration"]["q90"]
    assert oc["se"]["duration"]["mean"] > 0 and oc["pending_treated"] > 0
    assert one["scenarios"][1]["designs"]["blrm"]["pending_treated"] == 0


def test_weighted_quantiles_invert_the_distribution_function() -> None:
    x = np.array([10, 30, 20, 40])
    w = np.array([0.1, 0.4, 0.2, 0.3])  # sorted: 10 (0.1), 20 (0.3), 30 (0.7), 40 (1.0)
    assert weighted_quantiles(x, w, (0.1, 0.5, 0.7, 0.71, 0.9)) == [10, 30, 30, 40, 40]


def test_cli_compares_designs_in_time(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "simulate", str(XJ), "--scenarios", str(XJ_SCENARIOS), "--designs",
        ",".join(TIMED), "--trials", "40", "--seed", "2", "--out", str(out), "--workers", "1",
    ])
    assert result.exit_code == 0, result.output
    assert "days" in result.output and "time: poisson accrual, 2 patients/month" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "simulate" and summary["designs"] == TIMED
    for entry in summary["scenarios"]:
        assert all(entry["designs"][n]["duration"]["mean"] > 0 for n in TIMED)
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as results:
        assert results["duration"].shape == (3, 4, 40)
        assert int(results["pending_treated"].sel(design="blrm").sum()) == 0
    bad = CliRunner().invoke(main, [
        "simulate", str(XJ), "--scenarios", str(XJ_SCENARIOS), "--designs", "tite-blrm",
        "--out", str(out), "--method", "exact"])
    assert bad.exit_code == 2 and "exact method does not cover" in bad.output


def test_stated_time_gives_every_design_a_duration_beside_exact_results(tmp_path: Path) -> None:
    """XJ-MK-002 states Poisson accrual: blrm and 3+3 run in time. Their operating
    characteristics stay exact (those of --no-time), the durations come from the simulation in
    time (the same numbers as --method simulate's), with standard errors."""
    args = ["simulate", str(XJ), "--scenarios", str(XJ_SCENARIOS), "--designs", "blrm,3+3",
            "--trials", "300", "--seed", "4", "--workers", "1", "--quiet"]
    timed = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "t")])
    assert timed.exit_code == 0, timed.output
    untimed = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "u"), "--no-time"])
    assert untimed.exit_code == 0, untimed.output
    assert "days" in timed.output and "days" not in untimed.output
    assert "durations simulated in time (300 trials per scenario)" in timed.output
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    plain = json.loads((tmp_path / "u" / "summary.json").read_text())
    assert summary["method"] == plain["method"] == "exact" and "timeline" not in plain
    assert summary["timeline"]["simulated_trials"] == 300
    for entry, other in zip(summary["scenarios"], plain["scenarios"], strict=True):
        for name, oc in entry["designs"].items():
            kept = {k: v for k, v in oc.items() if k not in ("duration", "pending_treated", "se")}
            assert kept == {k: v for k, v in other["designs"][name].items() if k != "se"}
            if name != "optimal":
                assert oc["duration"]["mean"] > 100 and oc["se"]["duration"]["mean"] > 0
                assert oc["pending_treated"] == 0
    simulated = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "s"), "--method",
                                          "simulate"])
    assert simulated.exit_code == 0, simulated.output
    whole = json.loads((tmp_path / "s" / "summary.json").read_text())
    for entry, other in zip(summary["scenarios"], whole["scenarios"], strict=True):
        for name in ("blrm", "3+3"):
            assert entry["designs"][name]["duration"] == other["designs"][name]["duration"]
    safe_3 = summary["scenarios"][0]["designs"]["3+3"]
    assert safe_3["pcs"] == pytest.approx(0.869, abs=1e-3)  # exact, as without time
    with xr.open_dataset(tmp_path / "t" / "results.nc", engine="h5netcdf") as results:
        days = results["duration"].sel(scenario="safe", design="3+3").values
    assert days.mean() == pytest.approx(safe_3["duration"]["mean"])
    manifest = json.loads((tmp_path / "t" / "chunks" / "manifest.json").read_text())
    assert manifest["time"] is True


WALKTHROUGH = CONFIGS.parent / "docs" / "examples" / "xj-mk-002" / "walkthrough"


@pytest.mark.parametrize(("name", "as_of", "next_dose", "size"), [
    ("01-first-patient", "2025-09-16", 1e8, 1),
    ("02-titration-complete", "2025-10-01", 3e8, 3),
    ("03-cohort-2-pending", "2025-11-13", 1e8, 3),
    ("03-cohort-2-pending", "2025-11-27", 1e8, 3),
    ("04-cohort-3-pending", "2025-12-29", 3e8, 3),
    ("05-cohort-4-pending", "2026-02-11", 3e8, 3),
    ("06-cohort-5-pending", "2026-03-24", 3e8, 3),
    ("07-final", "2026-05-18", None, 0),
])
def test_the_xj_mk_002_walkthrough_says_what_docs_show(name, as_of, next_dose, size) -> None:
    """docs/xj-mk-002.md quotes these decisions; they must stay true."""
    design = xj(accrual="poisson", accrual_rate_per_month=2.0)
    data = read_trial_data(WALKTHROUGH / f"{name}.csv", design, date.fromisoformat(as_of))
    decision = recommend(design, data).decision
    dose = None if decision.next_level is None else design.levels[decision.next_level]
    assert (dose, decision.cohort_size) == (next_dose, size)
