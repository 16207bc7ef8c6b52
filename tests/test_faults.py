"""Faults survived (issue 7): a lost Dask worker, a full disk, a read-only output folder, and
decision records that are never overwritten, half-written or silently modified
(``bayesdose verify-records``). SIGKILL + resume is in tests/test_simulation_executors.py."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bayesdose import record
from bayesdose.cli import main
from bayesdose.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "nbg-2008.toml"
DATA = ROOT / "configs" / "examples" / "nbg-2008.csv"
STANDARD = ROOT / "configs" / "standard-5dose.toml"
SCENARIOS = ROOT / "configs" / "scenarios" / "standard-5dose.toml"


def cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def recommend(tmp: Path, *extra: object):
    return cli("recommend", CONFIG, DATA, *extra)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "ballast"}


# -- a small filesystem that fills up or turns read-only (root only) --------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Fill the filesystem of ``folder`` up to the last byte."""
    with open(folder / "ballast", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC


def test_disk_full_is_a_clear_error_and_damages_nothing(small_disk: Path) -> None:
    out, records = small_disk / "out.json", small_disk / "records"
    first = recommend(small_disk, "--json", out, "--record-dir", records)
    assert first.exit_code == 0, first.output
    before = snapshot(small_disk), snapshot(records)
    fill(small_disk)
    for extra in (["--json", out], ["--record-dir", records]):
        result = recommend(small_disk, *extra)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "No space left" in result.output
        assert len([line for line in result.stderr.splitlines() if line]) == 1
    assert (snapshot(small_disk), snapshot(records)) == before
    assert all(record.verify_record(p) for p in records.glob("*.json"))


def test_simulation_on_a_full_disk_keeps_the_old_summary(small_disk: Path) -> None:
    common = ["simulate", STANDARD, "--scenarios", SCENARIOS, "--designs", "3+3",
              "--method", "exact", "--out", small_disk / "sim"]
    assert cli(*common).exit_code == 0
    before = snapshot(small_disk / "sim")
    fill(small_disk)
    result = cli(*common[:-2], "--designs", "3+3,3+3-deesc", "--out", small_disk / "sim")
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert snapshot(small_disk / "sim") == before


def test_read_only_folder_is_a_clear_error_and_damages_nothing(small_disk: Path) -> None:
    out, records = small_disk / "out.json", small_disk / "records"
    assert recommend(small_disk, "--json", out, "--record-dir", records).exit_code == 0
    before = snapshot(small_disk), snapshot(records)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    for extra in (["--json", out], ["--record-dir", records]):
        result = recommend(small_disk, *extra)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "Read-only" in result.output
    assert (snapshot(small_disk), snapshot(records)) == before


def test_a_failed_write_leaves_no_fragment(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """ENOSPC in the middle of writing (without a mount): no temporary file, no record."""
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    (tmp_path / "out.json").write_text('{"old": true}\n')
    monkeypatch.setattr(os, "fsync", full)
    for extra in (["--json", tmp_path / "out.json"], ["--record-dir", tmp_path / "records"]):
        result = recommend(tmp_path, *extra)
        assert result.exit_code == 2 and "No space left" in result.output, result.output
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert (tmp_path / "out.json").read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["out.json"]


# -- nothing half-done (issue 19, item 3) --------------------------------------------------------


@pytest.mark.parametrize("bad", [["--html", "no/such/x.html"], ["--plot", "no/such/x.png"],
                                 ["--json", "no/such/x.json"]])
def test_a_bad_output_path_writes_nothing(tmp_path: Path, bad: list[str]) -> None:
    """Every output path is checked before anything is computed: no JSON, no record."""
    out, records = tmp_path / "o.json", tmp_path / "records"
    options = ["--json", out, "--record-dir", records, *bad]
    if bad[0] == "--json":
        options = options[2:]
    result = recommend(tmp_path, *options)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "cannot write" in result.output and len(result.output.splitlines()) == 1
    assert not out.exists() and not records.exists()


def test_an_unwritable_record_folder_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    (tmp_path / "file").write_text("a file, not a folder")
    result = recommend(tmp_path, "--json", out, "--record-dir", tmp_path / "file" / "records")
    assert result.exit_code == 2 and "cannot write the record" in result.output, result.output
    assert not out.exists()
    result = recommend(tmp_path, "--json", out, "--record-key", tmp_path / "file")
    assert result.exit_code == 2 and "give --record-dir" in result.output
    assert not out.exists()


def test_the_record_is_written_last(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A failure while writing the HTML (after the checks) leaves no permanent record."""
    from bayesdose.report import decision

    def broken(*args: object) -> None:
        raise InputError("x.html", None, "cannot write the HTML report: disk failed")

    monkeypatch.setattr(decision, "write_outputs", broken)
    records = tmp_path / "records"
    result = recommend(tmp_path, "--record-dir", records, "--html", tmp_path / "x.html")
    assert result.exit_code == 2 and not list(records.glob("*.json")), result.output


# -- decision records ----------------------------------------------------------------------------


def test_a_record_is_never_overwritten(monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    """Even if a second record got the first one's file name, it would be refused."""
    path = record.write_record(tmp_path, {"next_dose": 1.0})
    original, ledger = path.read_bytes(), (tmp_path / record.LEDGER).read_bytes()
    monkeypatch.setattr(record, "record_name", lambda document: path.name)
    with pytest.raises(FileExistsError):
        record.write_record(tmp_path, {"next_dose": 2.0})
    assert path.read_bytes() == original and (tmp_path / record.LEDGER).read_bytes() == ledger
    assert sorted(tmp_path.iterdir()) == sorted([path, tmp_path / record.LEDGER])


def test_verify_records(tmp_path: Path) -> None:
    folder = tmp_path / "records"
    for _ in range(3):
        assert recommend(tmp_path, "--record-dir", folder).exit_code == 0
    good = cli("verify-records", folder)
    assert good.exit_code == 0 and good.output.count("ok") == 3, good.output
    first, second, third = sorted(folder.glob("*.json"))
    document = json.loads(first.read_text())
    document["next_dose"] = 999.0  # a tampered decision
    os.chmod(first, 0o644)
    first.write_text(json.dumps(document, indent=2, sort_keys=True))
    os.chmod(second, 0o644)
    second.write_bytes(second.read_bytes()[:100])  # half a file
    bad = cli("verify-records", folder)
    assert bad.exit_code == 1, bad.output
    lines = bad.output.splitlines()
    assert any("MODIFIED" in line and first.name in line for line in lines)
    assert any("unreadable" in line and second.name in line for line in lines)
    assert any(line.startswith("ok") and third.name in line for line in lines)
    missing = cli("verify-records", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "Traceback" not in missing.output


# -- a Dask worker lost mid-run ------------------------------------------------------------------


def test_a_lost_dask_worker_changes_nothing(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    args = ["simulate", STANDARD, "--scenarios", SCENARIOS, "--designs", "3+3,boin",
            "--trials", 4000, "--seed", 4, "--method", "simulate", "--chunk-size", 100,
            "--quiet"]
    reference = cli(*args, "--workers", 1, "--out", tmp_path / "local")
    assert reference.exit_code == 0, reference.output
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        chunks = tmp_path / "dask" / "chunks"
        killed: list[int] = []

        def kill_one_worker() -> None:
            deadline = time.monotonic() + 120
            while len(list(chunks.glob("*.npz"))) < 1 and time.monotonic() < deadline:
                time.sleep(0.005)
            pid = next(iter(cluster.workers.values())).process.process.pid
            os.kill(pid, 9)
            killed.append(pid)

        killer = threading.Thread(target=kill_one_worker)
        killer.start()
        result = cli(*args, "--scheduler", cluster.scheduler_address, "--out", tmp_path / "dask")
        killer.join()
    assert killed, "no worker was killed"
    assert result.exit_code == 0, result.output
    local = json.loads((tmp_path / "local" / "summary.json").read_text())
    dask = json.loads((tmp_path / "dask" / "summary.json").read_text())
    assert local == dask
