"""Two-drug trials: the config, the pair panel, matrix scenarios, and BOIN-comb and the
waterfall design against R BOIN 2.7.2 (fixed data cases exactly; operating characteristics
within Monte Carlo error: tests/reference/boin/)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.designs.boin_comb.isotonic import biviso
from bayesdose.designs.boin_comb.selection import select_mtd_comb
from bayesdose.errors import InputError
from bayesdose.schema import design_from_dict, load_design
from bayesdose.simulation.chunks import optimal_key, record_key
from bayesdose.simulation.combination.metrics import trial_characteristics
from bayesdose.simulation.combination.scenarios import (
    load_matrix_scenarios,
    true_contour,
    true_mtd_set,
)
from bayesdose.simulation.combination.study import simulate_records

REFERENCE = Path(__file__).parent / "reference" / "boin"
CONFIG = CONFIGS / "combination-3x5.toml"
SCENARIOS = CONFIGS / "scenarios" / "combination-3x5.toml"
TWO = {"drugs": {"names": ["A", "B"]},
       "doses": {"A": {"levels": [1, 2]}, "B": {"levels": [1, 2, 3]}}}


def bad(raw, where, text):
    with pytest.raises(InputError) as err:
        design_from_dict(raw, "x.toml")
    assert where in str(err.value) and text in str(err.value), str(err.value)


# -- config and panel -----------------------------------------------------------------------


def test_combination_config_and_panel():
    design = load_design(CONFIG)
    panel = design.pair_panel
    assert design.is_combination and panel.shape == (3, 5) and panel.size == 15
    assert design.start_pair == 0 and design.designs.waterfall.subtrial_cohorts == (10, 5, 5)
    assert panel.index(1, 2) == 7 and panel.pair(7) == (1, 2)
    assert panel.doses(7) == {"A": 20.0, "B": 4.0}
    assert panel.index_of_doses({"A": 20, "B": 4}) == 7
    assert panel.neighbours(7) == {"up": [12, 8], "down": [2, 6]}
    assert panel.neighbours(0) == {"up": [5, 1], "down": []}
    assert panel.label(7) == "A 20 mg + B 4 mg/kg"
    start = design_from_dict({**TWO, "cohorts": {"start_dose": {"A": 2, "B": 3}}})
    assert start.start_pair == 5
    with pytest.raises(InputError, match="two-drug config"):
        start.levels  # noqa: B018


def test_single_agent_config_unchanged():
    design = design_from_dict({"doses": {"levels": [1, 2, 4]}})
    assert not design.is_combination and design.levels == (1, 2, 4)
    bad({"doses": {"levels": [1, 2]}, "cohorts": {"start_dose": {"A": 1}}},
        "[cohorts] start_dose", "for two-drug trials")


@pytest.mark.parametrize(("change", "where", "text"), [
    ({"drugs": {"names": ["A"]}}, "[drugs] names", "expected two different names"),
    ({"drugs": {"names": ["A", "A"]}}, "[drugs] names", "expected two different names"),
    ({"drugs": {"names": ["A", "B c"]}}, "[drugs] names", "expected a letter"),
    ({"doses": {"A": {"levels": [1, 2]}}}, "[doses.B]", "missing table"),
    ({"doses": {"A": {"levels": [1, 2]}, "B": {"levels": [1]}, "C": {}}}, "[doses] C",
     "one table per drug"),
    ({"doses": {"A": {"levels": [2, 1]}, "B": {"levels": [1]}}}, "[doses.A] levels",
     "strictly increasing"),
    ({"cohorts": {"start_dose": 1}}, "[cohorts] start_dose", "a table of each drug's dose"),
    ({"cohorts": {"start_dose": {"A": 1, "B": 5}}}, "[cohorts] start_dose.B",
     "not one of the drug's levels"),
    ({"cohorts": {"start_dose": {"A": 1, "B": "x"}}}, "[cohorts] start_dose.B",
     "expected a number"),
])
def test_combination_config_errors(change, where, text):
    bad({**TWO, **change}, where, text)


# -- scenarios --------------------------------------------------------------------------------


def test_matrix_scenarios_and_truth(tmp_path):
    design = load_design(CONFIG)
    scenarios = load_matrix_scenarios(SCENARIOS, design.pair_panel.shape, design.drugs.names)
    example = scenarios[0].matrix
    assert [tuple(map(tuple, np.argwhere(true_mtd_set(example, 0.3))))] == [
        ((0, 4), (1, 3), (2, 2))]
    assert np.argwhere(true_contour(example, 0.3)).tolist() == [[0, 4], [1, 3], [2, 2]]
    # a row whose closest pair is above target + 0.05 has no contour pair (R's waterfall)
    assert not true_contour(np.array([[0.1, 0.4], [0.4, 0.5]]), 0.3)[1].any()
    path = tmp_path / "s.toml"
    for text, where, problem in [
        ('p_true = [[0.1, 0.2], [0.2, 0.3]]', "p_true", "expected a matrix of 3 rows"),
        ('p_true = [[0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5], '
         '[0.1, 0.2, 0.3, 0.4]]', "p_true[2]", "has 4 values"),
        ('p_true = [[0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5], '
         '[0.1, 0.2, 0.3, 0.35, 0.45]]', "p_true[2][3]",
         "must not decrease with A's dose (0.35 < 0.4)"),
        ('p_true = [[0.1, 0.2, 0.3, 0.25, 0.5], [0.2, 0.2, 0.3, 0.4, 0.5], '
         '[0.2, 0.2, 0.3, 0.4, 0.5]]', "p_true[0][3]", "must not decrease with B's dose"),
    ]:
        path.write_text(f'[[scenario]]\nname = "s"\n{text}\n')
        with pytest.raises(InputError) as err:
            load_matrix_scenarios(path, (3, 5), ("A", "B"))
        assert where in str(err.value) and problem in str(err.value), str(err.value)


# -- R's selection, exactly ---------------------------------------------------------------------


def test_biviso_equals_r_to_the_last_bit():
    """300 cases of Iso::biviso (tests/reference/boin/biviso.R): identical doubles."""
    for case in json.loads((REFERENCE / "biviso.json").read_text()):
        n, y = np.array(case["n"], float), np.array(case["y"], float)
        expected = np.array([float(v) for v in case["fit"]]).reshape(n.shape, order="F")
        assert np.array_equal(biviso((y + 0.05) / (n + 0.1), n + 0.1), expected)


def test_select_mtd_comb_equals_r():
    """200 data cases of select.mtd.comb, both mtd.contour settings: the same pairs. Where R
    stops with an error (its lowest pair eliminated: 'phat.out.noCI' not found), no MTD."""
    document = json.loads((REFERENCE / "select_mtd_comb.json").read_text())
    errors = 0
    for case in document["cases"]:
        n, y = np.array(case["npts"]), np.array(case["ntox"])
        for key, contour in (("mtd", False), ("contour", True)):
            got = [[a + 1, b + 1] for a, b in select_mtd_comb(case["target"], n, y,
                                                               contour=contour)]
            if case[key] == "error":
                errors += 1
                assert got == []
            else:
                assert got == case[key], (case, key)
    assert errors == 38  # 19 cases x 2 settings


# -- simulation ---------------------------------------------------------------------------------


def test_chunking_and_workers_change_nothing():
    design = load_design(CONFIG)
    scenarios = load_matrix_scenarios(SCENARIOS, (3, 5), ("A", "B"))[:1]
    names = ["boin-comb", "waterfall"]
    one = simulate_records(design, scenarios, names, 300, 7, chunk_size=300)
    many = simulate_records(design, scenarios, names, 300, 7, chunk_size=70)
    assert one.keys() == many.keys()
    for key in one:
        assert np.array_equal(one[key], many[key]), key
    # the same patients: the benchmark does not depend on the designs compared
    alone = simulate_records(design, scenarios, ["waterfall"], 300, 7, chunk_size=300)
    assert np.array_equal(alone[optimal_key(0)], one[optimal_key(0)])


def test_metrics_by_hand():
    p = np.array([[0.1, 0.3], [0.3, 0.5]])
    # trial 1 picks (0, 1) (an MTD), trial 2 (1, 1) (above), trial 3 nothing
    selected = np.array([1 << 1, 1 << 3, 0])
    n = np.array([[3, 3, 0, 3], [3, 3, 3, 3], [3, 0, 0, 0]])
    dlt = np.array([[0, 1, 0, 2], [0, 1, 1, 2], [3, 0, 0, 0]])
    stop = np.array([3, 3, 1])
    oc = trial_characteristics(selected, p, 0.3, n, dlt, stop)
    assert oc["select"] == [[0, pytest.approx(1 / 3)], [0, pytest.approx(1 / 3)]]
    assert oc["pcs"] == pytest.approx(1 / 3) and oc["select_none"] == pytest.approx(1 / 3)
    assert oc["select_above_mtd"] == pytest.approx(1 / 3)
    assert oc["pcs_contour"] == 0  # the contour is (0, 1) and (1, 0)
    assert oc["patients"] == [[3, 2], [1, 2]]
    assert oc["p_at_mtd"] == pytest.approx(9 / 24)  # (0, 1) and (1, 0): 3 + 6 + 0 patients
    assert oc["p_above_mtd"] == pytest.approx(6 / 24)
    assert oc["dlt_rate"] == pytest.approx(10 / 24) and oc["early_stop"] == pytest.approx(1 / 3)


def _agree(ours: np.ndarray, r: np.ndarray, sd: np.ndarray, trials: int, r_trials: int,
           rounding: float) -> None:
    """Within 4 Monte Carlo standard errors of the difference (both runs' errors), plus
    R's printed rounding."""
    tolerance = 4 * sd * math.sqrt(1 / trials + 1 / r_trials) + rounding
    assert np.all(np.abs(ours - r) <= tolerance), (ours, r, tolerance)


@pytest.mark.parametrize("scenario", ["boin-example", "staircase"])
def test_operating_characteristics_agree_with_r(scenario):
    """R's get.oc.comb (tests/reference/boin/get_oc_comb.R, seed 6) and ours (another
    stream) agree within Monte Carlo error: selection % and mean patients per pair, N, DLTs,
    R's pcs (BOIN-comb) and pcs.contour (waterfall)."""
    reference = json.loads((REFERENCE / "get_oc_comb.json").read_text())
    r_trials = reference["ntrial"]
    r = reference["results"][scenario]
    design = load_design(CONFIG)
    scenarios = [s for s in load_matrix_scenarios(SCENARIOS, (3, 5), ("A", "B"))
                 if s.name == scenario]
    trials = 4000
    names = ["boin-comb", "waterfall"]
    records = simulate_records(design, scenarios, names, trials, 2026)
    p = scenarios[0].matrix
    for d, name in enumerate(names):
        ref = r[name]
        selected = records[record_key("selected", 0, d)]
        chosen = (selected[:, None] >> np.arange(15)) & 1
        share = chosen.mean(axis=0)
        _agree(100 * share, np.array(ref["selpercent"]).ravel(),
               100 * np.sqrt(share * (1 - share)) + 1, trials, r_trials, 0.005)
        n = records[record_key("kept_n" if name == "waterfall" else "n", 0, d)]
        _agree(n.mean(axis=0), np.array(ref["npatients"]).ravel(), n.std(axis=0) + 0.1,
               trials, r_trials, 0.005)
        _agree(n.sum(axis=1).mean(), ref["totaln"], n.sum(axis=1).std(), trials, r_trials,
               0.05)
        oc = trial_characteristics(selected, p, 0.3, n, n, n[:, 0])
        key, ours = (("pcs", oc["pcs"]) if name == "boin-comb"
                     else ("pcs_contour", oc["pcs_contour"]))
        expected = float(ref[key].strip(" %")) / 100
        _agree(ours, expected, math.sqrt(ours * (1 - ours)), trials, r_trials, 0.0005)


def test_simulate_command(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "simulate", str(CONFIG), "--scenarios", str(SCENARIOS), "--designs",
        "boin-comb,waterfall", "--trials", "200", "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    entry = summary["scenarios"][0]
    assert entry["true_mtd_set"] == [[1, 5], [2, 4], [3, 3]]
    for name in ("boin-comb", "waterfall", "optimal"):
        oc = entry["designs"][name]
        assert len(oc["select"]) == 3 and len(oc["select"][0]) == 5
        assert 0 <= oc["pcs"] <= 1
    boin = entry["designs"]["boin-comb"]
    assert sum(map(sum, boin["select"])) + boin["select_none"] == pytest.approx(1)
    assert sum(map(sum, boin["patients"])) == pytest.approx(boin["n_mean"])
    assert "P(contour)" in result.output and "boin-comb" in result.output
    wrong = CliRunner().invoke(main, [
        "simulate", str(CONFIG), "--scenarios", str(SCENARIOS), "--designs", "boin",
        "--trials", "10", "--out", str(out)])
    assert wrong.exit_code == 2 and "not for a two-drug config" in wrong.output
    missing = CliRunner().invoke(main, ["simulate", str(CONFIG), "--designs", "waterfall",
                                        "--trials", "10", "--out", str(out)])
    assert missing.exit_code == 2 and "p_true matrices" in missing.output


def test_shape_r_requires(tmp_path):
    raw = {"drugs": {"names": ["A", "B"]},
           "doses": {"A": {"levels": [1, 2, 3]}, "B": {"levels": [1, 2]}}}
    design = design_from_dict(raw, "x.toml")
    from bayesdose.designs.registry import make_design

    with pytest.raises(InputError, match="name the drug with fewer levels first"):
        make_design("boin-comb", design)
    wide = design_from_dict({"drugs": {"names": ["A", "B"]},
                             "doses": {"A": {"levels": list(range(1, 8))},
                                       "B": {"levels": list(range(1, 11))}}}, "x.toml")
    with pytest.raises(InputError, match="at most 63 dose pairs.*7 x 10"):
        make_design("waterfall", wide)


def test_the_moments_products_are_exact_integers_by_either_path():
    """``Moments`` sums the trials' pairwise products exactly: by BLAS in float64 while every
    partial sum stays below 2^53, in int64 beyond (values of 2^26 over 40 trials would lose
    bits in float64)."""
    from bayesdose.simulation.combination.metrics import Moments

    rng = np.random.default_rng(5)
    for peak in (60, 2**26):
        columns = rng.integers(0, peak + 1, (40, 7), dtype=np.int64)
        moments = Moments()
        moments.add(columns[:25])
        moments.add(columns[25:])
        exact = [[sum(int(a) * int(b)
                      for a, b in zip(columns[:, i], columns[:, j], strict=True))
                  for j in range(7)] for i in range(7)]
        assert moments.products.tolist() == exact
        assert moments.sums.tolist() == columns.sum(axis=0).tolist()
