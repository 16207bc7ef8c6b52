"""Ctrl-C that is never lost: the command line stops with one line and exit code 130.

Python raises KeyboardInterrupt wherever the main thread happens to be, and one raised inside a
finalizer (say, while a results file is closed) is printed as "Exception ignored" and lost, so
a run could end with exit 0 after Ctrl-C. While ``caught()`` is active, SIGINT also sets a flag
(and such a lost KeyboardInterrupt is not printed), and ``check()`` raises again at the points
where a run commits its outputs: an interrupt is never swallowed, and nothing is committed
after one.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
_received = threading.Event()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what it leaves behind (printed after ``interrupted:``)."""


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _received.set()
    raise KeyboardInterrupt


def _remember(signum: int, frame: FrameType | None) -> None:
    _received.set()


def defer() -> None:
    """While the command line loads (before ``caught``), only remember SIGINT: Python would
    print a traceback from the middle of an import. For the program itself, not a library."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _remember)


@contextmanager
def caught() -> Iterator[None]:
    """Remember SIGINT while the block runs, and raise KeyboardInterrupt at once for it and
    for one that came while loading (in the main thread; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous, unraisable = signal.signal(signal.SIGINT, _on_sigint), sys.unraisablehook

    def quiet(info: Any) -> None:  # the "Exception ignored" of a remembered Ctrl-C
        if not isinstance(info.exc_value, KeyboardInterrupt):
            unraisable(info)

    sys.unraisablehook = quiet
    try:
        check()
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = unraisable
        _received.clear()


def check() -> None:
    """Raise KeyboardInterrupt if SIGINT came, even if the first one was swallowed."""
    if _received.is_set():
        raise KeyboardInterrupt


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Hold SIGINT back while worker processes are started: they inherit the blocked signal
    and never see Ctrl-C (no traceback from a worker starting up; the parent decides), and a
    Ctrl-C meanwhile reaches this process when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
