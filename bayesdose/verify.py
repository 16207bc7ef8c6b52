"""``bayesdose verify-records DIR``: check that every decision record still matches its hash.

A record (``*.json`` written by ``recommend --record-dir``) carries ``record_sha256``, the
SHA-256 of its canonical JSON without that field (``record.write_record``). This command
recomputes it for every record in DIR and prints one line per record: ``ok``, ``MODIFIED``
(the content no longer matches its hash) or ``unreadable`` (not a JSON record). Exit code 1
when any record fails, 0 when all pass, 2 when DIR does not exist.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bayesdose.errors import InputError
from bayesdose.record import verify_record

EXIT_FAILED = 1
EXIT_INPUT = 2


def check_record(path: Path) -> str:
    """``ok``, ``MODIFIED`` or ``unreadable: <why>`` for one record file."""
    try:
        return "ok" if verify_record(path) else "MODIFIED"
    except InputError as err:  # not a regular file, too large, or the OS's reason
        return f"unreadable: {err.problem}"
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "unreadable: not valid JSON"
    except (AttributeError, TypeError, ValueError):
        return "unreadable: not a decision record"


def check_folder(folder: Path) -> list[tuple[Path, str]]:
    """The status of every ``*.json`` record in ``folder``, in name order."""
    return [(path, check_record(path)) for path in sorted(folder.glob("*.json"))]


@click.command("verify-records")
@click.argument("folder", type=click.Path(path_type=Path))
def verify_records(folder: Path) -> None:
    """Check that every decision record in FOLDER still matches its content hash."""
    if not folder.is_dir():
        click.echo(f"error: {folder}: not a folder", err=True)
        sys.exit(EXIT_INPUT)
    results = check_folder(folder)
    for path, status in results:
        click.echo(f"{status.split(':')[0]:<10} {path.name}" + (
            f" ({status.split(': ', 1)[1]})" if ": " in status else ""))
    failed = sum(status != "ok" for _, status in results)
    click.echo(f"{len(results)} records, {failed} failed")
    sys.exit(EXIT_FAILED if failed else 0)
