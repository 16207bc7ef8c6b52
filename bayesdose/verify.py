"""``bayesdose verify-records DIR [--key KEYFILE]``: check a folder of decision records.

Every record (``*.json`` written by ``recommend --record-dir``, see ``record.write_record``) is
checked on its own: a regular file, not a symbolic link; JSON without a duplicated key (a reader
and a parser would see different values); its content matching its ``record_sha256``; its file
name matching its content (so record B copied over record A, or a renamed record, is seen);
with ``--key``, its HMAC-SHA256 signature (so an edit with the hash recomputed is seen). Then
the chain: the ledger (``ledger.jsonl``) against the records, so a record missing, added,
renamed, replaced or out of order is named. A folder of records written before chains (no
ledger, no ``sequence``) is reported as legacy records, each checked on its own.

One line per record (``ok`` or the problem), one line per chain problem, then a summary. Exit
code 1 on any problem (or when there is nothing to verify), 0 when all pass, 2 when DIR does not
exist or the key cannot be read.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from bayesdose.errors import InputError
from bayesdose.input_files import read_input
from bayesdose.record import (
    LEDGER,
    DuplicateKey,
    content_sha256,
    read_key,
    read_ledger,
    record_name,
    signature_matches,
    strict_json,
)

EXIT_FAILED = 1
EXIT_INPUT = 2


@dataclass
class RecordFile:
    """One record file and what is wrong with it (status, reason); no problems means ok."""

    path: Path
    record: dict[str, Any] | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def sha256(self) -> str | None:
        return None if self.record is None else self.record.get("record_sha256")


def read_record_file(path: Path, key: bytes | None) -> RecordFile:
    """Read and check one record file on its own."""
    found = RecordFile(path)
    if path.is_symlink():
        found.problems.append(("SYMLINK", "a symbolic link, not a record: records are regular "
                               "files"))
        return found
    try:
        record = strict_json(read_input(path))
    except InputError as err:  # not a regular file, too large, or the OS's reason
        found.problems.append(("unreadable", err.problem))
        return found
    except DuplicateKey as err:
        found.problems.append(("DUPLICATE", f"{err}: a reader and a parser see different "
                               "values"))
        return found
    except (UnicodeDecodeError, json.JSONDecodeError):
        found.problems.append(("unreadable", "not valid JSON"))
        return found
    if not isinstance(record, dict) or not isinstance(record.get("record_sha256"), str) \
            or "created_utc" not in record:
        found.problems.append(("unreadable", "not a decision record"))
        return found
    found.record = record
    found.problems += _content_problems(path, record, key)
    return found


def _content_problems(path: Path, record: dict[str, Any],
                      key: bytes | None) -> list[tuple[str, str]]:
    problems = []
    if record["record_sha256"] != content_sha256(record):
        problems.append(("MODIFIED", "the content no longer matches its record_sha256"))
    if path.name != record_name(record):
        problems.append(("MISNAMED", f"its content is {record_name(record)}: renamed, or "
                         "another record copied over it"))
    if key is not None and "signature" not in record:
        problems.append(("UNSIGNED", "no signature: --key asks for one"))
    elif key is not None and not signature_matches(record, key):
        problems.append(("SIGNATURE", "the signature does not match this key: changed after "
                         "signing, or signed with another key"))
    return problems


def chain_problems(files: list[RecordFile],
                   entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(status, name, reason) for each way the records differ from the ledger's chain."""
    problems = []
    by_name = {f.path.name: f for f in files}
    by_hash = _by_hash(files)
    listed = {entry.get("record_sha256") for entry in entries}
    named = {str(entry.get("file")) for entry in entries}
    previous = None
    for number, entry in enumerate(entries, 1):
        name = str(entry.get("file"))
        if entry.get("sequence") != number:
            problems.append(("ORDER", LEDGER, f"line {number} has sequence "
                             f"{entry.get('sequence')}: lines removed or reordered"))
        if entry.get("previous_record_sha256") != previous:
            problems.append(("CHAIN", LEDGER, f"line {number} ({name}) does not follow the "
                             "record before it"))
        previous = entry.get("record_sha256")
        problems += _entry_problems(number, name, entry, by_name.get(name), by_hash)
    for f in files:
        if f.path.name not in named and f.sha256 not in listed:
            problems.append(("EXTRA", f.path.name, "not in the ledger: added, moved in from "
                             "elsewhere, or written outside the chain"))
    return problems


def _by_hash(files: list[RecordFile]) -> dict[Any, RecordFile]:
    """Each record hash's file: the one whose name matches its content, if there are copies."""
    by_hash: dict[Any, RecordFile] = {}
    for f in files:
        if f.sha256 is not None and (f.sha256 not in by_hash or "MISNAMED" not in
                                     {status for status, _ in f.problems}):
            by_hash[f.sha256] = f
    return by_hash


def _entry_problems(number: int, name: str, entry: dict[str, Any], there: RecordFile | None,
                    by_hash: dict[Any, RecordFile]) -> list[tuple[str, str, str]]:
    """How the record the ledger lists at ``number`` differs from the file of its name."""
    expected = entry.get("record_sha256")
    if there is None:
        moved = by_hash.get(expected)
        if moved is not None:
            return [("RENAMED", name, f"record {number} is now {moved.path.name}")]
        return [("MISSING", name, f"record {number} is gone: deleted, or moved out of the "
                 "folder")]
    if there.record is None:
        return []  # unreadable: said on its own line
    if there.sha256 != expected:
        other = by_hash.get(there.sha256)
        origin = f"that of {other.path.name}" if other is not None and other is not there \
            else "not the record the ledger lists"
        return [("REPLACED", name, f"record {number}'s file holds another record: {origin}")]
    if not entry.get("legacy") and (there.record.get("sequence"), there.record.get(
            "previous_record_sha256")) != (number, entry.get("previous_record_sha256")):
        return [("ORDER", name, f"its sequence or previous record differs from ledger line "
                 f"{number}")]
    return []


def check_folder(folder: Path, key: bytes | None = None,
                 ) -> tuple[list[RecordFile], list[tuple[str, str, str]], str]:
    """Every record file's own check, the chain's problems and a line on the chain."""
    files = [read_record_file(path, key) for path in sorted(folder.glob("*.json"))]
    try:
        entries = read_ledger(folder)
    except (OSError, ValueError) as err:
        return files, [("LEDGER", LEDGER, f"unreadable: {err}")], "chain: ledger unreadable"
    chained = [f for f in files if f.record is not None and "sequence" in f.record]
    if entries is None and chained:
        return files, [("LEDGER", LEDGER, f"missing, yet {len(chained)} records name their "
                        "place in a chain: it was deleted")], "chain: ledger missing"
    if entries is None:
        return files, [], "legacy records, no chain" if files else "no records"
    problems = chain_problems(files, entries)
    last = entries[-1].get("record_sha256", "") if entries else ""
    summary = (f"chain: {len(entries)} records in the ledger, last {str(last)[:12]}"
               if entries else "chain: empty ledger")
    return files, problems, summary


def _line(status: str, name: str, reason: str = "") -> str:
    return f"{status:<10} {name}" + (f" ({reason})" if reason else "")


@click.command("verify-records")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also check every record's HMAC-SHA256 signature with the key in this file "
              "(the one given to recommend --record-key).")
def verify_records(folder: Path, key_path: Path | None) -> None:
    """Check the decision records in FOLDER: each against its hash, name and signature, and
    the chain of records against the ledger."""
    from bayesdose.errors import InputError

    if not folder.is_dir():
        click.echo(f"error: {folder}: not a folder", err=True)
        sys.exit(EXIT_INPUT)
    try:
        key = None if key_path is None else read_key(key_path)
    except InputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_INPUT)
    files, chain, summary = check_folder(folder, key)
    for f in files:
        for status, reason in f.problems or [("ok", "")]:
            click.echo(_line(status, f.path.name, reason))
    for status, name, reason in chain:
        click.echo(_line(status, name, reason))
    problems = sum(len(f.problems) for f in files) + len(chain)
    click.echo(summary)
    click.echo(f"{len(files)} records, {problems} problem{'' if problems == 1 else 's'}")
    if not files and not chain:
        click.echo(f"nothing to verify: {folder} has no records and no ledger", err=True)
    sys.exit(EXIT_FAILED if problems or not files and not chain else 0)
