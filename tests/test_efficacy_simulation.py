"""Responses and P(selecting the OBD) for every design in a simulation study whose scenarios
give ``p_response`` (not only the backfill designs): the runner without time, the runner in
time, the chunk records, summary.json, results.nc and the table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from bayesdose.cli import main
from bayesdose.optimisation import estimated_obd_rows, true_obd
from bayesdose.schema import load_design
from bayesdose.simulation import withtime
from bayesdose.simulation.backfillrunner import RESPONSE_LANE
from bayesdose.simulation.patients import DLTTable, lane_uniforms, tolerances
from bayesdose.simulation.runner import simulate_trials
from bayesdose.simulation.study import state_space

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "bf-boin.toml"
P_TRUE = np.array([0.12, 0.25, 0.42, 0.49, 0.55])
P_RESPONSE = np.array([0.2, 0.3, 0.4, 0.5, 0.6])
TRIALS = 400


@pytest.fixture(scope="module")
def design():
    return load_design(CONFIG)


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenarios") / "s2.toml"
    path.write_text('[[scenario]]\nname = "S2"\np_true = [0.12, 0.25, 0.42, 0.49, 0.55]\n'
                    "p_response = [0.2, 0.3, 0.4, 0.5, 0.6]\n")
    return path


def by_hand(level: np.ndarray, v: np.ndarray, k: int) -> np.ndarray:
    """Responses per dose, one patient at a time: patient i at dose level[t, i] responds iff
    v[t, i] <= P_RESPONSE[level]."""
    out = np.zeros((level.shape[0], k), np.int64)
    for t in range(level.shape[0]):
        for i in range(level.shape[1]):
            if level[t, i] >= 0 and v[t, i] <= P_RESPONSE[level[t, i]]:
                out[t, level[t, i]] += 1
    return out


@pytest.mark.parametrize("name", ["boin", "3+3", "3+3-deesc"])
def test_responses_in_time_and_without_are_each_patients(design, name) -> None:
    """In time, every treated patient's response, counted by hand from the run's histories;
    without time (the lockstep runner on a DLTTable of responses) the same counts, since a
    design that waits makes the same decisions with time and without."""
    patients = withtime.patients_needed(design, [name])
    u = tolerances(5, 0, TRIALS, patients)
    v = lane_uniforms(5, 0, TRIALS, patients, RESPONSE_LANE)
    clock = withtime.chunk_timeline(design, 5, 0, TRIALS, patients)
    timed = withtime.simulate_chunk_design(design, name, P_TRUE, u, clock, v, P_RESPONSE)
    run = withtime.simulate_timed(withtime.timed_cache(design, name), P_TRUE, u, clock)
    np.testing.assert_array_equal(timed.response, by_hand(run.histories.level, v, 5))
    plain = simulate_trials(state_space(design, name), DLTTable.of(u, P_TRUE),
                            responses=DLTTable.of(v, P_RESPONSE))
    np.testing.assert_array_equal(plain.n, timed.n)
    np.testing.assert_array_equal(plain.response, timed.response)
    assert (timed.response <= timed.n).all() and timed.response.sum() > 0


def test_responses_are_independent_of_the_path(design) -> None:
    """Responses change no decision and their uniforms are apart from the tolerances: the mean
    responses at a dose are its mean patients times its response rate, within Monte Carlo
    error."""
    u = tolerances(8, 0, 4000, 30)
    v = lane_uniforms(8, 0, 4000, 30, RESPONSE_LANE)
    rec = simulate_trials(state_space(design, "boin"), DLTTable.of(u, P_TRUE),
                          responses=DLTTable.of(v, P_RESPONSE))
    for k in range(3):
        excess = rec.response[:, k] - P_RESPONSE[k] * rec.n[:, k]
        assert abs(excess.mean()) < 4 * excess.std(ddof=1) / np.sqrt(excess.size)


@pytest.mark.parametrize("time", [[], ["--no-time"]])
def test_summary_and_results_hold_every_designs_responses_and_obd(design, scenarios,
                                                                 tmp_path, time) -> None:
    out = tmp_path / "run"
    run = CliRunner().invoke(main, ["simulate", str(CONFIG), "--scenarios", str(scenarios),
                                    "--designs", "boin,3+3", "--trials", str(TRIALS), "--seed",
                                    "3", "--workers", "1", "--quiet", "--out", str(out), *time])
    assert run.exit_code == 0, run.output
    head = next(line for line in run.output.splitlines() if line.startswith("scenario"))
    assert head.split()[-2:] == ["responses", "P(OBD)"] and "backfill" not in head
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "simulate"  # p_response: simulated, not exact
    entry = summary["scenarios"][0]
    best = true_obd(P_TRUE, P_RESPONSE, 1)
    assert entry["true_obd"] == best + 1
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        for name in ("boin", "3+3"):
            oc = entry["designs"][name]
            one = ds.sel(scenario="S2", design=name)
            n, dlt = one.n.values.astype(int), one.dlt.values.astype(int)
            response = one.response.values.astype(int)
            obd = estimated_obd_rows(n, dlt, response, one.selected.values.astype(int) - 1)
            np.testing.assert_array_equal(one.obd_selected.values - 1, obd)
            assert oc["responses"] == pytest.approx(response.mean(axis=0).tolist())
            assert oc["responses_mean"] == pytest.approx(response.sum(axis=1).mean())
            assert oc["select_obd"] == pytest.approx([np.mean(obd == k) for k in range(5)])
            assert oc["p_select_obd"] == pytest.approx(np.mean(obd == best))
            assert oc["se"]["p_select_obd"] == pytest.approx(
                np.std(obd == best, ddof=1) / np.sqrt(TRIALS))
            assert "patients_backfill" not in oc


def test_exact_method_refuses_response_rates(scenarios, tmp_path) -> None:
    run = CliRunner().invoke(main, ["simulate", str(CONFIG), "--scenarios", str(scenarios),
                                    "--designs", "boin", "--method", "exact", "--no-time",
                                    "--quiet", "--out", str(tmp_path / "run")])
    assert run.exit_code == 2
    assert "the scenarios give p_response" in run.output and "--method simulate" in run.output
    assert not (tmp_path / "run" / "summary.json").exists()
