"""Generated cases for the ALIGN rules: drawn scenes and line art, and the defects of tiled
upscaling, outpainting and upsampling applied to any clean image, with their ground truth.

Everything is drawn by code from a seed; nothing is downloaded. The defect functions take any
RGB uint8 array (a drawn scene, or a corpus image at evaluation time, kept in memory or a
temporary folder, never in the repo) and return the damaged copy plus where the defect is.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SeamTruth:
    axis: str  # "horizontal" (between rows) or "vertical" (between columns)
    position: int  # first row/column after the line


# ----------------------------------------------------------------------------------------------
# clean drawn images
# ----------------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float, amplitude: float) -> np.ndarray:
    import cv2

    noise = rng.standard_normal((h, w)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), scale)
    noise /= noise.std() + 1e-6
    return noise * amplitude


def drawn_scene(seed: int, size: tuple[int, int] = (1024, 1024)) -> np.ndarray:
    """A painted-looking landscape: sky gradient, a straight horizon, textured ground, buildings
    with window grids and frames (straight lines), a sun, soft shading; lightly blurred like a
    decoder output, with a trace of grain."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(h * rng.uniform(0.35, 0.6))
    top, bottom = rng.uniform(120, 220, 3), rng.uniform(170, 250, 3)
    t = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
    img[:horizon] = top * (1 - t) + bottom * t
    img[:horizon] += _smooth_noise(rng, horizon, w, 25, 6)[:, :, None]  # clouds
    ground = rng.uniform(60, 150, 3)
    img[horizon:] = ground
    for scale, amp in ((1.2, 10), (4, 12), (15, 10)):
        img[horizon:] += _smooth_noise(rng, h - horizon, w, scale, amp)[:, :, None] * rng.uniform(0.6, 1.0, 3)
    cx, cy, r = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.1, 0.3) * h), int(rng.uniform(0.03, 0.07) * w)
    cv2.circle(img, (cx, cy), r, tuple(float(v) for v in rng.uniform(220, 255, 3)), -1, cv2.LINE_AA)
    for _ in range(rng.integers(2, 5)):
        bw, bh = int(rng.uniform(0.08, 0.2) * w), int(rng.uniform(0.15, 0.35) * h)
        x0 = int(rng.uniform(0, w - bw))
        y1 = horizon + int(rng.uniform(0, 0.1) * h)
        colour = rng.uniform(60, 200, 3)
        cv2.rectangle(img, (x0, y1 - bh), (x0 + bw, y1), tuple(float(v) for v in colour), -1, cv2.LINE_AA)
        frame = tuple(float(v) for v in colour * 0.5)
        cv2.rectangle(img, (x0, y1 - bh), (x0 + bw, y1), frame, 3, cv2.LINE_AA)
        step = int(rng.uniform(18, 40))
        for wy in range(y1 - bh + step // 2, y1 - step, step):
            for wx in range(x0 + step // 3, x0 + bw - step // 2, step):
                cv2.rectangle(img, (wx, wy), (wx + step // 2, wy + step // 2), (240, 220, 140), -1, cv2.LINE_AA)
    # a table edge / fence rail: a long straight anti-aliased line
    y_rail = horizon + int(rng.uniform(0.15, 0.3) * h)
    cv2.line(img, (0, y_rail), (w - 1, y_rail + int(rng.uniform(-20, 20))), (40, 35, 30), 4, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    img += rng.normal(0, 1.2, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def flat_and_gradient(seed: int, size: tuple[int, int] = (1024, 1024)) -> np.ndarray:
    """Flat colour panels with pixel-sharp borders (a comic page) and smooth gradients:
    things a seam detector must leave alone."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    img = np.zeros((h, w, 3), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for c in range(3):
        img[:, :, c] = rng.uniform(40, 200) + rng.uniform(-60, 60) * xx / w + rng.uniform(-60, 60) * yy / h
    gutter = 12
    cols = int(rng.integers(2, 4))
    rows = int(rng.integers(2, 4))
    for i in range(rows):
        for j in range(cols):
            x0, x1 = j * w // cols + gutter, (j + 1) * w // cols - gutter
            y0, y1 = i * h // rows + gutter, (i + 1) * h // rows - gutter
            if rng.random() < 0.5:
                img[y0:y1, x0:x1] = rng.uniform(30, 230, 3)
            cv2.rectangle(img, (x0, y0), (x1, y1), (20, 20, 20), 3)  # panel border, pixel-sharp
    return np.clip(img, 0, 255).astype(np.uint8)


def line_art(seed: int, size: tuple[int, int] = (1024, 1024), n_lines: int = 7) -> tuple[np.ndarray, list[tuple]]:
    """Black anti-aliased straight strokes on paper-white (plus occluding blobs); returns the
    image and the strokes as (x0, y0, x1, y1, thickness)."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    img = np.full((h, w, 3), 245, np.uint8)
    strokes = []
    for k in range(n_lines):
        kind = k % 3
        if kind == 0:  # near horizontal
            y = rng.uniform(0.1, 0.9) * h
            stroke = (0.05 * w, y, 0.95 * w, y + rng.uniform(-0.15, 0.15) * h)
        elif kind == 1:  # near vertical
            x = rng.uniform(0.1, 0.9) * w
            stroke = (x, 0.05 * h, x + rng.uniform(-0.15, 0.15) * w, 0.95 * h)
        else:  # diagonal
            stroke = (rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h,
                      rng.uniform(0.7, 0.95) * w, rng.uniform(0.7, 0.95) * h)
        thickness = int(rng.integers(2, 5))
        strokes.append(stroke + (thickness,))
    for x0, y0, x1, y1, th in strokes:
        _draw_stroke(img, (x0, y0), (x1, y1), th)
    return img, strokes


def _draw_stroke(img: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], thickness: int) -> None:
    import cv2

    shift = 4  # sub-pixel end points
    a = (int(round(p0[0] * 16)), int(round(p0[1] * 16)))
    b = (int(round(p1[0] * 16)), int(round(p1[1] * 16)))
    cv2.line(img, a, b, (15, 15, 15), thickness, cv2.LINE_AA, shift)


def broken_line_art(seed: int, offset: float, size: tuple[int, int] = (1024, 1024),
                    occluder: bool = False) -> tuple[np.ndarray, tuple[float, float]]:
    """Line art where one stroke is drawn in two pieces, the second moved ``offset`` pixels
    across the stroke (and, with ``occluder``, the join hidden under a blob). Returns the image
    and the (x, y) point of the break. ``offset`` 0 gives the matching clean image."""
    import cv2

    rng = np.random.default_rng(seed)
    img, strokes = line_art(seed, size)
    img[:] = 245
    broken = int(rng.integers(0, len(strokes)))
    break_at = (0.0, 0.0)
    for k, (x0, y0, x1, y1, th) in enumerate(strokes):
        if k != broken:
            _draw_stroke(img, (x0, y0), (x1, y1), th)
            continue
        t = rng.uniform(0.35, 0.65)
        gap = rng.uniform(6, 20) if not occluder else 0.0
        length = np.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        nx, ny = -uy, ux
        mx, my = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        _draw_stroke(img, (x0, y0), (mx - ux * gap / 2, my - uy * gap / 2), th)
        _draw_stroke(img, (mx + ux * gap / 2 + nx * offset, my + uy * gap / 2 + ny * offset),
                     (x1 + nx * offset, y1 + ny * offset), th)
        break_at = (mx, my)
        if occluder:
            cv2.circle(img, (int(mx), int(my)), int(rng.uniform(15, 30)), (120, 160, 200), -1, cv2.LINE_AA)
    return img, break_at


# ----------------------------------------------------------------------------------------------
# defects applied to any clean image
# ----------------------------------------------------------------------------------------------


def _grid_lines(length: int, tile: int) -> list[int]:
    return list(range(tile, length - tile // 4, tile))


def tile_shift(rgb: np.ndarray, tile: int, shift: int, seed: int = 0) -> tuple[np.ndarray, list[SeamTruth]]:
    """Tiled upscaling whose tiles were placed ``shift`` px off: every other tile (checkerboard
    order) shows content moved by ``shift`` px along a random direction. Seams lie on the tile
    borders between moved and unmoved tiles."""
    rng = np.random.default_rng(seed)
    h, w = rng_shape = rgb.shape[:2]
    del rng_shape
    pad = shift + 1
    padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    out = rgb.copy()
    ys = [0] + _grid_lines(h, tile) + [h]
    xs = [0] + _grid_lines(w, tile) + [w]
    for i in range(len(ys) - 1):
        for j in range(len(xs) - 1):
            if (i + j) % 2 == 0:
                continue
            dy, dx = [(shift, 0), (0, shift), (-shift, 0), (0, -shift)][int(rng.integers(0, 4))]
            y0, y1, x0, x1 = ys[i], ys[i + 1], xs[j], xs[j + 1]
            out[y0:y1, x0:x1] = padded[y0 + pad + dy: y1 + pad + dy, x0 + pad + dx: x1 + pad + dx]
    truth = [SeamTruth("horizontal", y) for y in ys[1:-1]] + [SeamTruth("vertical", x) for x in xs[1:-1]]
    return out, truth


def tile_brightness(rgb: np.ndarray, tile: int, step: int) -> tuple[np.ndarray, list[SeamTruth]]:
    """Tiles whose exposure differs by ``step`` levels (checkerboard order): the colour steps of
    tiled diffusion without colour matching."""
    h, w = rgb.shape[:2]
    ys = [0] + _grid_lines(h, tile) + [h]
    xs = [0] + _grid_lines(w, tile) + [w]
    out = rgb.astype(np.int16)
    for i in range(len(ys) - 1):
        for j in range(len(xs) - 1):
            if (i + j) % 2:
                out[ys[i]:ys[i + 1], xs[j]:xs[j + 1]] += step
    truth = [SeamTruth("horizontal", y) for y in ys[1:-1]] + [SeamTruth("vertical", x) for x in xs[1:-1]]
    return np.clip(out, 0, 255).astype(np.uint8), truth


def bad_overlap(rgb: np.ndarray, position: int, overlap: int, shift: int, step: int,
                axis: str = "vertical") -> tuple[np.ndarray, list[SeamTruth]]:
    """Two overlapping tiles blended badly: beyond ``position`` the content comes from a second
    tile ``shift`` px off and ``step`` levels brighter, mixed 50/50 across an ``overlap`` band
    (ghosting), so lines appear at both band edges."""
    img = rgb if axis == "vertical" else rgb.transpose(1, 0, 2)
    h, w = img.shape[:2]
    pad = shift + 1
    padded = np.pad(img, ((pad, pad), (0, 0), (0, 0)), mode="reflect").astype(np.int16)
    second = padded[pad + shift: pad + shift + h] + step
    out = img.astype(np.int16)
    a, b = position, min(w, position + overlap)
    out[:, a:b] = (out[:, a:b] + second[:, a:b]) // 2
    out[:, b:] = second[:, b:]
    out = np.clip(out, 0, 255).astype(np.uint8)
    if axis != "vertical":
        out = out.transpose(1, 0, 2).copy()
    return out, [SeamTruth(axis, a), SeamTruth(axis, b)]


def outpaint_band(rgb: np.ndarray, position: int, step: int, shift: int,
                  axis: str = "horizontal") -> tuple[np.ndarray, list[SeamTruth]]:
    """An outpainted extension joined at ``position``: beyond it the content is a slightly
    shifted, re-exposed and softer copy (the new region was generated, then pasted)."""
    import cv2

    img = rgb if axis == "vertical" else rgb.transpose(1, 0, 2)
    w = img.shape[1]
    pad = shift + 1
    padded = np.pad(img, ((0, 0), (pad, pad), (0, 0)), mode="reflect")
    second = padded[:, pad + shift: pad + shift + w].astype(np.float32)
    second = cv2.GaussianBlur(second, (0, 0), 0.8) + step
    out = img.astype(np.float32)
    out[:, position:] = second[:, position:]
    out = np.clip(out, 0, 255).astype(np.uint8)
    if axis != "vertical":
        out = out.transpose(1, 0, 2).copy()
    return out, [SeamTruth(axis, position)]


def checkerboard(rgb: np.ndarray, amplitude: float, period: int = 2,
                 area: float = 1.0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Deconvolution checkerboard: ``amplitude`` levels (+/-) alternating every ``period``/2
    pixels in both directions, over the top-left ``area`` share of the image. Returns the box."""
    h, w = rgb.shape[:2]
    side = np.sqrt(area)
    bh, bw = int(h * side), int(w * side)
    yy, xx = np.mgrid[0:bh, 0:bw]
    half = max(1, period // 2)
    sign = np.where(((yy // half) + (xx // half)) % 2 == 0, 1.0, -1.0)
    if period % 2:  # odd periods: a smooth pattern of that period
        sign = np.cos(2 * np.pi * yy / period) * np.cos(2 * np.pi * xx / period) * np.sqrt(2) * 1.41
    out = rgb.astype(np.float32)
    out[:bh, :bw] += (amplitude * sign)[:, :, None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8), (0, 0, bw, bh)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def shifted_copy(rgb: np.ndarray, dx: float, dy: float, angle: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """The export that drifted: ``rgb`` moved by (dx, dy) pixels (sub-pixel, bicubic), rotated
    ``angle`` degrees and scaled about the centre."""
    import cv2

    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, scale)
    m[0, 2] += dx
    m[1, 2] += dy
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
