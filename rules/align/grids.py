"""ALIGN002 measurements: fine periodic patterns locked to the pixel grid (checkerboards of
transposed convolutions, upsampling grids), found by folding the image at each period.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GridPattern:
    period: int  # pixels
    amplitude: float  # RMS of the repeating pattern in gray levels
    consistency: float  # 0..1: how much the pattern is the same (same phase) in every block
    coverage: float  # fraction of the image's blocks where the pattern is found locally
    blocks: tuple[tuple[int, int, int, int], ...]  # (x, y, w, h) boxes of the blocks that carry it
    texture: float  # RMS of the high-passed image: the contrast the pattern competes with
    local_amplitude: float = 0.0  # the same two figures over the blocks that carry the pattern
    local_consistency: float = 0.0


# bytes of float32 rows blurred at a time by ``high_pass``: with the rows its kernel reaches
# beyond them, ~5% more blurring for an 8192 px wide image, none for an image of up to
# 16 MiB in float32 (2048 x 2048: one band)
BLUR_CHUNK_BYTES = 16 << 20


def high_pass(gray: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """The image less its Gaussian blur (OpenCV's, on float32), in float32.

    The only image-sized array made is the result: the float32 copy of a uint8 image and its
    blur are made a band of rows at a time, each band with the rows the kernel reaches
    beyond it (an 8192 x 8192 image: 256 MiB at the peak instead of 512). Every value is the
    one of the whole image blurred at once: a band's rows see the same rows around them, and
    its cut edges are never inside the kernel's reach of a row it keeps."""
    import cv2

    h, w = gray.shape
    # OpenCV's kernel for a float image when only sigma is given has round(8 * sigma + 1) | 1
    # taps: at most ceil(4 * sigma) + 1 on each side of the centre
    reach = math.ceil(4 * sigma) + 1
    residual = np.empty((h, w), np.float32)
    step = max(8 * reach, BLUR_CHUNK_BYTES // max(1, 4 * w))
    for a in range(0, h, step):
        b = min(h, a + step)
        lo, hi = max(0, a - reach), min(h, b + reach)
        band = gray[lo:hi].astype(np.float32, copy=False)  # a view of a float32 image
        blurred = cv2.GaussianBlur(band, (0, 0), sigma)
        np.subtract(band[a - lo: b - lo], blurred[a - lo: b - lo], out=residual[a:b])
        del band, blurred  # before the next band's are made
    return residual


def folded_templates(residual: np.ndarray, period: int, block: int) -> np.ndarray:
    """Per-block mean of ``residual`` at each (y mod period, x mod period) phase.

    Returns (blocks_y, blocks_x, period, period); blocks are ``block`` pixels rounded down to a
    multiple of the period. A pattern locked to the pixel grid gives the same template everywhere."""
    bs = max(period, block // period * period)
    h, w = residual.shape
    by, bx = h // bs, w // bs
    if by == 0 or bx == 0:
        bs = min(h, w) // period * period
        by, bx = h // bs, w // bs
    r = residual[: by * bs, : bx * bs]
    k = bs // period
    # fold rows first (a contiguous reduction), then columns
    t = r.reshape(by, k, period, bx * bs).sum(axis=1)  # by, period, W
    t = t.reshape(by, period, bx, k, period).sum(axis=3)  # by, period, bx, period
    return t.transpose(0, 2, 1, 3) / (k * k)


def pattern_strength(templates: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Mean template (the pattern), its RMS amplitude after removing its mean, and the phase
    consistency: energy of the mean template over the mean energy of the block templates."""
    centred = templates - templates.mean(axis=(2, 3), keepdims=True)
    mean_t = centred.mean(axis=(0, 1))
    energy_mean = float(np.mean(mean_t ** 2))
    energy_blocks = float(np.mean(centred ** 2)) + 1e-9
    return mean_t, math.sqrt(energy_mean), energy_mean / energy_blocks


def _proper_period(amps: dict[int, float], period: int, share: float = 0.8) -> int:
    """The smallest period whose pattern carries most of ``period``'s amplitude (a period-2
    checkerboard also shows at 4, 6, 8...)."""
    for p in sorted(amps):
        if p < period and period % p == 0 and amps[p] >= share * amps[period]:
            return p
    return period


def find_grid_pattern(gray: np.ndarray, periods: tuple[int, ...] = tuple(range(2, 17)),
                      block: int = 64, skip_periods: tuple[int, ...] = (),
                      detect_side: int = 640) -> GridPattern | None:
    """The strongest pixel-grid-locked periodic pattern, with where it is found.

    Detection folds a central crop (at most ``detect_side`` square) at each period and keeps the
    period whose mean template is strongest relative to the noise a random texture would leave;
    local confirmation then folds the whole image per block at that period."""
    h, w = gray.shape
    if min(h, w) < 32:
        return None
    residual = high_pass(gray)
    side_y, side_x = min(h, detect_side), min(w, detect_side)
    cy, cx = (h - side_y) // 2, (w - side_x) // 2
    # one contiguous copy, folded at every period: folding a strided view costs 10% more,
    # and the sums are the same (each fold adds the same rows in the same order)
    crop = np.ascontiguousarray(residual[cy: cy + side_y, cx: cx + side_x])
    texture = float(np.sqrt(np.mean(crop ** 2)))
    amps: dict[int, float] = {}
    scores: dict[int, float] = {}
    for p in periods:
        if p in skip_periods or p * 4 > min(side_y, side_x):
            continue
        templates = folded_templates(crop, p, block)
        _, amp, consistency = pattern_strength(templates)
        n_blocks = templates.shape[0] * templates.shape[1]
        amps[p] = amp
        # consistency is ~1/n_blocks for a random texture, 1 for a grid-locked pattern
        scores[p] = amp * max(0.0, consistency - 1.5 / n_blocks)
    if not scores:
        return None
    best = max(scores, key=lambda p: scores[p])
    best = _proper_period(amps, best)
    if best in skip_periods:
        return None
    templates = folded_templates(residual, best, block)
    pattern, amp, consistency = pattern_strength(templates)
    centred = templates - templates.mean(axis=(2, 3), keepdims=True)
    norm_p = float(np.sqrt(np.sum(pattern ** 2))) + 1e-9
    dots = np.tensordot(centred, pattern, axes=([2, 3], [0, 1]))
    norms = np.sqrt(np.sum(centred ** 2, axis=(2, 3))) + 1e-9
    corr = dots / (norms * norm_p)
    local_amp = norms / best  # RMS of each block's template
    carries = (corr > 0.6) & (local_amp > 0.5 * amp)
    local_amp_value, local_consistency = amp, consistency
    if carries.sum() >= 3:
        # a pattern over part of the image: measure it where it is
        _, local_amp_value, local_consistency = pattern_strength(templates[carries][None])
    bs = max(best, block // best * best)
    boxes = tuple((int(bx * bs), int(by * bs), bs, bs) for by, bx in zip(*np.nonzero(carries)))
    return GridPattern(best, amp, consistency, float(carries.mean()), boxes, texture,
                       local_amp_value, local_consistency)
