"""The command line with real files: output, JSON, decision records, and bad input."""

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose.cli import main
from bayesdose.record import verify_record

XJ = str(CONFIGS / "xj-mk-002.toml")
XJ_DATA = str(CONFIGS / "examples" / "xj-mk-002.csv")
NBG = str(CONFIGS / "nbg-2008.toml")
NBG_DATA = str(CONFIGS / "examples" / "nbg-2008.csv")


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_recommend_prints_the_table_and_the_next_dose():
    result = run("recommend", XJ, XJ_DATA)
    assert result.exit_code == 0, result.output
    assert "next: 1x10^8 viable cells, cohort of 3" in result.output
    assert "no: EWOC: P(overdosing) 0.268 >= 0.25" in result.output


def test_json_output(tmp_path):
    out = tmp_path / "rec.json"
    assert run("recommend", NBG, NBG_DATA, "--json", str(out)).exit_code == 0
    doc = json.loads(out.read_text())
    assert doc["next_dose"] == 25.0 and doc["stop"] is False and doc["stop_reason"] is None
    assert doc["engine"] == "exact" and doc["ewoc_met"] is True and doc["mtd"] is None
    first = doc["doses"][0]
    assert set(first) >= {"dose", "n", "dlt", "mean", "sd", "q025", "median", "q975",
                          "p_underdose", "p_target", "p_overdose", "allowed", "barred_by"}
    assert doc["doses"][7]["barred_by"] == "overdose_probability"
    assert doc["doses"][7]["p_overdose"] == pytest.approx(0.2551, abs=5e-4)
    assert len(doc["inputs"]["config_sha256"]) == 64 and doc["version"]


def test_aggregated_data_says_coherence_was_not_applied(tmp_path):
    out = tmp_path / "rec.json"
    agg = str(CONFIGS / "examples" / "nbg-2008-aggregated.csv")
    assert run("recommend", NBG, agg, "--json", str(out)).exit_code == 0
    assert "coherence" in json.loads(out.read_text())["notes"][0]


def test_header_only_data_gives_the_start_dose(tmp_path):
    data = tmp_path / "none.csv"
    data.write_text("patient_id,cohort,dose,dlt\n")
    out = tmp_path / "rec.json"
    assert run("recommend", XJ, str(data), "--json", str(out)).exit_code == 0
    doc = json.loads(out.read_text())
    assert (doc["next_dose"], doc["cohort_size"], doc["phase"]) == (1e8, 1, "titration")


def test_decision_record_is_new_hash_stamped_and_verifiable(tmp_path):
    records = tmp_path / "records"
    for _ in range(2):
        assert run("recommend", XJ, XJ_DATA, "--record-dir", str(records)).exit_code == 0
    paths = sorted(records.glob("*.json"))
    assert len(paths) == 2
    record = json.loads(paths[0].read_text())
    assert paths[0].name.endswith(record["record_sha256"][:12] + ".json")
    assert record["data_content"].startswith("patient_id") and record["seed"] == 1
    assert "pymc" in record["packages"] and verify_record(paths[0])
    record["next_dose"] = 6e8
    paths[0].write_text(json.dumps(record))
    assert not verify_record(paths[0])


def test_validate():
    result = run("validate", XJ, XJ_DATA)
    assert result.exit_code == 0 and "4 patients, 1 DLT\n" in result.output


@pytest.mark.parametrize(
    ("config_text", "data_text", "expected"),
    [
        ("[doses]\nlevels = [1, 2]\n[model]\nprior_sd = [1, 0]\nprior_mean = [0, 0]\n",
         "dose,n,dlt\n", "[model] prior_sd: must be >= 1e-06"),
        ("[doses]\nlevels = [1, 2]\n", "dose,n,dlt\n3,1,0\n", "row 2, column 'dose'"),
        ("[doses]\nlevels = [1, 2]\n", "", "the file is empty"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, config_text, data_text,
                                                           expected):
    config, data = tmp_path / "c.toml", tmp_path / "d.csv"
    config.write_text(config_text)
    data.write_text(data_text)
    out = tmp_path / "out.json"
    result = run("recommend", str(config), str(data), "--json", str(out),
                 "--record-dir", str(tmp_path / "rec"))
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "rec").exists()


def test_unwritable_output_is_a_clear_error(tmp_path):
    result = run("recommend", XJ, XJ_DATA, "--json", str(tmp_path / "no" / "such" / "o.json"))
    assert result.exit_code == 2 and "cannot write the JSON output" in result.output


def test_real_process_exit_code_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("patient_id,cohort,dose,dlt\n1,1,1e8,7\n")
    exe = shutil.which("bayesdose") or str(__import__("pathlib").Path(sys.executable).parent /
                                           "bayesdose")
    proc = subprocess.run([exe, "recommend", XJ, str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {bad}, row 2, column 'dlt': expected 0 or 1, got 7")


def test_exact_engine_imports_neither_pymc_nor_dask():
    """Keeps `recommend --engine exact` near a second: PyMC and dask (which xarray would pull
    in to test for dask arrays) cost seconds to import."""
    code = ("import sys; from click.testing import CliRunner; from bayesdose.cli import main; "
            f"r = CliRunner().invoke(main, ['recommend', {XJ!r}, {XJ_DATA!r}]); "
            "assert r.exit_code == 0; print(sorted({'pymc', 'dask', 'scipy'} & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_outputs_are_readable_and_records_read_only(tmp_path):
    out, records = tmp_path / "rec.json", tmp_path / "records"
    assert run("recommend", XJ, XJ_DATA, "--json", str(out), "--record-dir",
               str(records)).exit_code == 0
    assert out.stat().st_mode & 0o444 == 0o444
    (record,) = records.glob("*.json")
    assert record.stat().st_mode & 0o222 == 0
