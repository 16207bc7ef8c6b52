"""The combination BLRM simulated (``designs.blrm_comb.simulated``) against independent answers:
on a small trial (3 x 5 grid, cohorts of 2, 6 patients) every node of the trial tree is decided
by ``recommend`` from a CSV of the cohorts (the decision of record) and by the simulated design
from its state, and must agree; the tree's exact selection probabilities (binomial outcomes of
every cohort, enumerated) must match the simulated frequencies within Monte Carlo error; and a
run's numbers must not depend on the chunk size, the workers or the cached posteriors."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS
from test_simulation_executors import assert_same_outputs, simulate

from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.base import CONTINUE, NO_DOSE, STOP_REASONS, States
from bayesdose.designs.blrm_comb.recommendation import recommend_combination
from bayesdose.designs.registry import make_design
from bayesdose.schema import load_design
from bayesdose.simulation.combination.metrics import pair_flags
from bayesdose.simulation.combination.scenarios import load_matrix_scenarios
from bayesdose.simulation.combination.study import combination_design, simulate_records

SCENARIOS = CONFIGS / "scenarios" / "combination-3x5.toml"
SIZE, MAX_PATIENTS = 2, 6


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configs/combination-3x5.toml with cohorts of 2 and 6 patients: a tree of 40 states."""
    text = (CONFIGS / "combination-3x5.toml").read_text()
    text = text.replace("size = 3", f"size = {SIZE}").replace(
        "max_patients = 60", f"max_patients = {MAX_PATIENTS}")
    path = tmp_path_factory.mktemp("config") / "small.toml"
    path.write_text(text)
    return path


def _csv(design, cohorts: list[tuple[int, int]]) -> bytes:
    """Patient-level data of ``cohorts`` [(flat pair, DLTs)]: cohorts of SIZE."""
    pairs = design.pair_panel
    lines = [f"patient_id,cohort,dose_{pairs.names[0]},dose_{pairs.names[1]},dlt"]
    patient = 0
    for c, (pair, dlts) in enumerate(cohorts, start=1):
        doses = pairs.doses(pair)
        for i in range(SIZE):
            patient += 1
            lines.append(f"P{patient},{c},{doses[pairs.names[0]]:g},{doses[pairs.names[1]]:g},"
                         f"{int(i < dlts)}")
    return ("\n".join(lines) + "\n").encode()


def _recommend(design, cohorts, tmp_path: Path) -> tuple[int, int, int]:
    """(next pair, stop reason code, MTD pair) of ``recommend`` on the cohorts so far."""
    path = tmp_path / "data.csv"
    content = _csv(design, cohorts)
    path.write_bytes(content)
    d = recommend_combination(design, read_trial_data(path, design, content=content)).decision
    stop = CONTINUE if d.stop_reason is None else STOP_REASONS.index(d.stop_reason)
    return (NO_DOSE if d.next_pair is None else d.next_pair, stop,
            NO_DOSE if d.mtd_pair is None else d.mtd_pair)


def _simulated(sim, cohorts) -> tuple[int, int, int]:
    """The same from the simulated design's ``decide`` on the trial's state."""
    n = np.zeros((1, sim.space.n_doses), np.int64)
    dlt = np.zeros_like(n)
    for pair, dlts in cohorts:
        n[0, pair] += SIZE
        dlt[0, pair] += dlts
    last = cohorts[-1] if cohorts else (NO_DOSE, 0)
    act = sim.decide(States(n, dlt, np.array([last[0]]), np.array([last[1]])))
    return int(act.next_level[0]), int(act.stop_reason[0]), int(act.mtd[0])


def _tree(design, sim, p_true: np.ndarray, tmp_path: Path, cohorts=(), chance=1.0,
          out=None) -> np.ndarray:
    """P(selecting each flat pair) by enumerating every cohort's outcomes; at every node
    ``recommend`` and the simulated design must decide alike."""
    out = np.zeros(p_true.size) if out is None else out
    cohorts = list(cohorts)
    decided = _recommend(design, cohorts, tmp_path)
    assert _simulated(sim, cohorts) == decided, cohorts
    pair, stop, mtd = decided
    if stop != CONTINUE:
        if mtd != NO_DOSE:
            out[mtd] += chance
        return out
    p = p_true.ravel()[pair]
    for y in range(SIZE + 1):
        weight = math.comb(SIZE, y) * p**y * (1 - p) ** (SIZE - y)
        _tree(design, sim, p_true, tmp_path, [*cohorts, (pair, y)], chance * weight, out)
    return out


def test_simulated_decisions_are_recommends_and_its_selections_the_trees(config, tmp_path):
    design = load_design(config)
    scenario = load_matrix_scenarios(SCENARIOS, design.pair_panel.shape, design.drugs.names)[1]
    sim = make_design("blrm", design)
    exact = _tree(design, sim, scenario.matrix, tmp_path)
    trials = 4000
    records = simulate_records(design, [scenario], ["blrm"], trials, seed=3)
    frequency = pair_flags(records["selected_0_0"], exact.size).mean(axis=0)
    se = np.sqrt(exact * (1 - exact) / trials)
    assert np.all(np.abs(frequency - exact) <= 4 * se + 1e-12), (frequency, exact)
    none = 1 - exact.sum()
    assert abs((records["selected_0_0"] == 0).mean() - none) <= 4 * math.sqrt(
        none * (1 - none) / trials) + 1e-12
    assert exact.max() > 0.2  # a real selection, not all mass at none


def test_the_same_numbers_whatever_the_chunks_and_the_cache(config):
    """Posteriors computed afresh (a new process's cache) or cached, in chunks of 7 or 40:
    the same records."""
    design = load_design(config)
    scenarios = load_matrix_scenarios(SCENARIOS, design.pair_panel.shape, design.drugs.names)
    first = simulate_records(design, scenarios[:2], ["blrm"], 120, seed=9, chunk_size=40)
    combination_design.cache_clear()
    again = simulate_records(design, scenarios[:2], ["blrm"], 120, seed=9, chunk_size=7)
    assert first.keys() == again.keys()
    for key in first:
        assert np.array_equal(first[key], again[key]), key


def test_simulate_runs_the_combination_blrm_beside_boin_comb(config, tmp_path):
    """``simulate --designs blrm,boin-comb``: summary.json's matrices for the BLRM, and one
    worker or two, chunks of 25 or 60: the same outputs."""
    outs = []
    for workers, chunk in ((1, 60), (2, 25)):
        out = tmp_path / f"w{workers}"
        result = simulate(config, "--scenarios", SCENARIOS, "--designs", "blrm,boin-comb",
                          "--trials", 120, "--seed", 4, "--workers", workers, "--chunk-size",
                          chunk, "--out", out)
        assert result.exit_code == 0, result.output
        outs.append(out)
    assert_same_outputs(*outs)
    summary = json.loads((outs[0] / "summary.json").read_text())
    assert summary["designs"] == ["blrm", "boin-comb"]
    oc = summary["scenarios"][0]["designs"]["blrm"]
    assert np.array(oc["select"]).shape == (3, 5) and np.array(oc["patients"]).shape == (3, 5)
    assert np.array(oc["patients"]).sum() == pytest.approx(oc["n_mean"])
    assert np.array(oc["select"]).sum() + oc["select_none"] == pytest.approx(1.0)
    assert oc["n_mean"] <= MAX_PATIENTS and 0 <= oc["pcs"] <= 1
    # the report shows the BLRM from that folder (it does not simulate it itself)
    report = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", str(config), "--scenarios", str(SCENARIOS),
                                       "--sim", str(outs[0]), "--out", str(report)])
    assert result.exit_code == 0, result.output
    html = (report / "report.html").read_text()
    cell = re.search(r'<td[^>]*data-design="blrm"[^>]*data-key="pcs"[^>]*>.*?class="v">([^<]*)<',
                     html, re.S)
    assert cell is not None and cell.group(1) == f"{oc['pcs']:.3f}"
    assert "BLRM-EWOC" in html


def test_the_report_simulates_the_blrm_itself(config, tmp_path):
    """Without --sim the report simulates the BLRM with the other designs: its numbers are
    those of ``simulate`` with the same trials and seed."""
    result = CliRunner().invoke(main, ["report", str(config), "--scenarios", str(SCENARIOS),
                                       "--trials", "60", "--seed", "3", "--out",
                                       str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    reported = json.loads((tmp_path / "report" / "simulation" / "summary.json").read_text())
    assert reported["designs"] == ["blrm", "boin-comb", "waterfall"]
    result = simulate(config, "--scenarios", SCENARIOS, "--designs", "blrm", "--trials", 60,
                      "--seed", 3, "--out", tmp_path / "sim")
    assert result.exit_code == 0, result.output
    alone = json.loads((tmp_path / "sim" / "summary.json").read_text())
    for mine, theirs in zip(reported["scenarios"], alone["scenarios"], strict=True):
        assert mine["designs"]["blrm"] == theirs["designs"]["blrm"]
