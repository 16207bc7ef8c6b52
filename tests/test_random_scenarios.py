"""Random dose-toxicity scenarios (Paoletti et al. 2004 / Liu & Yuan 2015; Clertant &
O'Quigley 2017's pseudo-uniform) and `simulate --random`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import chisquare, norm

from bayesdose.cli import main
from bayesdose.simulation.random_scenarios import (
    MU_STEP,
    SIGMA_MTD,
    SIGMA_STEP,
    paoletti_curve,
    random_scenarios,
)
from bayesdose.simulation.scenarios import true_mtd

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "standard-5dose.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "standard-5dose.toml"
METHODS = ("paoletti", "pseudo-uniform")


@pytest.mark.parametrize("method", METHODS)
def test_the_same_seed_gives_the_same_curves_and_a_longer_set_extends_a_shorter(method):
    first = random_scenarios(40, 5, 0.3, 7, method)
    assert random_scenarios(40, 5, 0.3, 7, method) == first
    assert random_scenarios(80, 5, 0.3, 7, method)[:40] == first
    assert random_scenarios(40, 5, 0.3, 8, method) != first
    assert [s.name for s in first[:3]] == ["random-1", "random-2", "random-3"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("doses", "target"), [(3, 0.25), (5, 0.3), (8, 0.2)])
def test_curves_are_monotone_probabilities_with_an_mtd_uniform_over_the_doses(method, doses,
                                                                              target):
    curves = random_scenarios(1200, doses, target, 3, method)
    p = np.array([c.p_true for c in curves])
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p, axis=1) >= 0)
    mtd = [true_mtd(c.p_true, target) for c in curves]
    assert None not in mtd  # every curve has an acceptable dose
    counts = np.bincount(mtd, minlength=doses)
    assert chisquare(counts).pvalue > 0.001, counts  # uniform over the doses


def test_paoletti_puts_the_target_at_the_mtd_up_to_its_probit_noise():
    curves = random_scenarios(2000, 5, 0.3, 11)
    at_mtd = np.array([c.p_true[true_mtd(c.p_true, 0.3)] for c in curves])
    z = norm.ppf(at_mtd) - norm.ppf(0.3)
    assert abs(z.mean()) < 0.005 and abs(z.std() - SIGMA_MTD) < 0.003  # N(Phi^-1(0.3), 0.05^2)


def test_paoletti_steps_away_from_the_mtd_are_squared_normals():
    """Beyond the MTD's neighbours every probit step is e^2, e ~ N(MU_STEP, SIGMA_STEP^2):
    its mean is MU_STEP^2 + SIGMA_STEP^2."""
    steps = []
    for i in range(1500):
        p = paoletti_curve(np.random.default_rng(i), 0, 6, 0.3)  # MTD at the lowest dose
        steps += list(np.diff(norm.ppf(p))[1:])
    assert np.mean(steps) == pytest.approx(MU_STEP**2 + SIGMA_STEP**2, rel=0.05)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        random_scenarios(3, 5, 0.3, 1, "uniform")


def test_simulate_random_runs_on_the_drawn_curves(tmp_path: Path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["simulate", str(CONFIG), "--random", "3", "--seed", "5",
                                       "--random-method", "pseudo-uniform", "--designs", "3+3",
                                       "--method", "exact", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    drawn = random_scenarios(3, 5, 0.3, 5, "pseudo-uniform")
    assert [s["name"] for s in summary["scenarios"]] == ["random-1", "random-2", "random-3"]
    assert [tuple(s["p_true"]) for s in summary["scenarios"]] == [s.p_true for s in drawn]


@pytest.mark.parametrize("args", [[], ["--random", "3", "--scenarios", str(SCENARIOS)]])
def test_simulate_needs_exactly_one_scenario_source(tmp_path: Path, args):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["simulate", str(CONFIG), *args, "--out", str(out)])
    assert result.exit_code == 2
    assert "give either a scenario file (--scenarios FILE) or random scenarios" in result.output
    assert not out.exists()
