"""Is a picture drawn (an illustration, anime) rather than a photograph? Pure functions of
the image array, cheap (~5 ms on a 512-pixel copy).

A drawing's edges are steps (a line or a colour boundary changes in one or two pixels) and
its regions are flat, saturated colour; a photograph's edges are ramps (optics, motion,
compression blur them) and its saturated regions carry texture and noise. Each alone is true
of some photos (sharp tiny crops have steep edges; a studio backdrop is a flat saturated
colour); both together were true of no photo the thresholds were measured on.

The two thresholds are the 80th percentiles of the measures over photographs, each source
weighing alike (`python -m bench.hands_style`): the real hand photos of six sources and the
AI photo-style hands, never the illustrations.
"""
from __future__ import annotations

import numpy as np

WORK_SIDE = 512  # the measures are taken on a copy whose longer side is at most this
# 80th percentiles over photos (bench.hands_style, sources weighing alike)
STEEP_EDGES_MIN = 0.3216
FLAT_COLOUR_MIN = 0.094


def _work_copy(rgb: np.ndarray) -> np.ndarray:
    import cv2

    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    return rgb


def edge_steepness(rgb: np.ndarray) -> float:
    """How abruptly the strongest edges change: at the 5% of pixels with the steepest grey
    gradient, the median of gradient (grey levels per pixel) over the grey range in the 7x7
    window around. A one-pixel step gives ~0.5; a ramp spread over the window ~0.15."""
    import cv2

    grey = cv2.cvtColor(_work_copy(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8
    mag = np.hypot(gx, gy)
    if not mag.any():
        return 0.0
    window = np.ones((7, 7), np.uint8)
    span = cv2.dilate(grey, window) - cv2.erode(grey, window)
    strong = mag >= np.percentile(mag, 95)
    strong &= mag > 0
    return float(np.median(mag[strong] / np.maximum(span[strong], 1.0)))


def flat_colour_share(rgb: np.ndarray) -> float:
    """Share of pixels in flat, saturated colour: every channel within 3 levels over the 3x3
    neighbourhood and HSV saturation above 60 of 255 (grey backdrops and white paper are
    flat in photos too, so only coloured flats count)."""
    import cv2

    work = _work_copy(rgb)
    k = np.ones((3, 3), np.uint8)
    spread = (cv2.dilate(work, k).astype(np.int16) - cv2.erode(work, k).astype(np.int16)).max(axis=2)
    saturation = cv2.cvtColor(work, cv2.COLOR_RGB2HSV)[..., 1]
    return float(((spread <= 3) & (saturation > 60)).mean())


def drawing_measures(rgb: np.ndarray) -> dict[str, float]:
    work = _work_copy(rgb)  # shrunk once: each measure's own _work_copy then leaves it as it is
    return {"edge_steepness": edge_steepness(work), "flat_colour_share": flat_colour_share(work)}


def looks_drawn(rgb: np.ndarray) -> bool:
    """Steep edges and flat saturated colour, both beyond what 80% of photos show."""
    m = drawing_measures(rgb)
    return m["edge_steepness"] >= STEEP_EDGES_MIN and m["flat_colour_share"] >= FLAT_COLOUR_MIN
