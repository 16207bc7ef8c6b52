"""BOIN core against R's BOIN 2.7.2 (tests/data/reference/boin_*.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bayesdose.designs.boin.core import (
    boin_boundaries,
    boundary_table,
    elimination_count,
    is_eliminated,
    isotonic_estimates,
    pava,
    select_mtd,
    select_mtd_levels,
)

REFERENCE = Path(__file__).parent / "data" / "reference"
BOUNDARIES = json.loads((REFERENCE / "boin_boundaries.json").read_text())["get_boundary"]
SELECT_MTD = json.loads((REFERENCE / "boin_select_mtd_cases.json").read_text())
TARGETS = sorted(BOUNDARIES)


def _r_mtd(mtd: int | None) -> int:
    return 99 if mtd is None else mtd


@pytest.mark.parametrize("key", TARGETS)
def test_lambdas_match_get_boundary(key: str) -> None:
    ref = BOUNDARIES[key]
    lambda_e, lambda_d = boin_boundaries(float(key.removeprefix("target_")))
    assert lambda_e == pytest.approx(ref["lambda_e"], abs=1e-12, rel=0)
    assert lambda_d == pytest.approx(ref["lambda_d"], abs=1e-12, rel=0)


def _as_r_table(table) -> dict[str, list]:
    return {
        "n_patients": list(table.n),
        "escalate_if_ntox_le": list(table.escalate),
        "deescalate_if_ntox_ge": list(table.deescalate),
        "eliminate_if_ntox_ge": list(table.eliminate),
    }


@pytest.mark.parametrize("key", TARGETS)
def test_full_boundary_table_is_exact(key: str) -> None:
    table = boundary_table(float(key.removeprefix("target_")), max_n=30)
    assert _as_r_table(table) == BOUNDARIES[key]["full_boundary_tab"]


@pytest.mark.parametrize("key", TARGETS)
def test_per_cohort_boundary_table_is_exact(key: str) -> None:
    table = boundary_table(float(key.removeprefix("target_")), max_n=30).per_cohort(3)
    assert _as_r_table(table) == BOUNDARIES[key]["boundary_tab_per_cohort"]


def test_deescalation_is_capped_at_elimination() -> None:
    # get.boundary caps the de-escalation count at the elimination count
    for target in (0.2, 0.25, 0.3):
        table = boundary_table(target, 60)
        for d, e in zip(table.deescalate, table.eliminate, strict=True):
            assert e is None or d <= e


def test_no_elimination_below_three_patients() -> None:
    assert elimination_count(0.3, 1) is None
    assert elimination_count(0.3, 2) is None
    assert elimination_count(0.3, 3) == 3


def test_pava_pools_adjacent_violators_with_weights() -> None:
    np.testing.assert_allclose(pava([1.0, 3.0, 2.0, 4.0]), [1.0, 2.5, 2.5, 4.0])
    np.testing.assert_allclose(pava([3.0, 2.0, 1.0], [1.0, 1.0, 2.0]), [1.75] * 3)
    np.testing.assert_allclose(pava([0.1, 0.5, 0.2], [1.0, 1.0, 3.0]), [0.1, 0.275, 0.275])
    x = np.random.default_rng(3).uniform(size=12)
    w = np.random.default_rng(4).uniform(0.5, 2, size=12)
    fit = pava(x, w)
    assert np.all(np.diff(fit) >= 0)
    assert np.sum(fit * w) == pytest.approx(np.sum(x * w))


def test_select_mtd_help_page_example() -> None:
    example = SELECT_MTD["example"]
    assert select_mtd(0.3, [3, 3, 15, 9, 0], [0, 0, 4, 4, 0]) == example["MTD"] == 3
    np.testing.assert_allclose(
        isotonic_estimates(np.array([3, 3, 15, 9]), np.array([0, 0, 4, 4])),
        example["full_precision_treated_doses_only"]["phat_isotonic"],
        rtol=0,
        atol=1e-15,
    )


def test_select_mtd_matches_every_reference_case() -> None:
    cases = SELECT_MTD["cases"]
    assert len(cases) == 100
    got = [_r_mtd(select_mtd(c["target"], c["npts"], c["ntox"])) for c in cases]
    assert got == [c["MTD"] for c in cases]


def test_select_mtd_with_bound_mtd_matches_every_reference_case() -> None:
    cases = SELECT_MTD["cases"]
    got = [_r_mtd(select_mtd(c["target"], c["npts"], c["ntox"], boundMTD=True)) for c in cases]
    assert got == [c["MTD_boundMTD"] for c in cases]


def test_select_mtd_edge_cases() -> None:
    assert select_mtd(0.3, [3, 0, 0], [3, 0, 0]) is None  # lowest dose eliminated
    assert select_mtd(0.3, [0, 0, 0], [0, 0, 0]) is None  # nobody treated
    # untreated doses are skipped, the answer is a level of the full panel
    assert select_mtd(0.3, [0, 6, 0, 6], [0, 1, 0, 2]) == 4
    # boundMTD: every isotonic estimate >= lambda_d (0.3585 for target 0.3)
    assert select_mtd(0.3, [6], [3]) == 1
    assert select_mtd(0.3, [6], [3], boundMTD=True) is None


def test_select_mtd_levels_is_pava_on_the_admissible_doses() -> None:
    """The batch selection (max-min isotonic fit) against R's algorithm step by step (PAVA on
    the treated, non-eliminated doses) on 6,000 random trials of 3, 5 and 8 doses."""
    rng = np.random.default_rng(0)
    for k in (3, 5, 8):
        n = rng.integers(0, 5, (2000, k)) * 3
        y = rng.binomial(n, rng.uniform(0, 0.7, (2000, 1)))
        batch = select_mtd_levels(0.3, n, y, 0.95)
        for i in range(n.shape[0]):
            eliminated = np.logical_or.accumulate(
                [n[i, d] >= 3 and is_eliminated(0.3, y[i, d], n[i, d]) for d in range(k)])
            if eliminated[0] or n[i][~eliminated].sum() == 0:
                assert batch[i] == -1
                continue
            doses = np.flatnonzero((n[i] > 0) & ~eliminated)
            phat = isotonic_estimates(n[i, doses], y[i, doses])
            phat = phat + np.arange(1, doses.size + 1) * 1e-10
            assert batch[i] == doses[np.argmin(np.abs(phat - 0.3))]
