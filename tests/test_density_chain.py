"""Posteriors extended by a cohort from a held density (inference.extension.DensityChain): the
engine's numbers on the same grid, whichever way a data set was reached."""

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.designs.blrm.simulated import SCREEN_GRID
from bayesdose.inference import extension
from bayesdose.inference.extension import DensityChain
from bayesdose.posterior import build_exact_engine, exact_engine
from bayesdose.schema import load_design

# The chain multiplies and sums in single precision where the engine exponentiates and sums
# in double: both round at about 1e-7 relative, so interval probabilities agree to ~1e-6.
AGREEMENT = 5e-6


@pytest.fixture(scope="module")
def design():
    return load_design(CONFIGS / "standard-5dose.toml")


def _walk(design, trials: int = 300, cohorts: int = 8, seed: int = 3):
    """Random trials a cohort of 3 at a time (the dose moves by at most one level), as
    (n, dlt, last_level, last_dlt) per cohort: the data sets a simulation decides."""
    rng = np.random.default_rng(seed)
    doses = len(design.levels)
    n, dlt = np.zeros((trials, doses), np.int64), np.zeros((trials, doses), np.int64)
    level = np.zeros(trials, np.int64)
    steps = []
    for _ in range(cohorts):
        y = rng.binomial(3, 0.1 + 0.1 * level)
        n[np.arange(trials), level] += 3
        dlt[np.arange(trials), level] += y
        steps.append((n.copy(), dlt.copy(), level.copy(), y))
        level = np.clip(level + rng.integers(-1, 2, trials), 0, doses - 1)
    return steps


def _fresh_rows(monkeypatch, engine) -> list[int]:
    """Counts, per call of the engine's own densities, the data sets computed from scratch."""
    rows, own = [], engine._densities

    def counted(counts):
        rows.append(counts.shape[0])
        return own(counts)

    monkeypatch.setattr(engine, "_densities", counted)
    return rows


def _agree_along_the_walk(design, chain: DensityChain) -> int:
    """Asserts the chain's answers along ``_walk`` are the engine's; the data sets asked."""
    asked = 0
    engine = build_exact_engine(design, SCREEN_GRID)  # its own instance: not counted
    for n, dlt, last_level, last_dlt in _walk(design):
        unique, first = np.unique(np.hstack([n, dlt]), axis=0, return_index=True)
        n, dlt, last_level, last_dlt = n[first], dlt[first], last_level[first], last_dlt[first]
        p_target, p_overdose = chain.intervals(n, dlt, last_level, last_dlt)
        asked += n.shape[0]
        alone = engine.batch(n, dlt)
        assert np.abs(p_target - alone.p_target).max() < AGREEMENT
        assert np.abs(p_overdose - alone.p_overdose).max() < AGREEMENT
    return asked


def test_extended_posteriors_are_the_engines(design, monkeypatch) -> None:
    """300 random trials of 8 cohorts: after the first cohort every data set extends the one
    before it (none is computed from scratch) and agrees with the engine alone."""
    engine = exact_engine(design, SCREEN_GRID)
    chain = DensityChain(engine, [1, 2, 3], design.stopping.max_patients)
    fresh = _fresh_rows(monkeypatch, engine)
    _agree_along_the_walk(design, chain)
    assert sum(fresh) <= extension.CHUNK  # the first cohort's data sets only (one chunk)


def test_a_product_too_small_or_not_held_is_computed_afresh(design, monkeypatch) -> None:
    """A product whose maximum falls below MIN_SCALE (here: all of them) and data sets beyond
    the held limit (here: all but 5) are computed from scratch, with the same answers."""
    engine = exact_engine(design, SCREEN_GRID)
    for setting in (("MIN_SCALE", 2.0), ("HELD_LIMIT", 5)):
        with monkeypatch.context() as patch:
            patch.setattr(extension, *setting)
            fresh = _fresh_rows(patch, engine)
            asked = _agree_along_the_walk(design, DensityChain(engine, [3],
                                                               design.stopping.max_patients))
            if setting[0] == "MIN_SCALE":
                assert sum(fresh) == asked
            else:  # only the children of 5 data sets a call extend theirs
                assert 0.8 * asked < sum(fresh) < asked


def test_data_sets_at_the_maximum_sample_size_are_not_held(design) -> None:
    """Nothing extends a trial that has ended: its density is not kept."""
    engine = exact_engine(design, SCREEN_GRID)
    chain = DensityChain(engine, [3], max_patients=6)
    n = np.array([[3, 0, 0, 0, 0], [3, 3, 0, 0, 0], [6, 0, 0, 0, 0]])
    dlt = np.zeros_like(n)
    chain.intervals(n, dlt, np.array([0, 1, 0]), np.zeros(3, np.int64))
    assert len(chain._held_rows) == 1 and chain._held.shape[0] >= 1
