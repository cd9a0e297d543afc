"""The Python API: check paths and get the report as a typed object and a JSON dict.

    from checker import check
    report = check(["art/"], profile="strict")
    report.exit_code, report.to_dict()

``check`` runs the same pipeline as ``noticer check`` (:mod:`checker.session`).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from . import session
from .model import ImageResult, Report
from .session import build_plan, report_from

__all__ = ["build_plan", "check", "report_from"]


def check(paths: Sequence[str | os.PathLike] | str | os.PathLike, *, profile: str | None = None,
          jobs: int | None = None, on_result: Callable[[ImageResult], None] | None = None,
          **plan_options: Any) -> Report:
    """Check files and folders and return the :class:`Report` (``report.to_dict()`` is the JSON).

    By default (``jobs=None``) images are checked in worker processes, one per core (fewer
    when memory is short: ``checker.executors.local.default_jobs``), as on
    the command line: a decoder or model that crashes, or an image past ``timeout``, costs
    that image an IMG001 finding and the call returns. ``jobs=N`` uses N workers.
    ``jobs=0`` checks in this process: no start-up cost, but no protection either: a native
    crash (a segfault or abort in a decoder or model) ends your interpreter, and ``timeout``
    is not applied.
    Other keywords are those of :func:`build_plan` (config, select, ignore, settings, fail_on,
    exclude, reference, max_pixels, timeout, cache, cache_dir).

    Results are reused from the result cache (checker/cache.py) as on the command line:
    ``.noticer_cache`` beside the config file, or in the current folder without one; pass
    ``cache=False`` to check every image afresh and write nothing."""
    return session.check(paths, profile=profile, jobs=jobs, on_result=on_result, **plan_options)
