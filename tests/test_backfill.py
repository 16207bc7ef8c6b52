"""Backfill cohorts (designs.backfill, designs.boin.backfill, simulation.backfillrunner)."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bayesdose.designs.backfill import Backfill, backfill_conditions, highest
from bayesdose.designs.base import CONTINUE, MTD_DECLARED, NO_DOSE, SAFETY, States
from bayesdose.designs.boin.backfill import DEESCALATE, ELIMINATE, ESCALATE, STAY, BfBoin
from bayesdose.errors import InputError
from bayesdose.posterior import exact_engine
from bayesdose.schema import design_from_dict, load_design, read_toml
from bayesdose.simulation import backfillrunner
from bayesdose.simulation.backfillrunner import BackfillRecords, run_backfill

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

    def step(n: list[int], y: list[int], c: int) -> tuple[int, int]:
        level, reason = rule.steps(np.array([n]), np.array([y]), np.array([c]))
        return int(level[0]), int(reason[0])

    assert step([3, 3, 0, 0, 0], [0, 0, 0, 0, 0], 1) == (2, CONTINUE)
    # conflict: 2/6 at dose 1 de-escalates, 0/3 at dose 3 escalates; pooled 2/12 escalates
    assert step([6, 3, 3, 0, 0], [2, 0, 0, 0, 0], 2) == (3, CONTINUE)
    # pooled 4/12 de-escalates; no dose is safe cumulatively (3/6, 3/9, 4/12), and dose 1
    # (3/6) is not eliminated: stay at the lowest dose
    assert step([6, 3, 3, 0, 0], [3, 0, 1, 0, 0], 2) == (0, CONTINUE)
    # 2/9 stays, with nine patients there: stop and select (n_earlystop = 9)
    assert step([3, 9, 0, 0, 0], [0, 2, 0, 0, 0], 1) == (1, MTD_DECLARED)
    assert step([3, 0, 0, 0, 0], [3, 0, 0, 0, 0], 0) == (NO_DOSE, SAFETY)


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
    with pytest.raises(InputError, match="backfill is available for blrm\\+backfill"):
        Backfill(design, "tite-crm+backfill")
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


def test_a_run_short_of_arrivals_is_repeated_on_all_of_them(design, monkeypatch) -> None:
    """Half of ``arrivals_needed`` are drawn first; when a trial needs more, the run is
    repeated on all of them, with the same trials as a run that drew them all at once."""
    full = backfillrunner.arrivals_needed(design)
    drawn = []
    run = backfillrunner._run

    def counted(*args):
        drawn.append(args[-1])
        return run(*args)

    monkeypatch.setattr(backfillrunner, "_run", counted)
    monkeypatch.setattr(backfillrunner, "arrivals_needed", lambda _: 2 * 40)  # 40 are short
    rec = backfillrunner.run_backfill(design, "boin+backfill", P_TRUE, P_RESPONSE, 3, 0, 300)
    whole = run(design, "boin+backfill", P_TRUE, P_RESPONSE, 3, 0, 300, full)
    assert drawn == [40, 80]
    for field in BackfillRecords.__dataclass_fields__:
        assert np.array_equal(getattr(rec, field), getattr(whole, field))
    with pytest.raises(backfillrunner.ShortOfArrivals):
        run(design, "boin+backfill", P_TRUE, P_RESPONSE, 3, 0, 300, 40)


def _bfboin_step(rule: BfBoin, n: np.ndarray, y: np.ndarray, c: int) -> tuple[int, int]:
    """bfboin's ``sim.one.trial`` step for one state, written as R's code reads (one branch
    after another): the oracle of the vectorised ``BfBoin.steps``."""
    b = rule.boin
    if c < 0:
        return b.start, CONTINUE
    call, meets = rule.calls(n, y), y >= b.eliminate[np.maximum(n, 1)]
    lower, here, top = call[:c], int(call[c]), n.size - 1
    can_escalate = c < top and not meets[c + 1]  # bfboin: elimi[d + 1] == 0

    def stay() -> tuple[int, int]:
        return (c, MTD_DECLARED) if n[c] >= b.n_earlystop else (c, CONTINUE)

    def up_or_stay(can: bool) -> tuple[int, int]:
        return (c + 1, CONTINUE) if can else stay()

    if here == ELIMINATE and c == 0:
        return NO_DOSE, SAFETY
    if here == ESCALATE and np.all(lower == ESCALATE):
        return up_or_stay(can_escalate)
    if here != ESCALATE and np.all(lower <= STAY):
        return stay() if here == STAY or (here == DEESCALATE and c == 0) else (c - 1, CONTINUE)
    conflict = (lower != ESCALATE) if here == ESCALATE else (lower >= DEESCALATE)
    s = int(np.flatnonzero(conflict).max())
    y_pool, n_pool = int(y[s : c + 1].sum()), int(n[s : c + 1].sum())
    if y_pool <= b.escalate[n_pool]:
        return up_or_stay(can_escalate and here != ELIMINATE)
    if y_pool < b.deescalate[n_pool]:
        return stay()
    safe = np.cumsum(y[s : c + 1]) < b.deescalate[np.cumsum(n[s : c + 1])]
    if not safe.any():
        if s > 0:
            return s - 1, CONTINUE
        return (NO_DOSE, SAFETY) if y[0] >= b.eliminate[n[0]] else (0, CONTINUE)
    j = s + int(np.flatnonzero(safe).max())
    return stay() if j == c else (j, CONTINUE)


def test_vectorised_steps_equal_the_sequential_rule(design) -> None:
    """5,000 random states (counts up to 12 per dose, some doses untreated, every current
    dose): the batch decides each state as the branch-by-branch rule does."""
    rule = BfBoin(design)
    rng = np.random.default_rng(3)
    n = rng.integers(0, 13, (5000, 5))
    n[rng.random(n.shape) < 0.3] = 0
    y = rng.binomial(n, rng.random((5000, 1)) * 0.6)
    last = rng.integers(-1, 5, 5000)
    level, reason = rule.steps(n, y, last)
    expected = [_bfboin_step(rule, n[i], y[i], int(last[i])) for i in range(5000)]
    assert list(zip(level.tolist(), reason.tolist(), strict=True)) == expected
    assert {r for _, r in expected} == {CONTINUE, SAFETY, MTD_DECLARED}  # every outcome met


@pytest.fixture(scope="module")
def wide(design):
    """BF-BOIN's setting with a BLRM prior and a CRM skeleton: every design can backfill."""
    raw = read_toml(CONFIG)
    raw["doses"]["reference"] = 3
    raw["model"] = {"prior_mean": [-1.1, 0.0], "prior_sd": [2.0, 1.0]}
    raw["designs"]["crm"] = {"skeleton": [0.1, 0.18, 0.25, 0.35, 0.45]}
    return design_from_dict(raw, str(CONFIG))


def test_blrm_backfill_closes_where_ewoc_bars(wide) -> None:
    """EWOC applies: a dose closes (with those above) when P(overdosing) on all complete data
    is >= 0.25, exactly the posterior the escalation reads."""
    backfill = Backfill(wide, "blrm+backfill")
    rule = backfill.rule
    n = np.array([[3, 3, 3, 0, 0], [3, 6, 3, 0, 0], [9, 3, 3, 0, 0]])
    dlt = np.array([[0, 0, 0, 0, 0], [0, 4, 0, 0, 0], [5, 0, 0, 0, 0]])
    p_overdose = exact_engine(wide).batch(n, dlt).p_overdose
    unsafe = rule.unsafe(n, dlt, np.full(3, 2))
    assert np.array_equal(unsafe, p_overdose >= wide.decision.max_overdose_probability)
    assert not unsafe[0, :2].any()  # 0/3, 0/3: open
    assert unsafe[1, 1] and unsafe[2, 0]  # 4/6 and 5/9: EWOC bars them
    opened = backfill.open_doses(n, dlt, n, np.ones_like(n, bool), np.full(3, 2))
    assert opened.tolist() == [[True, True, False, False, False],
                               [True, False, False, False, False], [False] * 5]
    assert rule.max_patients == 30  # escalation patients; the design itself takes more


def test_open_doses_reads_the_rule_only_where_a_dose_could_open(wide, monkeypatch) -> None:
    """The design's rule (a posterior per data set for the BLRM) is asked only about trials
    with a dose passing every other condition, and the doses open are as if asked of all."""
    backfill = Backfill(wide, "blrm+backfill")
    n = np.array([[3, 3, 3, 0, 0], [3, 6, 3, 0, 0], [12, 12, 3, 0, 0], [3, 0, 0, 0, 0]])
    dlt = np.array([[0, 0, 0, 0, 0], [0, 4, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    level = np.array([2, 2, 2, 0])  # row 2: both doses below full; row 3: none below
    every = backfill_conditions(wide.backfill, n, dlt, n, np.ones_like(n, bool), level,
                                backfill.rule.unsafe(n, dlt, level)).open
    asked = []
    unsafe = backfill.rule.unsafe
    monkeypatch.setattr(backfill.rule, "unsafe",
                        lambda n, dlt, level: asked.append(n.tolist()) or unsafe(n, dlt, level))
    opened = backfill.open_doses(n, dlt, n, np.ones_like(n, bool), level)
    assert np.array_equal(opened, every)
    assert opened.tolist()[:2] == [[True, True, False, False, False],
                                   [True, False, False, False, False]]
    assert asked == [n[:2].tolist()]


def test_three_plus_three_backfill_by_hand(wide) -> None:
    """Two DLTs close a dose; backfill DLTs below the current dose make the 3+3 seek the MTD
    below them, as two DLTs at the current dose do."""
    for name, expected in (("3+3+backfill", (NO_DOSE, 0, MTD_DECLARED, 0)),
                           ("3+3-deesc+backfill", (0, 3, CONTINUE, NO_DOSE))):
        rule = Backfill(wide, name).rule
        states = States(np.array([[3, 6, 3, 0, 0], [3, 6, 3, 0, 0]]),
                        np.array([[0, 2, 0, 0, 0], [0, 1, 0, 0, 0]]), np.array([2, 2]),
                        np.array([0, 0]))
        a = rule.decide(states)
        got = list(zip(a.next_level, a.cohort_size, a.stop_reason, a.mtd, strict=True))
        assert got[0] == expected  # 2/6 at dose 2 (backfill): dose 1 declared, or filled
        assert got[1] == (3, 3, CONTINUE, NO_DOSE)  # 1/6 there: 0/3 at dose 3 escalates
        assert rule.unsafe(states.n, states.dlt, states.last_level)[:, 1].tolist() == [True,
                                                                                      False]
        assert rule.select(states).tolist() == [0, 2]


def test_crm_backfill_closes_above_the_models_dose(wide) -> None:
    backfill = Backfill(wide, "crm+backfill")
    n = np.array([[3, 3, 3, 0, 0], [6, 9, 3, 0, 0]])
    dlt = np.array([[0, 0, 0, 0, 0], [1, 4, 2, 0, 0]])
    model = backfill.rule.crm.recommended(n, dlt)
    assert model.tolist() == [4, 0]  # no DLTs: the top dose; 4/9 at dose 2: the lowest
    unsafe = backfill.rule.unsafe(n, dlt, np.array([2, 2]))
    assert unsafe.tolist() == [[False] * 5, [False, True, True, True, True]]
    assert backfill.rule.select(States(n, dlt, np.array([2, 2]), np.array([0, 2]))).tolist() \
        == [4, 0]
    none = np.zeros((0, 5), np.int64)  # no states: no doses, no closure (not an error)
    assert backfill.rule.crm.recommended(none, none).shape == (0,)
    assert backfill.rule.unsafe(none, none, np.zeros(0, np.int64)).shape == (0, 5)
    # recommend's reason names the model's dose by its label
    assert backfill.rule.explain(n[1], dlt[1], 1) == (
        f"above the CRM's dose on the complete data ({wide.panel.label(0)})")


@pytest.mark.parametrize("name", ["blrm+backfill", "3+3+backfill", "crm+backfill"])
def test_every_backfill_design_keeps_the_rules(wide, name: str) -> None:
    rec = run_backfill(wide, name, P_TRUE, P_RESPONSE, 3, 0, 150)
    escalation = rec.n - rec.n_backfill
    assert escalation.sum(axis=1).max() <= 30  # the 3+3 (at most 6 a dose) reaches it too
    assert rec.n_backfill.sum() > 0 and np.all(rec.n_backfill[:, -1] == 0)
    assert rec.n_backfill.max() <= 12  # a dose takes backfill while it holds fewer than 12
    assert np.all(rec.response <= rec.n) and np.all(rec.dlt <= rec.n)
    assert np.all((rec.selected >= -1) & (rec.selected < 5))


def test_bf_boin_figure_layers_mark_the_doses_eliminated_on_complete_data(design) -> None:
    """3/3 DLTs at dose 2 meets BOIN's elimination rule (P(rate > 0.25) > 0.95): dose 2 and
    every dose above it are shaded; 1/3 at dose 1 is not."""
    rule = BfBoin(design)
    n, y = np.array([[3, 3, 0, 0, 0]]), np.array([[1, 3, 0, 0, 0]])
    layers = rule.layers(States(n, y, np.array([1]), np.array([3])))
    assert layers.args == (rule.boin, [1, 2, 3, 4])
    none = rule.layers(States(n, np.zeros_like(y), np.array([1]), np.array([0])))
    assert none.args == (rule.boin, [])
