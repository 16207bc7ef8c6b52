"""Historical trials ([historical] data) and the settings of priors built from them
([model] prior = "map" | "exnex", robust_weight, [model.hierarchy]): read and checked, every
mistake named by file, row or key; no MCMC here (tests/test_map_prior.py fits)."""

import shutil

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.errors import InputError
from bayesdose.historical import read_historical
from bayesdose.schema import load_design
from bayesdose.simulation.chunks import design_sha256

MAP_CONFIG = CONFIGS / "drug-a-map.toml"
HISTORY = CONFIGS / "examples" / "drug-a-historical.csv"


def test_the_shipped_history_is_read_by_trial():
    trials = read_historical(HISTORY)
    assert trials.names == ("monotherapy-2019",)
    assert trials.dose == (12.5, 25.0, 50.0, 80.0, 100.0, 150.0)
    assert trials.n == (1, 1, 3, 9, 23, 3) and trials.dlt == (0, 0, 0, 1, 4, 2)
    assert trials.rows_of("monotherapy-2019")[4] == (100.0, 23, 4)


def test_several_trials_keep_their_order_and_doses_off_the_panel(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("trial,dose,n,dlt\nB,7.5,3,0\nA,10,6,1\nB,15,3,1\n\n")
    trials = read_historical(path)
    assert trials.names == ("B", "A") and trials.trial == (0, 1, 0)
    assert trials.rows_of("B") == [(7.5, 3, 0), (15.0, 3, 1)]


@pytest.mark.parametrize("text, where, problem", [
    ("trial,dose,n\nA,1,3\n", "row 1", "missing column 'dlt'"),
    ("trial,dose,n,dlt,arm\nA,1,3,0,x\n", "row 1", "unexpected column 'arm'"),
    ("trial,dose,n,dlt\nA,1,3,4\n", "row 2, column 'dlt'", "dlt = 4 is more than n = 3"),
    ("trial,dose,n,dlt\nA,0,3,0\n", "row 2, column 'dose'", "expected a number > 0"),
    ("trial,dose,n,dlt\nA,ten,3,0\n", "row 2, column 'dose'", "expected a number"),
    ("trial,dose,n,dlt\n,10,3,0\n", "row 2, column 'trial'", "empty value"),
    ("trial,dose,n,dlt\nA,10,3,0\nA,10.0,3,1\n", "row 3, column 'dose'", "also in row 2"),
    ("trial,dose,n,dlt\nA,10,-3,0\n", "row 2, column 'n'", "whole number >= 0"),
    ("trial,dose,n,dlt\n", None, "no historical data rows"),
    ("", None, "the file is empty"),
])
def test_bad_history_names_file_row_and_column(tmp_path, text, where, problem):
    path = tmp_path / "h.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_historical(path)
    assert err.value.source == str(path) and err.value.where == where
    assert problem in err.value.problem


def test_the_history_is_found_beside_the_config_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    design = load_design(MAP_CONFIG)
    assert design.historical_trials.source == str(CONFIGS / "examples" / HISTORY.name)
    assert design.mean_prior.sd == (1.0, 0.7073)  # the prior of mu, not yet the MAP prior


def test_validate_says_the_map_prior_is_fitted_when_used():
    result = CliRunner().invoke(main, ["validate", str(MAP_CONFIG)])
    assert result.exit_code == 0, result.output
    assert ("prior map: from 1 historical trial(s) in " in result.output
            and "fitted by MCMC when used" in result.output)


def _with(tmp_path, replace: dict[str, str]) -> str:
    text = MAP_CONFIG.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new, 1)
    (tmp_path / "examples").mkdir()
    shutil.copy(HISTORY, tmp_path / "examples" / HISTORY.name)
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("replace, where, problem", [
    ({'data = "examples/drug-a-historical.csv"': 'data = "missing.csv"'}, None,
     "file not found"),
    ({'[historical]\ndata = "examples/drug-a-historical.csv"': ''}, "[historical] data",
     "needs the historical trials' CSV"),
    ({'\nprior = "map"': '\nprior = "normal"'}, "[model.hierarchy]",
     "applies to prior = 'map' or 'exnex'"),
    ({'robust_weight = 0.1': 'robust_weight = 1.0'}, "[model] robust_weight",
     "must be in [0, 1)"),
    ({'tau_distribution = "lognormal"': 'tau_distribution = "gamma"'},
     "[model.hierarchy] tau_distribution", "'lognormal' or 'halfnormal'"),
    ({'tau_sd = [0.3536, 0.3536]': 'tau_sd = [0.3536, 0]'}, "[model.hierarchy] tau_sd",
     "must be > 0"),
    ({'tau_sd = [0.3536, 0.3536]': 'ex_probability = 0'},
     "[model.hierarchy] ex_probability", "must be in (0, 1]"),
    ({'tau_sd = [0.3536, 0.3536]': 'nex_mean = [0, 0]'}, "[model.hierarchy]",
     "give both nex_mean and nex_sd"),
    ({'tau_sd = [0.3536, 0.3536]': 'tau_sd = [0.3536, 0.3536, 1]'},
     "[model.hierarchy] tau_sd", "expected 2 numbers"),
    ({'\nprior = "map"': '\nprior = "exnex"'}, "[model] robust_weight",
     "applies to prior = 'map'"),
])
def test_bad_settings_name_the_key(tmp_path, replace, where, problem):
    path = _with(tmp_path, replace)
    with pytest.raises(InputError) as err:
        load_design(path)
    assert err.value.where == where and problem in err.value.problem


def test_configs_without_history_keep_their_hash():
    """The keys added for historical data are hashed only when set: a simulated run of a
    config from before them still resumes and its report still matches."""
    assert design_sha256(load_design(CONFIGS / "xj-mk-002.toml")) == (
        "ce5e9e7e88a7a5c21362e1ec6dc8cfa8388c7f22ad54fb4354b31852ae36a04a")
