"""Running noticer on a Dask cluster: the notebook API (:func:`check_bag`).

    from checker.dask import check_bag
    findings = check_bag("s3://bucket/generated/", profile="strict")

The executor behind ``noticer check --executor dask`` lives in :mod:`checker.executors.dask`;
its names are re-exported here, where they have always been importable.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Iterable

from .config import Plan
from .errors import DaskSetupError
from .executors.dask import (CONNECT_TIMEOUT_S, MODEL_LOAD_GRACE_S, NO_WORKERS_LIMIT_S, batch_deadline_s, batches,
                             check_batch, check_one, for_workers, import_distributed, run_on_dask, run_with_client)
from .inputs import absolute_source as source_of
from .inputs import expand_inputs, expand_urls, import_fsspec, is_url, read_url
from .job import build_job
from .model import Finding, ImageResult
from .session import build_plan

__all__ = ["CONNECT_TIMEOUT_S", "MODEL_LOAD_GRACE_S", "NO_WORKERS_LIMIT_S", "DaskSetupError", "batch_deadline_s",
           "batches", "check_bag", "check_batch", "check_one", "expand_inputs", "expand_urls", "finding_record",
           "image_record", "import_distributed", "import_fsspec", "is_url", "read_url", "run_on_dask",
           "run_with_client", "source_of"]


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
    rows: list[dict[str, Any]] = []
    jobs = [for_workers(build_job(str(path), plan, source=source_of(str(path)))) for path in paths]
    for result in check_batch(jobs):
        if per == "image":
            rows.append(image_record(result))
        else:
            rows.extend(finding_record(result, f) for f in result.findings)
    return rows


def _plan_for_workers(plan: Plan) -> Plan:
    """Workers build their jobs where their working folder is not the caller's: the
    reference folder travels as an absolute path."""
    if plan.reference and not is_url(plan.reference):
        return replace(plan, reference=os.path.abspath(plan.reference))
    return plan


def check_bag(paths_or_bag, profile: str | None = None, *, per: str = "finding",
              batch_size: int | None = None, **plan_options: Any):
    """A Dask bag of results, computed wherever dask computes (the distributed ``Client``
    you created, or local processes).

    ``paths_or_bag``: a path, URL, or list of them (folders are expanded), or a dask bag of
    path/URL strings. ``per="finding"`` gives one dict per finding (:func:`finding_record`);
    ``per="image"`` one dict per image (:func:`image_record`), passes included. Other
    keywords are those of :func:`checker.session.build_plan` (select, ignore, settings, ...).

        from checker.dask import check_bag
        findings = check_bag("s3://bucket/generated/", profile="strict")
        rejected = findings.filter(lambda f: f["severity"] == "error").pluck("path").distinct().compute()

    Unlike the executor, a bag leaves worker deaths to Dask alone: a task is rerun on another
    worker up to the scheduler's ``allowed-failures``, and an image that kills every worker
    makes ``compute()`` raise KilledWorker.
    """
    import_distributed()
    import dask.bag as db

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
    return bag.map_partitions(_check_partition, _plan_for_workers(plan), per)

