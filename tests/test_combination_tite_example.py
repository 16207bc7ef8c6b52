"""The shipped two-drug TITE example: ``configs/combination-tite.toml`` (the two-drug example
with a 28-day DLT window) on ``configs/examples/combination-blrm-dated.csv``, as
docs/combination.md runs it ("Dated data: patients still in DLT follow-up")."""

from __future__ import annotations

import json
import tomllib

import pytest
from click.testing import CliRunner
from conftest import CONFIGS, ROOT

from bayesdose.cli import main

CONFIG = CONFIGS / "combination-tite.toml"
DATA = CONFIGS / "examples" / "combination-blrm-dated.csv"
COMMAND = ["recommend", "configs/combination-tite.toml",
           "configs/examples/combination-blrm-dated.csv", "--as-of", "2024-06-01"]


@pytest.fixture(scope="module")
def answer(tmp_path_factory) -> tuple[str, dict]:
    """The recommend command's printed output and its --json document."""
    out = tmp_path_factory.mktemp("tite") / "answer.json"
    result = CliRunner().invoke(main, [*COMMAND[:1], str(CONFIG), str(DATA), *COMMAND[3:],
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    return result.output, json.loads(out.read_text())


def test_the_config_is_the_two_drug_example_with_a_dlt_window():
    tite = tomllib.loads(CONFIG.read_text())
    example = tomllib.loads((CONFIGS / "combination-blrm.toml").read_text())
    assert tite["cohorts"].pop("dlt_window_days") == 28
    assert tite["cohorts"].pop("followup") == "tite"
    assert tite.pop("trial") != example.pop("trial")
    assert tite == example


def test_it_validates_with_the_dated_data():
    result = CliRunner().invoke(main, ["validate", str(CONFIG), str(DATA),
                                       "--as-of", "2024-06-01"])
    assert result.exit_code == 0, result.output
    assert "valid two-drug design" in result.output
    assert "valid patient level data, 30 patients, 5 DLTs" in result.output


def test_dated_data_need_the_decision_date():
    result = CliRunner().invoke(main, ["recommend", str(CONFIG), str(DATA)])
    assert result.exit_code == 2
    assert "--as-of" in result.output


def test_patients_in_follow_up_count_with_their_tite_weight(answer):
    _, document = answer
    assert [(p["patient_id"], p["days_followed"]) for p in document["pending"]] == [
        ("P28", 10), ("P30", 10)]
    assert all(p["weight"] == pytest.approx(10 / 28) for p in document["pending"])
    arms = {(row["dose"]["A"], row["dose"]["B"]): row for row in document["doses"]}
    current = arms[80.0, 1.0]  # 9 patients, 2 DLTs, 2 of them followed 10 of 28 days
    assert (current["n"], current["dlt"]) == (9, 2)
    assert current["p_overdose"] == pytest.approx(0.380, abs=5e-4)
    assert not current["allowed"] and current["barred_by"] == "overdose_probability"
    assert document["next_dose"] == {"A": 80.0, "B": 0.5}
    assert arms[80.0, 0.5]["p_target"] == pytest.approx(0.694, abs=5e-4)


def test_the_docs_show_the_commands_real_output(answer):
    printed, _ = answer
    docs = (ROOT / "docs" / "combination.md").read_text()
    start = docs.index("$ bayesdose " + " ".join(COMMAND) + "\n")
    block = docs[docs.index("\n", start) + 1:docs.index("```", start)]
    assert block == printed
