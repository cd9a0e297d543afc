"""Pictures of the findings: annotated copies for people, masks for inpainting tools.

* ``write_annotations``: one PNG per image with findings, the regions drawn in the colour
  of their severity and labelled with the rule code; findings without a region (the whole
  image, e.g. META001) are listed in a label at the top left.
* ``write_masks``: one black/white PNG per image with at least one region: white over the
  regions (grown by ``dilate`` pixels), black elsewhere, the size of the image, named like
  the image with a ``.png`` suffix so inpainting tools that pair image and mask by name
  (``a.jpg`` -> ``a.png``) find it.

Both write only into the folder they are given, mirroring the report's relative paths,
and never over a file that was checked. Images are read with the checker's own loader, so
regions and pixels agree (EXIF orientation applied).

Nor over any other file noticer did not write: ``.noticer-pictures.json`` in the folder
records each picture written there with its SHA-256. A file that is in the way and is not
recorded with those exact bytes (a user's own ``a.png``, or noticer's picture edited since)
stays as it is, and the picture goes under a free name beside it (``a.mask.png``,
``a.mask-2.png``, ...), with a note; noticer's own earlier pictures are replaced, so a re-run
does not pile up copies.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from .imageio import ImageLoadError, load_image
from .model import Finding, ImageResult, Region, Report, Severity
from .writing import replace_atomically

SEVERITY_RGB = {Severity.ERROR: (255, 0, 255), Severity.WARNING: (255, 170, 0), Severity.INFO: (0, 200, 255)}


MANIFEST_NAME = ".noticer-pictures.json"
MANIFEST_KIND = "noticer pictures"
MANIFEST_LIMIT = 64 << 20  # bytes: a larger "manifest" is not one noticer wrote


@dataclass(frozen=True)
class Written:
    written: tuple[Path, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())  # (report path, why)
    notes: tuple[tuple[str, str], ...] = field(default=())  # (report path, what was done instead)


def _sha256_of_file(path: Path) -> str | None:
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


class Manifest:
    """What noticer wrote into one pictures folder: relative path -> SHA-256 of the bytes."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / MANIFEST_NAME
        self.files: dict[str, str] = {}
        self.usable = True  # False: a file of that name that is not ours; left alone, never written
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return
        except OSError:
            self.usable = False
            return
        try:
            if not stat.S_ISREG(mode) or os.path.getsize(self.path) > MANIFEST_LIMIT:
                raise ValueError("not a manifest")
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not (isinstance(data, dict) and data.get("kind") == MANIFEST_KIND and isinstance(data.get("files"), dict)):
                raise ValueError("not a manifest")
        except (OSError, ValueError, RecursionError):
            self.usable = False
            return
        self.files = {k: v for k, v in data["files"].items() if isinstance(k, str) and isinstance(v, str)}

    def key(self, target: Path) -> str:
        return target.relative_to(self.path.parent).as_posix()

    def owns(self, target: Path) -> bool:
        """Whether ``target`` holds exactly the bytes noticer wrote there."""
        recorded = self.files.get(self.key(target))
        return recorded is not None and _sha256_of_file(target) == recorded

    def record(self, target: Path, digest: str) -> None:
        self.files[self.key(target)] = digest

    def save(self) -> None:
        """Atomically: the old manifest stays whole if this fails. Entries of pictures no
        longer there are dropped."""
        if not self.usable or not (self.files or os.path.lexists(self.path)):
            return
        folder = self.path.parent
        files = {k: v for k, v in sorted(self.files.items()) if os.path.lexists(folder / k)}
        text = json.dumps({"kind": MANIFEST_KIND, "version": 1, "files": files}, indent=1) + "\n"
        replace_atomically(self.path, text.encode("utf-8"), prefix=".noticer-")


def free_target(target: Path, label: str, manifest: Manifest, taken: set[Path]) -> Path:
    """``target`` when nothing is there or noticer's own picture is, else the first of
    ``stem.label.png``, ``stem.label-2.png``, ... that is free or noticer's."""
    candidate, n = target, 1
    while candidate != target and candidate in taken or (os.path.lexists(candidate) and not manifest.owns(candidate)):
        candidate = target.with_name(f"{target.stem}.{label}{'' if n == 1 else f'-{n}'}{target.suffix}")
        n += 1
    taken.add(candidate)
    return candidate


def grow(region: Region, by: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends, of a region grown by ``by`` pixels and clipped."""
    x0 = max(0, region.x - by)
    y0 = max(0, region.y - by)
    x1 = min(width, region.x + region.width + by)
    y1 = min(height, region.y + region.height + by)
    return x0, y0, max(x0, x1), max(y0, y1)


def mask_for(findings: tuple[Finding, ...], width: int, height: int, dilate: int = 0) -> np.ndarray:
    """H x W uint8: 255 inside every finding's region grown by ``dilate`` pixels, else 0."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for f in findings:
        if f.region is not None:
            x0, y0, x1, y1 = grow(f.region, dilate, width, height)
            mask[y0:y1, x0:x1] = 255
    return mask


@functools.lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "LiberationSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def annotated(rgb: np.ndarray, findings: tuple[Finding, ...]) -> np.ndarray:
    """A copy of the image with every region outlined and labelled with its rule code."""
    from PIL import Image, ImageDraw

    height, width = rgb.shape[:2]
    picture = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(picture)
    line = max(2, round(min(width, height) / 250))
    font = _font(max(11, round(min(width, height) / 45)))
    whole_image = []
    for f in sorted(findings, key=lambda f: f.severity.rank):  # the most severe drawn last, on top
        colour = SEVERITY_RGB[f.severity]
        if f.region is None:
            whole_image.append(f)
            continue
        x0, y0, x1, y1 = grow(f.region, 0, width, height)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=line)
        _label(draw, f.code, x0, y0, colour, font, width, height)
    if whole_image:
        text = "  ".join(f"{f.code} (whole image)" for f in whole_image)
        _label(draw, text, 0, 0, SEVERITY_RGB[max(whole_image, key=lambda f: f.severity.rank).severity],
               font, width, height, inside=True)
    return np.asarray(picture)


def _label(draw, text: str, x: int, y: int, colour, font, width: int, height: int, inside: bool = False) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left + 6, bottom - top + 4
    ty = y - th if (y - th >= 0 and not inside) else y
    tx = min(max(0, x), max(0, width - tw))
    draw.rectangle((tx, ty, tx + tw, ty + th), fill=colour)
    draw.text((tx + 3 - left, ty + 2 - top), text, fill=(0, 0, 0), font=font)


def output_path(folder: Path, report_path: str, suffix: str, taken: set[Path]) -> Path:
    """Where the picture of ``report_path`` goes inside ``folder``: the same relative path
    (just the file name for absolute paths or paths leaving the current folder), with
    ``suffix`` instead of the extension; ``name.ext`` + suffix when that name is taken."""
    rel = Path(report_path)
    if rel.is_absolute() or ".." in rel.parts:
        rel = Path(rel.name)
    candidate = folder / rel.with_suffix(suffix)
    if candidate in taken:
        candidate = folder / rel.with_name(rel.name + suffix)
    n = 2
    while candidate in taken:
        candidate = folder / rel.with_name(f"{rel.stem}-{n}{suffix}")
        n += 1
    taken.add(candidate)
    return candidate


def _write(report: Report, folder: Path, sources: Mapping[str, str], wanted, render, suffix: str,
           label: str) -> Written:
    import io

    from PIL import Image

    # realpath, not resolve(): a symlink loop among the inputs must not stop the writing
    inputs = {Path(os.path.realpath(p)) for p in (*(i.path for i in report.images), *sources.values())}
    written: list[Path] = []
    skipped: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    taken: set[Path] = set()
    manifest = Manifest(folder)
    if not manifest.usable:
        notes.append((str(manifest.path), "is not noticer's record of its pictures: left alone; pictures go "
                                          "only under names nothing uses, and the next run cannot replace them"))
    try:
        for image in report.images:
            if not wanted(image):
                continue
            target = output_path(folder, image.path, suffix, taken)
            if Path(os.path.realpath(target)) in inputs:
                skipped.append((image.path, f"not written: {target} is a checked image"))
                continue
            chosen = free_target(target, label, manifest, taken)
            if chosen != target:
                notes.append((image.path, f"written as {chosen}: {target} is not a picture noticer wrote, "
                                          "so it was left as it is"))
            try:
                loaded = load_image(Path(sources.get(image.path, image.path)))
            except (ImageLoadError, OSError, MemoryError) as exc:
                skipped.append((image.path, f"no picture written: image could not be read ({exc})"))
                continue
            chosen.parent.mkdir(parents=True, exist_ok=True)
            out = io.BytesIO()
            Image.fromarray(render(loaded.rgb, image)).save(out, format="PNG")
            data = out.getvalue()
            manifest.record(chosen, hashlib.sha256(data).hexdigest())
            replace_atomically(chosen, data, prefix=".noticer-")  # replaces a link itself, never writes through it
            written.append(chosen)
            if len(written) % 50 == 0:
                manifest.save()
    finally:
        manifest.save()
    return Written(tuple(written), tuple(skipped), tuple(notes))


def write_annotations(report: Report, folder: Path, sources: Mapping[str, str] | None = None) -> Written:
    """A PNG with regions drawn and labelled for every image that has findings."""
    return _write(report, Path(folder), sources or {}, lambda image: bool(image.findings) and image.width,
                  lambda rgb, image: annotated(rgb, image.findings), ".png", "annotated")


def write_masks(report: Report, folder: Path, sources: Mapping[str, str] | None = None, dilate: int = 0) -> Written:
    """A black/white PNG mask for every image with at least one region."""
    def has_region(image: ImageResult) -> bool:
        return any(f.region is not None for f in image.findings)

    return _write(report, Path(folder), sources or {}, has_region,
                  lambda rgb, image: mask_for(image.findings, rgb.shape[1], rgb.shape[0], dilate), ".png", "mask")
