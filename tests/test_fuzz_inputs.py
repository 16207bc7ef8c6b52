"""Fuzzed inputs (issues 7 and 19): the regression corpus found by ``tests/fuzz.py`` (and, for
issue 19, one case per new input kind, with the outcome it must have) and a short
deterministic fuzz. Every input gives a valid result or a one-line error with exit code 2:
never a traceback, a hang or a partial output file."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz import (  # tests/fuzz.py: pytest puts tests/ on sys.path
    CORPUS,
    PATH_KINDS,
    fuzz,
    load_case,
    run_case,
)

CASES = sorted(p for p in CORPUS.iterdir() if (p / "case.json").exists())


@pytest.mark.parametrize("folder", CASES, ids=[p.name for p in CASES])
def test_regression_case(folder: Path) -> None:
    assert run_case(load_case(folder)) is None


def test_short_fuzz() -> None:
    tried, failures = fuzz(seconds=25, seed=20261125, max_cases=300, save=False,
                           subprocess_every=100)
    assert tried >= 50
    assert not failures, [(case.note, problem) for case, problem in failures]


def test_the_corpus_holds_every_new_input_kind() -> None:
    """Issue 19: each odd path (for data and config), and simulate cases with a required
    outcome, are replayed on every run, whatever the short fuzz happens to draw."""
    cases = [load_case(folder) for folder in CASES]
    assert {c.path_kind for c in cases} >= set(PATH_KINDS)
    assert {c.path_input for c in cases if c.path_kind} == {"data", "config"}
    assert {c.expect for c in cases if c.command == "simulate"} >= {"refused", "accepted"}
