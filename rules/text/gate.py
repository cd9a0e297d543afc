"""The text-presence gate: a few-millisecond test for strokes side by side, at three
scales, that also says in which horizontal bands it saw them (see ``text_presence``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GateResult:
    passed: bool
    # horizontal bands (y0, y1 in original pixels) that hold every patch of lettering the
    # gate saw at any of its scales, with a margin: where the detector needs to look
    bands: tuple[tuple[float, float], ...] = ()
    complete: bool = True  # False: the gate stopped once the bands were wide (a part of them)


def lettering_mask(gray: np.ndarray, work_side: int, window: tuple[int, int] = (16, 8),
                   contrast: int = 24, min_run: int = 32, keep_thin: bool = False,
                   shrunk: np.ndarray | None = None) -> np.ndarray:
    """Pixels (of a copy shrunk to ``work_side``) inside a horizontal run of lettering.

    Ink is what differs from its 15-px neighbourhood by more than ``contrast`` (dark on
    light and light on dark, after a 3x3 median removes pixel noise). With ``keep_thin``
    a copy shrunk to 0.6 or less skips the median: shrinking has averaged its pixel noise
    already, and the median would erase the 1-px strokes small letters shrink to. In a ``window``
    around each pixel, lettering has some ink but not only ink, and the ink switches on and
    off at least twice per row (strokes side by side) and now and then down the columns.
    Such windows must continue for ``min_run`` pixels along the row (a word, not a stroke).
    ``shrunk``: the copy already made (by ``gate_copies``), to save resizing again."""
    import cv2

    h, w = gray.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    if shrunk is not None:
        small = shrunk
    else:
        small = cv2.resize(gray, _shrunk_size(w, h, scale), interpolation=cv2.INTER_AREA) if scale < 1.0 else gray
    if not (keep_thin and scale <= 0.6):
        small = cv2.medianBlur(np.ascontiguousarray(small), 3)
    value = small.astype(np.int16)
    local = cv2.blur(small, (15, 15)).astype(np.int16)
    # -1 dark ink, +1 light ink, 0 ground: one pass covers both polarities
    ink = np.sign(value - local) * (np.abs(value - local) > contrast)
    win_w, win_h = window
    along_rows = (np.diff(ink, axis=1, append=ink[:, -1:]) != 0).astype(np.float32)
    along_cols = (np.diff(ink, axis=0, append=ink[-1:, :]) != 0).astype(np.float32)
    density = cv2.blur((ink != 0).astype(np.float32), window)
    row_switches = cv2.blur(along_rows, window) * win_w
    col_switches = cv2.blur(along_cols, window) * win_h
    found = ((density >= 0.1) & (density <= 0.7) & (row_switches >= 2.0) & (col_switches >= 0.5)).astype(np.uint8)
    return cv2.erode(found, cv2.getStructuringElement(cv2.MORPH_RECT, (min_run, 1)))


GATE_SCALES = ((512, 32, 40), (256, 24, 48), (128, 16, 72))  # (work side, min_run, contrast)


def _shrunk_size(w: int, h: int, scale: float) -> tuple[int, int]:
    return max(1, int(w * scale)), max(1, int(h * scale))


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` area-averaged down to ``size`` (width, height). OpenCV averages a whole
    factor (2, 4, ...) several times faster than a fractional one (measured on a 1024-px
    RGB photo: to 192 px 2.0 ms in one step, 1.1 ms through 256 px), so the largest
    power-of-two step goes first. The pixels differ little from a single step's (2 levels
    of 255 on average on that photo)."""
    import cv2

    h, w = image.shape[:2]
    factor = 1
    while w // (factor * 2) >= size[0] and h // (factor * 2) >= size[1]:
        factor *= 2
    if factor > 1 and (w // factor, h // factor) != size:
        image = cv2.resize(image, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def gate_copies(gray: np.ndarray, sides: tuple[int, ...]) -> list[np.ndarray]:
    """The image shrunk to each of ``sides`` (largest first), each copy made from the one
    before it rather than from the full image: area averaging in steps costs a fraction of
    reading the full image once per side. Halving steps give the same pixels to within
    rounding; other ratios differ little (see ``shrink``)."""
    h, w = gray.shape[:2]
    copies, source = [], gray
    for side in sides:
        scale = min(1.0, side / max(h, w))
        size = _shrunk_size(w, h, scale)
        if scale < 1.0 and (source.shape[1], source.shape[0]) != size:
            source = shrink(source, size)
        copies.append(source)
    return copies


def text_presence(gray: np.ndarray, enough: float | None = None) -> GateResult:
    """A few-millisecond test for lettering, at three scales (small to large letters).
    Tuned for recall: photos with fine texture may pass (then the detector decides);
    flat, smoothly shaded and sparsely drawn images do not.

    Besides the verdict it gives the horizontal bands where lettering was seen (at any
    scale), each patch widened by its own height above and below plus a fixed margin, so
    that a rotated or perspective line and the letters the mask missed stay inside.

    The coarse scales go first. With ``enough`` (a height in pixels), it stops as soon as
    the bands cover more than that: a caller that has no use for bands that wide need not
    pay for the finest scale, the dearest (textured photos end here). Such a result is
    marked ``complete=False``: its bands are a part of the whole."""
    import cv2

    h, w = gray.shape[:2]
    # coarser copies see large letters as strokes side by side; they also see texture as
    # lettering, so they ask for stronger contrast
    spans: list[tuple[float, float]] = []
    seen = False
    copies = gate_copies(gray, tuple(side for side, _, _ in GATE_SCALES))
    for (side, min_run, contrast), copy in reversed(list(zip(GATE_SCALES, copies))):
        if seen and enough is not None:
            merged = merge_spans(spans)
            if covered_height(merged) > enough:
                return GateResult(True, merged, complete=False)
        # the finest copy keeps thin strokes: small letters on a large image
        mask = lettering_mask(gray, side, contrast=contrast, min_run=min_run,
                              keep_thin=side == GATE_SCALES[0][0], shrunk=copy)
        if not mask.any():
            continue
        seen = True
        scale = min(1.0, side / max(h, w))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        tops = stats[1:count, cv2.CC_STAT_TOP].astype(float)
        heights = stats[1:count, cv2.CC_STAT_HEIGHT].astype(float)
        margins = np.maximum(heights, 8.0) + 8.0  # work pixels above and below the patch
        spans += zip(np.maximum(0.0, (tops - margins) / scale).tolist(),
                     np.minimum(float(h), (tops + heights + margins) / scale).tolist())
    if not seen:
        return GateResult(False)
    return GateResult(True, merge_spans(spans))


def merge_spans(spans: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Overlapping (or touching) intervals joined, in order."""
    merged: list[list[float]] = []
    for y0, y1 in sorted(spans):
        if merged and y0 <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], y1)
        else:
            merged.append([y0, y1])
    return tuple((a, b) for a, b in merged)


def covered_height(bands: tuple[tuple[float, float], ...]) -> float:
    return sum(y1 - y0 for y0, y1 in bands)
