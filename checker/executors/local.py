"""Running image jobs on this machine: in this process, or in a pool of worker processes
that survives its workers (a worker that dies or overruns the per-image time limit is
replaced and only its current image is reported as an IMG001 error)."""
from __future__ import annotations

import math
import multiprocessing
import os
import time
from multiprocessing.connection import wait as wait_connections
from typing import Any, Callable, Iterable, Sequence

from ..job import ImageJob
from ..model import ImageResult
from ..runner import check_image, error_result

ResultCallback = Callable[[ImageResult], None]
FIRST_IMAGE_GRACE_S = 60.0  # the first image of each worker also pays for loading models


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_local(jobs: Sequence[ImageJob], workers: int, timeout: float, collect: ResultCallback) -> None:
    """Check every job: in this process when ``workers`` is 0 (no crash or time-limit
    isolation), else in up to ``workers`` worker processes."""
    if workers <= 0:
        for job in jobs:
            collect(check_image(job))
    elif jobs:
        with WorkerPool(min(workers, len(jobs)), timeout) as pool:
            pool.run(jobs, collect)


def limit_threads() -> None:
    """One worker per core: keep numerical libraries from starting their own thread pools."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _worker_main(conn) -> None:
    limit_threads()
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001 - only a speed setting
        pass
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        try:
            result = check_image(job)
        except BaseException as exc:  # noqa: BLE001
            result = error_result(job.path, f"internal error while checking: {type(exc).__name__}: {exc}")
        conn.send(result)


class _Worker:
    def __init__(self, ctx) -> None:
        parent, child = ctx.Pipe()
        self.conn = parent
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.task: ImageJob | None = None
        self.deadline = math.inf

    def send(self, job: ImageJob, timeout: float) -> None:
        self.task = job
        self.deadline = time.monotonic() + timeout
        self.conn.send(job)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """A small process pool that survives its workers: a worker that dies or overruns the
    per-image time limit is replaced and only its current image is reported as an error."""

    def __init__(self, workers: int, timeout: float) -> None:
        limit_threads()
        self.timeout = timeout
        self.ctx = multiprocessing.get_context("spawn")
        self.workers = [_Worker(self.ctx) for _ in range(max(1, workers))]

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for w in self.workers:
            try:
                if w.process.is_alive():
                    w.conn.send(None)
            except OSError:
                pass
        for w in self.workers:
            w.process.join(2)
            w.kill()

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self.workers[self.workers.index(worker)] = _Worker(self.ctx)

    def _crashed(self, worker: _Worker) -> ImageResult:
        return error_result(worker.task.path, "the worker checking this image crashed "
                                              f"(exit code {worker.process.exitcode}); it was restarted",
                            exitcode=worker.process.exitcode)

    def run(self, jobs: Iterable[ImageJob], collect: ResultCallback) -> None:
        pending = list(jobs)[::-1]
        timeout = self.timeout
        first_grace = {id(w): FIRST_IMAGE_GRACE_S for w in self.workers}
        while True:
            for w in self.workers:
                if w.task is None and pending:
                    try:
                        w.send(pending.pop(), timeout + first_grace.pop(id(w), 0.0))
                    except OSError:
                        job = w.task
                        self._replace(w)
                        collect(error_result(job.path, "worker process could not take the image; it was restarted"))
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                return
            now = time.monotonic()
            wait_for = max(0.0, min(w.deadline for w in busy) - now)
            ready = wait_connections([w.conn for w in busy] + [w.process.sentinel for w in busy],
                                     timeout=min(wait_for, 5.0))
            for w in busy:
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):
                        result = self._crashed(w)
                        self._replace(w)
                    else:
                        w.task, w.deadline = None, math.inf
                    collect(result)
                elif w.process.sentinel in ready or not w.process.is_alive():
                    w.process.join(1)
                    collect(self._crashed(w))
                    self._replace(w)
                elif time.monotonic() > w.deadline:
                    collect(error_result(w.task.path, f"checking took longer than the time limit "
                                                      f"({timeout:g} s); the worker was stopped",
                                         timeout_s=timeout))
                    self._replace(w)
