"""Backfill designs in a simulation study: ``simulate --designs boin+backfill``, the API, the
scenarios' ``p_response``, the summary's backfill entries, and results that do not depend on the
chunking, the workers, Dask or a resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import bayesdose
from bayesdose.cli import main
from bayesdose.designs.registry import BACKFILL_DESIGNS, label, parse_design_names
from bayesdose.errors import InputError
from bayesdose.optimisation import estimated_obd_rows
from bayesdose.schema import load_design
from bayesdose.simulation.backfilloc import simulate_backfill_design
from bayesdose.simulation.scenarios import load_scenarios, require_responses

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "bf-boin.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "bf-boin.toml"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scenario S2 of BF-BOIN's Table 3 and the same toxicity with a flat response rate."""
    path = tmp_path_factory.mktemp("scenarios") / "two.toml"
    path.write_text('[[scenario]]\nname = "S2"\np_true = [0.12, 0.25, 0.42, 0.49, 0.55]\n'
                    "p_response = [0.2, 0.3, 0.4, 0.5, 0.6]\n"
                    '[[scenario]]\nname = "flat"\np_true = [0.12, 0.25, 0.42, 0.49, 0.55]\n'
                    "p_response = [0.4, 0.4, 0.4, 0.4, 0.4]\n")
    return path


def simulate(*args: object):
    return CliRunner().invoke(main, ["simulate", *map(str, args)])


def same_outputs(a: Path, b: Path) -> None:
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    with (xr.open_dataset(a / "results.nc", engine="h5netcdf") as x,
          xr.open_dataset(b / "results.nc", engine="h5netcdf") as y):
        assert x.load().identical(y.load())


def test_backfill_names_come_from_the_registry() -> None:
    assert "boin+backfill" in BACKFILL_DESIGNS
    assert parse_design_names("boin,boin+backfill") == ["boin", "boin+backfill"]
    assert label("boin+backfill") == "BOIN + backfill"
    with pytest.raises(InputError, match="backfill is available for blrm\\+backfill"):
        parse_design_names("tite-crm+backfill")
    with pytest.raises(InputError, match="unknown design"):
        parse_design_names("boin+backfil")


def test_p_response_is_read_and_checked(tmp_path: Path) -> None:
    scenarios = load_scenarios(SCENARIOS, 5)
    assert len(scenarios) == 12 and scenarios[5].p_response == (0.3, 0.35, 0.36, 0.36, 0.36)
    cases = {"[0.1, 0.2]": "has 2 values but the dose panel has 5 doses",
             "[0.1, 0.2, 1.5, 0.2, 0.1]": r"p_response\[2\].*expected a probability in \[0, 1\]",
             '"high"': "missing or not a list"}
    for value, message in cases.items():
        path = tmp_path / "bad.toml"
        path.write_text(f'[[scenario]]\nname = "A"\np_true = [0.1, 0.2, 0.3, 0.4, 0.5]\n'
                        f"p_response = {value}\n")
        with pytest.raises(InputError, match=message) as err:
            load_scenarios(path, 5)
        assert str(path) in str(err.value) and "scenario 'A' p_response" in str(err.value)
    plain = load_scenarios(ROOT / "configs" / "scenarios" / "standard-5dose.toml", 5)
    require_responses(plain, ["boin", "crm"], "x.toml")  # no backfill design: not needed
    with pytest.raises(InputError, match="x.toml, scenario 'S1' p_response: missing: "
                       "boin\\+backfill need"):
        require_responses(plain, ["boin", "boin+backfill"], "x.toml")


def test_summary_is_the_trials_records(two: Path) -> None:
    """Every backfill entry of the summary equals the same statistic computed directly on the
    simulator's per-trial records (the same seed: the same trials)."""
    result = bayesdose.simulate(CONFIG, two, ["boin", "boin+backfill"], trials=300, seed=4,
                                workers=1, progress=False, chunk_size=120)
    design = load_design(CONFIG)
    entry = result.summary["scenarios"][1]
    assert entry["p_response"] == [0.4] * 5 and entry["true_mtd"] == 2
    assert entry["true_obd"] == 1  # flat responses: the least toxic dose
    oc = entry["designs"]["boin+backfill"]
    rec = simulate_backfill_design(design, "boin+backfill", entry["p_true"],
                                   entry["p_response"], 300, 4)
    obd = estimated_obd_rows(rec.n, rec.dlt, rec.response, rec.selected)
    assert oc["select"] == pytest.approx([np.mean(rec.selected == k) for k in range(5)])
    assert oc["patients_backfill"] == pytest.approx(rec.n_backfill.mean(axis=0).tolist())
    assert oc["patients_escalation"] == pytest.approx(
        (rec.n - rec.n_backfill).mean(axis=0).tolist())
    assert oc["responses"] == pytest.approx(rec.response.mean(axis=0).tolist())
    assert oc["backfill_mean"] == pytest.approx(rec.n_backfill.sum(axis=1).mean())
    assert oc["pending_treated"] == oc["backfill_mean"]
    assert oc["late"] == pytest.approx(rec.late.mean())
    assert oc["duration"]["mean"] == pytest.approx(rec.duration.mean())
    assert oc["p_select_obd"] == pytest.approx(np.mean(obd == 0))
    assert oc["select_obd"] == pytest.approx([np.mean(obd == k) for k in range(5)])
    assert oc["se"]["p_select_obd"] == pytest.approx(np.std(obd == 0, ddof=1) / np.sqrt(300))
    assert oc["backfill_mean"] > 0 and "patients_backfill" not in entry["designs"]["boin"]


def test_same_results_across_chunking_workers_and_resume(two: Path, tmp_path: Path) -> None:
    common = [CONFIG, "--scenarios", two, "--designs", "boin+backfill,boin", "--trials", 240,
              "--seed", 9, "--quiet"]
    one = simulate(*common, "--workers", 1, "--chunk-size", 240, "--out", tmp_path / "one")
    assert one.exit_code == 0, one.output
    two_workers = simulate(*common, "--workers", 2, "--chunk-size", 70, "--out",
                           tmp_path / "two")
    assert two_workers.exit_code == 0, two_workers.output
    same_outputs(tmp_path / "one", tmp_path / "two")
    chunks = sorted((tmp_path / "two" / "chunks").glob("chunk-*.npz"))
    chunks[1].unlink()
    resumed = simulate(*common, "--workers", 1, "--chunk-size", 70, "--resume", "--out",
                       tmp_path / "two")
    assert resumed.exit_code == 0, resumed.output
    same_outputs(tmp_path / "one", tmp_path / "two")
    with xr.open_dataset(tmp_path / "one" / "results.nc", engine="h5netcdf") as ds:
        assert ds.n_backfill.sel(design="boin").isnull().all()  # no backfill without it
        assert (ds.obd_selected >= 0).all()  # every design's OBD (0: none)
        backfill = ds.n_backfill.sel(design="boin+backfill").sum("dose")
        assert (backfill == ds.pending_treated.sel(design="boin+backfill")).all()
    # other response rates: another run, which --resume refuses to continue
    changed = two.read_text().replace("p_response = [0.4, 0.4", "p_response = [0.5, 0.4")
    (tmp_path / "changed.toml").write_text(changed)
    other = simulate(CONFIG, "--scenarios", tmp_path / "changed.toml", *common[3:], "--workers",
                     1, "--chunk-size", 70, "--resume", "--out", tmp_path / "two")
    assert other.exit_code == 2 and "the scenario set" in other.output


def test_dask_gives_the_local_result(two: Path, tmp_path: Path) -> None:
    import distributed

    common = [CONFIG, "--scenarios", two, "--designs", "boin+backfill", "--trials", 100,
              "--seed", 2, "--chunk-size", 40, "--quiet"]
    local = simulate(*common, "--workers", 1, "--out", tmp_path / "local")
    assert local.exit_code == 0, local.output
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = simulate(*common, "--scheduler", cluster.scheduler_address, "--out",
                        tmp_path / "dask")
    assert dask.exit_code == 0, dask.output
    same_outputs(tmp_path / "local", tmp_path / "dask")


def test_the_table_shows_backfill_columns(two: Path, tmp_path: Path) -> None:
    run = simulate(CONFIG, "--scenarios", two, "--designs", "boin,boin+backfill", "--trials",
                   50, "--workers", 1, "--quiet", "--verbose", "--out", tmp_path)
    assert run.exit_code == 0, run.output
    lines = run.output.splitlines()
    head = next(line for line in lines if line.startswith("scenario"))
    assert head.split()[-3:] == ["backfill", "responses", "P(OBD)"]
    assert "flat (true MTD: 2 level, level 2; true OBD: 1 level, level 1)" in lines
    row = next(line for line in lines if line.split()[:1] == ["boin+backfill"])
    plain = next(line for line in lines if line.split()[:1] == ["boin"])
    assert plain.split()[-3] == "-" and row.split()[-3] != "-"  # backfill patients
    assert "-" not in plain.split()[-2:] + row.split()[-2:]  # every design's responses, OBD
    assert any(line.split()[2:3] == ["backfill"] for line in lines)  # per-dose rows
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["designs"] == ["boin", "boin+backfill"]


@pytest.mark.parametrize(("args", "message"), [
    (["--designs", "boin+backfill", "--scenarios", ROOT / "configs" / "scenarios" /
      "standard-5dose.toml"], "scenario 'S1' p_response: missing"),
    (["--designs", "boin+backfill", "--no-time"], "needs time"),
    (["--designs", "boin+backfill", "--method", "exact"], "exact method does not cover"),
    (["--designs", "boin+backfill", "--random", 2],
     "--random (DLT rates only), scenario 'random-1' p_response"),
])
def test_errors_exit_2(args: list[object], message: str, tmp_path: Path) -> None:
    if "--scenarios" not in args and "--random" not in args:
        args = [*args, "--scenarios", SCENARIOS]
    run = simulate(CONFIG, *args, "--trials", 10, "--out", tmp_path / "out")
    assert run.exit_code == 2, run.output
    assert message in run.output
    assert not (tmp_path / "out" / "summary.json").exists()


def test_backfill_needs_the_section(tmp_path: Path) -> None:
    text = CONFIG.read_text().replace("enabled = true", "enabled = false")
    (tmp_path / "off.toml").write_text(text)
    run = simulate(tmp_path / "off.toml", "--scenarios", SCENARIOS, "--designs",
                   "boin+backfill", "--trials", 10, "--out", tmp_path / "out")
    assert run.exit_code == 2 and "[backfill] enabled" in run.output
