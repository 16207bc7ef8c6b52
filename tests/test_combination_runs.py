"""A two-drug simulation run as one drug's: chunk files and --resume, results.nc, Ctrl-C; the
same numbers whatever the chunk size, the workers or the interruptions."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import CONFIGS
from test_simulation_executors import assert_same_outputs, chunk_files, simulate

from bayesdose.schema import load_design
from bayesdose.simulation.chunks import optimal_key, record_key
from bayesdose.simulation.combination.scenarios import load_matrix_scenarios
from bayesdose.simulation.combination.study import simulate_records
from bayesdose.simulation.metrics import _Estimator

CONFIG = CONFIGS / "combination-3x5.toml"
SCENARIOS = CONFIGS / "scenarios" / "combination-3x5.toml"
TRIALS, CHUNK = 600, 20  # 30 chunks


def run_args(out: Path, chunk: int = CHUNK, workers: int = 1) -> list[object]:
    return [CONFIG, "--scenarios", SCENARIOS, "--designs", "boin-comb,waterfall", "--trials",
            TRIALS, "--seed", 5, "--workers", workers, "--chunk-size", chunk, "--out", out]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    result = simulate(*run_args(out))
    assert result.exit_code == 0, result.output
    return out


def test_results_hold_every_trial(uninterrupted: Path) -> None:
    """results.nc: per trial and pair the selection flags, patients and DLTs of the records
    simulated in memory; each drug's dose per pair."""
    design = load_design(CONFIG)
    scenarios = load_matrix_scenarios(SCENARIOS, (3, 5), ("A", "B"))
    records = simulate_records(design, scenarios, ["boin-comb", "waterfall"], TRIALS, 5)
    with xr.open_dataset(uninterrupted / "results.nc", engine="h5netcdf") as nc:
        assert list(nc.dose_A.values) == [10] * 5 + [20] * 5 + [40] * 5
        assert list(nc.dose_B.values) == [1, 2, 4, 8, 12] * 3
        for s in range(3):
            for d in range(2):
                bits = records[record_key("selected", s, d)]
                flags = nc.selected[s, d].values
                assert np.array_equal(flags, (bits[:, None] >> np.arange(15)) & 1)
                assert np.array_equal(nc.n[s, d].values, records[record_key("n", s, d)])
                assert np.array_equal(nc.dlt[s, d].values, records[record_key("dlt", s, d)])
            best = nc.optimal_selected[s].values
            assert np.array_equal(best @ (1 << np.arange(15)), records[optimal_key(s)])
        assert (nc.selected[:, 0].sum("pair") <= 1).all()  # BOIN-comb: one pair or none
    summary = json.loads((uninterrupted / "summary.json").read_text())
    waterfall = summary["scenarios"][0]["designs"]["waterfall"]
    n = records[record_key("n", 0, 1)]
    assert waterfall["n_mean"] == pytest.approx(n.sum(axis=1).mean(), abs=1e-12)
    assert waterfall["se"]["n_mean"] == pytest.approx(
        n.sum(axis=1).std(ddof=1) / np.sqrt(TRIALS), rel=1e-12)
    # a ratio and its delta-method error as the one-drug estimator computes them per trial
    per_trial = _Estimator(np.full(TRIALS, 1 / TRIALS), TRIALS)
    rate, se = per_trial.ratio(records[record_key("dlt", 0, 1)].sum(axis=1), n.sum(axis=1))
    assert waterfall["dlt_rate"] == pytest.approx(rate, rel=1e-12)
    assert waterfall["se"]["dlt_rate"] == pytest.approx(se, rel=1e-9)


def test_chunk_size_and_workers_change_nothing(uninterrupted: Path, tmp_path: Path) -> None:
    result = simulate(*run_args(tmp_path, chunk=250, workers=2))
    assert result.exit_code == 0, result.output
    assert_same_outputs(uninterrupted, tmp_path)


def test_resume_computes_only_missing_chunks(uninterrupted: Path, tmp_path: Path) -> None:
    result = simulate(*run_args(tmp_path))
    assert result.exit_code == 0, result.output
    files = chunk_files(tmp_path)
    kept = {path: path.stat().st_mtime_ns for path in files[1:-1]}
    files[0].unlink()
    files[-1].unlink()
    (tmp_path / "summary.json").unlink()
    result = simulate(*run_args(tmp_path), "--resume")
    assert result.exit_code == 0, result.output
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())
    assert len(chunk_files(tmp_path)) == TRIALS // CHUNK
    assert_same_outputs(uninterrupted, tmp_path)
    other = simulate(*run_args(tmp_path)[:-1], tmp_path, "--seed", 6, "--resume")
    assert other.exit_code == 2 and "seed (5 there, 6 now)" in other.output, other.output


def test_ctrl_c_stops_cleanly_and_the_run_resumes(uninterrupted: Path, tmp_path: Path) -> None:
    args = run_args(tmp_path)
    command = [sys.executable, "-m", "bayesdose.cli", "simulate", *map(str, args)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while len(chunk_files(tmp_path)) < 3 and proc.poll() is None:
        assert time.monotonic() < deadline, "no chunk files appeared"
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "run again with --resume" in lines[0], stderr
    assert not (tmp_path / "summary.json").exists() and not list(tmp_path.glob(".tmp-*"))
    assert 3 <= len(chunk_files(tmp_path)) < TRIALS // CHUNK
    result = simulate(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert_same_outputs(uninterrupted, tmp_path)


def test_random_scenarios_are_for_one_drug(tmp_path: Path) -> None:
    result = simulate(CONFIG, "--random", 5, "--designs", "waterfall", "--out", tmp_path)
    assert result.exit_code == 2
    assert "--random" in result.output and "random scenarios are for one drug" in result.output
    assert not list(tmp_path.iterdir())
