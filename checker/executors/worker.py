"""A worker process of the local pool (:mod:`checker.executors.local`): what runs in it,
from its first message to its last.

It is started by :mod:`checker.headstart` (``spawn``), imports the engine, and waits for
``("start",)``. Then it checks image jobs, one at a time, until None, loading each model
when an image first needs it and telling the pool when it does (:mod:`checker.loading`), so
that the loading is not counted as that image's time."""
from __future__ import annotations

import os
import sys

from .. import loading
from ..allocator import keep_freed_memory
from ..runner import check_image, error_result


def worker_main(conn) -> None:
    """A worker process: import, take ``("start",)``, then image jobs until None. Its
    numerical libraries use one thread each: the environment saying so was set before the
    process started. Memory an image frees is kept for the next (:mod:`checker.allocator`)."""
    keep_freed_memory()
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001 - only a speed setting
        pass
    try:
        first = conn.recv()
    except (EOFError, OSError, KeyboardInterrupt):
        return
    if first != ("start",):
        return
    loading.listen(lambda started: conn.send(("loading",) if started else ("loaded",)))
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            _leave()
        try:
            result = check_image(job)
        except BaseException as exc:  # noqa: BLE001
            result = error_result(job.path, f"internal error while checking: {type(exc).__name__}: {exc}")
        conn.send(result)


def _leave() -> None:
    """End a worker at once: the pool has every result and waits for this process to end.
    Tearing down the interpreter with its models loaded (~60 ms) would keep nothing: a
    worker writes no file and holds nothing that needs closing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)
