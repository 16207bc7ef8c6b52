"""The benchmarks' one harness: BLAS pinned to one thread (before NumPy is imported), timing,
the environment of subprocesses, the machine, git and package stamp of a generated page, its
table and number formats, and atomic writes.

Import this module first in a benchmark, before anything that imports NumPy.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
NUMPY_WAS_IMPORTED = "numpy" in sys.modules  # if so, the pinning below comes too late
for _name in THREAD_VARIABLES:
    os.environ[_name] = "1"

from bayesdose import record  # noqa: E402  (after the pinning, should bayesdose load NumPy)


def subprocess_env(*, repo_on_path: bool = False, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's subprocess (a cold CLI run, a worker, a suite): this
    one, BLAS pinned to one thread, the repository first on PYTHONPATH if ``repo_on_path``,
    and ``extra``."""
    env = dict(os.environ)
    env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    if repo_on_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


# -- timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """The wall times of repeated runs of one measurement."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)


def time_calls(call: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    """``warmup`` untimed calls, then the wall time of each of ``repeats`` calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return Timing(tuple(times))


def timed(call: Callable[[], object]) -> tuple[float, object]:
    """Wall time and value of one call, after a garbage collection."""
    gc.collect()
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def timed_cpu(call: Callable[[], object]) -> tuple[float, float, object]:
    """Wall time, this process's CPU time, and the value of ``call()``."""
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    value = call()
    return time.perf_counter() - start, time.process_time() - cpu, value


# -- formats ------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one ``l`` or ``r`` per column (default: the first
    column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# -- the stamp of a page ------------------------------------------------------------------


def machine_stamp() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    try:
        nproc = str(len(os.sched_getaffinity(0)))
    except AttributeError:
        nproc = str(os.cpu_count())
    return {"cpu": cpu, "nproc": nproc, "ram": ram}


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty.strip() else "")


def machine_text() -> str:
    """The machine and the repository's state in one line of a page's stamp."""
    stamp = machine_stamp()
    return (f"{stamp['cpu']}, {stamp['nproc']} CPUs available, {stamp['ram']} RAM; "
            f"{platform.system()} {platform.release()}; repository at {git_state()}")


def load_average() -> str:
    """The 1-minute load average, or ``unknown``."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    pools = [f"{p.get('internal_api')} {p.get('version')}: {p.get('num_threads')} thread(s)"
             for p in threadpool_info() if p.get("user_api") == "blas"]
    return "; ".join(pools) or "no BLAS pool found"


def versions_text(names: tuple[str, ...]) -> str:
    """'name version' of each package, for a page's stamp."""
    return ", ".join(f"{name} {v}" for name, v in record.package_versions(names).items())


def write_atomically(path: Path, text: str) -> None:
    """Write a page (or any generated file) in one step: ``bayesdose.record.atomic_write``
    (temporary file, then rename), after creating the folder if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record.atomic_write(path, text)
