"""The row index of the simulation caches: exact ids, also when hashes collide."""

import numpy as np
from bayesdose.simulation import rowindex
from bayesdose.simulation.rowindex import RowIndex


def test_ids_follow_the_order_rows_were_added_and_unseen_rows_are_minus_one():
    index = RowIndex()
    rows = np.array([[1, 2, 3], [0, 0, 0], [5, 4, 3]])
    assert index.add(rows).tolist() == [0, 1, 2]
    assert index.add(np.array([[9, 9, 9]])).tolist() == [3]
    query = np.array([[5, 4, 3], [7, 7, 7], [1, 2, 3], [9, 9, 9], [0, 0, 0]])
    assert index.find(query).tolist() == [2, -1, 0, 3, 1]
    assert index.size == 4


def test_many_random_rows_against_a_dictionary():
    rng = np.random.default_rng(5)
    index, reference = RowIndex(), {}
    for _ in range(40):
        batch = rng.integers(0, 4, (300, 6))
        found = index.find(batch)
        expected = [reference.get(row.tobytes(), -1) for row in batch]
        assert found.tolist() == expected
        new = np.unique(batch[found < 0], axis=0)
        for row, i in zip(new, index.add(new), strict=True):
            reference[row.tobytes()] = int(i)
    assert index.size == len(reference)


def test_rows_whose_hashes_collide_keep_their_own_ids(monkeypatch):
    """Every row hashed alike: the stored-row check sends all but the first apart."""
    monkeypatch.setattr(rowindex, "row_hashes", lambda rows: np.zeros(rows.shape[0], np.int64))
    index = RowIndex()
    assert index.add(np.array([[1, 1], [2, 2]])).tolist() == [0, 1]
    assert index.add(np.array([[3, 3]])).tolist() == [2]
    assert index.find(np.array([[3, 3], [2, 2], [1, 1], [4, 4]])).tolist() == [2, 1, 0, -1]


def test_rows_of_another_width_are_other_rows():
    index = RowIndex()
    assert index.add(np.zeros((1, 3), np.int64)).tolist() == [0]
    assert index.find(np.zeros((2, 4), np.int64)).tolist() == [-1, -1]
    assert index.add(np.zeros((1, 4), np.int64)).tolist() == [1]
    assert index.find(np.zeros((1, 3), np.int64)).tolist() == [0]
    assert index.find(np.zeros((1, 4), np.int64)).tolist() == [1]
