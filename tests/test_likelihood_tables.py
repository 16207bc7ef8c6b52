"""Posterior densities as products of per-dose likelihood rows (inference.likelihood_tables): the
engine's numbers on the same grid, with data sets in strong conflict computed from scratch."""

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.designs.blrm.simulated import SCREEN_GRID
from bayesdose.inference import likelihood_tables
from bayesdose.inference.likelihood_tables import LikelihoodTables
from bayesdose.posterior import build_exact_engine, exact_engine
from bayesdose.schema import load_design

# The tables multiply and sum in single precision where the engine exponentiates and sums in
# double: both round at about 1e-7 relative, so interval probabilities agree to ~1e-6.
AGREEMENT = 5e-6


@pytest.fixture(scope="module")
def design():
    return load_design(CONFIGS / "standard-5dose.toml")


def _data_sets(rows: int = 2000, seed: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Random trial states: cohorts of 3 at the doses up to a highest, DLTs at a common rate."""
    rng = np.random.default_rng(seed)
    highest = rng.integers(0, 5, rows)
    n = np.where(np.arange(5) <= highest[:, None], 3 * rng.integers(0, 6, (rows, 5)), 0)
    return n, rng.binomial(n, rng.uniform(0.02, 0.7, (rows, 1)))


def _counting_underflow(monkeypatch) -> list[int]:
    """Records how many data sets each call computes from scratch for underflow."""
    calls, own = [], LikelihoodTables._underflowed

    def counted(self, out):
        low = own(self, out)
        calls.append(low.size)
        return low

    monkeypatch.setattr(LikelihoodTables, "_underflowed", counted)
    return calls


def _assert_engines_numbers(design, tables: LikelihoodTables, n, dlt) -> None:
    p_target, p_overdose = tables.intervals(n, dlt)
    alone = build_exact_engine(design, SCREEN_GRID).batch(n, dlt)  # an engine of its own
    assert np.abs(p_target - alone.p_target).max() < AGREEMENT
    assert np.abs(p_overdose - alone.p_overdose).max() < AGREEMENT


def test_products_of_rows_are_the_engines_posteriors(design, monkeypatch) -> None:
    """2,000 random data sets: one row per dose and (patients, DLTs) seen, no density
    computed from scratch, the engine's interval probabilities."""
    engine = exact_engine(design, SCREEN_GRID)
    tables = LikelihoodTables(engine)
    fresh = _counting_underflow(monkeypatch)
    n, dlt = _data_sets()
    _assert_engines_numbers(design, tables, n, dlt)
    seen = {(dose, a, b) for dose in range(5)
            for a, b in zip(n[:, dose].tolist(), dlt[:, dose].tolist(), strict=True) if a}
    assert tables._size == 2 + len(seen)  # the prior, ones, and one row each
    assert fresh == [0]


def test_data_in_strong_conflict_are_computed_from_scratch(design, monkeypatch) -> None:
    """30 DLTs in 30 patients at 1 mg and none in 30 at 16 mg: the product of the two rows
    falls to 2e-22 at its highest, so the engine computes that data set itself."""
    engine = exact_engine(design, SCREEN_GRID)
    fresh = _counting_underflow(monkeypatch)
    n = np.array([[30, 0, 0, 0, 30], [6, 6, 0, 0, 0]])
    dlt = np.array([[30, 0, 0, 0, 0], [0, 6, 0, 0, 0]])
    _assert_engines_numbers(design, LikelihoodTables(engine), n, dlt)
    assert fresh == [1]


@pytest.mark.parametrize("setting", [("MIN_SCALE", 2.0), ("MAX_ROWS", 40)])
def test_afresh_and_beyond_the_row_limit_the_answers_stand(design, monkeypatch,
                                                           setting) -> None:
    """Every data set computed from scratch (no product's maximum reaches 2), or the rows
    forgotten whenever a call would keep more than 40: the same answers."""
    engine = exact_engine(design, SCREEN_GRID)
    monkeypatch.setattr(likelihood_tables, *setting)
    fresh = _counting_underflow(monkeypatch)
    tables = LikelihoodTables(engine)
    n, dlt = _data_sets(300)
    for part in np.array_split(np.arange(300), 3):
        _assert_engines_numbers(design, tables, n[part], dlt[part])
    assert sum(fresh) == (300 if setting[0] == "MIN_SCALE" else 0)
    assert tables._size <= (2 + 40 if setting[0] == "MAX_ROWS" else likelihood_tables.MAX_ROWS)
