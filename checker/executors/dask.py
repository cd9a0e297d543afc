"""Running image jobs on an existing Dask cluster.

    noticer check data/ --executor dask --scheduler tcp://HOST:8786

Jobs travel in batches (``batch-size`` images per task; a job is a few kB, so no data is
scattered that would be lost with the worker holding it); each worker process loads its
models once, through the rules' own per-process caches, and checks one image at a time (a
process-wide lock: the models are not thread-safe, so run workers with ``--nthreads 1`` and
one worker process per core, like the local pool). Results stream back to the caller in
completion order.

When a batch fails (its worker died more often than the scheduler's ``allowed-failures``, or
it overran its time limit), each of its images is submitted again on its own, once; an image
that fails again becomes an IMG001 error. The run always completes with one result per image.

Local files are sent as absolute paths (reported as given); fsspec URLs are read on the
workers. Nothing here imports dask at import time: without the ``noticer[dask]`` extra the
module still imports and says what to install when used.
"""
from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence

from ..allocator import keep_freed_memory
from ..config import Plan
from ..errors import DaskSetupError, import_dask_extra
from ..inputs import absolute_source, is_url
from ..job import ImageJob
from ..model import ImageResult
from ..runner import check_image, error_result

MODEL_LOAD_GRACE_S = 60.0  # the first images of a fresh worker also pay for loading models
CONNECT_TIMEOUT_S = 20
NO_WORKERS_LIMIT_S = 600.0  # an adaptive cluster may take minutes to start its first worker


def import_distributed():
    """``distributed``, or a DaskSetupError that names the extra to install."""
    return import_dask_extra("distributed", "the dask executor needs dask[distributed]")


# ----------------------------------------------------------------------------- on a worker

_CHECK_LOCK = threading.Lock()  # one image at a time per process: models are not thread-safe


@functools.lru_cache(maxsize=1)
def _prepare_worker_process() -> None:
    """Once per worker process, like the local pool: no nested thread pools in OpenCV, and
    memory an image frees kept for the next (:mod:`checker.allocator`)."""
    keep_freed_memory()
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001 - only a speed setting
        pass


def check_one(job: ImageJob) -> ImageResult:
    """Check one image on this worker (its job's ``source`` is an absolute path or a URL)."""
    try:
        with _CHECK_LOCK:
            return check_image(job)
    except Exception as exc:  # noqa: BLE001 - one image must not take its batch down
        return error_result(job.path, f"internal error while checking: {type(exc).__name__}: {exc}")


def check_batch(jobs: Sequence[ImageJob]) -> list[ImageResult]:
    """The Dask task: check a batch of jobs, one after the other."""
    _prepare_worker_process()
    return [check_one(job) for job in jobs]


# ----------------------------------------------------------------------------- the executor

def for_workers(job: ImageJob) -> ImageJob:
    """The job as a worker must see it: local files (the image, its reference) by absolute
    path, as a worker's working folder is not the caller's; URLs as they are."""
    reference = job.reference
    if reference and not is_url(reference):
        reference = os.path.abspath(reference)
    return replace(job, source=absolute_source(job.source), reference=reference)


def batches(items: Sequence[Any], size: int) -> Iterator[tuple[Any, ...]]:
    size = max(1, int(size))
    for start in range(0, len(items), size):
        yield tuple(items[start:start + size])


def batch_deadline_s(n_images: int, timeout: float) -> float:
    """How long a submitted batch may take before it is given up: every image may use its
    limit, the batch may wait behind one other batch on its worker, plus model loading."""
    return 2.0 * n_images * timeout + MODEL_LOAD_GRACE_S


@dataclass
class _Batch:
    items: tuple[ImageJob, ...]
    attempt: int  # 0: first try as part of a batch; 1: retried alone
    deadline: float = float("inf")


def run_on_dask(jobs: Sequence[ImageJob], plan: Plan, collect: Callable[[ImageResult], None]) -> None:
    """Check ``jobs`` on the cluster at ``plan.scheduler`` and call ``collect`` once per job,
    in completion order."""
    distributed = import_distributed()
    if not plan.scheduler:
        raise DaskSetupError("the dask executor needs the scheduler address: pass --scheduler tcp://HOST:PORT "
                             "or set scheduler = \"tcp://HOST:PORT\" in [tool.noticer]")
    if not jobs:
        return
    try:
        client = distributed.Client(plan.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise DaskSetupError(f"cannot reach the Dask scheduler at {plan.scheduler}: {exc}") from None
    with client:
        run_with_client(client, jobs, plan, collect)


def _settle(future, deadline: float) -> None:
    """A done callback can fire on a passing state: "lost" while Dask reruns the task on
    another worker. Wait (until the batch's deadline) for the state it ends in."""
    try:
        future.exception(timeout=max(1.0, deadline - time.monotonic()))
    except Exception:  # noqa: BLE001 - not done in time, or failed: the caller decides from the status
        pass


def _describe_failure(future, fetch_error: BaseException | None = None) -> str:
    if fetch_error is not None:  # it finished, but its result went with its worker
        return f"its result was lost ({type(fetch_error).__name__})"
    if future.status == "cancelled":
        return "its task was cancelled"
    try:
        exc = future.exception(timeout=10)
    except Exception as inner:  # noqa: BLE001
        return f"its task failed ({type(inner).__name__})"
    if exc is None:
        return f"its task ended as {future.status}"
    if type(exc).__name__ == "KilledWorker":
        return "the Dask worker holding it died"
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"its task failed: {type(exc).__name__}: {text}".rstrip(": ")


def run_with_client(client, jobs: Sequence[ImageJob], plan: Plan, collect: Callable[[ImageResult], None],
                    max_in_flight: int | None = None) -> None:
    """Check ``jobs`` through an already connected ``distributed.Client``."""
    items = [for_workers(job) for job in jobs]
    waiting: deque[_Batch] = deque(_Batch(b, 0) for b in batches(items, plan.batch_size))
    finished: queue.Queue = queue.Queue()
    running: dict[Any, _Batch] = {}
    reported: set[str] = set()

    def emit(result: ImageResult) -> None:
        if result.path not in reported:
            reported.add(result.path)
            collect(result)

    def give_up(batch: _Batch, why: str) -> None:
        if batch.attempt == 0:
            # retry each image on its own, at the front of the queue: one bad image cannot
            # take its batch mates down twice
            for item in reversed(batch.items):
                waiting.appendleft(_Batch((item,), 1))
            return
        for job in batch.items:
            emit(error_result(job.path, f"not checked: {why}, and again when it was retried alone",
                              executor="dask"))

    def cluster_threads() -> int:
        return sum(client.nthreads().values())

    threads, threads_checked, workers_seen = cluster_threads(), time.monotonic(), time.monotonic()
    while waiting or running:
        now = time.monotonic()
        if now - threads_checked > 10.0:  # workers may join or leave (adaptive clusters)
            threads, threads_checked = cluster_threads(), now
        if threads:
            workers_seen = now
        elif now - workers_seen > NO_WORKERS_LIMIT_S:
            raise DaskSetupError(f"the Dask scheduler at {plan.scheduler} has had no workers for "
                                 f"{NO_WORKERS_LIMIT_S:g} s; start workers with: dask worker {plan.scheduler}")
        else:  # time limits run only while there is a worker to run on
            for batch in running.values():
                batch.deadline = max(batch.deadline, now + batch_deadline_s(len(batch.items), plan.timeout))
        slots = max_in_flight or 2 * max(threads, 1)
        while waiting and len(running) < slots:
            batch = waiting.popleft()
            future = client.submit(check_batch, batch.items, pure=False)
            batch.deadline = time.monotonic() + batch_deadline_s(len(batch.items), plan.timeout)
            running[future] = batch
            future.add_done_callback(finished.put)
        next_deadline = min(b.deadline for b in running.values())
        try:
            future = finished.get(timeout=min(5.0, max(0.05, next_deadline - time.monotonic())))
        except queue.Empty:
            future = None
        if future is not None and future in running:
            batch = running.pop(future)
            if future.status not in ("finished", "error", "cancelled"):
                _settle(future, batch.deadline)
            results, fetch_error = None, None
            if future.status == "finished":
                try:
                    results = future.result(timeout=60)
                except Exception as exc:  # noqa: BLE001 - the result could not be fetched: a failure
                    fetch_error = exc
            if results is None:
                give_up(batch, _describe_failure(future, fetch_error))
            else:
                for result in results:
                    emit(result)
                for job in batch.items:  # a batch always answers for each image
                    if job.path not in reported:
                        emit(error_result(job.path, "not checked: its batch returned no result for it",
                                          executor="dask"))
            future.release()
        now = time.monotonic()
        for future, batch in list(running.items()):
            if now > batch.deadline:
                del running[future]
                future.cancel()
                give_up(batch, f"it took longer than the time limit ({plan.timeout:g} s per image) on the cluster")


