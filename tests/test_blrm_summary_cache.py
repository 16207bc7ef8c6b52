"""The BLRM's summary cache (designs.blrm.simulated.SummaryCache): each data set computed once,
in the order it first occurs, memory bounded, and the counts a step expects computed with the
next call."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from bayesdose.designs.blrm.simulated import SCREEN_GRID, BlrmDesign, SummaryCache
from bayesdose.posterior import exact_engine
from bayesdose.schema import load_design


def _summaries(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in engine: P(target) = the data set's first count, P(overdosing) its second."""
    col = np.ones((data.shape[0], 2))
    return data[:, :1] * col, data[:, 1:2] * col


def test_equal_data_sets_are_computed_once_in_first_order() -> None:
    cache, asked = SummaryCache(2), []

    def compute(data: np.ndarray):
        def where(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            asked.append(data[rows].tolist())
            return _summaries(data[rows])
        return where

    first = np.array([[5, 1], [3, 0], [5, 1], [7, 2], [3, 0]])
    rows = cache.rows(first, compute(first))
    assert asked == [[[5, 1], [3, 0], [7, 2]]]
    assert cache.p_target[rows, 0].tolist() == [5, 3, 5, 7, 3]
    assert cache.p_overdose[rows, 0].tolist() == [1, 0, 1, 2, 0]
    second = np.array([[7, 2], [9, 4], [5, 1], [9, 4]])
    rows = cache.rows(second, compute(second))
    assert asked[1] == [[9, 4]]  # only the data set not seen before
    assert cache.p_target[rows, 0].tolist() == [7, 9, 5, 9]


def test_the_cache_forgets_beyond_its_limit() -> None:
    cache, asked = SummaryCache(2, limit=2), []

    def compute(data: np.ndarray):
        def where(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            asked.append(len(rows))
            return _summaries(data[rows])
        return where

    data = np.array([[1, 0], [2, 0], [3, 0]])
    cache.rows(data, compute(data))  # three held: over the limit
    rows = cache.rows(data[:1], compute(data[:1]))  # forgotten, so computed again
    assert asked == [3, 1] and cache.p_target[rows, 0].tolist() == [1]


def test_expected_counts_come_with_the_next_engine_call() -> None:
    """A step's escalation data, expected before the backfill's closure asks for its own, are
    screened in the same engine call, with the same answers as asked alone."""
    design = load_design(Path(__file__).parent.parent / "configs" / "standard-5dose.toml")
    blrm, calls = BlrmDesign(design), []
    intervals = blrm._screen.intervals
    blrm._screen = SimpleNamespace(
        intervals=lambda n, *rest: calls.append(len(n)) or intervals(n, *rest))
    n1, dlt1 = np.array([[3, 3, 0, 0, 0]]), np.array([[0, 1, 0, 0, 0]])
    n2, dlt2 = np.array([[3, 6, 0, 0, 0], [3, 3, 3, 0, 0]]), np.array([[0, 1, 0, 0, 0]] * 2)
    blrm.expect(n2, dlt2)
    first = blrm.screened(n1, dlt1)
    assert first[0].shape == (1, 5) and calls == [3]
    second = blrm.screened(n2, dlt2)
    assert calls == [3]  # already computed
    for (p_target, p_overdose), n, dlt in ((first, n1, dlt1), (second, n2, dlt2)):
        # the screen sums in single precision, so its numbers differ from the engine's (in
        # double) in the sixth or seventh digit
        alone = exact_engine(design, SCREEN_GRID).batch(n, dlt)
        np.testing.assert_allclose(p_target, alone.p_target, rtol=0, atol=1e-6)
        np.testing.assert_allclose(p_overdose, alone.p_overdose, rtol=0, atol=1e-6)
