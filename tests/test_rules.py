"""The decision rules, case by case, with posterior probabilities set by hand."""

import numpy as np
import pytest

from bayesdose.designs.blrm.rules import decide

LOW_RISK = np.array([0.0, 0.01, 0.05, 0.10, 0.20])  # P(overdosing): all allowed at 0.25
TARGET = np.array([0.05, 0.10, 0.30, 0.50, 0.40])


def counts(n, y):
    return np.array(n), np.array(y)


def test_no_patients_yet_gives_the_start_dose(five_doses):
    design = five_doses(cohorts={"start_dose": 2})
    n, y = counts([0] * 5, [0] * 5)
    d = decide(design, n, y, TARGET, LOW_RISK, None)
    assert (d.next_level, d.cohort_size, d.stop) == (1, 3, False)


def test_highest_p_target_among_allowed_and_not_skipping(five_doses):
    design = five_doses()
    n, y = counts([3, 3, 0, 0, 0], [0, 0, 0, 0, 0])
    d = decide(design, n, y, TARGET, LOW_RISK, (1, 0))
    # 8 has the highest P(target) but would skip 4, an untried dose
    assert d.barred_by == ("coherence", None, None, "skipping", "skipping")
    assert d.next_level == 2 and d.ewoc_met


def test_ewoc_bars_doses_with_high_overdose_probability(five_doses):
    design = five_doses(decision={"allow_skipping": True, "max_increment": 10.0})
    n, y = counts([3, 3, 3, 0, 0], [0, 0, 0, 0, 0])
    p_over = np.array([0.0, 0.05, 0.249, 0.25, 0.6])
    d = decide(design, n, y, TARGET, p_over, (2, 0))
    assert d.barred_by[3:] == ("overdose_probability", "overdose_probability")
    assert d.next_level == 2


def test_increment_cap_but_the_next_level_is_never_blocked():
    from bayesdose.schema import design_from_dict

    design = design_from_dict({
        "doses": {"levels": [1, 5, 8, 10]},
        "model": {"prior_mean": [-1.0, 0.0], "prior_sd": [2.0, 1.0]},
        "decision": {"max_increment": 1.0, "allow_skipping": True},
    })
    n, y = counts([3, 0, 0, 0], [0, 0, 0, 0])
    d = decide(design, n, y, np.array([0.1, 0.2, 0.3, 0.4]), np.zeros(4), (0, 0))
    # 5 is the next level up (never blocked although 5 > 2 x 1); 8 and 10 exceed 2 x 1
    assert d.barred_by == (None, None, "increment", "increment")
    assert d.next_level == 1


def test_coherence_no_escalation_after_a_dlt(five_doses):
    design = five_doses()
    n, y = counts([3, 3, 0, 0, 0], [0, 1, 0, 0, 0])
    d = decide(design, n, y, TARGET, LOW_RISK, (1, 1))
    assert d.barred_by[2] == "coherence" and d.next_level == 1
    plain = decide(five_doses(decision={"coherence": False}), n, y, TARGET, LOW_RISK, (1, 1))
    assert plain.next_level == 2


def test_coherence_yields_to_ewoc_after_a_cohort_without_dlt(five_doses):
    design = five_doses()
    n, y = counts([3, 3, 3, 0, 0], [0, 1, 0, 0, 0])
    p_over = np.array([0.0, 0.1, 0.3, 0.5, 0.7])  # the last cohort's dose (4) is now barred
    d = decide(design, n, y, TARGET, p_over, (2, 0))
    assert d.next_level == 1 and d.barred_by[:2] == (None, None)


def test_no_dose_allowed_gives_the_lowest_dose_flagged_or_stops_for_safety(five_doses):
    design = five_doses()
    p_over = np.array([0.5, 0.7, 0.8, 0.9, 0.95])
    n, y = counts([3, 0, 0, 0, 0], [1, 0, 0, 0, 0])
    d = decide(design, n, y, TARGET, p_over, (0, 1))
    assert (d.next_level, d.ewoc_met, d.stop) == (0, False, False)
    assert "does not meet EWOC" in d.reason
    p_over[0] = 0.81
    d = decide(design, n, y, TARGET, p_over, (0, 1))
    assert (d.stop_reason, d.next_level, d.mtd_level) == ("safety", None, None)
    n2, y2 = counts([2, 0, 0, 0, 0], [2, 0, 0, 0, 0])  # fewer than 3 at the lowest dose
    assert decide(design, n2, y2, TARGET, p_over, (0, 2)).stop_reason is None


def test_mtd_declared_needs_patients_and_p_target(five_doses):
    """The default declaration: 12 patients at the recommended dose and P(target) >= 0.5."""
    design = five_doses()
    assert (design.stopping.mtd_min_patients, design.stopping.mtd_min_p_target) == (12, 0.5)
    n, y = counts([3, 3, 3, 12, 0], [0, 0, 0, 3, 0])
    target = np.array([0.05, 0.1, 0.3, 0.5, 0.4])
    d = decide(design, n, y, target, LOW_RISK, (3, 0))
    assert (d.stop_reason, d.mtd_level) == ("mtd_declared", 3)
    target[3] = 0.49
    assert decide(design, n, y, target, LOW_RISK, (3, 0)).stop_reason is None
    target[3] = 0.5
    n, y = counts([3, 3, 3, 9, 0], [0, 0, 0, 2, 0])
    assert decide(design, n, y, target, LOW_RISK, (3, 0)).stop_reason is None


def test_max_patients_declares_the_best_allowed_given_dose(five_doses):
    design = five_doses(stopping={"max_patients": 12})
    n, y = counts([3, 3, 3, 3, 0], [0, 0, 1, 1, 0])
    p_over = np.array([0.0, 0.1, 0.2, 0.3, 0.5])
    target = np.array([0.1, 0.2, 0.4, 0.45, 0.3])
    d = decide(design, n, y, target, p_over, (3, 1))
    assert (d.stop_reason, d.mtd_level) == ("max_patients", 2)  # 8 is given but not allowed
    none = decide(design, n, y, target, np.full(5, 0.5), (3, 1))  # no safety stop at 0.5
    assert (none.stop_reason, none.mtd_level) == ("max_patients", None)


def test_last_cohort_is_cut_to_fit_the_maximum(five_doses):
    design = five_doses(stopping={"max_patients": 10})
    n, y = counts([3, 3, 2, 0, 0], [0, 0, 0, 0, 0])
    assert decide(design, n, y, TARGET, LOW_RISK, (2, 0)).cohort_size == 2


@pytest.mark.parametrize(
    ("n", "y", "phase", "size"),
    [([0, 0, 0, 0, 0], [0] * 5, "titration", 1),
     ([1, 0, 0, 0, 0], [0] * 5, "titration", 1),
     ([1, 1, 0, 0, 0], [0] * 5, "escalation", 3),   # past level 2
     ([1, 0, 0, 0, 0], [1, 0, 0, 0, 0], "escalation", 3)],  # the first DLT ends it
)
def test_accelerated_titration(five_doses, n, y, phase, size):
    design = five_doses(cohorts={"titration_until_level": 2})
    last = None if sum(n) == 0 else (int(np.flatnonzero(n)[-1]), int(sum(y)))
    p_target = np.array([0.0, 0.1, 0.3, 0.5, 0.4])
    d = decide(design, np.array(n), np.array(y), p_target, LOW_RISK, last)
    assert (d.phase, d.cohort_size) == (phase, size)



def test_the_decision_says_where_it_goes_from_the_last_cohort_and_which_rule_decided():
    """XJ-MK-002's example: the last cohort had 3e8 cells, EWOC bars it (P(overdosing) 0.268
    >= 0.25) although its P(target) is higher, so the next cohort goes down to 1e8: the
    decision says 'de-escalate', the barring rule with its numbers."""
    from conftest import CONFIGS

    from bayesdose.api import recommend
    from bayesdose.designs.blrm.recommendation import to_json

    rec = recommend(CONFIGS / "xj-mk-002.toml", CONFIGS / "examples" / "xj-mk-002.csv")
    decision = rec.decision
    assert decision.direction == "de-escalate" and decision.current_level == 1
    assert decision.why_barred[1] == "EWOC: P(overdosing) 0.268 >= 0.25"
    assert decision.reason.startswith("3x10^8 viable cells, with a higher P(target) (0.325), "
                                      "is barred (EWOC: P(overdosing) 0.268 >= 0.25); ")
    assert str(rec).splitlines()[-1].startswith(
        "next: 1x10^8 viable cells, cohort of 3: de-escalate from 3x10^8 viable cells — ")
    doc = to_json(rec)
    assert doc["direction"] == "de-escalate" and doc["current_dose"] == 3e8
    assert doc["doses"][2]["why_barred"] == "EWOC: P(overdosing) 0.575 >= 0.25"


@pytest.mark.parametrize("last, barred_level, text, p_target", [
    ((1, 1), 2, "coherence: no escalation right after a cohort with a DLT",
     [0.1, 0.3, 0.5, 0.1, 0.1]),
    ((1, 0), 0, "coherence: no de-escalation right after a cohort without a DLT",
     [0.6, 0.3, 0.2, 0.1, 0.1]),
])
def test_coherence_reads_as_a_sentence(five_doses, last, barred_level, text, p_target):
    design = five_doses()
    n, y = counts([3, 3, 0, 0, 0], [0, last[1], 0, 0, 0])
    d = decide(design, n, y, np.array(p_target), LOW_RISK, last)
    assert d.barred_by[barred_level] == "coherence" and d.why_barred[barred_level] == text
    assert d.direction == "stay" and d.current_level == 1 and d.next_level == 1
    assert text in d.reason
