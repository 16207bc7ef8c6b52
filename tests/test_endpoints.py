"""Platelet endpoints (increment, CCI, PPR) and the response rule, against hand-computed
numbers and a published worked example; bad counts files."""

import csv
import io
from datetime import date

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

import bayesdose
from bayesdose.cli import main
from bayesdose.data import read_trial_data
from bayesdose.errors import InputError
from bayesdose.platelets import endpoints, endpoints_csv, read_counts, rule_note
from bayesdose.schema import design_from_dict, load_design

XJ_EFFICACY = CONFIGS / "xj-mk-002-efficacy.toml"
PLATELETS = CONFIGS / "examples" / "xj-mk-002-platelets.csv"
ENDPOINTS = CONFIGS / "examples" / "xj-mk-002-endpoints.csv"
RESPONSES = CONFIGS / "examples" / "xj-mk-002-dated-response.csv"
HEADER = "patient_id,time,platelets,dose,bsa_m2,weight_kg\n"


def transfusion(**response):
    """A platelet transfusion 'panel': one apheresis unit of 3x10^11 platelets."""
    return design_from_dict({"doses": {"levels": [3e11], "unit": "platelets"},
                             "model": {"prior_mean": [-1, 0], "prior_sd": [2, 1]},
                             "efficacy": {"response": response}}, "transfusion.toml")


def counts_file(tmp_path, rows):
    path = tmp_path / "counts.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_the_published_worked_example(tmp_path):
    # Williams (U. Wisconsin) after Delaflor-Weiss & Mintz 2000: an increment of 20,000/uL in a
    # 1.8 m^2 patient after a 3x10^11 single-donor unit is a CCI of 20,000 x 1.8 / 3 = 12,000
    # per uL, i.e. 12 in units of 10^9/L.
    design = transfusion(endpoint="cci", threshold=7.5, time="1h")
    path = counts_file(tmp_path, ["P,baseline,10,3e11,1.8,70", "P,1h,30,,,"])
    (result,) = [endpoints(c, design.efficacy.response) for c in read_counts(path, design)]
    assert result.increment == {"1h": 20}
    assert result.cci["1h"] == pytest.approx(12.0)
    # PPR: 20x10^9/L x (0.07 L/kg x 70 kg = 4.9 L) / (3x10^11 x 2/3) = 0.49 -> 49 %
    assert result.blood_volume_l == pytest.approx(4.9)
    assert result.ppr["1h"] == pytest.approx(49.0)
    assert result.response == 1  # CCI 12 >= 7.5


def test_megakaryocytes_replace_the_platelets_given():
    design = load_design(XJ_EFFICACY)
    by_id = {c.patient_id: c for c in read_counts(PLATELETS, design)}
    xj03 = endpoints(by_id["XJ-03"], design.efficacy.response)
    # 3x10^8 cells = 0.003 x 10^11: at 2h, increment 59 - 55 = 4, CCI 4 x 1.55 / 0.003
    assert xj03.cci["2h"] == pytest.approx(4 * 1.55 / 0.003)  # 2066.67
    # PPR: 100 x 4e9 x (0.07 x 52 = 3.64 L) / (3e8 x 2/3) = 7280 %
    assert xj03.ppr["2h"] == pytest.approx(7280.0)
    assert xj03.increment["7d"] == 8 and xj03.response == 0  # 8 < 10 at day 7
    xj07 = endpoints(by_id["XJ-07"], design.efficacy.response)
    assert "7d" not in xj07.increment and xj07.response is None  # not counted yet


@pytest.mark.parametrize(("rule", "response"), [
    ({"endpoint": "increment", "threshold": 20, "time": "1h"}, 1),  # 20 >= 20
    ({"endpoint": "increment", "threshold": 20.5, "time": "1h"}, 0),
    ({"endpoint": "ppr", "threshold": 49, "time": "60h"}, None),  # no count at 60 hours
    ({"endpoint": "increment", "threshold": 5, "time": "1d"}, 1),  # the file's '24h'
    ({"endpoint": "ppr", "threshold": 30, "time": "24h"}, 0),  # 10 x 4.9 / 2 -> 24.5 %
])
def test_the_rule_reads_its_endpoint_at_its_time_point(tmp_path, rule, response):
    design = transfusion(**rule)
    path = counts_file(tmp_path, ["P,baseline,10,3e11,1.8,70", "P,1h,30,,,", "P,24h,20,,,"])
    (counts,) = read_counts(path, design)
    assert endpoints(counts, design.efficacy.response).response == response


def test_the_shipped_endpoints_are_what_the_command_writes(tmp_path):
    out = tmp_path / "endpoints.csv"
    result = CliRunner().invoke(main, ["endpoints", str(XJ_EFFICACY), str(PLATELETS),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == (f"{out}: 7 patients, 4 responses of 6 assessed (response: "
                             "increment >= 10 at 7d)\n")
    assert out.read_text() == ENDPOINTS.read_text()
    printed = CliRunner().invoke(main, ["endpoints", str(XJ_EFFICACY), str(PLATELETS)])
    assert printed.output == ENDPOINTS.read_text()


def test_the_shipped_trial_data_carry_the_derived_responses():
    rows = list(csv.DictReader(io.StringIO(ENDPOINTS.read_text())))
    derived = {r["patient_id"]: r["response"] for r in rows}
    trial = list(csv.DictReader(io.StringIO(RESPONSES.read_text())))
    assert {r["patient_id"]: r["response"] for r in trial} == derived
    assert rows[0]["cci_1h"] == "3240" and rows[0]["ppr_1h"] == "12180"  # 2 x 1.62 / 0.001


def test_the_api_gives_the_same_endpoints():
    results = bayesdose.endpoints(XJ_EFFICACY, PLATELETS)
    assert endpoints_csv(results) == ENDPOINTS.read_text()


def test_a_rule_read_after_the_assessment_day_is_noted():
    design = load_design(XJ_EFFICACY)
    assert rule_note(design) is None  # 7d read, known on day 7
    late = design_from_dict({"doses": {"levels": [1e8, 3e8]},
                             "efficacy": {"assessment_days": 2, "response": {"time": "3d"}}},
                            "late.toml")
    assert "'3d' is later than [efficacy] assessment_days = 2" in rule_note(late)


@pytest.mark.parametrize(("rows", "where", "problem"), [
    (["P,1h,30,3e8,1.8,70"], "patient 'P'", "no 'baseline' count"),
    (["P,baseline,10,3e8,1.8,70", "P,1h,30,,,", "P,60m,30,,,"], "row 4, column 'time'",
     "such as '1h'"),
    (["P,baseline,10,3e8,1.8,70", "P,24h,30,,,", "P,1d,31,,,"], "row 4, column 'time'",
     "a count at 1d already in row 3"),
    (["P,baseline,10,3e8,1.8,70", "P,baseline,11,,,"], "row 3, column 'time'", "already"),
    (["P,baseline,-1,3e8,1.8,70"], "row 2, column 'platelets'", "expected a count >= 0"),
    (["P,baseline,ten,3e8,1.8,70"], "row 2, column 'platelets'", "expected a number"),
    (["P,baseline,10,3e8,,70", "P,1h,12,,,"], "row 2, column 'bsa_m2'", "no bsa_m2 on any row"),
    (["P,baseline,10,3e8,1.8,70", "P,1h,12,3e8,1.7,"], "row 3, column 'bsa_m2'",
     "1.7 differs from 1.8 in row 2"),
    (["P,baseline,10,3,1.8,70"], "row 2, column 'dose'", "not within a factor 2"),
    (["P,baseline,10,3e8,0,70"], "row 2, column 'bsa_m2'", "expected a number > 0"),
    (["P,baseline,10,3e8,1.8"], "row 2", "expected 6 fields, got 5"),
])
def test_bad_counts_are_refused(tmp_path, rows, where, problem):
    path = counts_file(tmp_path, rows)
    with pytest.raises(InputError) as err:
        read_counts(path, load_design(XJ_EFFICACY))
    assert err.value.source == str(path)
    assert err.value.where == where and problem in err.value.problem


def test_a_missing_column_and_an_empty_file_are_refused(tmp_path):
    design = load_design(XJ_EFFICACY)
    path = tmp_path / "counts.csv"
    path.write_text("patient_id,time,platelets,dose,bsa_m2\nP,baseline,10,3e8,1.8\n")
    with pytest.raises(InputError, match="missing column 'weight_kg'"):
        read_counts(path, design)
    path.write_text(HEADER)
    with pytest.raises(InputError, match="no counts"):
        read_counts(path, design)


def test_bad_counts_exit_2_and_write_nothing(tmp_path):
    path = counts_file(tmp_path, ["P,1h,30,3e8,1.8,70"])
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["endpoints", str(XJ_EFFICACY), str(path), "--out",
                                       str(out)])
    assert result.exit_code == 2 and not out.exists()
    assert result.output == (f"error: {path}, patient 'P': no 'baseline' count (the platelet "
                             "count before dosing, from which increments are measured)\n")


def test_endpoints_merge_into_the_trial_data_as_read(tmp_path):
    design = load_design(XJ_EFFICACY)
    data = read_trial_data(RESPONSES, design, date(2025, 12, 1))
    assert [p.response for p in data.patients] == [
        r.response for r in bayesdose.endpoints(design, PLATELETS)]
