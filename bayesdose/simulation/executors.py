"""Where simulation chunks run: in this process, in local worker processes, or on a Dask
cluster. Every executor answers ``imap_unordered(fn, jobs)``: the results of ``fn(*job)`` in the
order they finish. Only a few jobs are in flight at once, so finished results never pile up in
memory however many chunks a run has. Every worker process uses one BLAS thread: chunks are the
unit of parallelism.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from itertools import islice
from multiprocessing import get_context
from typing import Any, Protocol

from bayesdose.errors import InputError
from bayesdose.interrupt import sigint_blocked
from bayesdose.memory import keep_freed_memory

SCHEDULER_TIMEOUT = 5.0  # seconds to reach a Dask scheduler before giving up
IN_FLIGHT_PER_WORKER = 2


class Executor(Protocol):
    def imap_unordered[T](self, fn: Callable[..., T], jobs: Iterable[tuple]) -> Iterator[T]: ...


def pin_worker_threads() -> None:
    """One thread per worker process: for the BLAS / OpenMP libraries loaded now (numpy's)
    and, through the environment, for any loaded later (SciPy's, with the CRM or BOIN); and
    one exact-engine thread; freed memory kept for reuse (``memory``)."""
    keep_freed_memory()
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    from threadpoolctl import threadpool_limits

    from bayesdose.inference.exact import set_engine_threads

    threadpool_limits(1)
    set_engine_threads(1)


class InProcess:
    """Jobs one after the other in this process."""

    def imap_unordered[T](self, fn: Callable[..., T], jobs: Iterable[tuple]) -> Iterator[T]:
        for job in jobs:
            yield fn(*job)


class LocalProcesses:
    """A pool of ``workers`` local processes (spawned, so nothing leaks in by fork), started
    with SIGINT blocked: Ctrl-C stops the parent, which shuts the pool down."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                        initializer=pin_worker_threads)

    def imap_unordered[T](self, fn: Callable[..., T], jobs: Iterable[tuple]) -> Iterator[T]:
        todo = iter(jobs)
        with sigint_blocked():  # the workers start now: Ctrl-C is for this process alone
            pending: set[Future[T]] = {self.pool.submit(fn, *job) for job in
                                       islice(todo, self.workers * IN_FLIGHT_PER_WORKER)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                pending.update(self.pool.submit(fn, *job) for job in islice(todo, 1))

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class DaskCluster:
    """Jobs on the Dask distributed cluster whose scheduler is at ``address``."""

    def __init__(self, address: str) -> None:
        from distributed import Client

        _check_reachable(address)
        try:
            self.client = Client(address, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
        except (OSError, ValueError) as err:
            raise InputError("--scheduler", address, f"cannot reach the scheduler: {err}") from None

    def _submit(self, fn: Callable[..., Any], job: tuple) -> Any:
        return self.client.submit(_on_one_blas_thread, fn, *job, pure=False)

    def imap_unordered[T](self, fn: Callable[..., T], jobs: Iterable[tuple]) -> Iterator[T]:
        from distributed import as_completed

        todo = iter(jobs)
        threads = max(sum(self.client.nthreads().values()), 1)
        running = as_completed(loop=self.client.loop)
        for job in islice(todo, threads * IN_FLIGHT_PER_WORKER):
            running.add(self._submit(fn, job))
        for future in running:
            result = future.result()
            future.release()
            for job in islice(todo, 1):
                running.add(self._submit(fn, job))
            yield result

    def close(self) -> None:
        self.client.close()


def _check_reachable(address: str) -> None:
    """Fail fast, with an InputError, on a malformed or unreachable TCP scheduler address
    (before ``distributed.Client``, which otherwise waits and prints a traceback on exit)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return
        host, port = parse_host_port(location)
        socket.create_connection((host, port), timeout=SCHEDULER_TIMEOUT).close()
    except (OSError, ValueError, TypeError) as err:
        raise InputError("--scheduler", address, f"cannot reach the scheduler: {err}") from None


def _on_one_blas_thread[T](fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on a Dask worker pinned to one BLAS thread (about a millisecond per
    chunk; pinning per task also covers workers that join or restart mid-run)."""
    pin_worker_threads()
    return fn(*args)


@contextmanager
def open_executor(workers: int = 1, scheduler: str | None = None) -> Iterator[Executor]:
    """The executor for ``--scheduler`` (a Dask cluster) or ``--workers`` local processes
    (in this process for one worker)."""
    executor: InProcess | LocalProcesses | DaskCluster
    if scheduler is not None:
        executor = DaskCluster(scheduler)
    elif workers > 1:
        executor = LocalProcesses(workers)
    else:
        executor = InProcess()
    try:
        yield executor
    finally:
        if not isinstance(executor, InProcess):
            executor.close()
