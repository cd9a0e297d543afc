"""An image's job: everything one image's check depends on, built once per run.

The runner checks an :class:`ImageJob` (in this process, a worker process or on a Dask
worker) and the result cache keys its entries by the same job, so what decides a result is
found in one place: the bytes at ``source``, the rules left after per-file ignores, the
expected text for the image's path, its sidecar ``.txt`` and its ALIGN004 reference.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import Plan, RulePlan
from .inputs import is_url, sidecar_paths
from .model import Severity


@dataclass(frozen=True)
class ImageJob:
    path: str  # the path reported, as the user gave it (or as git names it)
    source: str  # where the bytes are read: a local path or a URL
    rules: tuple[RulePlan, ...]  # the plan's rules minus the image's per-file ignores
    expected_text: tuple[str, ...] = ()  # text the image must show (TEXT003)
    sidecar_text: str | None = None  # the prompt file beside the image
    reference: str | None = None  # the ALIGN004 reference found for it
    reference_folder: str | None = None  # where references were looked for (None: not asked)
    max_pixels: int = Plan.max_pixels
    fail_on: Severity = Severity.ERROR

    @property
    def reference_note(self) -> str | None:
        """What the report says about the reference, said even when ALIGN004 passes."""
        if self.reference_folder is None:
            return None
        return self.reference if self.reference else f"none found in {self.reference_folder}"


def sidecar_text(path: str) -> str | None:
    """The text of ``x.txt`` or ``x.png.txt`` beside a local image (a prompt), if any."""
    if is_url(path):
        return None
    for candidate in sidecar_paths(path):
        try:
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return None


def reference_for(path: str, folder: str | None) -> str | None:
    """The image's reference in ``folder``: the file there with the longest tail of the
    image's path (``in/a/x.png`` takes ``REF/a/x.png`` before ``REF/x.png``), so images of
    the same name in different folders each meet their own."""
    if not folder:
        return None
    base = Path(folder)
    parts = Path(os.path.abspath(path)).parts[1:]
    for start in range(len(parts)):
        candidate = base.joinpath(*parts[start:])
        if candidate.is_file():
            return str(candidate)
    return None


def build_job(path: str, plan: Plan, source: str | None = None) -> ImageJob:
    """The job of the image reported as ``path`` whose bytes are at ``source`` (default: the
    path itself; a temporary export for git's staged or pushed content). Globs are matched
    against the reported path; the sidecar and reference are found beside the bytes."""
    source = str(source or path)
    return ImageJob(path=str(path), source=source, rules=plan.rules_for(str(path)),
                    expected_text=plan.expected_text_for(str(path)), sidecar_text=sidecar_text(source),
                    reference=reference_for(source, plan.reference), reference_folder=plan.reference or None,
                    max_pixels=plan.max_pixels, fail_on=plan.fail_on)
