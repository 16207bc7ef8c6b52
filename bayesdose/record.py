"""Files that are never half-written, and immutable, chained decision records.

Every output goes to a temporary file in the target folder and is renamed into place, so a
crash or a full disk leaves either the old file or the new one, never a fragment. A decision
record is created exclusively (a hard link of the finished temporary file): an existing record
is never overwritten.

Records of one folder form a chain: each names the previous record's hash
(``previous_record_sha256``) and its ``sequence`` number, and the folder's ledger
(``ledger.jsonl``, one line per record) lists them in order, so a record deleted, moved,
renamed, replaced or reordered is noticed (``bayesdose verify-records``). With a key, a record
is also signed (HMAC-SHA256), so one edited with its hash recomputed no longer passes. Writers
of one folder take turns (a lock file), so concurrent runs never fork the chain.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bayesdose.input_files import read_input

RECORD_PACKAGES = ("bayesdose", "numpy", "xarray", "pymc", "arviz")
LEDGER = "ledger.jsonl"
TEMPORARY = ".tmp-*.part"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
MIN_KEY_BYTES = 16


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no whitespace: the bytes a record's hash is taken over."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _temporary_copy(folder: Path, content: bytes, mode: int = 0o666,
                    durable: bool = True) -> Path:
    """Write ``content`` to a new temporary file in ``folder``, flushed to disk (unless not
    ``durable``), with the permissions an ordinary new file would get (``mode`` less the
    umask)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        os.fchmod(fd, mode & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def remove_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files a killed writer left in ``folder``; return them."""
    stale = sorted(folder.glob(TEMPORARY))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def atomic_write(path: str | Path, content: bytes | str, durable: bool = True) -> None:
    """Replace ``path`` with ``content`` in one step (temporary file, then rename); flushed to
    disk first unless not ``durable`` (for files whose damage after a crash is detected and
    repaired, as a simulation's chunks are)."""
    path = Path(path)
    data = content.encode() if isinstance(content, str) else content
    temporary = _temporary_copy(path.parent if str(path.parent) else Path("."), data,
                                durable=durable)
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


class DuplicateKey(ValueError):
    """A JSON object with a key twice: a reader and a parser could see different values."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise DuplicateKey(f"duplicate key {key!r}")
    return dict(pairs)


def strict_json(content: bytes | str) -> Any:
    """Parse JSON, refusing a duplicated key (``json.loads`` would keep the last silently)."""
    return json.loads(content, object_pairs_hook=_unique_keys)


# -- keys and signatures ------------------------------------------------------------------------


def read_key(path: str | Path) -> bytes:
    """The signing key in a key file (its bytes, surrounding whitespace removed): the user
    names the file and keeps it away from the records. Too short or unreadable: InputError."""
    from bayesdose.errors import InputError

    try:
        key = Path(path).read_bytes().strip()
    except OSError as err:
        raise InputError(str(path), None, f"cannot read the key: {err.strerror or err}") from None
    if len(key) < MIN_KEY_BYTES:
        raise InputError(str(path), None, f"a key needs at least {MIN_KEY_BYTES} bytes "
                         "(e.g. from `openssl rand -hex 32`)")
    return key


def key_id(key: bytes) -> str:
    """A short name of a key that does not reveal it: which key signed a record."""
    return sha256_hex(b"bayesdose key id\0" + key)[:16]


def signature(record: dict[str, Any], key: bytes) -> dict[str, str]:
    """The HMAC-SHA256 of a record's canonical JSON without its signature."""
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    value = hmac.new(key, canonical_json(unsigned), hashlib.sha256).hexdigest()
    return {"algorithm": SIGNATURE_ALGORITHM, "key_id": key_id(key), "value": value}


def signature_matches(record: dict[str, Any], key: bytes) -> bool:
    claimed = record.get("signature")
    if not isinstance(claimed, dict) or not isinstance(claimed.get("value"), str):
        return False
    return hmac.compare_digest(claimed["value"], signature(record, key)["value"])


# -- records ------------------------------------------------------------------------------------


def content_sha256(record: dict[str, Any]) -> str:
    """The hash a record's ``record_sha256`` claims: of its canonical JSON without that field
    and without the signature."""
    return sha256_hex(canonical_json(
        {k: v for k, v in record.items() if k not in ("record_sha256", "signature")}))


def record_name(record: dict[str, Any]) -> str:
    """The file name a record's content gives: ``<UTC time>-<first 12 hex of its hash>.json``."""
    stamp = str(record["created_utc"]).replace("-", "").replace(":", "")
    return f"{stamp}-{str(record['record_sha256'])[:12]}.json"


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the folder's lock (``flock`` on the folder itself, so no lock file is left): one
    writer of its chain at a time, across processes."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def check_can_write(folder: Path, may_create: bool = False) -> None:
    """Raise OSError unless a file can be created in ``folder`` (tried with a temporary file,
    removed at once), or, with ``may_create``, in the nearest existing folder above it."""
    folder = folder if str(folder) else Path(".")
    while may_create and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.exists():
        raise FileNotFoundError(errno.ENOENT, f"no folder {folder}", str(folder))
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a folder", str(folder))
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    os.close(fd)
    os.unlink(name)


def read_ledger(folder: Path) -> list[dict[str, Any]] | None:
    """The ledger's entries in order (None when the folder has no ledger). A ledger that is
    not a regular file or not valid JSON lines is a ValueError."""
    path = folder / LEDGER
    if path.is_symlink():
        raise ValueError("the ledger is a symbolic link")
    if not path.exists():
        return None
    entries = [strict_json(line) for line in path.read_text().splitlines() if line.strip()]
    if not all(isinstance(entry, dict) for entry in entries):
        raise ValueError("a ledger line is not a JSON object")
    return entries


def _ledger_line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True) + "\n"


def _entry(record: dict[str, Any], name: str, legacy: bool = False) -> dict[str, Any]:
    entry = {key: record.get(key) for key in ("sequence", "record_sha256",
                                               "previous_record_sha256", "created_utc")}
    return dict(entry, file=name, **({"legacy": True} if legacy else {}))


def _adopt_legacy(folder: Path) -> list[dict[str, Any]]:
    """Ledger entries for the records written before chains (in name order, which is time
    order), so that from now on their removal is noticed too. A chained record in a folder
    without a ledger (the ledger deleted, or the record moved in) is a ValueError: the chain
    is not restarted over it."""
    entries: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = strict_json(path.read_bytes())
        except ValueError:  # not JSON, not UTF-8, a duplicated key
            raise ValueError(f"{path.name} is not a readable record: run bayesdose "
                             "verify-records") from None
        if not isinstance(record, dict) or "sequence" in record:
            raise ValueError(f"{path.name} is not a record from before chains, and the folder "
                             "has no ledger: run bayesdose verify-records")
        previous = entries[-1]["record_sha256"] if entries else None
        entries.append(_entry(dict(record, sequence=len(entries) + 1,
                                   previous_record_sha256=previous), path.name, legacy=True))
    return entries


def chain_so_far(folder: Path) -> list[dict[str, Any]]:
    """The ledger's entries (or those for a folder of records from before chains), which a
    new record continues; a ledger that cannot be continued is a ValueError."""
    entries = read_ledger(folder)
    return _adopt_legacy(folder) if entries is None else entries


def write_record(folder: str | Path, document: dict[str, Any], now: datetime | None = None,
                 key: bytes | None = None) -> Path:
    """Add a decision record to ``folder``'s chain; return its path.

    The record is ``document`` plus ``created_utc``, ``sequence``, ``previous_record_sha256``
    (None for the first) and ``record_sha256``, the SHA-256 of the record's canonical JSON
    without that field; with ``key``, a ``signature``. The file is named
    ``<UTC time>-<first 12 hex of the hash>.json``, created exclusively, and then added to the
    ledger; if the ledger cannot be written, the record is removed again.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        entries = chain_so_far(folder)
        now = now or datetime.now(UTC)
        record = dict(document, created_utc=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                      sequence=len(entries) + 1,
                      previous_record_sha256=entries[-1]["record_sha256"] if entries else None)
        record["record_sha256"] = content_sha256(record)
        if key is not None:
            record["signature"] = signature(record, key)
        path = folder / record_name(record)
        content = json.dumps(record, indent=2, sort_keys=True).encode()
        temporary = _temporary_copy(folder, content, mode=0o444)  # a record is read-only
        try:
            os.link(temporary, path)  # fails if the record exists: never overwritten
        finally:
            temporary.unlink()
        try:
            ledger = "".join(_ledger_line(e) for e in [*entries, _entry(record, path.name)])
            atomic_write(folder / LEDGER, ledger)
        except BaseException:
            path.unlink()  # not in the ledger: not a record
            raise
    return path


def verify_record(path: str | Path) -> bool:
    """True when a record's content still matches its ``record_sha256``."""
    record = strict_json(read_input(path))
    return record.get("record_sha256") == content_sha256(record)
