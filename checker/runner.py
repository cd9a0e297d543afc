"""Checking one image: :func:`check_image` runs an :class:`~checker.job.ImageJob`'s rules.

Every image becomes exactly one :class:`ImageResult`, whatever happens: an unreadable file or
a rule that raises turns into an IMG001 finding for that image (a worker that crashes or
runs past the time limit is the executors' to report, with :func:`error_result`).
:func:`stamp` turns what a rule yields (an :class:`Issue`) into the :class:`Finding` reported,
with the rule's code, name and resolved severity.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .config import RulePlan
from .context import ImageContext
from .imageio import ImageLoadError, load_image, read_source, sha256_of
from .job import ImageJob
from .model import Finding, ImageResult, Issue, Region, Severity, verdict_for

ENGINE_CODE, ENGINE_NAME = "IMG001", "image.unreadable"


def engine_finding(message: str, **measurements: Any) -> Finding:
    return Finding(ENGINE_CODE, ENGINE_NAME, Severity.ERROR, 1.0, message, None, sanitize(measurements))


def error_result(path: str, message: str, sha256: str | None = None, **measurements: Any) -> ImageResult:
    """The result of an image that could not be checked: one IMG001 finding, verdict error."""
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


def stamp(rule_plan: RulePlan, issue: Issue, width: int, height: int) -> Finding:
    """The finding a rule's issue becomes: the rule's code, name and resolved severity, the
    region in whole pixels clipped to the image, the confidence clipped to [0, 1],
    JSON-friendly measurements. What no report can hold (a message that is not text, a
    confidence or region that is not a finite number) is refused here, at the rule's
    boundary, as that rule's error, not later by a formatter."""
    if not isinstance(issue, Issue):
        raise TypeError(f"rule yielded {type(issue).__name__}, expected checker.model.Issue")
    if not isinstance(issue.message, str):
        raise TypeError(f"rule yielded an Issue whose message is {type(issue.message).__name__}, not str")
    try:
        confidence = float(issue.confidence)
    except (TypeError, ValueError):
        confidence = math.nan
    if not math.isfinite(confidence):
        raise ValueError(f"rule yielded an Issue whose confidence is not a finite number: {issue.confidence!r}")
    region = whole_pixels(issue.region).clipped(width, height) if isinstance(issue.region, Region) else None
    return Finding(rule_plan.rule.code, rule_plan.rule.name, rule_plan.severity, min(max(confidence, 0.0), 1.0),
                   issue.message, region, sanitize(dict(issue.measurements)))


def whole_pixels(region: Region) -> Region:
    """A region in whole pixels: integral coordinates as they are, a fractional box grown to
    the pixels it touches. A coordinate that is not a finite number is a ValueError."""
    values = (region.x, region.y, region.width, region.height)
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        floats = [math.nan]
    if not all(math.isfinite(v) for v in floats):
        raise ValueError(f"rule yielded an Issue whose region is not in finite numbers: {region!r}")
    if all(v.is_integer() for v in floats):
        return Region(*(int(v) for v in floats))
    x0, y0 = math.floor(floats[0]), math.floor(floats[1])
    x1, y1 = math.ceil(floats[0] + floats[2]), math.ceil(floats[1] + floats[3])
    return Region(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


def finding_sort_key(f: Finding) -> tuple:
    r = f.region
    return (f.code, (r.y, r.x, r.height, r.width) if r else (-1, -1, -1, -1), f.message)


def check_image(job: ImageJob, data: bytes | None = None) -> ImageResult:
    """Check one image with its job's rules, in this process. ``data``: its bytes, when the
    caller has read them already."""
    started = time.perf_counter()
    sha = None
    try:
        if data is None:
            data = read_source(job.source)
        sha = sha256_of(data)
        image = load_image(Path(job.source), job.max_pixels, data=data, sha256=sha)
    except ImageLoadError as exc:
        return error_result(job.path, f"unreadable image: {exc}", sha, **exc.measurements)
    except MemoryError:
        return error_result(job.path, "unreadable image: not enough memory to decode it", sha)
    timings: dict[str, float] = {"load": (time.perf_counter() - started) * 1000.0}
    ctx = ImageContext(Path(job.source), image, reference_path=Path(job.reference) if job.reference else None,
                       sidecar_text=job.sidecar_text, expected_text=job.expected_text)
    if job.reference_note is not None:  # whether ALIGN004 had anything to compare with
        ctx.observe("reference", job.reference_note)
    observed_by: dict[str, str] = {}
    findings: list[Finding] = []
    broken = False
    for rp in job.rules:
        if rp.rule.check is None:
            continue
        t0 = time.perf_counter()
        before = set(ctx.observations)
        try:
            # stdout carries the report (`--format json`): what a rule prints goes to stderr
            with contextlib.redirect_stdout(sys.stderr):
                for issue in rp.rule.check(ctx, rp.settings) or ():
                    findings.append(stamp(rp, issue, image.width, image.height))
        except Exception as exc:  # noqa: BLE001 - a crashing rule must not lose the image
            broken = True
            findings.append(engine_finding(
                f"rule {rp.rule.code} {rp.rule.name} crashed on this image: {type(exc).__name__}: {exc}",
                rule=rp.rule.name, traceback=traceback.format_exc(limit=4)))
        timings[rp.rule.name] = (time.perf_counter() - t0) * 1000.0
        observed_by.update({key: rp.rule.code for key in ctx.observations if key not in before})
    if image.frames > 1:
        # the note travels with every finding of an animated image: only its first frame was checked
        findings = [Finding(f.code, f.rule, f.severity, f.confidence, f.message, f.region,
                            {**f.measurements, "frames": image.frames, "checked_frame": 0})
                    for f in findings]
    ordered = tuple(sorted(findings, key=finding_sort_key))
    return ImageResult(job.path, sha, image.width, image.height, verdict_for(ordered, job.fail_on, broken),
                       ordered, timings, sanitize(ctx.observations), observed_by)


def preflight_problems(rules: Sequence[RulePlan]) -> list[str]:
    """What the rules about to run lack (``Rule.preflight``), each said once: a missing OCR
    engine is one clear error before the run, not a crash of three rules on every image."""
    problems: list[str] = []
    for rp in rules:
        problem = rp.rule.preflight(rp.settings) if rp.rule.preflight else None
        if problem and problem not in problems:
            problems.append(problem)
    return problems
