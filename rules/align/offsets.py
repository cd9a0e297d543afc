"""ALIGN004 measurements: translation, scale and rotation of an image relative to its reference
(phase correlation, log-polar spectra, ECC refinement).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Alignment:
    dx: float  # translation of the image relative to the reference, pixels
    dy: float
    scale: float  # 1.0 = same size
    rotation: float  # degrees, counter-clockwise
    response: float  # phase-correlation peak height (0..1): how sure the estimate is

    @property
    def translation(self) -> float:
        return math.hypot(self.dx, self.dy)


def estimate_alignment(image: np.ndarray, reference: np.ndarray, work_side: int = 512) -> Alignment:
    """Translation, scale and rotation of ``image`` relative to ``reference`` (both gray).

    Scale and rotation come from phase correlation of log-polar magnitude spectra of a
    downscaled pair, refined by ECC, and are kept only when undoing them improves the match;
    the translation from windowed phase correlation at full resolution, refined to sub-pixel
    accuracy by ECC on a central crop."""
    import cv2

    img = image.astype(np.float32, copy=False)
    ref = reference.astype(np.float32, copy=False)
    if ref.shape != img.shape:
        ref = cv2.resize(ref, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
    h, w = ref.shape
    window = cv2.createHanningWindow((w, h), cv2.CV_32F)
    (dx, dy), response = _phase_correlate(ref, img, window)
    scale, rotation = _scale_rotation(img, ref, work_side)
    scale, rotation = _refine_similarity(img, ref, scale, rotation, work_side)
    ref_aligned = ref
    if abs(scale - 1.0) > 1e-4 or abs(rotation) > 0.005:
        m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), rotation, scale)
        turned = cv2.warpAffine(ref, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        (tdx, tdy), turned_response = _phase_correlate(turned, img, window)
        # keep the rotation/scale only if undoing it makes the images match better
        if turned_response > 1.05 * response:
            ref_aligned, dx, dy, response = turned, tdx, tdy, turned_response
        else:
            scale, rotation = 1.0, 0.0
    # OpenCV's sub-pixel peak is biased towards whole pixels (0.3 px at half-pixel shifts):
    # refine by gradient-based alignment from there
    dx, dy = _refine_translation(img, ref_aligned, dx, dy, work_side)
    return Alignment(float(dx), float(dy), float(scale), float(rotation), float(response))


def _phase_correlate(a: np.ndarray, b: np.ndarray, window: np.ndarray) -> tuple[tuple[float, float], float]:
    """cv2.phaseCorrelate on copies: with a window it multiplies its inputs in place."""
    import cv2

    return cv2.phaseCorrelate(a.copy(), b.copy(), window)


def _refine_translation(img: np.ndarray, ref: np.ndarray, dx: float, dy: float, side: int,
                        upsample: int = 40) -> tuple[float, float]:
    """Sub-pixel translation: the phase-correlation surface evaluated on a fine grid (matrix
    DFT, 1/``upsample`` px) around the coarse estimate, on the windowed central crop."""
    import cv2

    h, w = img.shape
    n = min(side, h, w) // 2 * 2
    y0, x0 = (h - n) // 2, (w - n) // 2
    window = cv2.createHanningWindow((n, n), cv2.CV_64F)
    a = np.fft.fft2(ref[y0: y0 + n, x0: x0 + n].astype(np.float64) * window)
    b = np.fft.fft2(img[y0: y0 + n, x0: x0 + n].astype(np.float64) * window)
    cross = b * np.conj(a)
    cross /= np.abs(cross) + 1e-12
    freqs = np.fft.fftfreq(n)  # cycles per pixel
    # only the lower frequencies: resampling filters (the export's, bicubic) bend the phase of
    # the highest ones and pull the estimate towards whole pixels
    low = np.abs(freqs) < 0.2
    cross = cross * (low[:, None] & low[None, :])
    offsets = np.arange(-1.5 * upsample, 1.5 * upsample + 1) / upsample
    ys, xs = dy + offsets, dx + offsets
    # corr(y, x) = sum_k sum_l cross[k, l] exp(2 pi i (f_k y + f_l x)); the image moved by +d
    # has its peak at d
    row_kernel = np.exp(2j * np.pi * np.outer(ys, freqs))  # (len(ys), n)
    col_kernel = np.exp(2j * np.pi * np.outer(freqs, xs))  # (n, len(xs))
    surface = np.real(row_kernel @ cross @ col_kernel)
    iy, ix = np.unravel_index(int(np.argmax(surface)), surface.shape)
    return float(xs[ix]), float(ys[iy])


def _refine_similarity(img: np.ndarray, ref: np.ndarray, scale: float, rotation: float,
                       side: int) -> tuple[float, float]:
    """Refine scale and rotation by ECC image alignment (affine) on a downscaled pair."""
    import cv2

    h, w = img.shape
    f = min(1.0, side / max(h, w))
    size = (max(16, int(w * f)), max(16, int(h * f)))
    a = cv2.resize(ref, size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    warp = cv2.getRotationMatrix2D((size[0] / 2.0, size[1] / 2.0), rotation, scale).astype(np.float32)
    try:
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
        _, warp = cv2.findTransformECC(a, b, warp, cv2.MOTION_AFFINE, criteria, None, 3)
    except cv2.error:
        return scale, rotation
    # img(warp x) = ref(x): warp has the form of cv2.getRotationMatrix2D(angle, scale)
    new_scale = float(math.sqrt(abs(np.linalg.det(warp[:, :2].astype(np.float64)))))
    new_rotation = float(math.degrees(math.atan2(float(warp[0, 1]), float(warp[0, 0]))))
    if abs(new_scale - scale) > 0.05 or abs(new_rotation - rotation) > 2.0:
        return scale, rotation  # ECC wandered off: keep the spectrum's estimate
    return new_scale, new_rotation


def _scale_rotation(img: np.ndarray, ref: np.ndarray, side: int) -> tuple[float, float]:
    import cv2

    h, w = img.shape
    n = min(side, h, w)
    def prep(a: np.ndarray) -> np.ndarray:
        # centre square crop, downscaled, windowed; magnitude spectrum, log-polar
        s = min(a.shape)
        y0, x0 = (a.shape[0] - s) // 2, (a.shape[1] - s) // 2
        sq = cv2.resize(a[y0: y0 + s, x0: x0 + s], (n, n), interpolation=cv2.INTER_AREA)
        sq = sq * cv2.createHanningWindow((n, n), cv2.CV_32F)
        mag = np.abs(np.fft.fftshift(np.fft.fft2(sq))).astype(np.float32)
        mag = np.log1p(mag)
        return cv2.warpPolar(mag, (n, n), (n / 2.0, n / 2.0), n / 2.0,
                             cv2.WARP_POLAR_LOG | cv2.INTER_LINEAR)
    lp_img, lp_ref = prep(img), prep(ref)
    (shift_r, shift_a), _ = cv2.phaseCorrelate(lp_ref, lp_img)
    rotation = -shift_a * 360.0 / n
    rotation = (rotation + 90.0) % 180.0 - 90.0  # the spectrum is symmetric: angles mod 180
    klog = n / math.log(n / 2.0)
    scale = math.exp(shift_r / klog)
    return scale, rotation
