"""ALIGN004 align.reference-offset: the image drifted from its reference.

The one place the ALIGN family reads a file besides its image: the reference is loaded with
``checker.context`` (load_image, ImageLoadError), kept here and nowhere else in rules/align.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from checker.model import Issue, Region, Severity
from checker.rule import Rule

from . import offsets


@dataclass(frozen=True)
class ReferenceSettings:
    max_translation: float = 1.0  # pixels
    max_scale_change: float = 0.005  # relative (0.005 = 0.5 %)
    max_rotation: float = 0.2  # degrees
    min_response: float = 0.05  # phase-correlation peak below this: the images differ too much to compare

    def __post_init__(self) -> None:
        if self.max_translation < 0 or self.max_scale_change < 0 or self.max_rotation < 0:
            raise ValueError("tolerances must not be negative")


@functools.lru_cache(maxsize=8)
def _reference_gray(path: str, mtime: float) -> np.ndarray:
    import cv2

    from checker.context import load_image
    from pathlib import Path

    return cv2.cvtColor(load_image(Path(path)).rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def check_reference_offset(ctx, settings: ReferenceSettings):
    """
    What it detects
        With a reference folder (`--reference DIR` or config `reference`), the image is compared
        with the file of the same name there: translation (sub-pixel phase correlation), scale
        and rotation (log-polar spectrum) are estimated, and a drift beyond tolerance is
        reported with its size: the export that moved away from its original.

    Why people notice
        Flipping between the original and the export, or overlaying them in a layout, shows the
        jump at once; crops, masks and overlays made for the original no longer fit.

    Settings
        max_translation: pixels of shift tolerated (lenient 1.0, strict 0.25).
        max_scale_change: relative size change tolerated.
        max_rotation: degrees of rotation tolerated.
        min_response: below this phase-correlation peak the two images are too different to
            compare, and nothing is reported.

    Known limits
        No reference, no finding (the report's observations say "none found"). The reference
        is the file in the folder with the longest tail of the image's path (`a/x.png`
        before `x.png`). An unreadable reference is reported as such. A reference of another size is resized to the image first,
        so a pure resize is not reported (its ratio is in the measurements). Large edits between
        the two weaken the estimate; translations beyond a quarter of the image are unreliable.
    """
    if ctx.reference_path is None:
        return
    path = str(ctx.reference_path)
    import os

    from checker.context import ImageLoadError

    try:
        ref = _reference_gray(path, os.path.getmtime(path))
    except (ImageLoadError, OSError) as exc:  # the reference is broken, not the image
        yield Issue(message=f"reference {path} cannot be read: {exc}; the image was not compared with it",
                    region=None, confidence=1.0, measurements={"reference": path, "error": str(exc)})
        return
    gray = ctx.gray
    est = offsets.estimate_alignment(gray, ref)
    if est.response < settings.min_response:
        return
    problems = []
    if est.translation > settings.max_translation:
        problems.append(f"moved {est.translation:.2f} px (dx {est.dx:+.2f}, dy {est.dy:+.2f})")
    if abs(est.scale - 1.0) > settings.max_scale_change:
        problems.append(f"scaled {100 * (est.scale - 1):+.2f}%")
    if abs(est.rotation) > settings.max_rotation:
        problems.append(f"rotated {est.rotation:+.2f} deg")
    if not problems:
        return
    yield Issue(
        message=f"offset from reference {ctx.reference_path.name}: " + ", ".join(problems),
        region=None,
        confidence=float(min(1.0, 0.5 + est.response)),
        measurements={"dx": round(est.dx, 3), "dy": round(est.dy, 3), "translation": round(est.translation, 3),
                      "scale": round(est.scale, 5), "rotation_deg": round(est.rotation, 4),
                      "response": round(est.response, 3),
                      "reference_size": [int(ref.shape[1]), int(ref.shape[0])],
                      "size_ratio": round(ctx.width / ref.shape[1], 5)},
    )


ALIGN004 = Rule(
    code="ALIGN004",
    name="align.reference-offset",
    summary="Image drifted from its reference (translation, scale, rotation)",
    check=check_reference_offset,
    severity=Severity.WARNING,
    settings=ReferenceSettings,
    profiles={"lenient": {}, "strict": {"max_translation": 0.25, "max_scale_change": 0.002, "max_rotation": 0.05}},
)
