"""Dose optimisation (bayesdose.optimisation) against hand-computed cases."""

import numpy as np
import pytest

from bayesdose.designs.base import NO_DOSE
from bayesdose.optimisation import estimated_obd, expected_utility, true_obd


def test_expected_utility_by_hand() -> None:
    # p = 0.1, q = 0.2: 100 * 0.2 * 0.9 + 60 * 0.2 * 0.1 + 40 * 0.8 * 0.9 + 0 = 48
    # p = 0.3, q = 0.5: 35 + 9 + 14 + 0 = 58
    assert expected_utility([0.1, 0.3], [0.2, 0.5]) == pytest.approx([48.0, 58.0])
    # another table: only responses without DLT count
    assert expected_utility([0.5], [0.5], (100, 0, 0, 0)) == pytest.approx([25.0])


def test_true_obd_among_doses_up_to_the_mtd() -> None:
    p, q = [0.05, 0.1, 0.25, 0.4], [0.1, 0.3, 0.35, 0.9]
    # U = 44.0, 54.0, 51.0 up to the MTD (level 3); dose 4 (U = 60.6) is too toxic
    assert true_obd(p, q, 2) == 1
    assert true_obd(p, q, 3) == 3
    assert true_obd(p, q, None) == NO_DOSE


def test_estimated_obd_by_hand() -> None:
    # doses 1-2: p^ = 0.05/3.1, 1.05/6.1; q^ = 0.05/3.1, 3.05/6.1 (no PAVA pooling needed):
    # U = 40.3 and 63.1, so dose 2 (0-based 1)
    assert estimated_obd((3, 6, 3), (0, 1, 2), (0, 3, 1), 1) == 1
    # the same data with the MTD at dose 1: only dose 1 is acceptable
    assert estimated_obd((3, 6, 3), (0, 1, 2), (0, 3, 1), 0) == 0
    assert estimated_obd((3, 6, 3), (0, 1, 2), (0, 3, 1), NO_DOSE) == NO_DOSE


def test_estimated_obd_pools_a_falling_response_rate() -> None:
    # responses 2/6 then 0/6: PAVA pools them (q^ equal), toxicity rises: the lower dose wins
    assert estimated_obd((6, 6), (0, 1), (2, 0), 1) == 0
    # equal utilities go to the lower dose
    u = expected_utility(np.array([0.1, 0.1]), np.array([0.3, 0.3]))
    assert u[0] == u[1]
    assert estimated_obd((6, 6), (0, 0), (2, 2), 1) == 0
