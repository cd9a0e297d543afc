"""Running image jobs on this machine: in this process, or in a pool of worker processes
that survives its workers (a worker that dies or overruns the per-image time limit is
replaced and only its current image is reported as an IMG001 error).

A worker that will check more than one image loads its models before it takes one: it
checks a small drawn picture (text and a hand shape, with the run's rules) and only then
reports ready. The per-image time limit therefore holds from the first image, and model
loading has its own, generous limit (``MODEL_LOADING_LIMIT_S``); a worker that cannot get
ready in it is stopped, and when none can, the images left are reported as IMG001 saying
so, never a hang.

When there are no more images than workers (a pre-commit hook over the image committed),
each worker checks one image and loads only the models that image needs, while checking it:
the warm-up picture would cost more than the image (~0.9 s of CPU against ~0.3 s for a photo
of a hand). The worker then tells the pool when a model starts and ends loading
(:mod:`checker.loading`): the loading has the loading limit, and the image's time limit is
extended by the time the loading took.

Workers are started by :mod:`checker.headstart`; the ``noticer`` command starts the first one
before it imports anything heavy, and the pool adopts it."""
from __future__ import annotations

import dataclasses
import math
import os
import time
from multiprocessing.connection import wait as wait_connections
from typing import Any, Callable, Iterable, Sequence

from .. import headstart
from ..headstart import StartedWorker
from ..job import ImageJob
from ..model import ImageResult
from ..runner import check_image, error_result

ResultCallback = Callable[[ImageResult], None]
MODEL_LOADING_LIMIT_S = 180.0  # a worker's start: importing and loading the models (warm-up)
WARMUP_NAME = "noticer-warm-up.png"  # the path the warm-up picture is checked under


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_local(jobs: Sequence[ImageJob], workers: int, timeout: float, collect: ResultCallback) -> None:
    """Check every job: in this process when ``workers`` is 0 (no crash or time-limit
    isolation), else in up to ``workers`` worker processes."""
    if workers <= 0 or not jobs:
        headstart.cancel()  # no worker is needed: one started ahead stops now
    if workers <= 0:
        for job in jobs:
            collect(check_image(job))
    elif jobs:
        # one image per worker: it loads what it needs on that image (see the module's docs)
        warmup = warmup_job(jobs) if len(jobs) > workers else None
        with WorkerPool(min(workers, len(jobs)), timeout, warmup=warmup) as pool:
            pool.run(jobs, collect)


def warmup_job(jobs: Sequence[ImageJob]) -> ImageJob:
    """The job a worker warms up on: every rule any image of the run has (per-file ignores
    differ), none of an image's own context (expected text, sidecar, reference)."""
    rules = {id(rp.rule): rp for job in jobs for rp in job.rules}
    return dataclasses.replace(jobs[0], path=WARMUP_NAME, source=WARMUP_NAME, rules=tuple(rules.values()),
                               expected_text=(), sidecar_text=None, reference=None, reference_folder=None)


def _start(started: StartedWorker, warmup: ImageJob | None) -> bool:
    """Send a worker its first message; False when it is gone."""
    try:
        started.conn.send(("start", warmup))
    except OSError:
        return False
    return True


class _Worker:
    def __init__(self, warmup: ImageJob | None = None, started: StartedWorker | None = None) -> None:
        if started is not None and not _start(started, warmup):
            started.stop()  # it died while importing: a fresh one gets the same chance
            started = None
        if started is None:
            started = headstart.spawn_worker()
            _start(started, warmup)  # if it is gone already, the pool sees its exit and replaces it
        self.started = started
        self.conn = started.conn
        self.process = started.process
        self.task: ImageJob | None = None
        # while a model loads during an image: when it started, and the image's own deadline
        self.loading_since: float | None = None
        self.image_deadline = math.inf
        self.ready = warmup is None
        # until ready: the limit on loading the models; then the current image's time limit
        self.deadline = math.inf if self.ready else time.monotonic() + MODEL_LOADING_LIMIT_S

    def send(self, job: ImageJob, timeout: float) -> None:
        self.task = job
        self.loading_since = None
        self.deadline = time.monotonic() + timeout
        self.conn.send(job)

    def heard(self, message: Any) -> bool:
        """Take a model-loading message (see :mod:`checker.loading`); False for anything else.
        While a model loads, the deadline is the loading limit; once loaded, the image's own
        deadline moves on by the time the loading took."""
        now = time.monotonic()
        if message == ("loading",) and self.loading_since is None:
            self.loading_since, self.image_deadline = now, self.deadline
            self.deadline = now + MODEL_LOADING_LIMIT_S
        elif message == ("loaded",) and self.loading_since is not None:
            self.deadline = self.image_deadline + (now - self.loading_since)
            self.loading_since = None
        elif message not in (("loading",), ("loaded",)):
            return False
        return True

    def kill(self) -> None:
        self.started.stop()


class WorkerPool:
    """A small process pool that survives its workers: a worker that dies or overruns the
    per-image time limit is replaced and only its current image is reported as an error."""

    def __init__(self, workers: int, timeout: float, warmup: ImageJob | None = None) -> None:
        self.timeout = timeout
        self.warmup = warmup
        count = max(1, workers)
        self.workers = [_Worker(warmup, headstart.take())]
        self.workers += [_Worker(warmup) for _ in range(count - 1)]
        # workers that could not load the models: each may be replaced once, then the pool shrinks
        self.start_failures = 0
        self.start_problem = ""

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
        self.workers[self.workers.index(worker)] = _Worker(self.warmup)

    def _failed_to_start(self, worker: _Worker, why: str) -> None:
        """A worker that did not get ready: replaced while few have failed, else dropped."""
        self.start_failures += 1
        self.start_problem = why
        if self.start_failures <= len(self.workers):
            self._replace(worker)
        else:
            worker.kill()
            self.workers.remove(worker)

    def _starting(self, worker: _Worker, ready: list) -> None:
        """Watch a worker that is loading its models."""
        if worker.conn in ready:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                message = None
            if isinstance(message, tuple) and message[:1] == ("ready",):
                worker.ready, worker.deadline = True, math.inf
            else:
                self._failed_to_start(worker, "a worker process crashed while loading the models "
                                              f"(exit code {worker.process.exitcode})")
        elif worker.process.sentinel in ready or not worker.process.is_alive():
            worker.process.join(1)
            self._failed_to_start(worker, "a worker process crashed while loading the models "
                                          f"(exit code {worker.process.exitcode})")
        elif time.monotonic() > worker.deadline:
            self._failed_to_start(worker, f"a worker process did not finish loading the models within "
                                          f"{MODEL_LOADING_LIMIT_S:g} s")

    def _crashed(self, worker: _Worker) -> ImageResult:
        return error_result(worker.task.path, "the worker checking this image crashed "
                                              f"(exit code {worker.process.exitcode}); it was restarted",
                            exitcode=worker.process.exitcode)

    def run(self, jobs: Iterable[ImageJob], collect: ResultCallback) -> None:
        pending = list(jobs)[::-1]
        timeout = self.timeout
        while True:
            if not self.workers:  # none could load the models: say so for every image left
                while pending:
                    collect(error_result(pending.pop().path, f"not checked: {self.start_problem}; "
                                                             "no worker could start", worker_start=True))
                return
            for w in self.workers:
                if w.ready and w.task is None and pending:
                    try:
                        w.send(pending.pop(), timeout)
                    except OSError:
                        job = w.task
                        self._replace(w)
                        collect(error_result(job.path, "worker process could not take the image; it was restarted"))
            starting = [w for w in self.workers if not w.ready]
            busy = [w for w in self.workers if w.task is not None]
            if not busy and not (starting and pending):
                return
            watched = busy + (starting if pending else [])
            now = time.monotonic()
            wait_for = max(0.0, min(w.deadline for w in watched) - now)
            ready = wait_connections([w.conn for w in watched] + [w.process.sentinel for w in watched],
                                     timeout=min(wait_for, 5.0))
            for w in starting if pending else ():
                self._starting(w, ready)
            for w in busy:
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):
                        result = self._crashed(w)
                        self._replace(w)
                    else:
                        if w.heard(result):
                            continue
                        w.task, w.deadline = None, math.inf
                    collect(result)
                elif w.process.sentinel in ready or not w.process.is_alive():
                    w.process.join(1)
                    collect(self._crashed(w))
                    self._replace(w)
                elif time.monotonic() > w.deadline and w.loading_since is not None:
                    collect(error_result(w.task.path, f"not checked: the worker did not finish loading the models "
                                                      f"within {MODEL_LOADING_LIMIT_S:g} s; it was stopped",
                                         worker_start=True))
                    self._replace(w)
                elif time.monotonic() > w.deadline:
                    collect(error_result(w.task.path, f"checking took longer than the time limit "
                                                      f"({timeout:g} s); the worker was stopped",
                                         timeout_s=timeout))
                    self._replace(w)
