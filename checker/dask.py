"""Running noticer on an existing Dask cluster, and the notebook API.

    noticer check data/ --executor dask --scheduler tcp://HOST:8786

Images travel in batches (``batch-size`` images per task), each with the plan (a few kB);
each worker process loads its models once, through the rules' own per-process caches,
and checks one image at a time (a process-wide lock: the models are not thread-safe, so run
workers with ``--nthreads 1`` and one worker process per core, like the local pool). Results
stream back to the caller in completion order.

When a batch fails (its worker died more often than the scheduler's ``allowed-failures``, or
it overran its time limit), each of its images is submitted again on its own, once; an image
that fails again becomes an IMG001 error. The run always completes with one result per image.

Inputs are local paths the workers can read (sent as absolute paths, reported as given) or
fsspec URLs (``s3://``, ``gs://``, ``file://``) read on the workers. Nothing is written
next to the inputs. Nothing here imports dask at import time: without the ``noticer[dask]``
extra the module still imports and says what to install when used.
"""
from __future__ import annotations

import fnmatch
import functools
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Sequence

from .config import ConfigError, Plan
from .imageio import IMAGE_SUFFIXES
from .model import Finding, ImageResult
from .runner import check_image, error_result

EXTRA_HINT = "install it with: pip install 'noticer[dask]'"
SKIPPED_FOLDERS = (".git", ".noticer_cache", ".venv", "__pycache__")
MODEL_LOAD_GRACE_S = 60.0  # the first images of a fresh worker also pay for loading models
CONNECT_TIMEOUT_S = 20
NO_WORKERS_LIMIT_S = 600.0  # an adaptive cluster may take minutes to start its first worker


class DaskSetupError(ConfigError):
    """The Dask executor cannot start: missing extra, no scheduler address, unreachable
    scheduler. A usage error (exit code 2), like a configuration mistake."""


# ----------------------------------------------------------------------------- optional imports

def import_distributed():
    """``distributed``, or a DaskSetupError that names the extra to install."""
    try:
        import distributed
    except ImportError as exc:
        raise DaskSetupError(f"the dask executor needs the noticer[dask] extra (dask[distributed]); "
                             f"{EXTRA_HINT} ({exc})") from None
    return distributed


def import_fsspec():
    try:
        import fsspec
    except ImportError as exc:
        raise DaskSetupError(f"reading URLs needs fsspec, which comes with the noticer[dask] extra; "
                             f"{EXTRA_HINT} ({exc})") from None
    return fsspec


# ----------------------------------------------------------------------------- URLs

def is_url(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def expand_urls(urls: Iterable[str], exclude: Sequence[str] = (),
                suffixes: Sequence[str] = IMAGE_SUFFIXES) -> list[str]:
    """List the images behind fsspec URLs: a file URL is itself, a folder URL is every image
    below it (recursively), a URL with ``*`` is a glob. Returns full URLs, sorted.

    Raises FileNotFoundError naming the URL when it matches nothing, and DaskSetupError when
    fsspec (or the filesystem's own package, such as s3fs) is missing."""
    fsspec = import_fsspec()
    found: set[str] = set()
    for url in urls:
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except ImportError as exc:  # e.g. "Install s3fs to access S3"
            raise DaskSetupError(f"{url}: {exc}") from None
        if any(ch in root for ch in "*?["):
            candidates = [p for p in fs.glob(root) if not fs.isdir(p)]
        elif fs.isdir(root):
            candidates = fs.find(root)
        elif fs.exists(root):
            candidates = [root]
        else:
            raise FileNotFoundError(f"no such file or folder: {url}")
        for p in candidates:
            full = fs.unstrip_protocol(p)
            parts = p.split("/")
            if any(part in SKIPPED_FOLDERS for part in parts[:-1]):
                continue
            if p.lower().endswith(tuple(suffixes)) and not _excluded(full, exclude):
                found.add(full)
    return sorted(found)


def _excluded(url: str, patterns: Sequence[str]) -> bool:
    """Like the local walk: a pattern matches the whole URL or any folder or file name in it."""
    names = url.split("://", 1)[-1].split("/")
    return any(fnmatch.fnmatch(url, pat) or fnmatch.fnmatch(url, f"*/{pat}")
               or any(fnmatch.fnmatch(name, pat) for name in names)
               for pat in patterns)


def read_url(url: str) -> bytes:
    fsspec = import_fsspec()
    with fsspec.open(url, "rb") as handle:
        return handle.read()


# ----------------------------------------------------------------------------- on a worker

_CHECK_LOCK = threading.Lock()  # one image at a time per process: models are not thread-safe


@functools.lru_cache(maxsize=1)
def _prepare_worker_process() -> None:
    """Once per worker process, like the local pool: no nested thread pools in OpenCV."""
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001 - only a speed setting
        pass


def check_one(display: str, source: str, plan: Plan) -> ImageResult:
    """Check one image on this worker: ``source`` is where to read it (an absolute path or a
    URL), ``display`` the path reported, as the user gave it."""
    try:
        if is_url(source):
            try:
                data = read_url(source)
            except FileNotFoundError:
                return error_result(display, "cannot read the file: no such file at this URL")
            except (OSError, ImportError, DaskSetupError) as exc:
                return error_result(display, f"cannot read the file: {type(exc).__name__}: {exc}")
            with _CHECK_LOCK:
                return check_image(display, plan, data=data)
        with _CHECK_LOCK:
            result = check_image(source, plan)
        return result if result.path == display else replace(result, path=display)
    except Exception as exc:  # noqa: BLE001 - one image must not take its batch down
        return error_result(display, f"internal error while checking: {type(exc).__name__}: {exc}")


def check_batch(items: Sequence[tuple[str, str]], plan: Plan) -> list[ImageResult]:
    """The Dask task: check a batch of (display, source) pairs, one after the other."""
    _prepare_worker_process()
    return [check_one(display, source, plan) for display, source in items]


# ----------------------------------------------------------------------------- the executor

def source_of(path: str) -> str:
    """Where a worker reads a path from: URLs as they are, local paths made absolute (a
    worker's working folder is not the caller's)."""
    return path if is_url(path) else os.path.abspath(path)


def plan_for_workers(plan: Plan) -> Plan:
    if plan.reference and not is_url(plan.reference):
        return replace(plan, reference=os.path.abspath(plan.reference))
    return plan


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
    items: tuple[tuple[str, str], ...]
    attempt: int  # 0: first try as part of a batch; 1: retried alone
    deadline: float = float("inf")


def run_on_dask(paths: list[str], plan: Plan, collect: Callable[[ImageResult], None]) -> None:
    """The runner's seam: check ``paths`` on the cluster at ``plan.scheduler`` and call
    ``collect`` once per path, in completion order."""
    distributed = import_distributed()
    if not plan.scheduler:
        raise DaskSetupError("the dask executor needs the scheduler address: pass --scheduler tcp://HOST:PORT "
                             "or set scheduler = \"tcp://HOST:PORT\" in [tool.noticer]")
    if not paths:
        return
    try:
        client = distributed.Client(plan.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise DaskSetupError(f"cannot reach the Dask scheduler at {plan.scheduler}: {exc}") from None
    with client:
        run_with_client(client, paths, plan, collect)


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


def run_with_client(client, paths: Sequence[str], plan: Plan, collect: Callable[[ImageResult], None],
                    max_in_flight: int | None = None) -> None:
    """Check ``paths`` through an already connected ``distributed.Client``."""
    items = [(str(p), source_of(str(p))) for p in paths]
    waiting: deque[_Batch] = deque(_Batch(b, 0) for b in batches(items, plan.batch_size))
    # the plan is small (a few kB pickled) and travels with each task: scattered data would be
    # lost with the workers holding it, and with it every task still waiting for it
    worker_plan = plan_for_workers(plan)
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
        for display, _source in batch.items:
            emit(error_result(display, f"not checked: {why}, and again when it was retried alone",
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
            future = client.submit(check_batch, batch.items, worker_plan, pure=False)
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
                for display, _source in batch.items:  # a batch always answers for each image
                    if display not in reported:
                        emit(error_result(display, "not checked: its batch returned no result for it",
                                          executor="dask"))
            future.release()
        now = time.monotonic()
        for future, batch in list(running.items()):
            if now > batch.deadline:
                del running[future]
                future.cancel()
                give_up(batch, f"it took longer than the time limit ({plan.timeout:g} s per image) on the cluster")


# ----------------------------------------------------------------------------- notebook API

def finding_record(result: ImageResult, finding: Finding) -> dict[str, Any]:
    """One flat row per finding, ready for ``bag.to_dataframe()``."""
    region = finding.region
    return {
        "path": result.path,
        "verdict": result.verdict.value,
        "code": finding.code,
        "rule": finding.rule,
        "severity": finding.severity.value,
        "confidence": float(finding.confidence),
        "message": finding.message,
        "region_x": region.x if region else None,
        "region_y": region.y if region else None,
        "region_width": region.width if region else None,
        "region_height": region.height if region else None,
    }


def image_record(result: ImageResult) -> dict[str, Any]:
    """One row per image: its verdict and the codes found (empty for a pass)."""
    return {
        "path": result.path,
        "sha256": result.sha256,
        "width": result.width,
        "height": result.height,
        "verdict": result.verdict.value,
        "codes": sorted({f.code for f in result.findings}),
    }


def _check_partition(paths: Iterable[str], plan: Plan, per: str) -> list[dict[str, Any]]:
    _prepare_worker_process()
    rows: list[dict[str, Any]] = []
    for path in paths:
        result = check_one(str(path), source_of(str(path)), plan)
        if per == "image":
            rows.append(image_record(result))
        else:
            rows.extend(finding_record(result, f) for f in result.findings)
    return rows


def expand_inputs(paths: Sequence[str | os.PathLike], exclude: Sequence[str] = ()) -> list[str]:
    """Local files and folders (as the CLI finds them) and URLs, as one sorted list."""
    from .imageio import find_images

    local = [p for p in paths if not is_url(p)]
    urls = [str(p) for p in paths if is_url(p)]
    images, problems = find_images(local, exclude=exclude) if local else ([], [])
    if problems:
        where, why = problems[0]
        raise FileNotFoundError(f"{where}: {why}")
    return sorted([str(p) for p in images] + expand_urls(urls, exclude=exclude))


def check_bag(paths_or_bag, profile: str | None = None, *, per: str = "finding",
              batch_size: int | None = None, **plan_options: Any):
    """A Dask bag of results, computed wherever dask computes (the distributed ``Client``
    you created, or local processes).

    ``paths_or_bag``: a path, URL, or list of them (folders are expanded), or a dask bag of
    path/URL strings. ``per="finding"`` gives one dict per finding (:func:`finding_record`);
    ``per="image"`` one dict per image (:func:`image_record`), passes included. Other
    keywords are those of :func:`checker.api.build_plan` (select, ignore, settings, ...).

        from checker.dask import check_bag
        findings = check_bag("s3://bucket/generated/", profile="strict")
        rejected = findings.filter(lambda f: f["severity"] == "error").pluck("path").distinct().compute()

    Unlike the executor, a bag leaves worker deaths to Dask alone: a task is rerun on another
    worker up to the scheduler's ``allowed-failures``, and an image that kills every worker
    makes ``compute()`` raise KilledWorker.
    """
    import_distributed()
    import dask.bag as db

    from .api import build_plan

    if per not in ("finding", "image"):
        raise ValueError("per must be 'finding' or 'image'")
    if isinstance(paths_or_bag, db.Bag):
        plan, _warnings = build_plan([], profile=profile, **plan_options)
        bag = paths_or_bag
    else:
        inputs = [paths_or_bag] if isinstance(paths_or_bag, (str, os.PathLike)) else list(paths_or_bag)
        plan, _warnings = build_plan([p for p in inputs if not is_url(p)], profile=profile, **plan_options)
        images = expand_inputs(inputs, exclude=plan.exclude)
        size = batch_size or plan.batch_size
        bag = db.from_sequence(images, partition_size=max(1, size)) if images else db.from_sequence([], npartitions=1)
    return bag.map_partitions(_check_partition, plan_for_workers(plan), per)

