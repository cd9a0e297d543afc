"""Running image jobs on this machine: in this process, or in a pool of worker processes
that survives its workers (a worker that dies or overruns the per-image time limit is
replaced and only its current image is reported as an IMG001 error).

A worker loads a model when the first image that needs it asks for it, so it loads only
what its images need (a worker that never sees lettering never opens the OCR models). It
tells the pool when a model starts and ends loading (:mod:`checker.loading`): the loading
has its own, generous limit (``MODEL_LOADING_LIMIT_S``), and the image's time limit is
extended by the time the loading took, so the per-image limit holds for the image's own
work. A worker that crashes while loading, or does not finish loading within that limit, counts
as a worker that could not start: its image goes back to the queue (loading a model does not
depend on the image), and the worker is replaced while few have failed, else dropped; when
none is left, the images left are reported as IMG001 saying so, never a hang.

(Workers used to check a small drawn picture with every rule of the run before taking an
image, to load everything up front. That cost ~0.2 s of CPU per worker for the picture and
loaded models the worker's images might not need: a run over four photos of hands took
2.4 s with it and 1.7 s without.)

Workers are started by :mod:`checker.headstart`; the ``noticer`` command starts the first one
before it imports anything heavy, and the pool adopts it."""
from __future__ import annotations

import math
import os
import time
from multiprocessing.connection import wait as wait_connections
from typing import Any, Callable, Iterable, Sequence

from .. import headstart
from ..headstart import StartedWorker
from ..job import ImageJob
from ..machine import available_memory, usable_cores
from ..model import ImageResult
from ..runner import check_image, error_result

ResultCallback = Callable[[ImageResult], None]
MODEL_LOADING_LIMIT_S = 180.0  # loading the models an image needs (see checker.loading)


# the memory the default number of workers leaves each: a worker's peak was 520-660 MiB on
# the issue #19 folder (bench.speed) and ~790 MiB on one 8192 x 8192 image
WORKER_MEMORY_BYTES = 768 << 20


def default_jobs(cores: int | None = None, memory: int | None = None) -> int:
    """Workers when ``--jobs`` is not given: one per core this process may use, but no more
    than the available memory holds at ``WORKER_MEMORY_BYTES`` each (at least one). A 32-core
    machine with 8 GiB free, or a container limited to 2 GiB, would otherwise start workers
    the kernel then kills for want of memory (each image they held reported as IMG001).
    ``cores``/``memory``: as measured (:mod:`checker.machine`) when not given."""
    cores = usable_cores() if cores is None else cores
    memory = available_memory() if memory is None else memory
    if memory is None:  # not known here (not Linux): one per core
        return cores
    return max(1, min(cores, memory // WORKER_MEMORY_BYTES))


def largest_first(jobs: Sequence[ImageJob]) -> list[ImageJob]:
    """The jobs by the size of their files, largest first (ties and sizes that cannot be read,
    such as a URL's, keep their order; the latter go last).

    Workers take the next image as they finish one, so a run ends when the last image does;
    in path order a large image with lettering (~1 s) could come last and leave the other
    core idle meanwhile. A file's size is a free and rough guess at its cost: on the issue
    #19 folder (64 images, per-image CPU from an in-process pass, two workers simulated), path
    order ended 0.52 s after a perfect split of the work (13.37 s against 12.85), largest file
    first 0.05 s after it. Results are reported sorted by path whatever the order."""
    def size(job: ImageJob) -> int:
        try:
            return os.stat(job.source).st_size
        except (OSError, ValueError):
            return 0

    return sorted(jobs, key=size, reverse=True)


def run_local(jobs: Sequence[ImageJob], workers: int, timeout: float, collect: ResultCallback) -> None:
    """Check every job: in this process when ``workers`` is 0 (no crash or time-limit
    isolation), else in up to ``workers`` worker processes, largest files first when there
    are several (``largest_first``)."""
    if workers <= 0 or not jobs:
        headstart.cancel()  # no worker is needed: one started ahead stops now
    if workers <= 0:
        for job in jobs:
            collect(check_image(job))
    elif jobs:
        with WorkerPool(min(workers, len(jobs)), timeout) as pool:
            pool.run(largest_first(jobs) if workers > 1 else jobs, collect)


def _start(started: StartedWorker) -> bool:
    """Send a worker its first message; False when it is gone."""
    try:
        started.conn.send(("start",))
    except OSError:
        return False
    return True


class _Worker:
    def __init__(self, started: StartedWorker | None = None) -> None:
        if started is not None and not _start(started):
            started.stop()  # it died while importing: a fresh one gets the same chance
            started = None
        if started is None:
            started = headstart.spawn_worker()
            _start(started)  # if it is gone already, sending it an image fails and it is replaced
        self.started = started
        self.conn = started.conn
        self.process = started.process
        self.task: ImageJob | None = None
        # while a model loads during an image: when it started, and the image's own deadline
        self.loading_since: float | None = None
        self.image_deadline = math.inf
        self.deadline = math.inf  # the current image's time limit (the loading limit while loading)

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

    def __init__(self, workers: int, timeout: float) -> None:
        self.timeout = timeout
        count = max(1, workers)
        self.workers = [_Worker(headstart.take())]
        self.workers += [_Worker() for _ in range(count - 1)]
        # workers that could not load the models: as many as there are workers are replaced,
        # then each one that fails is dropped
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
        self.workers[self.workers.index(worker)] = _Worker()

    def _failed_to_start(self, worker: _Worker, why: str) -> None:
        """A worker that could not load the models: replaced while few have failed, else
        dropped."""
        self.start_failures += 1
        self.start_problem = why
        if self.start_failures <= len(self.workers):
            self._replace(worker)
        else:
            worker.kill()
            self.workers.remove(worker)

    def _lost(self, worker: _Worker, error: ImageResult | None, loading_problem: str,
              pending: list[ImageJob], collect: ResultCallback) -> None:
        """A worker that crashed or overran a limit. While it was loading models, it counts
        as a worker that could not start and its image goes back to the queue; else its
        image gets ``error`` and the worker is replaced."""
        if worker.loading_since is not None:
            pending.append(worker.task)  # next in line
            self._failed_to_start(worker, loading_problem)
        else:
            collect(error)
            self._replace(worker)

    def _crashed(self, worker: _Worker, pending: list[ImageJob], collect: ResultCallback) -> None:
        worker.process.join(1)
        code = worker.process.exitcode
        error = error_result(worker.task.path, f"the worker checking this image crashed (exit code {code}); "
                                               "it was restarted", exitcode=code)
        self._lost(worker, error, f"a worker process crashed while loading the models (exit code {code})",
                   pending, collect)

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
                if w.task is None and pending:
                    try:
                        w.send(pending.pop(), timeout)
                    except OSError:
                        job = w.task
                        self._replace(w)
                        collect(error_result(job.path, "worker process could not take the image; it was restarted"))
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                if pending:  # a worker could not take its image and was replaced: the fresh one takes the next
                    continue
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
                        self._crashed(w, pending, collect)
                        continue
                    if w.heard(result):
                        continue
                    w.task, w.deadline = None, math.inf
                    collect(result)
                elif w.process.sentinel in ready or not w.process.is_alive():
                    self._crashed(w, pending, collect)
                elif time.monotonic() > w.deadline and w.loading_since is not None:
                    self._lost(w, None, f"a worker process did not finish loading the models within "
                                        f"{MODEL_LOADING_LIMIT_S:g} s", pending, collect)
                elif time.monotonic() > w.deadline:
                    collect(error_result(w.task.path, f"checking took longer than the time limit "
                                                      f"({timeout:g} s); the worker was stopped",
                                         timeout_s=timeout))
                    self._replace(w)
