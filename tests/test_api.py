"""The notebook API: bayesdose.recommend / simulate give the command line's numbers, from a
path, a DataFrame or a list of records; bad rows are named; the reprs; a cheap import."""

import json
import subprocess
import sys
from datetime import date

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFIGS, ROOT

import bayesdose
from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.designs.blrm.recommendation import to_json
from bayesdose.errors import InputError

XJ = CONFIGS / "xj-mk-002.toml"
XJ_DATA = CONFIGS / "examples" / "xj-mk-002.csv"
XJ_DATED = CONFIGS / "examples" / "xj-mk-002-dated.csv"
NBG = CONFIGS / "nbg-2008.toml"
NBG_DATA = CONFIGS / "examples" / "nbg-2008.csv"
NBG_AGGREGATED = CONFIGS / "examples" / "nbg-2008-aggregated.csv"
STANDARD = CONFIGS / "standard-5dose.toml"
STANDARD_SCENARIOS = CONFIGS / "scenarios" / "standard-5dose.toml"


def cli_json(tmp_path, config, data, *options):
    out = tmp_path / "cli.json"
    result = CliRunner().invoke(main, ["recommend", str(config), str(data), "--json", str(out),
                                       *options])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    del document["inputs"], document["seed"]  # added by the command line, not by to_json
    return document


def api_json(rec):
    return json.loads(json.dumps(to_json(rec)))


CASES = [(XJ, XJ_DATA), (NBG, NBG_DATA), (NBG, NBG_AGGREGATED)]


@pytest.mark.parametrize(("config", "data"), CASES, ids=["xj", "nbg", "nbg-aggregated"])
def test_recommend_from_path_frame_and_records_matches_cli(tmp_path, config, data):
    expected = cli_json(tmp_path, config, data)
    design = bayesdose.load_design(config)
    frame = pd.read_csv(data)
    inputs = {"path": data, "str path": str(data), "DataFrame": frame,
              "records": frame.to_dict("records"),
              "TrialData": read_trial_data(data, design)}
    for kind, given in inputs.items():
        assert api_json(bayesdose.recommend(design, given)) == expected, kind
    assert api_json(bayesdose.recommend(str(config), data)) == expected  # a config path too


def test_dated_frame_and_records_match_cli(tmp_path):
    expected = cli_json(tmp_path, XJ, XJ_DATED, "--as-of", "2025-11-05")
    assert expected["pending"]  # the example has patients in follow-up on that date
    frame = pd.read_csv(XJ_DATED, parse_dates=["enrolled", "followup_end"])  # NaT, 12.0
    as_text = pd.read_csv(XJ_DATED, dtype=str)  # every cell text, NaN when empty
    for given in (frame, as_text, frame.to_dict("records"), as_text.to_dict("records")):
        for as_of in (date(2025, 11, 5), "2025-11-05"):
            assert api_json(bayesdose.recommend(XJ, given, as_of=as_of)) == expected


def test_records_written_by_hand():
    records = [
        {"patient_id": "A", "cohort": 1, "dose": 1e8, "dlt": 0},
        {"patient_id": "B", "cohort": 2, "dose": 3e8, "dlt": 0},
        {"patient_id": "C", "cohort": 2, "dose": 3e8, "dlt": 1},
    ]
    data = bayesdose.read_data(records, XJ)
    assert data.source == "<records>" and data.n.tolist() == [1, 2, 0]
    assert data.last_cohort == (1, 1)
    start = bayesdose.recommend(XJ, [])  # no patients yet: the start of the trial
    assert start.data.total_patients == 0 and start.decision.phase == "titration"


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        ({"dlt": [0, 2, 0, 1]}, "row 1, column 'dlt'", "expected 0 or 1, got 2"),
        ({"dose": [1e8, 3e8, 5e8, 3e8]}, "row 2, column 'dose'", "not in the panel"),
        ({"cohort": [1, 2, -2, 2]}, "row 2, column 'cohort'", "whole number >= 0, got '-2'"),
        ({"cohort": [1, 2, 2.5, 2]}, "row 2, column 'cohort'", "got '2.5'"),
        ({"patient_id": ["XJ-01", None, "XJ-03", "XJ-04"]}, "row 1, column 'patient_id'",
         "empty value"),
        ({"patient_id": ["XJ-01", "XJ-01", "XJ-03", "XJ-04"]}, "row 1, column 'patient_id'",
         "duplicate patient id 'XJ-01' (also in row 0)"),
        ({"dlt": [0, 0, True, 1]}, "row 2, column 'dlt'", "got 'True'"),
        ({"dose": [1e8, 1e8, 3e8, 3e8]}, "row 2, column 'dose'",
         "cohort 2 was given another dose in row 1"),
    ],
)
def test_bad_dataframe_rows_name_the_row_and_field(change, where, problem):
    frame = pd.read_csv(XJ_DATA)
    for column, values in change.items():
        frame[column] = pd.Series(values, dtype=object)
    with pytest.raises(InputError) as caught:
        bayesdose.recommend(XJ, frame)
    assert caught.value.source == "<DataFrame>"
    assert caught.value.where == where and problem in caught.value.problem


def test_bad_rows_are_named_by_index_label_and_record_position():
    frame = pd.read_csv(XJ_DATA, index_col="patient_id").reset_index()
    frame.index = ["a", "b", "c", "d"]
    frame.loc["c", "dlt"] = 3
    with pytest.raises(InputError, match=r"^<DataFrame>, row c, column 'dlt': expected 0 or 1"):
        bayesdose.read_data(frame, XJ)
    records = pd.read_csv(XJ_DATA).to_dict("records")
    records[3]["dose"] = "lots"
    with pytest.raises(InputError,
                       match=r"^<records>, record 3, column 'dose': expected a number, got 'lots'"):
        bayesdose.read_data(records, XJ)


@pytest.mark.parametrize(
    ("data", "where", "problem"),
    [
        (pd.DataFrame({"patient_id": ["A"], "cohort": [1], "dose": [1e8]}), "columns",
         "missing column 'dlt'"),
        (pd.DataFrame({"dose": [1e8], "n": [3], "dlt": [1], "grade": [3]}), "columns",
         "unexpected column 'grade'"),
        ([{"dose": 1e8, "n": 3, "dlt": 1}, {"dose": 3e8, "n": 2}], "record 1, column 'dlt'",
         "empty value"),
        ([{"dose": 1e8, "n": 1, "dlt": 2}], "record 0, column 'dlt'", "dlt = 2 is more than n = 1"),
        ([{"patient_id": "A", "cohort": 1, "dose": 1e8, "dlt": 0}, "B"], "record 1",
         "expected a dict"),
    ],
)
def test_bad_columns_and_records(data, where, problem):
    with pytest.raises(InputError) as caught:
        bayesdose.read_data(data, XJ)
    assert caught.value.where == where and problem in caught.value.problem


def test_dated_records_need_as_of_and_real_dates():
    frame = pd.read_csv(XJ_DATED)
    with pytest.raises(InputError, match="dated data needs"):
        bayesdose.read_data(frame, XJ)
    frame["enrolled"] = pd.to_datetime(frame["enrolled"]) + pd.Timedelta(hours=9)
    with pytest.raises(InputError, match=r"row 0, column 'enrolled': expected a date"):
        bayesdose.read_data(frame, XJ, as_of="2025-11-05")


def test_other_data_is_a_type_error():
    with pytest.raises(TypeError, match="expected a CSV path, a pandas DataFrame"):
        bayesdose.recommend(XJ, 42)


def test_repr_html_has_the_doses_and_escapes_the_trial_name(tmp_path):
    config = tmp_path / "trial.toml"
    text = XJ.read_text()
    name = next(line for line in text.splitlines() if line.startswith("name"))
    config.write_text(text.replace(name, 'name = "<script>alert(1)</script> & Co"'))
    rec = bayesdose.recommend(config, XJ_DATA)
    html = rec._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    for dose in ("1×10⁸", "3×10⁸", "6×10⁸"):  # as HTML writes doses; the text as printed
        assert f"<td>{dose}</td>" in html
    assert html.count("no: EWOC: P(overdosing) 0.268 &gt;= 0.25") == 1
    assert html.count("no: EWOC: P(overdosing) 0.575 &gt;= 0.25") == 1
    assert ("next: 1×10⁸ viable cells, cohort of 3: de-escalate from 3×10⁸ viable cells"
            in html)
    assert "0.268" in html  # P(over) at 3e8
    assert repr(rec) == ("<Recommendation <script>alert(1)</script> & Co: next: 1x10^8 viable "
                         "cells, cohort of 3: de-escalate from 3x10^8 viable cells>")
    assert str(rec).splitlines()[-1].startswith("next: 1x10^8 viable cells")


def test_simulate_exact_matches_cli(tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["simulate", str(STANDARD), "--scenarios",
                                       str(STANDARD_SCENARIOS), "--designs", "3+3", "--out",
                                       str(out)])
    assert result.exit_code == 0, result.output
    study = bayesdose.simulate(STANDARD, STANDARD_SCENARIOS, designs=["3+3"])
    expected = json.loads((out / "summary.json").read_text())
    assert study.summary["method"] == "exact"
    assert json.loads(json.dumps(study.summary)) == expected
    assert result.output.rstrip("\n") == study.table()
    assert "<th>P(correct)</th>" in study._repr_html_()


def test_simulate_simulated_matches_cli(tmp_path):
    scenarios = tmp_path / "s.toml"
    scenarios.write_text('[[scenario]]\nname = "S1"\np_true = [0.05, 0.15, 0.3, 0.45, 0.6]\n')
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["simulate", str(STANDARD), "--scenarios", str(scenarios),
                                       "--trials", "120", "--seed", "3", "--method", "simulate",
                                       "--workers", "1", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    from bayesdose.simulation.scenarios import load_scenarios

    loaded = load_scenarios(scenarios, 5)
    study = bayesdose.simulate(STANDARD, loaded, trials=120, seed=3, method="simulate",
                               workers=1, out=tmp_path / "api", progress=False)
    assert study.summary["designs"] == ["blrm", "3+3"] and study.summary["method"] == "simulate"
    assert (tmp_path / "api" / "summary.json").read_text() == (out / "summary.json").read_text()
    assert result.output.rstrip("\n") == study.table()


@pytest.mark.parametrize("name", ["3+3", "3+3-deesc", "crm", "boin"])
def test_next_step_is_recommend_design(tmp_path, name):
    expected = cli_json(tmp_path, XJ, XJ_DATA, "--design", name)
    step = bayesdose.next_step(XJ, pd.read_csv(XJ_DATA), name)
    assert json.loads(json.dumps(step.document)) == expected
    assert str(step).splitlines()[-1].endswith(f" — {expected['reason']}")
    assert repr(step).startswith(f"<Step {name} on XJ-MK-002") and "<pre>" in step._repr_html_()


def test_next_step_refuses_the_blrm_and_unknown_designs():
    with pytest.raises(ValueError, match="recommend"):
        bayesdose.next_step(XJ, XJ_DATA, "blrm")
    with pytest.raises(ValueError, match="boin"):
        bayesdose.next_step(XJ, XJ_DATA, "boin12")


def test_simulate_random_curves_matches_cli(tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["simulate", str(STANDARD), "--random", "4", "--seed", "7",
                                       "--random-method", "pseudo-uniform", "--designs", "3+3",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    study = bayesdose.simulate(STANDARD, random=4, seed=7, random_method="pseudo-uniform",
                               designs="3+3")
    assert [e["name"] for e in study.summary["scenarios"]] == [f"random-{i}" for i in (1, 2, 3, 4)]
    assert json.loads(json.dumps(study.summary)) == json.loads((out / "summary.json").read_text())
    with pytest.raises(ValueError, match="either scenarios or random"):
        bayesdose.simulate(STANDARD, [study_scenario() for _ in range(2)], random=3)
    with pytest.raises(InputError, match="--random"):
        bayesdose.simulate(STANDARD)


def study_scenario():
    from bayesdose.simulation.scenarios import Scenario

    return Scenario("S", (0.05, 0.15, 0.3, 0.45, 0.6))


def test_simulate_bad_arguments():
    with pytest.raises(InputError, match="unknown design"):
        bayesdose.simulate(STANDARD, STANDARD_SCENARIOS, designs="3+3,crm9")
    with pytest.raises(ValueError, match="method"):
        bayesdose.simulate(STANDARD, STANDARD_SCENARIOS, method="fast")


def test_the_entry_points_are_functions_beside_every_module():
    """No module shares an entry point's name (``bayesdose.designs.blrm.recommendation`` holds the
    recommendation), so importing every module leaves the entry points functions."""
    import bayesdose.designs.blrm.recommendation  # noqa: F401
    import bayesdose.simulation.study  # noqa: F401

    for name in bayesdose.__all__:
        entry = getattr(bayesdose, name)
        assert callable(entry) and entry.__module__ == "bayesdose.api", name


def test_import_bayesdose_loads_no_numerical_library():
    code = ("import sys, bayesdose; heavy = {'numpy', 'xarray', 'pymc', 'pandas', 'scipy'}; "
            "print(sorted(heavy & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


def test_prior_conflict_is_what_recommend_reports():
    conflict = bayesdose.prior_conflict(XJ, XJ_DATA)
    rec = bayesdose.recommend(XJ, XJ_DATA)
    assert conflict == rec.conflict
    assert to_json(rec)["prior"]["conflict"]["overall_p"] == conflict.overall_p


COMBO = CONFIGS / "combination-blrm.toml"
COMBO_DATA = CONFIGS / "examples" / "combination-blrm.csv"


def test_recommend_on_two_drugs_is_the_combination_recommendation(tmp_path):
    """A two-drug design: the combination BLRM's answer, the command line's JSON from a
    path, a DataFrame, records or TrialData; a TrialData of another design is refused."""
    from bayesdose.designs.blrm_comb.recommendation import ComboRecommendation
    from bayesdose.designs.blrm_comb.recommendation import to_json as combo_json

    expected = cli_json(tmp_path, COMBO, COMBO_DATA)
    design = bayesdose.load_design(COMBO)
    frame = pd.read_csv(COMBO_DATA)
    for given in (COMBO_DATA, frame, frame.to_dict("records"),
                  read_trial_data(COMBO_DATA, design)):
        rec = bayesdose.recommend(design, given)
        assert isinstance(rec, ComboRecommendation)
        assert json.loads(json.dumps(combo_json(rec))) == expected
    assert expected["next_dose"] == {"A": 80.0, "B": 0.5}
    assert repr(rec) == ("<ComboRecommendation Combination A + B (MAP priors): next: A 80 mg + "
                         "B 0.5 mg, cohort of 3: de-escalate from A 80 mg + B 1 mg>")
    with pytest.raises(ValueError, match=r"have 3 doses or arms but the design has 24 arms \("):
        bayesdose.recommend(design, read_trial_data(XJ_DATA, bayesdose.load_design(XJ)))
    with pytest.raises(ValueError, match="have 24 doses or arms but the design has 3 doses"):
        bayesdose.recommend(XJ, read_trial_data(COMBO_DATA, design))
