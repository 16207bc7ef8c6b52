"""Freed memory kept for reuse: the allocator setting of bayesdose's own processes.

Every page a process writes for the first time costs a page fault, and on the machines this
project is measured on (virtual machines whose host reclaims idle memory) a fault costs far
more than writing the page: a simulation that allocates and frees its arrays chunk after chunk
spends as long faulting as computing. glibc's malloc, by default, serves large arrays from
fresh mappings and hands freed memory back to the system; with a top pad it keeps 64 MB of
padding on its heap and fixes its mapping threshold. Measured on these machines (NumPy arrays
allocated, written and freed 50 times in one process): 48 MB arrays 525 page faults against
26,800, 180-290 ms against 600 ms; 20 MB arrays 518 faults against 1,040. Through `bayesdose
simulate` (200,000 trials beyond 2,000, 5 doses, alternated runs): 3+3 and the CRM about 1.1-1.4
times as fast (docs/simulation-benchmarks.md).

Only processes bayesdose starts set it (the command line and its simulation workers): a program
that imports bayesdose as a library keeps its own allocator settings.
"""

from __future__ import annotations

import ctypes
import sys

M_TOP_PAD = -2  # glibc's mallopt parameter (malloc.h)
TOP_PAD_BYTES = 64 * 2**20


def keep_freed_memory() -> bool:
    """Set glibc's malloc top pad (``mallopt(M_TOP_PAD, 64 MB)``) in this process; whether it
    was set (nothing where the C library is not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # musl or another C library: its own allocator, left alone
        return False
    return libc.mallopt(M_TOP_PAD, TOP_PAD_BYTES) == 1
