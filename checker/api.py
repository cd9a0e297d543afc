"""The Python API: check paths and get the report as a typed object and a JSON dict.

    from checker import check
    report = check(["art/"], profile="strict")
    report.exit_code, report.to_dict()
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .config import Plan, load_config, parse_set_option, resolve
from .discovery import discover_rules
from .imageio import find_images
from .model import ImageResult, Report
from .runner import run_paths


def build_plan(paths: Sequence[str | os.PathLike] = (), *, config: str | None = None,
               profile: str | None = None, select: Sequence[str] | None = None,
               ignore: Sequence[str] = (), settings: Sequence[str] = (), fail_on: str | None = None,
               **options: Any) -> tuple[Plan, tuple[str, ...]]:
    """Find rules and config and resolve them. ``settings`` are ``RULE.SETTING=VALUE`` strings."""
    discovered = discover_rules()
    cfg, cfg_path = load_config(list(paths), config)
    sets = [parse_set_option(s) for s in settings]
    plan = resolve(discovered.rules, cfg, profile=profile, select=select, ignore=ignore, sets=sets,
                   fail_on=fail_on, config_path=str(cfg_path) if cfg_path else None, **options)
    return plan, discovered.warnings


def report_from(plan: Plan, results: Sequence[ImageResult]) -> Report:
    return Report(tool_version=__version__, profile=plan.profile, settings=plan.settings,
                  images=tuple(results), rules=plan.all_rules, fail_on=plan.fail_on)


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
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    plan, _warnings = build_plan(paths, profile=profile, **plan_options)
    images, _problems = find_images(paths, exclude=plan.exclude)
    results = run_paths(images, plan, jobs=jobs, on_result=on_result)
    return report_from(plan, results)
