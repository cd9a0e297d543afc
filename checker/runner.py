"""Running rules over images: one image at a time, in-process or in worker processes.

Every image becomes exactly one :class:`ImageResult`, whatever happens: an unreadable file,
a rule that raises, a worker that crashes or runs past the time limit all turn into an
IMG001 finding for that image, and the run goes on with the rest.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import time
import traceback
from multiprocessing.connection import wait as wait_connections
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .config import ConfigError, Plan
from .context import ImageContext
from .imageio import ImageLoadError, load_image, read_bytes, sha256_of
from .model import Finding, ImageResult, Issue, Region, Severity, verdict_for

ENGINE_CODE, ENGINE_NAME = "IMG001", "image.unreadable"
ResultCallback = Callable[[ImageResult], None]


# ----------------------------------------------------------------------------- one image

def engine_finding(message: str, **measurements: Any) -> Finding:
    return Finding(ENGINE_CODE, ENGINE_NAME, Severity.ERROR, 1.0, message, None, sanitize(measurements))


def error_result(path: str, message: str, sha256: str | None = None, **measurements: Any) -> ImageResult:
    finding = engine_finding(message, **measurements)
    return ImageResult(path, sha256, None, None, verdict_for((finding,), Severity.ERROR, True), (finding,), {})


def sanitize(value: Any) -> Any:
    """Make measurements JSON-friendly: numpy scalars and arrays, tuples, paths, NaN."""
    if isinstance(value, Mapping):
        return {str(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    if isinstance(value, np.ndarray):
        return sanitize(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else round(f, 4)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _read_url(url: str) -> bytes:
    from .dask import DaskSetupError, read_url  # fsspec comes with the noticer[dask] extra

    try:
        return read_url(url)
    except FileNotFoundError:
        raise ImageLoadError("cannot read the file: no such file at this URL") from None
    except (OSError, ImportError, DaskSetupError) as exc:
        raise ImageLoadError(f"cannot read the file: {type(exc).__name__}: {exc}") from None


def _sidecar_text(path: Path) -> str | None:
    for candidate in (path.with_suffix(".txt"), path.with_name(path.name + ".txt")):
        try:
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return None


def _reference_for(path: Path, plan: Plan) -> Path | None:
    """The image's reference in ``plan.reference``: the file there with the longest tail of
    the image's path (``in/a/x.png`` takes ``REF/a/x.png`` before ``REF/x.png``), so images of
    the same name in different folders each meet their own."""
    if not plan.reference:
        return None
    base = Path(plan.reference)
    parts = Path(os.path.abspath(path)).parts[1:]
    for start in range(len(parts)):
        candidate = base.joinpath(*parts[start:])
        if candidate.is_file():
            return candidate
    return None


def _finding_sort_key(f: Finding) -> tuple:
    r = f.region
    return (f.code, (r.y, r.x, r.height, r.width) if r else (-1, -1, -1, -1), f.message)


def check_image(path: str | Path, plan: Plan, data: bytes | None = None) -> ImageResult:
    """Check one image with the plan's rules, in this process."""
    display = str(path)
    path = Path(path)
    started = time.perf_counter()
    sha = None
    try:
        if data is None:
            data = _read_url(display) if "://" in display else read_bytes(path)
        sha = sha256_of(data)
        image = load_image(path, plan.max_pixels, data=data)
    except ImageLoadError as exc:
        return error_result(display, f"unreadable image: {exc}", sha, **exc.measurements)
    except MemoryError:
        return error_result(display, "unreadable image: not enough memory to decode it", sha)
    timings: dict[str, float] = {"load": (time.perf_counter() - started) * 1000.0}
    reference = _reference_for(path, plan)
    ctx = ImageContext(path, image, reference_path=reference,
                       sidecar_text=_sidecar_text(path), expected_text=plan.expected_text_for(display))
    if plan.reference:  # whether ALIGN004 had anything to compare with, said even when it passes
        ctx.observe("reference", str(reference) if reference else f"none found in {plan.reference}")
    findings: list[Finding] = []
    broken = False
    for rp in plan.rules_for(display):
        if rp.rule.check is None:
            continue
        t0 = time.perf_counter()
        try:
            for issue in rp.rule.check(ctx, rp.settings) or ():
                findings.append(_stamp(rp, issue, image.width, image.height))
        except Exception as exc:  # noqa: BLE001 - a crashing rule must not lose the image
            broken = True
            findings.append(engine_finding(
                f"rule {rp.rule.code} {rp.rule.name} crashed on this image: {type(exc).__name__}: {exc}",
                rule=rp.rule.name, traceback=traceback.format_exc(limit=4)))
        timings[rp.rule.name] = (time.perf_counter() - t0) * 1000.0
    if image.frames > 1:
        # the note travels with every finding of an animated image: only its first frame was checked
        findings = [Finding(f.code, f.rule, f.severity, f.confidence, f.message, f.region,
                            {**f.measurements, "frames": image.frames, "checked_frame": 0})
                    for f in findings]
    ordered = tuple(sorted(findings, key=_finding_sort_key))
    return ImageResult(display, sha, image.width, image.height, verdict_for(ordered, plan.fail_on, broken),
                       ordered, timings, sanitize(ctx.observations))


def _stamp(rp, issue: Issue, width: int, height: int) -> Finding:
    if not isinstance(issue, Issue):
        raise TypeError(f"rule yielded {type(issue).__name__}, expected checker.model.Issue")
    region = issue.region.clipped(width, height) if isinstance(issue.region, Region) else None
    confidence = float(min(max(issue.confidence, 0.0), 1.0))
    return Finding(rp.rule.code, rp.rule.name, rp.severity, confidence, issue.message, region,
                   sanitize(dict(issue.measurements)))


# ----------------------------------------------------------------------------- many images

def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def preflight_problems(plan: Plan) -> list[str]:
    """What the rules about to run lack (``Rule.preflight``), each said once: a missing OCR
    engine is one clear error before the run, not a crash of three rules on every image."""
    problems: list[str] = []
    for rp in plan.rules:
        problem = rp.rule.preflight(rp.settings) if rp.rule.preflight else None
        if problem and problem not in problems:
            problems.append(problem)
    return problems


def run_paths(paths: Sequence[str | Path], plan: Plan, jobs: int | None = None,
              on_result: ResultCallback | None = None) -> list[ImageResult]:
    """Check every path; results come back sorted by path. ``jobs=0`` runs in this process
    (no crash or time-limit isolation); otherwise ``jobs`` worker processes are used. With
    ``plan.executor == "dask"`` the work goes to the Dask cluster at ``plan.scheduler``."""
    jobs = default_jobs() if jobs is None else jobs
    paths = [str(p) for p in paths]
    results: dict[str, ImageResult] = {}
    missing = preflight_problems(plan) if plan.executor == "local" and paths else []
    if missing:
        raise ConfigError("; ".join(missing))

    def collect(result: ImageResult) -> None:
        results[result.path] = result
        if on_result:
            on_result(result)

    # --- result cache (checker/cache.py): hits are reported at once, only misses are checked
    if plan.cache and paths:
        from . import cache as result_cache

        found = result_cache.lookup(result_cache.ResultCache(result_cache.cache_root(plan)), plan, paths)
        for hit in found.hits:
            collect(hit)
        paths = [p for p in paths if p not in results]

        def collect_and_store(result: ImageResult, _collect=collect) -> None:
            result_cache.store(found, result)
            _collect(result)

        collect = collect_and_store
    # --- end of result cache

    if plan.executor == "dask":
        from .dask import run_on_dask  # needs the noticer[dask] extra; it says so when missing

        run_on_dask(paths, plan, collect)
    elif jobs <= 0:
        for p in paths:
            collect(check_image(p, plan))
    elif paths:
        with WorkerPool(plan, min(jobs, len(paths))) as pool:
            pool.run(paths, collect)
    return [results[p] for p in sorted(results, key=lambda s: Path(s).as_posix())]


def _limit_threads() -> None:
    """One worker per core: keep numerical libraries from starting their own thread pools."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(var, "1")



def _worker_main(conn, plan: Plan) -> None:
    _limit_threads()
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001
        pass
    while True:
        try:
            path = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if path is None:
            return
        try:
            result = check_image(path, plan)
        except BaseException as exc:  # noqa: BLE001
            result = error_result(path, f"internal error while checking: {type(exc).__name__}: {exc}")
        conn.send(result)


class _Worker:
    def __init__(self, ctx, plan: Plan) -> None:
        parent, child = ctx.Pipe()
        self.conn = parent
        self.process = ctx.Process(target=_worker_main, args=(child, plan), daemon=True)
        self.process.start()
        child.close()
        self.task: str | None = None
        self.deadline = math.inf

    def send(self, path: str, timeout: float) -> None:
        self.task = path
        self.deadline = time.monotonic() + timeout
        self.conn.send(path)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """A small process pool that survives its workers: a worker that dies or overruns the
    per-image time limit is replaced and only its current image is reported as an error."""

    def __init__(self, plan: Plan, jobs: int) -> None:
        _limit_threads()
        self.plan = plan
        self.ctx = multiprocessing.get_context("spawn")
        self.workers = [_Worker(self.ctx, plan) for _ in range(max(1, jobs))]

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
        self.workers[self.workers.index(worker)] = _Worker(self.ctx, self.plan)

    def run(self, paths: Iterable[str], collect: ResultCallback) -> None:
        pending = list(paths)[::-1]
        timeout = self.plan.timeout
        # the first image of each worker also pays for loading models: give it more time
        first_grace = {id(w): 60.0 for w in self.workers}
        while True:
            for w in self.workers:
                if w.task is None and pending:
                    try:
                        w.send(pending.pop(), timeout + first_grace.pop(id(w), 0.0))
                    except OSError:
                        path = w.task
                        self._replace(w)
                        collect(error_result(path, "worker process could not take the image; it was restarted"))
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
                        result = error_result(w.task, "the worker checking this image crashed "
                                                      f"(exit code {w.process.exitcode}); it was restarted",
                                              exitcode=w.process.exitcode)
                        self._replace(w)
                    else:
                        w.task, w.deadline = None, math.inf
                    collect(result)
                elif w.process.sentinel in ready or not w.process.is_alive():
                    w.process.join(1)
                    collect(error_result(w.task, "the worker checking this image crashed "
                                                 f"(exit code {w.process.exitcode}); it was restarted",
                                         exitcode=w.process.exitcode))
                    self._replace(w)
                elif time.monotonic() > w.deadline:
                    collect(error_result(w.task, f"checking took longer than the time limit "
                                                 f"({timeout:g} s); the worker was stopped",
                                         timeout_s=timeout))
                    self._replace(w)
