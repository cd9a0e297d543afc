"""The one pipeline: discover rules -> resolve the plan -> find the inputs -> look them up in
the result cache -> execute the rest -> report. The CLI (``noticer check``, and so the git
hooks), the Python API (:func:`checker.check`) and the notebook API
(:func:`checker.dask.check_bag`, which builds its plan and inputs here) all go through it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import headstart
from .cache import CachedImage, ResultCache, RunCache, assemble, cache_root
from .config import Plan, load_config, parse_set_option, resolve
from .discovery import discover_rules
from .errors import ConfigError
from .executors.dask import run_on_dask
from .executors.local import default_jobs, run_local
from .inputs import REPEATED_FOLDER, find_images
from .job import ImageJob, build_job
from .model import ImageResult, Report
from .rule import Rule
from .runner import error_result, preflight_problems
from .version import __version__

ResultCallback = Callable[[ImageResult], None]


@dataclass(frozen=True)
class Inputs:
    """The images of a run: the paths reported, where their bytes are when elsewhere (git's
    staged or pushed content, exported to a temporary folder), and paths that could not be
    walked, with why."""

    images: tuple[str, ...]
    sources: Mapping[str, str] = field(default_factory=dict)  # reported path -> file checked
    problems: tuple[tuple[str, str], ...] = ()  # notes: nothing was left out
    unchecked: tuple[tuple[str, str], ...] = ()  # paths whose images could not be found, with why


def build_plan(paths: Sequence[str | os.PathLike] = (), *, config: str | None = None,
               profile: str | None = None, select: Sequence[str] | None = None,
               ignore: Sequence[str] = (), settings: Sequence[str] = (), fail_on: str | None = None,
               flag_prefix: str = "", **options: Any) -> tuple[Plan, tuple[str, ...]]:
    """Discover the rules, find the config (``config``, else the nearest to the first path)
    and resolve them with these options. ``settings`` are ``RULE.SETTING=VALUE`` strings;
    ``options`` are engine options by Plan field (timeout, max_pixels, cache, ...).
    Returns the plan and the warnings of rule plugins that failed to load."""
    discovered = discover_rules()
    plan = plan_for(discovered.rules, paths, config=config, profile=profile, select=select, ignore=ignore,
                    settings=settings, fail_on=fail_on, flag_prefix=flag_prefix, **options)
    return plan, discovered.warnings


def plan_for(rules: Sequence[Rule], paths: Sequence[str | os.PathLike] = (), *, config: str | None = None,
             profile: str | None = None, select: Sequence[str] | None = None, ignore: Sequence[str] = (),
             settings: Sequence[str] = (), fail_on: str | None = None, flag_prefix: str = "",
             **options: Any) -> Plan:
    """The plan of these rules: :func:`build_plan` for rules already discovered."""
    cfg, cfg_path = load_config(list(paths), config)
    sets = [parse_set_option(s) for s in settings]
    return resolve(rules, cfg, profile=profile, select=select, ignore=ignore, sets=sets, fail_on=fail_on,
                   config_path=str(cfg_path) if cfg_path else None, flag_prefix=flag_prefix, **options)


def find_inputs(paths: Sequence[str | os.PathLike], plan: Plan) -> Inputs:
    """Files, folders (recursively) and URLs, minus the plan's excludes."""
    found, problems = find_images(paths, exclude=plan.exclude)
    notes = tuple((str(where), why) for where, why in problems if why == REPEATED_FOLDER)
    unchecked = tuple((str(where), why) for where, why in problems if why != REPEATED_FOLDER)
    return Inputs(tuple(str(p) for p in found), {}, notes, unchecked)


def report_from(plan: Plan, results: Sequence[ImageResult]) -> Report:
    return Report(tool_version=__version__, profile=plan.profile, settings=plan.settings,
                  images=tuple(results), rules=plan.all_rules, fail_on=plan.fail_on)


def run_paths(paths: Sequence[str | Path], plan: Plan, jobs: int | None = None,
              on_result: ResultCallback | None = None,
              sources: Mapping[str, str] | None = None) -> list[ImageResult]:
    """Check every path (reported as given; its bytes read from ``sources[path]`` when
    there); results come back sorted by path. Cached results are reported at once and only
    the rest is checked: in this process (``jobs=0``, no crash or time-limit isolation), in
    ``jobs`` worker processes (default: ``default_jobs``), or on the Dask cluster at
    ``plan.scheduler`` with ``plan.executor == "dask"``."""
    workers = default_jobs() if jobs is None else jobs
    sources = sources or {}
    image_jobs = [build_job(str(p), plan, sources.get(str(p))) for p in paths]
    missing = preflight_problems(plan.rules) if plan.executor == "local" and image_jobs else []
    if missing:
        raise ConfigError("; ".join(missing))
    results: dict[str, ImageResult] = {}

    def collect(result: ImageResult) -> None:
        results[result.path] = result
        if on_result:
            on_result(result)

    # the result cache: hits are reported at once, only what it lacks is checked
    run_cache = RunCache(ResultCache(cache_root(plan)), plan) if plan.cache and image_jobs else None
    looked_up: dict[str, CachedImage] = {}
    to_run: list[ImageJob] = []
    for job in image_jobs:
        cached = run_cache.lookup(job) if run_cache else None
        if cached is None:
            to_run.append(job)
        elif cached.to_run is None:
            collect(assemble(job, None, cached.hits))
        else:
            looked_up[job.path] = cached
            to_run.append(cached.to_run)

    def collect_fresh(result: ImageResult) -> None:
        cached = looked_up.get(result.path)
        collect(run_cache.complete(cached, result) if run_cache and cached else result)

    if plan.executor == "dask":
        headstart.cancel()  # the cluster's workers check the images
        run_on_dask(to_run, plan, collect_fresh)
    else:
        run_local(to_run, workers, plan.timeout, collect_fresh)
    if run_cache:
        run_cache.finish()
    return [results[p] for p in sorted(results, key=lambda s: Path(s).as_posix())]


def run(plan: Plan, inputs: Inputs, *, jobs: int | None = None,
        on_result: ResultCallback | None = None) -> Report:
    """Check the inputs with the plan and report. A path whose images could not be found (a
    missing file, a folder that cannot be listed) is an error of the report, never a silent
    gap: it gets an IMG001 result of its own."""
    results = run_paths(inputs.images, plan, jobs=jobs, on_result=on_result, sources=inputs.sources)
    missed = [error_result(where, f"not checked: {why}") for where, why in inputs.unchecked
              if where not in {r.path for r in results}]
    for result in missed:
        if on_result:
            on_result(result)
    return report_from(plan, sorted([*results, *missed], key=lambda r: Path(r.path).as_posix()))


def check(paths: Sequence[str | os.PathLike] | str | os.PathLike, *, profile: str | None = None,
          jobs: int | None = None, on_result: ResultCallback | None = None, **plan_options: Any) -> Report:
    """The whole pipeline for the Python API (:func:`checker.check`)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    plan, _warnings = build_plan(paths, profile=profile, **plan_options)
    # as on the command line: the config's `jobs`, else one worker per core; 0 runs in-process
    return run(plan, find_inputs(paths, plan), jobs=plan.jobs if jobs is None else jobs, on_result=on_result)
