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
          jobs: int | None = 0, on_result: Callable[[ImageResult], None] | None = None,
          **plan_options: Any) -> Report:
    """Check files and folders and return the :class:`Report` (``report.to_dict()`` is the JSON).

    ``jobs=0`` (the default here) runs in this process; ``jobs=N`` uses N worker processes.
    Other keywords are those of :func:`build_plan` (config, select, ignore, settings, fail_on,
    exclude, reference, max_pixels, timeout, cache, cache_dir).

    Results are reused from the result cache (checker/cache.py) as on the command line:
    ``.noticer_cache`` beside the config file, or in the current folder without one; pass
    ``cache=False`` to check every image afresh and write nothing."""
    return session.check(paths, profile=profile, jobs=jobs, on_result=on_result, **plan_options)
