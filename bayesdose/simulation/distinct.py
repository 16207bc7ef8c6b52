"""Distinct rows of integer records, found by hashing: a simulation's thousands of trials end
in far fewer distinct records, and a design's final selection, like the tally of operating
characteristics, is computed once per distinct record.

Each row is hashed by a wrapping linear map (one int64 per row, a fast 1-D ``unique``), then
every row is checked against its group's first: if two distinct rows ever share a hash, the
exact (slower, about 8 times) ``np.unique(axis=0)`` answers instead.

Counting distinct rows (``distinct_rows``: the tally of final records) needs no index of each
row's group: when the fields' ranges allow it, each row is written as one int64 in mixed radix
(a key no two distinct rows share, in the rows' lexicographic order), the keys are sorted and
counted, and the distinct rows read back from their keys: about a third of the time of hashing.
"""

from __future__ import annotations

import math

import numpy as np

_ROW_MIX = (np.random.default_rng(20240601).integers(1, 2**62, 256) | 1).astype(np.int64)


def row_keys(rows: np.ndarray) -> list[bytes]:
    """One dictionary key per row of an integer array (rows, fields): the row's bytes (equal
    rows, equal keys; a narrow integer type makes them short)."""
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize))).ravel().tolist()


def group_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, group) of an int64 array (rows, fields): the index of one occurrence of each
    distinct row (in no particular order) and each row's distinct row, so that
    ``rows[first][group]`` equals ``rows``."""
    if rows.shape[1] <= _ROW_MIX.size:
        hashed = rows @ _ROW_MIX[: rows.shape[1]]
        _, first, group = np.unique(hashed, return_index=True, return_inverse=True)
        if np.array_equal(rows[first][group], rows):
            return first, group
    _, first, group = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return first, group.reshape(-1)


def distinct_rows(rows: np.ndarray,
                  counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an integer array (int64, in lexicographic order, the first field
    first) and how often each occurs; with ``counts``, each row stands for that many."""
    packed = _mixed_radix(np.ascontiguousarray(rows.T))  # a field at a time
    if packed is None:
        rows = np.asarray(rows, np.int64)
        first, group = group_rows(rows)
        distinct, order = rows[first], np.lexsort(rows[first].T[::-1])
        return distinct[order], _counted(group, first.size, counts)[order]
    key, low, radix = packed
    if counts is None:
        keys, counts = np.unique(key, return_counts=True)
    else:
        keys, group = np.unique(key, return_inverse=True)
        counts = _counted(group, keys.size, counts)
    distinct = np.empty((keys.size, rows.shape[1]), np.int64)
    for field in reversed(range(rows.shape[1])):
        keys, distinct[:, field] = np.divmod(keys, radix[field])
    return distinct + low, counts


def _counted(group: np.ndarray, size: int, counts: np.ndarray | None) -> np.ndarray:
    """The number of rows in each of ``size`` groups, or the sum of their ``counts``."""
    if counts is None:
        return np.bincount(group, minlength=size)
    total = np.zeros(size, np.int64)
    np.add.at(total, group, counts)
    return total


def _mixed_radix(columns: np.ndarray) -> tuple[np.ndarray, list[int], list[int]] | None:
    """Each row of the fields ``columns`` (fields, rows) as one int64 in mixed radix (its
    fields' offsets from their minima, the first field the most significant, so the keys
    order the rows lexicographically), with the minima and the radices; None when the
    fields' ranges need more than 63 bits."""
    low = columns.min(axis=1).tolist() if columns.size else [0] * columns.shape[0]
    high = columns.max(axis=1).tolist() if columns.size else low
    radix = [b - a + 1 for a, b in zip(low, high, strict=True)]
    if math.prod(radix) >= 2**63:
        return None
    key = np.zeros(columns.shape[1], np.int64)
    for values, base, offset in zip(columns, radix, low, strict=True):
        key *= base
        key += values
        key -= offset
    return key, low, radix
