"""Subnormal floats read and written as zero in a block of code, on the calling thread.

Products of likelihood rows in single precision (``inference.likelihood_tables``) reach the
subnormal range (below 1.2e-38) in the tails of a posterior: 7% of the values in the exact
walk of the standard design. x86 processors compute with subnormal numbers in microcode, about
a hundred times slower: the walk's screen took 18-36 microseconds a data set, 6-12 with
subnormals flushed. What flushing drops is below 1.2e-38 of a density scaled to maximum 1.

``flushed()`` sets the SSE control register's flush-to-zero and denormals-are-zero bits
through C's ``fegetenv`` / ``fesetenv`` (glibc's x86-64 ``fenv_t`` keeps that register, MXCSR,
at byte 28) and restores the thread's environment afterwards. Elsewhere (another processor or
C library) it changes nothing: the numbers are then computed the slow way.
"""

from __future__ import annotations

import ctypes
import platform
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

ENV_SIZE = 32  # sizeof(fenv_t), glibc x86-64
MXCSR_OFFSET = 28
FLUSH_TO_ZERO, DENORMALS_ARE_ZERO = 0x8000, 0x0040


@lru_cache(maxsize=1)
def _libm() -> ctypes.CDLL | None:
    """glibc's libm on x86-64 Linux, else None (as ``memory`` finds glibc's libc: by its
    soname, which no other C library uses)."""
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return None
    try:
        return ctypes.CDLL("libm.so.6")
    except OSError:  # musl or another C library
        return None


@contextmanager
def flushed() -> Iterator[None]:
    """Subnormal inputs and results as zero on this thread inside the block. A thread started
    inside the block inherits the setting for good (C's rule for new threads): start none
    there."""
    libm = _libm()
    if libm is None:
        yield
        return
    saved = ctypes.create_string_buffer(ENV_SIZE)
    libm.fegetenv(saved)
    flushing = ctypes.create_string_buffer(saved.raw, ENV_SIZE)
    mxcsr = struct.unpack_from("<I", saved, MXCSR_OFFSET)[0]
    struct.pack_into("<I", flushing, MXCSR_OFFSET, mxcsr | FLUSH_TO_ZERO | DENORMALS_ARE_ZERO)
    libm.fesetenv(flushing)
    try:
        yield
    finally:
        libm.fesetenv(saved)
