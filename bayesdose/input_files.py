"""Reading a file the user names (a config, trial or historical data, scenarios, a record),
refusing what is not a regular file of sane size before a byte is read.

Every input of the command line is read by ``read_input``: a named FIFO that is never written
would block forever (an anonymous pipe, as the shell's ``<(cat data.csv)`` gives, is read: a
process writes it), ``/dev/zero`` would be read until memory runs out, and a symlink loop, a path
through a file (``README.md/x.csv``) or a name over the system's limit raise an OSError. Each
of these is an InputError naming the path and the reason, so the command line reports it on
one line with exit code 2.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bayesdose.errors import InputError

MAX_INPUT_BYTES = 50 * 1024 * 1024  # a trial's inputs are kilobytes; 50 MB is generous

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def read_input(path: str | Path, missing: str = "file not found") -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most
    ``MAX_INPUT_BYTES``; anything else is an InputError naming the path: ``missing`` when it
    does not exist, otherwise what the path is or the operating system's reason.

    The path is checked with ``stat`` before it is opened (a FIFO or device is never opened),
    opened without blocking and checked again on the open file (it may have been replaced in
    between), and read with the size limit (it may have grown)."""
    source = str(path)
    info = _os_call(os.stat, path, source, missing)
    pipe = stat.S_ISFIFO(info.st_mode) and is_anonymous_pipe(path)
    if not pipe:
        _check(info, source)
    flags = os.O_RDONLY | (0 if pipe else getattr(os, "O_NONBLOCK", 0)) | getattr(
        os, "O_CLOEXEC", 0)
    fd = _os_call(os.open, path, source, missing, flags)
    with os.fdopen(fd, "rb") as handle:
        if not pipe:
            _check(os.fstat(fd), source)
        raw = handle.read(MAX_INPUT_BYTES + 1)
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(source, None, _too_large())
    return raw


def _os_call[T](call: Callable[..., T], path: str | Path, source: str, missing: str,
                *args: Any) -> T:
    """``call(path, *args)`` with an OSError turned into an InputError naming ``source``."""
    try:
        return call(path, *args)
    except FileNotFoundError:
        raise InputError(source, None, missing) from None
    except OSError as err:
        raise InputError(source, None, f"cannot read the file: {os_reason(err)}") from None
    except ValueError as err:  # e.g. a NUL byte in the path
        raise InputError(source, None, f"not a usable path: {err}") from None


def is_anonymous_pipe(path: str | Path) -> bool:
    """Whether ``path`` is a pipe another process writes, as the shell's ``<(cat data.csv)``
    gives (``/dev/fd/63``): read to its end, unlike a named FIFO, which nothing may ever write
    and is refused."""
    return "pipe:[" in os.path.realpath(path)


def os_reason(err: OSError) -> str:
    """The operating system's words for an OSError and its code: 'Too many levels of symbolic
    links (ELOOP)'."""
    code = errno.errorcode.get(err.errno or 0)
    words = err.strerror or str(err)
    return f"{words} ({code})" if code else words


def _check(info: os.stat_result, source: str) -> None:
    """Only a regular file of at most ``MAX_INPUT_BYTES``."""
    for test, kind in _KINDS:
        if test(info.st_mode):
            raise InputError(source, None, f"{kind}, not a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(source, None, "not a regular file")
    if info.st_size > MAX_INPUT_BYTES:
        raise InputError(source, None, _too_large())


def unprintable(text: str) -> str | None:
    """What makes a user's string unfit to print on a line of its own, or None: a control
    character (a line break forges output lines, ESC drives the terminal) or a line or
    paragraph separator; e.g. "a control character U+000A"."""
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            kind = "a control character" if category == "Cc" else "a line separator"
            return f"{kind} U+{ord(char):04X}"
    return None


def _too_large() -> str:
    return (f"the file is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MB, the limit for an "
            "input file")
