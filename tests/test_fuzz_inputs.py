"""Fuzzed inputs (issue 7): the regression corpus found by ``tests/fuzz.py`` and a short
deterministic fuzz. Every input gives a valid result or a one-line error with exit code 2:
never a traceback, a hang or a partial output file."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz import CORPUS, fuzz, load_case, run_case  # tests/fuzz.py: pytest puts tests/ on sys.path

CASES = sorted(p for p in CORPUS.iterdir() if (p / "case.json").exists())


@pytest.mark.parametrize("folder", CASES, ids=[p.name for p in CASES])
def test_regression_case(folder: Path) -> None:
    assert run_case(load_case(folder)) is None


def test_short_fuzz() -> None:
    tried, failures = fuzz(seconds=25, seed=20261125, max_cases=300, save=False,
                           subprocess_every=100)
    assert tried >= 50
    assert not failures, [(case.note, problem) for case, problem in failures]
