"""The combination BLRM's decision rules on hand-made posterior tables (bayesdose.designs.
blrm_comb.rules): EWOC, per-drug increments, no skipping, one drug at a time, the next pair
with its tie rule, the MTD contour."""

import numpy as np
import pytest

from bayesdose.designs.base import NO_DOSE
from bayesdose.designs.blrm_comb.rules import (
    ALLOWED,
    BOTH,
    FOLLOWUP,
    INCREMENT,
    OVERDOSE,
    SKIPPING,
    ComboRules,
    barred_codes,
    mtd_contour,
    next_pair,
)

LEVELS_A = np.array([25.0, 50.0, 80.0, 100.0])  # rows
LEVELS_B = np.array([0.5, 1.0, 3.0])  # columns
SAFE = np.zeros((4, 3))


def _n(*pairs):
    n = np.zeros((4, 3), dtype=int)
    for i, j in pairs:
        n[i, j] = 3
    return n


def test_each_rule_bars_what_it_should_in_order():
    """Current pair (0, 0) after one cohort there: (1, 0) and (0, 1) are one level up in one
    drug; (1, 1) escalates both; (2, 0) skips drug A's untried level 50 mg (and is 80 >
    2 x 25: the increment rule, checked first, names it); (0, 2) is 3 > 2 x 0.5 for drug B.
    EWOC bars (1, 0) first, whatever else applies."""
    p_over = SAFE.copy()
    p_over[1, 0] = 0.30
    codes = barred_codes(ComboRules(), LEVELS_A, LEVELS_B, p_over, _n((0, 0)), np.array([0, 0]))
    assert codes[0, 0] == ALLOWED
    assert codes[1, 0] == OVERDOSE
    assert codes[0, 1] == ALLOWED
    assert codes[1, 1] == BOTH
    assert codes[2, 0] == INCREMENT and codes[0, 2] == INCREMENT
    assert codes[3, 2] == INCREMENT


def test_untried_pairs_above_wait_for_complete_follow_up_at_the_current_pair():
    """Dated data: current pair (1, 0), tried pairs (0, 0), (1, 0), (0, 1). With no patient
    who completed the window at (1, 0), the untried pairs at or above it (2, 0) and (1, 1)
    are barred for follow-up; (0, 1), tried and not above, and (0, 0), below, are not. One
    complete patient there (or ``complete`` None: undated data) lifts the bar; with
    ``min_complete_followup`` 2, one is not enough. Earlier rules keep their codes."""
    n = _n((0, 0), (1, 0), (0, 1))
    rules = ComboRules(max_increment=6.0)
    current = np.array([1, 0])
    waiting = np.where(n > 0, 3, 0)
    waiting[1, 0] = 0
    codes = barred_codes(rules, LEVELS_A, LEVELS_B, SAFE, n, current, complete=waiting)
    assert codes[2, 0] == FOLLOWUP and codes[1, 1] == FOLLOWUP
    assert codes[0, 1] == ALLOWED and codes[0, 0] == ALLOWED and codes[1, 0] == ALLOWED
    assert codes[3, 0] == SKIPPING and codes[2, 1] == BOTH
    one = waiting.copy()
    one[1, 0] = 1
    assert (barred_codes(rules, LEVELS_A, LEVELS_B, SAFE, n, current, complete=one)
            != FOLLOWUP).all()
    assert (barred_codes(rules, LEVELS_A, LEVELS_B, SAFE, n, current) != FOLLOWUP).all()
    two = ComboRules(max_increment=6.0, min_complete_followup=2)
    assert barred_codes(two, LEVELS_A, LEVELS_B, SAFE, n, current, complete=one)[2, 0] == FOLLOWUP


def test_skipping_is_barred_by_levels_given_in_any_pair():
    """With a 600% increment nothing is too big, so the skipping rule shows: from (1, 0) with
    drug A given up to level 1 and drug B only at level 0, rows above 2 and columns above 1
    are barred; with skipping allowed they are not (escalating both stays barred)."""
    rules = ComboRules(max_increment=6.0)
    n = _n((0, 0), (1, 0))
    codes = barred_codes(rules, LEVELS_A, LEVELS_B, SAFE, n, np.array([1, 0]))
    assert codes[2, 0] == ALLOWED and codes[3, 0] == SKIPPING
    assert codes[1, 1] == ALLOWED and codes[1, 2] == SKIPPING
    assert codes[2, 1] == BOTH
    free = barred_codes(ComboRules(max_increment=6.0, allow_skipping=True), LEVELS_A,
                        LEVELS_B, SAFE, n, np.array([1, 0]))
    assert free[3, 0] == ALLOWED and free[1, 2] == ALLOWED and free[2, 1] == BOTH
    both = barred_codes(ComboRules(escalate_both=True), LEVELS_A, LEVELS_B, SAFE, n,
                        np.array([1, 0]))
    assert both[2, 1] == ALLOWED


def test_de_escalation_is_never_barred_by_the_limits():
    codes = barred_codes(ComboRules(), LEVELS_A, LEVELS_B, SAFE, _n((0, 0), (1, 0), (2, 1)),
                         np.array([2, 1]))
    assert (codes[:3, :2] == ALLOWED).all()


def test_the_next_pair_is_the_allowed_one_with_the_highest_p_target():
    p_target = np.array([[0.10, 0.20, 0.30],
                         [0.25, 0.40, 0.55],
                         [0.35, 0.50, 0.20],
                         [0.30, 0.10, 0.05]])
    p_over = SAFE.copy()
    p_over[1, 2] = 0.5
    codes = barred_codes(ComboRules(), LEVELS_A, LEVELS_B, p_over, _n((0, 0), (1, 1)),
                         np.array([1, 1]))
    # (1, 2) has the highest P(target) but EWOC bars it; (2, 2) both up; (2, 1) is next
    assert tuple(next_pair(p_target, codes)) == (2, 1)


def test_ties_go_to_the_lower_level_sum_then_the_lower_drug_a_level():
    p_target = np.full((4, 3), 0.1)
    p_target[1, 0] = p_target[0, 1] = p_target[1, 1] = 0.4
    codes = np.zeros((4, 3), dtype=int)
    assert tuple(next_pair(p_target, codes)) == (0, 1)
    codes[0, 1] = OVERDOSE
    assert tuple(next_pair(p_target, codes)) == (1, 0)


def test_no_allowed_pair_gives_no_dose_and_batches_decide_row_by_row():
    p_target = np.stack([np.full((4, 3), 0.3), np.eye(4, 3)])
    codes = np.stack([np.full((4, 3), OVERDOSE), np.zeros((4, 3), dtype=int)])
    out = next_pair(p_target, codes)
    assert out.tolist() == [[NO_DOSE, NO_DOSE], [0, 0]]


def test_the_mtd_contour_is_the_best_column_of_each_row():
    p_target = np.array([[0.10, 0.30, 0.50],
                         [0.20, 0.45, 0.40],
                         [0.50, 0.30, 0.10],
                         [0.40, 0.40, 0.10]])
    assert mtd_contour(p_target).tolist() == [2, 1, 0, 0]
    eligible = p_target < 0.45
    eligible[2] = False
    assert mtd_contour(p_target, eligible).tolist() == [1, 2, NO_DOSE, 0]


def test_a_current_pair_is_required():
    with pytest.raises(ValueError, match="start pair"):
        barred_codes(ComboRules(), LEVELS_A, LEVELS_B, SAFE, _n(), np.array([NO_DOSE, NO_DOSE]))
