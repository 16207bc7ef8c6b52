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
    assert all(record.verify_record(p) for p in records.iterdir())


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


# -- decision records ----------------------------------------------------------------------------


def test_a_record_is_never_overwritten(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    path = record.write_record(tmp_path, {"next_dose": 1.0}, now)
    original = path.read_bytes()
    with pytest.raises(FileExistsError):
        record.write_record(tmp_path, {"next_dose": 1.0}, now)
    assert path.read_bytes() == original and list(tmp_path.iterdir()) == [path]


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
