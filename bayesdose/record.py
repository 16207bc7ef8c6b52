"""Files that are never half-written, and immutable decision records.

Every output goes to a temporary file in the target folder and is renamed into place, so a
crash or a full disk leaves either the old file or the new one, never a fragment. A decision
record is created exclusively (a hard link of the finished temporary file): an existing record
is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bayesdose.input_files import read_input

RECORD_PACKAGES = ("bayesdose", "numpy", "xarray", "pymc", "arviz")


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no whitespace: the bytes a record's hash is taken over."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _temporary_copy(folder: Path, content: bytes, mode: int = 0o666) -> Path:
    """Write ``content`` to a new temporary file in ``folder``, flushed to disk, with the
    permissions an ordinary new file would get (``mode`` less the umask)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        os.fchmod(fd, mode & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def atomic_write(path: str | Path, content: bytes | str) -> None:
    """Replace ``path`` with ``content`` in one step (temporary file, then rename)."""
    path = Path(path)
    data = content.encode() if isinstance(content, str) else content
    temporary = _temporary_copy(path.parent if str(path.parent) else Path("."), data)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def package_versions(names: tuple[str, ...] = RECORD_PACKAGES) -> dict[str, str]:
    """The installed version of each package ("not installed" if absent): by default those a
    decision record stamps; reports and benchmark pages name their own."""
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_record(folder: str | Path, document: dict[str, Any], now: datetime | None = None) -> Path:
    """Write a new decision record into ``folder``; return its path.

    The record is ``document`` plus ``created_utc`` and ``record_sha256``, the SHA-256 of the
    record's canonical JSON without that field. The file is named
    ``<UTC time>-<first 12 hex of the hash>.json`` and created exclusively.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    record = dict(document, created_utc=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    digest = sha256_hex(canonical_json(record))
    record["record_sha256"] = digest
    name = f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{digest[:12]}.json"
    content = json.dumps(record, indent=2, sort_keys=True).encode()
    temporary = _temporary_copy(folder, content, mode=0o444)  # a record is read-only
    try:
        os.link(temporary, folder / name)  # fails if the record exists: never overwritten
    finally:
        temporary.unlink()
    return folder / name


def verify_record(path: str | Path) -> bool:
    """True when a record's content still matches its ``record_sha256``."""
    record = json.loads(read_input(path))
    claimed = record.pop("record_sha256", None)
    return claimed == sha256_hex(canonical_json(record))
