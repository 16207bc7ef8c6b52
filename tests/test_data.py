"""Trial data CSVs: both layouts, and every bad input named by file, row and column."""

import numpy as np
import pytest
from conftest import CONFIGS

from bayesdose.data import read_trial_data
from bayesdose.errors import InputError
from bayesdose.schema import load_design


@pytest.fixture
def xj():
    return load_design(CONFIGS / "xj-mk-002.toml")


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_patient_level_counts_and_last_cohort(xj):
    data = read_trial_data(CONFIGS / "examples" / "xj-mk-002.csv", xj)
    assert data.patient_level and data.total_patients == 4
    np.testing.assert_array_equal(data.n, [1, 3, 0])
    np.testing.assert_array_equal(data.dlt, [0, 1, 0])
    assert data.last_cohort == (1, 1) and data.highest_level_given == 1


def test_aggregated_and_relative_dose_tolerance(tmp_path, xj):
    path = write(tmp_path, "dose,n,dlt\n100000000,1,0\n3e8,3,1\n")
    data = read_trial_data(path, xj)
    assert not data.patient_level and data.last_cohort is None
    np.testing.assert_array_equal(data.n, [1, 3, 0])


def test_header_only_means_no_patients(tmp_path, xj):
    data = read_trial_data(write(tmp_path, "patient_id,cohort,dose,dlt\n"), xj)
    assert data.total_patients == 0


def test_byte_order_mark_and_column_order(tmp_path, xj):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffdlt,dose,cohort,patient_id\r\n0,1e8,1,A\r\n".encode())
    assert read_trial_data(path, xj).n.tolist() == [1, 0, 0]


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("patient_id,cohort,dose\n", "row 1", "missing column 'dlt'"),
        ("patient_id,cohort,dose,dlt,age\n", "row 1", "unexpected column 'age'"),
        ("a,b\n", "row 1", "unrecognised header"),
        ("patient_id,cohort,dose,dlt\n1,1,2e8,0\n", "row 2, column 'dose'", "not in the panel"),
        ("patient_id,cohort,dose,dlt\n1,1,1e8,2\n", "row 2, column 'dlt'", "expected 0 or 1"),
        ("patient_id,cohort,dose,dlt\n1,1,1e8,yes\n", "row 2, column 'dlt'",
         "expected 0 or 1, got 'yes'"),
        ("patient_id,cohort,dose,dlt\n1,1,1e8,-1\n", "row 2, column 'dlt'",
         "expected 0 or 1, got '-1'"),
        ("patient_id,cohort,dose,dlt\n1,1,1e8,0\n1,2,3e8,0\n", "row 3, column 'patient_id'",
         "duplicate patient id"),
        ("patient_id,cohort,dose,dlt\n1,1,1e8,0\n2,1,3e8,0\n", "row 3, column 'dose'",
         "another dose"),
        ("patient_id,cohort,dose,dlt\n1,1,1e8\n", "row 2", "expected 4 fields"),
        ("patient_id,cohort,dose,dlt\n1,1,nan,0\n", "row 2, column 'dose'", "not in the panel"),
        ("dose,n,dlt\n1e8,2,3\n", "row 2, column 'dlt'", "more than n"),
        ("dose,n,dlt\n1e8,-1,0\n", "row 2, column 'n'", "whole number >= 0"),
        ("dose,n,dlt\n1e8,1.5,0\n", "row 2, column 'n'", "whole number >= 0"),
        ("dose,n,dlt\n1e8,1,0\n1e8,1,0\n", "row 3, column 'dose'", "also in row 2"),
        ("dose,n,dlt\n,1,0\n", "row 2, column 'dose'", "empty value"),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path, xj, text, where, problem):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_trial_data(path, xj)
    message = str(err.value)
    assert message.startswith(str(path)) and where in message and problem in message


def test_empty_and_non_utf8_files(tmp_path, xj):
    with pytest.raises(InputError, match="empty"):
        read_trial_data(write(tmp_path, ""), xj)
    path = tmp_path / "latin.csv"
    path.write_bytes("patient_id,cohort,dose,dlt\n\xe9,1,1e8,0\n".encode("latin-1"))
    with pytest.raises(InputError, match="not a UTF-8"):
        read_trial_data(path, xj)
