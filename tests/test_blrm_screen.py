"""The simulated BLRM's screen: decisions on a coarser grid where every probability the rules
compare lies more than MARGIN from changing them, on the design's grid elsewhere; the same
decisions as the design's grid alone (recommend's)."""

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.designs.base import States
from bayesdose.designs.blrm import backfill as blrm_backfill
from bayesdose.designs.blrm import simulated
from bayesdose.designs.blrm.rules import decide_batch, decision_margin
from bayesdose.designs.blrm.simulated import BlrmDesign, actions_of
from bayesdose.posterior import exact_engine
from bayesdose.schema import load_design
from bayesdose.simulation import backfillrunner
from bayesdose.simulation.backfillrunner import BackfillRecords, run_backfill


@pytest.fixture(scope="module")
def design():
    return load_design(CONFIGS / "standard-5dose.toml")


def _margin(design, n, p_target, p_overdose, last_level=None, last_dlt=None):
    rows = n.shape[0]
    last_level = np.full(rows, -1) if last_level is None else last_level
    last_dlt = np.zeros(rows, np.int64) if last_dlt is None else last_dlt
    decisions = decide_batch(design, n, np.zeros_like(n), p_target, p_overdose, last_level,
                             last_dlt)
    return decision_margin(design, decisions, n, p_target, p_overdose)


def test_the_margin_is_the_nearest_comparison_by_hand(design) -> None:
    """EWOC 0.25, safety 0.8 (3 patients at the lowest dose), declaration at P(target) 0.5
    with 12 patients; the lead of the best dose counts half (both values may move)."""
    n = np.array([[3, 3, 0, 0, 0]] * 4 + [[0] * 5])
    p_overdose = np.array([[0.01, 0.10, 0.30, 0.60, 0.90],
                           [0.01, 0.2495, 0.30, 0.60, 0.90],  # 5e-4 below EWOC's threshold
                           [0.01, 0.10, 0.30, 0.60, 0.90],
                           [0.01, 0.10, 0.20, 0.60, 0.90],  # dose 2 allowed, not given
                           [0.01, 0.10, 0.30, 0.60, 0.90]])
    p_target = np.array([[0.20, 0.40, 0.45, 0.30, 0.10],
                         [0.20, 0.40, 0.45, 0.30, 0.10],
                         [0.3990, 0.40, 0.45, 0.30, 0.10],  # lead of dose 2 over 1: 1e-3
                         [0.4004, 0.40, 0.45, 0.30, 0.10],
                         [0.20, 0.40, 0.45, 0.30, 0.10]])
    margin = _margin(design, n, p_target, p_overdose)
    # row 0: EWOC at dose 3 (0.30) is 0.05 away; allowed doses 1, 2: lead 0.40 - 0.20 = 0.2
    assert margin[0] == pytest.approx(0.05)
    assert margin[1] == pytest.approx(5e-4)
    assert margin[2] == pytest.approx(5e-4)  # half the lead of 1e-3
    # the MTD at the maximum sample size reads the given doses EWOC allows: dose 0 leads
    # dose 1 by 4e-4 there (the next dose, 2, leads the allowed ones by 0.0496)
    assert margin[3] == pytest.approx(2e-4)
    assert margin[4] == np.inf  # no patients: the start dose, whatever the posterior


def test_screened_decisions_are_the_design_grids(design) -> None:
    """3,000 random trial states decided by the simulated design (screen, then the design's
    grid where unsure) and by the rules on the design grid's posteriors alone."""
    rng = np.random.default_rng(8)
    rows = 3000
    highest = rng.integers(0, 5, rows)
    n = np.where(np.arange(5) <= highest[:, None], 3 * rng.integers(1, 5, (rows, 5)), 0)
    dlt = rng.binomial(n, rng.uniform(0.05, 0.6, (rows, 1)))
    last_level = np.array([rng.integers(0, h + 1) for h in highest])
    last_dlt = np.minimum(dlt[np.arange(rows), last_level], rng.integers(0, 3, rows))
    states = States(n, dlt, last_level, last_dlt)
    screened = BlrmDesign(design).decide(states)
    summary = exact_engine(design).batch(n, dlt)
    alone = actions_of(decide_batch(design, n, dlt, summary.p_target, summary.p_overdose,
                                    last_level, last_dlt))
    for field in ("next_level", "cohort_size", "stop_reason", "mtd"):
        assert np.array_equal(getattr(screened, field), getattr(alone, field)), field
    screen = exact_engine(design, simulated.SCREEN_GRID).batch(n, dlt)
    unsure = _margin(design, n, screen.p_target, screen.p_overdose, last_level,
                     last_dlt) <= simulated.MARGIN
    assert 0 < unsure.sum() < rows / 10  # some go to the design grid; most need not
    worst = max(np.abs(screen.p_target - summary.p_target).max(),
                np.abs(screen.p_overdose - summary.p_overdose).max())
    assert worst < simulated.MARGIN / 4  # the grids agree far inside the margin


def test_blrm_backfill_trials_are_those_of_the_design_grid_alone(monkeypatch) -> None:
    """With a margin of 1 every decision, closure and selection reads the design's grid: the
    simulated trials are the same as with the screen."""
    bf = load_design(CONFIGS / "bf-boin.toml")
    p_true, p_response = np.array([0.05, 0.12, 0.25, 0.4, 0.55]), np.full(5, 0.3)
    runs = []
    for margin in (simulated.MARGIN, 1.0):
        monkeypatch.setattr(simulated, "MARGIN", margin)
        monkeypatch.setattr(blrm_backfill, "MARGIN", margin)
        backfillrunner.backfill_cache.cache_clear()  # no decision made under the other margin
        runs.append(run_backfill(bf, "blrm+backfill", p_true, p_response, 5, 0, 400))
    backfillrunner.backfill_cache.cache_clear()
    for field in BackfillRecords.__dataclass_fields__:
        assert np.array_equal(getattr(runs[0], field), getattr(runs[1], field)), field
