"""The BLRM's summary cache (designs.blrm.simulated.SummaryCache): each data set computed once,
in the order it first occurs, and memory bounded."""

import numpy as np

from bayesdose.designs.blrm.simulated import SummaryCache
from bayesdose.inference.exact import BatchSummary


def _summaries(data: np.ndarray) -> BatchSummary:
    """Stand-in engine: P(target) = the data set's first count, P(overdosing) its second."""
    col = np.ones((data.shape[0], 2))
    return BatchSummary(mean=col, sd=col, p_underdose=col, p_target=data[:, :1] * col,
                        p_overdose=data[:, 1:2] * col)


def test_equal_data_sets_are_computed_once_in_first_order() -> None:
    cache, asked = SummaryCache(2), []

    def compute(data: np.ndarray):
        def where(rows: np.ndarray) -> BatchSummary:
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
        def where(rows: np.ndarray) -> BatchSummary:
            asked.append(len(rows))
            return _summaries(data[rows])
        return where

    data = np.array([[1, 0], [2, 0], [3, 0]])
    cache.rows(data, compute(data))  # three held: over the limit
    rows = cache.rows(data[:1], compute(data[:1]))  # forgotten, so computed again
    assert asked == [3, 1] and cache.p_target[rows, 0].tolist() == [1]
