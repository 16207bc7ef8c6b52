"""Backfill cohorts (designs.backfill, designs.boin.backfill, simulation.backfillrunner)."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bayesdose.designs.backfill import Backfill, highest
from bayesdose.designs.base import CONTINUE, MTD_DECLARED, NO_DOSE, SAFETY
from bayesdose.designs.boin.backfill import BfBoin
from bayesdose.errors import InputError
from bayesdose.schema import load_design
from bayesdose.simulation.backfillrunner import run_backfill

CONFIG = Path(__file__).parent.parent / "configs" / "bf-boin.toml"
P_TRUE = np.array([0.12, 0.25, 0.42, 0.49, 0.55])
P_RESPONSE = np.array([0.2, 0.3, 0.4, 0.5, 0.6])


@pytest.fixture(scope="module")
def design():
    return load_design(CONFIG)


def test_bf_boin_steps_by_hand(design) -> None:
    """Target 0.25: n = 3 escalates with 0 DLTs, de-escalates with >= 1, eliminates with 3;
    n = 6: <= 1, >= 2, >= 4; n = 9: <= 1, >= 3, >= 5; n = 12: <= 2, >= 4, >= 6."""
    rule = BfBoin(design)
    a = np.array
    assert rule.step(a([3, 3, 0, 0, 0]), a([0, 0, 0, 0, 0]), 1) == (2, CONTINUE)
    # conflict: 2/6 at dose 1 de-escalates, 0/3 at dose 3 escalates; pooled 2/12 escalates
    assert rule.step(a([6, 3, 3, 0, 0]), a([2, 0, 0, 0, 0]), 2) == (3, CONTINUE)
    # pooled 4/12 de-escalates; no dose is safe cumulatively (3/6, 3/9, 4/12), and dose 1
    # (3/6) is not eliminated: stay at the lowest dose
    assert rule.step(a([6, 3, 3, 0, 0]), a([3, 0, 1, 0, 0]), 2) == (0, CONTINUE)
    # 2/9 stays, with nine patients there: stop and select (n_earlystop = 9)
    assert rule.step(a([3, 9, 0, 0, 0]), a([0, 2, 0, 0, 0]), 1) == (1, MTD_DECLARED)
    assert rule.step(a([3, 0, 0, 0, 0]), a([3, 0, 0, 0, 0]), 0) == (NO_DOSE, SAFETY)


def test_backfill_closure_and_open_doses(design) -> None:
    backfill = Backfill(design, "boin+backfill")
    n = np.array([[6, 3, 3, 0, 0], [6, 3, 3, 0, 0], [12, 3, 3, 0, 0]])
    dlt = np.array([[3, 0, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]])
    responded = np.array([[True, True, False, False, False]] * 3)
    level = np.array([2, 2, 2])
    opened = backfill.open_doses(n, dlt, n, responded, level)
    # 3/6 at dose 1 (and 3/9 with dose 2) call de-escalation: doses 1 and above close;
    # 1/6: open; dose 1 full (12 patients) in the last row
    assert opened.tolist() == [[False] * 5, [True, True, False, False, False],
                               [False, True, False, False, False]]
    assert highest(opened).tolist() == [NO_DOSE, 1, 1]


def test_backfill_needs_a_rule_and_the_section(design) -> None:
    with pytest.raises(InputError, match="backfill is available for boin"):
        Backfill(design, "crm+backfill")
    off = dataclasses.replace(design, backfill=dataclasses.replace(design.backfill,
                                                                    enabled=False))
    with pytest.raises(InputError, match="enabled"):
        Backfill(off, "boin+backfill")


def test_simulated_trials_keep_the_rules(design) -> None:
    rec = run_backfill(design, "boin+backfill", P_TRUE, P_RESPONSE, 7, 0, 400)
    escalation = rec.n - rec.n_backfill
    assert escalation.sum(axis=1).max() <= 30  # max_patients counts escalation patients
    assert rec.n_backfill.sum() > 0
    # a dose is backfilled only below the escalation (so after a cohort of 3 there) and
    # while it holds fewer than 12 (escalation cohorts may come back to it later)
    assert rec.n_backfill.max() == 9
    assert np.all(rec.n_backfill[:, -1] == 0)  # never above the escalation
    assert np.all(rec.late <= rec.n_backfill.sum(axis=1))
    assert np.all(rec.response <= rec.n) and np.all(rec.dlt <= rec.n)
    # without responses no dose opens
    none = run_backfill(design, "boin+backfill", P_TRUE, np.zeros(5), 7, 0, 400)
    assert none.n_backfill.sum() == 0


def test_trials_depend_on_the_seed_and_index_alone(design) -> None:
    whole = run_backfill(design, "boin+backfill", P_TRUE, P_RESPONSE, 3, 0, 200)
    parts = [run_backfill(design, "boin+backfill", P_TRUE, P_RESPONSE, 3, a, b)
             for a, b in ((0, 50), (50, 200))]
    for field in ("selected", "n", "n_backfill", "duration", "late"):
        joined = np.concatenate([getattr(p, field) for p in parts])
        assert np.array_equal(getattr(whole, field), joined)
