"""Design configs: the shipped ones, defaults, the derived prior, and every bad value."""

import math

import pytest
from conftest import CONFIGS

from bayesdose.errors import InputError
from bayesdose.schema import design_from_dict, load_design

MINIMAL = {"doses": {"levels": [1, 2, 4, 8]}}


def test_shipped_configs_load():
    nbg = load_design(CONFIGS / "nbg-2008.toml")
    assert nbg.levels[-1] == 250 and nbg.reference_dose == 250
    assert nbg.prior.mean == (-1.3863, 0.0) and not nbg.prior.derived
    xj = load_design(CONFIGS / "xj-mk-002.toml")
    assert xj.levels == (1e8, 3e8, 6e8) and xj.cohorts.titration_until_level == 1
    assert xj.stopping.max_patients == 16


def test_defaults_and_derived_prior():
    design = design_from_dict(MINIMAL)
    assert design.decision.target_interval == (0.16, 0.33)
    assert design.decision.max_overdose_probability == 0.25
    assert design.cohorts.size == 3 and design.start_level == 0
    assert design.reference_dose == 8 and design.prior.derived
    # prior medians: 0.05 at the lowest dose and 0.30 at the highest; sds (1.5, 0.35)
    log_alpha, log_beta = design.prior.mean
    for dose, p in ((1, 0.05), (8, 0.30)):
        logit = log_alpha + math.exp(log_beta) * math.log(dose / 8)
        assert 1 / (1 + math.exp(-logit)) == pytest.approx(p, abs=1e-3)
    assert design.prior.sd == (1.5, 0.35)
    assert (design.stopping.mtd_min_patients, design.stopping.mtd_min_p_target) == (12, 0.5)
    assert "derived from the dose panel" in design.prior.explanation


def bad(raw, where, text):
    with pytest.raises(InputError) as err:
        design_from_dict(raw, "x.toml")
    assert where in str(err.value) and text in str(err.value)
    assert str(err.value).startswith("x.toml")


@pytest.mark.parametrize(
    ("raw", "where", "text"),
    [
        ({}, "[doses]", "missing section"),
        ({"doses": {}}, "[doses] levels", "missing required key"),
        ({"dose": {"levels": [1]}}, "[dose]", "unknown section"),
        ({"doses": {"levels": [1, 2], "units": "mg"}}, "[doses] units", "unknown key"),
        ({"doses": {"levels": [2, 1]}}, "[doses] levels", "strictly increasing"),
        ({"doses": {"levels": [0, 1]}}, "[doses] levels", "positive"),
        ({"doses": {"levels": "1,2"}}, "[doses] levels", "expected a list"),
        ({"doses": {"levels": [1, "2"]}}, "[doses] levels[1]", "expected a number"),
        ({"doses": {"levels": [1, 2], "reference": 0}}, "[doses] reference", "> 0"),
        ({**MINIMAL, "model": {"prior_mean": [0, 0], "prior_sd": [0, 1]}},
         "[model] prior_sd", ">= 1e-06"),
        ({**MINIMAL, "model": {"prior_mean": [0, 0]}}, "[model]", "both prior_mean"),
        ({**MINIMAL, "model": {"prior_correlation": 1.0}}, "prior_correlation", "(-1, 1)"),
        ({**MINIMAL, "model": {"prior_mean": [0, 0, 1], "prior_sd": [1, 1]}},
         "[model] prior_mean", "expected 2 numbers"),
        ({**MINIMAL, "decision": {"target_interval": [0.3, 0.2]}}, "target_interval",
         "0 < a < b < 1"),
        ({**MINIMAL, "decision": {"target": 0.4}}, "[decision] target",
         "0.4 is outside target_interval [0.16, 0.33)"),
        ({**MINIMAL, "decision": {"target": 0.33}}, "[decision] target",  # b is overdosing
         "0.33 is outside target_interval [0.16, 0.33)"),
        ({**MINIMAL, "decision": {"target_interval": [0.3, 0.4]}}, "[decision] target",
         "0.25 is outside target_interval [0.3, 0.4): the BLRM aims at the interval while "
         "CRM, BOIN and the true MTD of simulations use the point target"),
        ({**MINIMAL, "decision": {"allow_skipping": 1}}, "allow_skipping", "true or false"),
        ({**MINIMAL, "decision": {"max_overdose_probability": float("nan")}},
         "max_overdose_probability", "finite"),
        ({**MINIMAL, "cohorts": {"size": 2.5}}, "[cohorts] size", "whole number"),
        ({**MINIMAL, "cohorts": {"start_dose": 3}}, "start_dose", "not a dose level"),
        ({**MINIMAL, "cohorts": {"titration_until_level": 9}}, "titration_until_level",
         "between 0 and"),
        ({**MINIMAL, "stopping": {"max_patients": 0}}, "max_patients", ">= 1"),
        ({"doses": {"levels": [5]}}, "[model]", "at least two doses"),
    ],
)
def test_bad_values_name_the_key(raw, where, text):
    bad(raw, where, text)


def test_bad_files(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[doses\nlevels = [1]")
    with pytest.raises(InputError, match="not valid TOML"):
        load_design(broken)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[trial]\nname = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not a UTF-8"):
        load_design(latin)
    with pytest.raises(InputError, match="file not found"):
        load_design(tmp_path / "missing.toml")


def test_start_dose_matches_with_relative_tolerance():
    design = design_from_dict({"doses": {"levels": [1e8, 3e8]}, "cohorts": {"start_dose": 3e8}})
    assert design.start_level == 1


def test_config_reference_page_is_generated_from_the_schema():
    from bayesdose.config_reference import config_reference_markdown

    page = (CONFIGS.parent / "docs" / "config.md").read_text()
    assert page == config_reference_markdown(), "run: python -m bayesdose.config_reference"
