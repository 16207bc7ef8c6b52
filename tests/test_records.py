"""Decision records that notice what is missing (issue 19, item 2): every tampering the issue
lists is named by ``bayesdose verify-records``; records hold the bytes the decision was made
from; concurrent writers never fork the chain; folders of records from before chains verify."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CONFIGS

from bayesdose import record
from bayesdose.cli import main

CONFIG = CONFIGS / "nbg-2008.toml"
DATA = CONFIGS / "examples" / "nbg-2008.csv"
KEY = b"0123456789abcdef0123456789abcdef"


def cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def verify(folder: Path, *extra: object) -> tuple[int, list[str]]:
    result = cli("verify-records", folder, *extra)
    return result.exit_code, result.output.splitlines()


def chain(folder: Path, count: int = 3, key: bytes | None = None) -> list[Path]:
    """``count`` small records written the way recommend writes them."""
    return [record.write_record(folder, {"next_dose": float(i)}, key=key)
            for i in range(count)]


def writable(path: Path) -> None:
    os.chmod(path, 0o644)


def has(lines: list[str], status: str, name: str) -> bool:
    return any(line.startswith(status) and name in line for line in lines)


def test_an_intact_chain_passes(tmp_path: Path) -> None:
    paths = chain(tmp_path)
    code, lines = verify(tmp_path)
    assert code == 0 and sum(line.startswith("ok") for line in lines) == 3, lines
    assert "chain: 3 records in the ledger" in "\n".join(lines)
    documents = [json.loads(p.read_text()) for p in paths]
    assert [d["sequence"] for d in documents] == [1, 2, 3]
    assert documents[0]["previous_record_sha256"] is None
    assert documents[2]["previous_record_sha256"] == documents[1]["record_sha256"]


def test_a_deleted_record_is_missing(tmp_path: Path) -> None:
    paths = chain(tmp_path)
    paths[1].unlink()
    code, lines = verify(tmp_path)
    assert code == 1 and has(lines, "MISSING", paths[1].name), lines


def test_all_records_deleted_the_ledger_remembers_them(tmp_path: Path) -> None:
    paths = chain(tmp_path)
    for path in paths:
        path.unlink()
    code, lines = verify(tmp_path)
    assert code == 1 and all(has(lines, "MISSING", p.name) for p in paths), lines
    (tmp_path / record.LEDGER).unlink()  # and the ledger too: nothing is left to vouch
    code, lines = verify(tmp_path)
    assert code == 1 and "0 records" in "\n".join(lines)


def test_record_b_copied_over_record_a(tmp_path: Path) -> None:
    a, b, _ = chain(tmp_path)
    writable(a)
    shutil.copyfile(b, a)
    code, lines = verify(tmp_path)
    assert code == 1, lines
    assert has(lines, "MISNAMED", a.name) and has(lines, "REPLACED", a.name), lines
    assert any(b.name in line for line in lines if line.startswith("REPLACED"))


def edit_and_rehash(path: Path, key: bytes | None = None) -> Path:
    """Change the decision, recompute record_sha256 (and with the key, the signature), and
    give the file the name its new content asks for: all a forger without the key can do."""
    document = json.loads(path.read_text())
    document["next_dose"] = 999.0
    document["record_sha256"] = record.content_sha256(document)
    if key is not None:
        document["signature"] = record.signature(document, key)
    writable(path)
    path.unlink()
    new = path.with_name(record.record_name(document))
    new.write_text(json.dumps(document, indent=2, sort_keys=True))
    return new


def test_an_edit_with_the_hash_recomputed(tmp_path: Path) -> None:
    paths = chain(tmp_path, key=KEY)
    edit_and_rehash(paths[0])  # without touching the ledger: the chain shows it
    code, lines = verify(tmp_path)
    assert code == 1 and has(lines, "MISSING", paths[0].name), lines


def test_an_edit_of_record_and_ledger_needs_the_key_to_be_seen(tmp_path: Path) -> None:
    paths = chain(tmp_path, key=KEY)
    new = edit_and_rehash(paths[-1])
    ledger = tmp_path / record.LEDGER
    entries = record.read_ledger(tmp_path)
    document = json.loads(new.read_text())
    entries[-1].update(file=new.name, record_sha256=document["record_sha256"])
    ledger.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    assert verify(tmp_path)[0] == 0  # a hash without a key proves nothing against a forger
    (tmp_path / "key").write_bytes(KEY)
    code, lines = verify(tmp_path, "--key", tmp_path / "key")
    assert code == 1 and has(lines, "SIGNATURE", new.name), lines
    (tmp_path / "other").write_bytes(KEY[::-1])
    code, lines = verify(tmp_path, "--key", tmp_path / "other")  # the wrong key fails all
    assert code == 1 and sum(line.startswith("SIGNATURE") for line in lines) == 3


def test_unsigned_records_fail_with_a_key(tmp_path: Path) -> None:
    chain(tmp_path, 1)
    (tmp_path / "key").write_bytes(KEY)
    code, lines = verify(tmp_path, "--key", tmp_path / "key")
    assert code == 1 and any(line.startswith("UNSIGNED") for line in lines), lines


def test_a_renamed_record(tmp_path: Path) -> None:
    paths = chain(tmp_path)
    renamed = paths[1].with_name("20200101T000000.000000Z-000000000000.json")
    paths[1].rename(renamed)
    code, lines = verify(tmp_path)
    assert code == 1 and has(lines, "MISNAMED", renamed.name), lines
    assert has(lines, "RENAMED", paths[1].name) and renamed.name in "\n".join(lines)


def test_a_record_moved_to_another_folder(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    moved = chain(first)[1]
    chain(second, 1)
    shutil.move(moved, second / moved.name)
    code, lines = verify(first)
    assert code == 1 and has(lines, "MISSING", moved.name), lines
    code, lines = verify(second)
    assert code == 1 and has(lines, "EXTRA", moved.name), lines


def test_a_record_replaced_by_a_symlink(tmp_path: Path) -> None:
    paths = chain(tmp_path / "records")
    elsewhere = tmp_path / "elsewhere.json"
    shutil.copyfile(paths[0], elsewhere)
    writable(paths[0])
    paths[0].unlink()
    paths[0].symlink_to(elsewhere)
    code, lines = verify(tmp_path / "records")
    assert code == 1 and has(lines, "SYMLINK", paths[0].name), lines


def test_a_duplicated_key(tmp_path: Path) -> None:
    path = chain(tmp_path, 1)[0]
    text = path.read_text()
    writable(path)
    # a reader sees the first next_dose, json.loads the last: the hash checks the last
    path.write_text(text.replace('{\n', '{\n  "next_dose": 999.0,\n', 1))
    code, lines = verify(tmp_path)
    assert code == 1 and has(lines, "DUPLICATE", path.name), lines
    assert "next_dose" in "\n".join(lines)


def test_reordered_ledger_lines(tmp_path: Path) -> None:
    chain(tmp_path)
    ledger = tmp_path / record.LEDGER
    lines = ledger.read_text().splitlines(keepends=True)
    ledger.write_text(lines[1] + lines[0] + lines[2])
    code, out = verify(tmp_path)
    assert code == 1 and any(line.startswith("ORDER") for line in out), out


def test_a_record_outside_the_chain(tmp_path: Path) -> None:
    chain(tmp_path, 2)
    ledger = (tmp_path / record.LEDGER).read_bytes()
    extra = record.write_record(tmp_path, {"next_dose": 7.0})
    (tmp_path / record.LEDGER).write_bytes(ledger)  # the ledger as before the record
    code, lines = verify(tmp_path)
    assert code == 1 and has(lines, "EXTRA", extra.name), lines


def test_a_deleted_ledger(tmp_path: Path) -> None:
    chain(tmp_path)
    (tmp_path / record.LEDGER).unlink()
    code, lines = verify(tmp_path)
    assert code == 1 and any(line.startswith("LEDGER") for line in lines), lines


def legacy_record(folder: Path, next_dose: float, stamp: str) -> Path:
    """A record as written before chains: no sequence, no previous hash, no ledger."""
    document = {"next_dose": next_dose, "created_utc": f"2025-01-0{stamp}T00:00:00.000000Z"}
    document["record_sha256"] = record.content_sha256(document)
    path = folder / record.record_name(document)
    path.write_text(json.dumps(document, indent=2, sort_keys=True))
    return path


def test_legacy_records_verify_and_join_the_chain(tmp_path: Path) -> None:
    old = [legacy_record(tmp_path, 1.0, "1"), legacy_record(tmp_path, 2.0, "2")]
    code, lines = verify(tmp_path)
    assert code == 0 and "legacy records, no chain" in lines, lines
    new = record.write_record(tmp_path, {"next_dose": 3.0})  # the chain adopts them
    assert json.loads(new.read_text())["sequence"] == 3
    assert verify(tmp_path)[0] == 0
    old[0].unlink()
    code, lines = verify(tmp_path)
    assert code == 1 and has(lines, "MISSING", old[0].name), lines


def test_concurrent_writers_do_not_fork_the_chain(tmp_path: Path) -> None:
    """Two writers at once (threads: ``flock`` locks per open file, so they contend as two
    processes would)."""
    start = threading.Barrier(2)

    def writer(tag: int) -> None:
        start.wait()
        for i in range(15):
            record.write_record(tmp_path, {"writer": tag, "i": i})

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = record.read_ledger(tmp_path)
    assert [e["sequence"] for e in entries] == list(range(1, 31))
    previous = [e["previous_record_sha256"] for e in entries]
    assert len(set(previous)) == 30  # no two records follow the same one
    assert verify(tmp_path)[0] == 0


def test_the_record_stores_the_bytes_the_decision_read(tmp_path: Path) -> None:
    """DATA given as a pipe (``<(cat data.csv)``, i.e. /dev/fd/N): read once, decided on and
    recorded."""
    read_end, write_end = os.pipe()
    content = DATA.read_bytes()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(content)

    feeder = threading.Thread(target=feed)
    feeder.start()
    result = cli("recommend", CONFIG, f"/dev/fd/{read_end}", "--record-dir",
                 tmp_path / "records", "--json", tmp_path / "rec.json")
    feeder.join()
    os.close(read_end)
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "records").glob("*.json")
    stored = json.loads(path.read_text())
    assert stored["data_content"].encode() == content
    assert stored["inputs"]["data_sha256"] == record.sha256_hex(content)
    assert sum(d["n"] for d in stored["doses"]) == content.count(b"\n") - 1
    direct = cli("recommend", CONFIG, DATA, "--json", tmp_path / "direct.json")
    assert direct.exit_code == 0
    assert json.loads((tmp_path / "direct.json").read_text())["doses"] == stored["doses"]


def test_a_byte_order_mark_is_kept_in_the_record(tmp_path: Path) -> None:
    data = tmp_path / "bom.csv"
    data.write_bytes(b"\xef\xbb\xbf" + DATA.read_bytes())
    assert cli("recommend", CONFIG, data, "--record-dir", tmp_path / "r").exit_code == 0
    (path,) = (tmp_path / "r").glob("*.json")
    stored = json.loads(path.read_text())
    assert record.sha256_hex(stored["data_content"].encode()) == \
        stored["inputs"]["data_sha256"]


def test_recommend_signs_with_a_key_file(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(KEY + b"\n")
    result = cli("recommend", CONFIG, DATA, "--record-dir", tmp_path / "r", "--record-key", key)
    assert result.exit_code == 0, result.output
    code, lines = verify(tmp_path / "r", "--key", key)
    assert code == 0, lines
    short = tmp_path / "short"
    short.write_bytes(b"secret")
    result = cli("recommend", CONFIG, DATA, "--record-dir", tmp_path / "r", "--record-key", short)
    assert result.exit_code == 2 and "at least 16 bytes" in result.output
    assert len(list((tmp_path / "r").glob("*.json"))) == 1


@pytest.mark.parametrize("status", ["MISSING", "EXTRA"])
def test_one_line_per_problem(tmp_path: Path, status: str) -> None:
    paths = chain(tmp_path)
    if status == "MISSING":
        paths[0].unlink()
    else:
        legacy_record(tmp_path, 5.0, "3")
    code, lines = verify(tmp_path)
    assert code == 1 and sum(line.startswith(status) for line in lines) == 1, lines


def test_recommend_refuses_a_folder_whose_chain_cannot_continue(tmp_path: Path) -> None:
    """A chained record moved into a folder without a ledger: refused before any output."""
    moved = chain(tmp_path / "one", 1)[0]
    (tmp_path / "two").mkdir()
    shutil.move(moved, tmp_path / "two" / moved.name)
    out = tmp_path / "rec.json"
    result = cli("recommend", CONFIG, DATA, "--json", out, "--record-dir", tmp_path / "two")
    assert result.exit_code == 2 and "cannot continue its chain" in result.output
    assert not out.exists() and len(list((tmp_path / "two").iterdir())) == 1
