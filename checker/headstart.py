"""Worker processes, and a head start for the first one.

Every worker of the local pool (:mod:`checker.executors.local`) is a fresh Python process
("spawn": forking a process that may hold threads and native models is not safe) that
starts Python and imports the engine, NumPy, OpenCV and the rules before it can check
anything: ~0.35 s.
The ``noticer check`` command itself spends ~0.3 s importing, finding the rules and resolving
the config before it knows which images need a worker. On a run over one or two images (a
pre-commit hook over what was just committed) the two waits came one after the other.

So the ``noticer`` command (:mod:`checker.launch`) starts one worker first, before it imports
anything heavy, and the pool adopts it (:func:`take`); the two start-ups overlap on two
cores. A run that needs no worker (every result in the cache, ``--jobs 0``, a Dask cluster, a
usage error) stops it (:func:`cancel`) as soon as that is known; it is a daemon process, so
it never outlives the command either way.

This module imports nothing heavy: the command imports it before everything else."""
from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads() -> None:
    """One worker per core: keep numerical libraries from starting their own thread pools.
    Set before a worker starts: they read it when they are imported."""
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")


@dataclass(frozen=True)
class StartedWorker:
    """A worker process and the parent's end of its pipe. The worker waits for its first
    message (see :mod:`checker.executors.worker`)."""

    process: multiprocessing.process.BaseProcess
    conn: Connection

    def stop(self) -> None:
        """Stop the process (it is not asked: a worker holds nothing a user would miss) and
        close the pipe."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


def _worker_entry(conn: Connection) -> None:
    # runs in the new process: the engine is imported there, not in the command
    from .executors.worker import worker_main

    worker_main(conn)


def spawn_worker() -> StartedWorker:
    """Start a worker process; it imports the engine, then waits for its first message."""
    limit_threads()
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_worker_entry, args=(child,), daemon=True)
    process.start()
    child.close()
    return StartedWorker(process, parent)


_ahead: StartedWorker | None = None  # the worker begin() started, until take() or cancel()


def begin() -> None:
    """Start one worker now, for the run this process is about to make."""
    global _ahead
    if _ahead is None:
        try:
            _ahead = spawn_worker()
        except OSError:  # no process could be started: the pool will try again, and say so
            _ahead = None


def take() -> StartedWorker | None:
    """The worker started ahead, for the pool to use; None when there is none or it died."""
    global _ahead
    started, _ahead = _ahead, None
    if started is not None and not started.process.is_alive():
        started.stop()
        return None
    return started


def cancel() -> None:
    """Stop the worker started ahead if nobody took it."""
    global _ahead
    started, _ahead = _ahead, None
    if started is not None:
        started.stop()
