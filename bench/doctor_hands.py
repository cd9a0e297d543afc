"""Make doctored positives for the hand benchmark: extra, missing and fused fingers.

Works on real photos of normal hands at evaluation time and writes into a temporary folder
(never into the repo). The finger to edit is located with MediaPipe landmarks of the
original photo; the edit itself is varied (how the digit is copied, moved, blended, how the
hole is filled, how fingers are joined) so a detector cannot learn one doctoring trace.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rules.hands import geometry as geo

KINDS = ("extra", "missing", "fused")


@dataclass(frozen=True)
class Doctored:
    kind: str  # extra / missing / fused
    method: str  # how it was made, for the benchmark breakdown
    digit: int  # the digit edited (first of the pair for fused)
    image: np.ndarray  # RGB


def _finger_polygon(points: np.ndarray, digit: int, width: float, start: float = 0.25, tip_extra: float = 0.45) -> np.ndarray:
    """A strip around a digit from `start` of its first bone to a little beyond its tip."""
    chain = geo.DIGIT_CHAINS[digit]
    base = points[chain[0]] + start * (points[chain[1]] - points[chain[0]])
    tip_dir = points[chain[3]] - points[chain[2]]
    tip_dir = tip_dir / max(float(np.linalg.norm(tip_dir)), 1e-6)
    tip = points[chain[3]] + tip_dir * width * tip_extra
    spine = [base, points[chain[1]], points[chain[2]], tip]
    left, right = [], []
    for i, p in enumerate(spine):
        d = spine[min(i + 1, 3)] - spine[max(i - 1, 0)]
        d = d / max(float(np.linalg.norm(d)), 1e-6)
        n = np.array([-d[1], d[0]])
        half = width / 2 * (0.85 if i == 3 else 1.0)
        left.append(p + n * half)
        right.append(p - n * half)
    return np.array(left + right[::-1], dtype=np.float32)


def _poly_mask(shape: tuple[int, int], poly: np.ndarray, feather: float) -> np.ndarray:
    import cv2

    m = np.zeros(shape, np.float32)
    cv2.fillPoly(m, [np.round(poly).astype(np.int32)], 1.0)
    if feather > 0:
        k = int(feather * 2) * 2 + 1
        m = cv2.GaussianBlur(m, (k, k), feather)
    return m


def _knuckle_width(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[5] - points[17]))


def _outward(points: np.ndarray, digit: int) -> np.ndarray:
    """Unit vector across the hand pointing away from the neighbouring digits."""
    side = points[17] - points[5] if digit >= 3 else points[5] - points[17]
    return side / max(float(np.linalg.norm(side)), 1e-6)


def add_finger(rgb: np.ndarray, points: np.ndarray, digit: int, rng: random.Random) -> tuple[np.ndarray, str]:
    """Duplicate a digit beside itself: copy its strip, move it outward (shift or rotation
    about the knuckle), and blend it back (feathered alpha or Poisson cloning)."""
    import cv2

    h, w = rgb.shape[:2]
    fw = _knuckle_width(points) / 3.2
    width = fw * rng.uniform(1.05, 1.3)
    # the copy starts a little inside the palm so it stays attached to the hand, as the
    # extra fingers of generated hands are
    poly = _finger_polygon(points, digit, width, start=rng.uniform(-0.2, 0.05))
    mode = rng.choice(["shift", "rotate"])
    base = points[geo.DIGIT_CHAINS[digit][0]]
    if mode == "shift":
        d = _outward(points, digit) * fw * rng.uniform(0.8, 1.05)
        m = np.array([[1, 0, d[0]], [0, 1, d[1]]], np.float64)
    else:
        out = _outward(points, digit)
        along = points[geo.DIGIT_CHAINS[digit][3]] - base
        sign = 1.0 if float(np.cross(along, out)) > 0 else -1.0
        angle = sign * rng.uniform(14, 26)
        m = cv2.getRotationMatrix2D((float(base[0]), float(base[1])), angle, rng.uniform(0.88, 1.0))
    moved = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    moved_poly = (np.hstack([poly, np.ones((len(poly), 1), np.float32)]) @ m.T).astype(np.float32)
    blend = rng.choice(["alpha", "poisson"])
    if blend == "poisson":
        mask = (_poly_mask((h, w), moved_poly, 0) > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(mask)
        if len(xs) and xs.min() > 1 and ys.min() > 1 and xs.max() < w - 2 and ys.max() < h - 2:
            centre = (int((xs.min() + xs.max()) / 2), int((ys.min() + ys.max()) / 2))
            out = cv2.seamlessClone(moved, rgb, mask, centre, cv2.NORMAL_CLONE)
            return out, f"{mode}+poisson"
        blend = "alpha"
    alpha = _poly_mask((h, w), moved_poly, fw * rng.uniform(0.08, 0.25))[:, :, None]
    gain = rng.uniform(0.92, 1.06)
    out = rgb.astype(np.float32) * (1 - alpha) + np.clip(moved.astype(np.float32) * gain, 0, 255) * alpha
    return out.round().astype(np.uint8), f"{mode}+alpha"


def remove_finger(rgb: np.ndarray, points: np.ndarray, digit: int, rng: random.Random) -> tuple[np.ndarray, str]:
    """Remove a digit above its knuckle: inpaint the strip (Telea or Navier-Stokes) or cover
    it with background copied from beside the hand."""
    import cv2

    h, w = rgb.shape[:2]
    fw = _knuckle_width(points) / 3.2
    poly = _finger_polygon(points, digit, fw * rng.uniform(1.2, 1.4), start=rng.uniform(0.2, 0.45), tip_extra=0.8)
    mode = rng.choice(["telea", "ns", "patch"])
    mask = (_poly_mask((h, w), poly, 0) > 0.5).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    if mode == "patch":
        d = _outward(points, digit) * fw * rng.uniform(2.2, 3.0)
        m = np.array([[1, 0, -d[0]], [0, 1, -d[1]]], np.float64)  # fetch pixels from outside the hand
        src = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        alpha = _poly_mask((h, w), poly, fw * 0.15)[:, :, None]
        out = rgb.astype(np.float32) * (1 - alpha) + src.astype(np.float32) * alpha
        return out.round().astype(np.uint8), "patch"
    flag = cv2.INPAINT_TELEA if mode == "telea" else cv2.INPAINT_NS
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    out = cv2.inpaint(bgr, mask * 255, max(3, int(fw * 0.5)), flag)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB), mode


def fuse_fingers(rgb: np.ndarray, points: np.ndarray, digit: int, rng: random.Random) -> tuple[np.ndarray, str]:
    """Join digit and digit+1: warp both towards their common midline (squeezing the gap),
    or fill the gap between them with skin copied from the fingers, then soften the seam."""
    import cv2

    h, w = rgb.shape[:2]
    fw = _knuckle_width(points) / 3.2
    ca, cb = geo.DIGIT_CHAINS[digit], geo.DIGIT_CHAINS[digit + 1]
    mode = rng.choice(["fill", "squeeze"])
    start = rng.uniform(0.2, 0.5)
    a0 = points[ca[0]] + start * (points[ca[1]] - points[ca[0]])
    b0 = points[cb[0]] + start * (points[cb[1]] - points[cb[0]])
    gap = np.array([a0, points[ca[1]], points[ca[2]], points[ca[3]] * 0.8 + points[ca[2]] * 0.2,
                    points[cb[3]] * 0.8 + points[cb[2]] * 0.2, points[cb[2]], points[cb[1]], b0], np.float32)
    if mode == "squeeze":
        # move each finger halfway towards the other, so the two fill the gap
        out = rgb.copy()
        for this, other in ((digit, digit + 1), (digit + 1, digit)):
            c = geo.DIGIT_CHAINS[this]
            o = geo.DIGIT_CHAINS[other]
            shift = (points[o[2]] - points[c[2]]) * rng.uniform(0.3, 0.42)
            m = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float64)
            moved = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            poly = _finger_polygon(points, this, fw * 1.1, start=start) + shift.astype(np.float32)
            alpha = _poly_mask((h, w), poly, fw * 0.1)[:, :, None]
            out = (out.astype(np.float32) * (1 - alpha) + moved.astype(np.float32) * alpha).round().astype(np.uint8)
        alpha = _poly_mask((h, w), gap, fw * 0.2)[:, :, None]
        skin = cv2.GaussianBlur(out, (0, 0), fw * 0.35)
        out = (out.astype(np.float32) * (1 - alpha * 0.6) + skin.astype(np.float32) * alpha * 0.6).round().astype(np.uint8)
        return out, mode
    # fill: sample skin along both fingers and paint the gap with it plus a little texture
    samples = []
    for c in (ca, cb):
        for i in range(1, 3):
            for t in np.linspace(0.2, 0.8, 6):
                p = np.round(points[c[i]] + t * (points[c[i + 1]] - points[c[i]])).astype(int)
                if 0 <= p[0] < w and 0 <= p[1] < h:
                    samples.append(rgb[p[1], p[0]].astype(np.float32))
    colour = np.median(samples, axis=0) if samples else np.array([200, 160, 140], np.float32)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(2, 6), (h, w, 1)).astype(np.float32)
    shade = cv2.GaussianBlur(rgb, (0, 0), fw * 0.6).astype(np.float32)
    fill = np.clip(0.5 * colour + 0.5 * shade + noise, 0, 255)
    alpha = _poly_mask((h, w), gap, fw * rng.uniform(0.1, 0.3))[:, :, None]
    out = rgb.astype(np.float32) * (1 - alpha) + fill * alpha
    return out.round().astype(np.uint8), mode


def doctor(rgb: np.ndarray, points: np.ndarray, extended: tuple[bool, ...], kind: str, seed: int) -> Doctored | None:
    """One doctored version of a photo (None when the hand does not allow that edit: too few
    held-out fingers)."""
    rng = random.Random(seed)
    fingers = [d for d in range(1, 5) if extended[d]]
    if kind == "extra":
        # only on hands holding out all four fingers: a copy beside a finger of a hand with
        # folded fingers just looks like one more finger held out, an ordinary gesture
        if len(fingers) < 4:
            return None
        digit = rng.choice((1, 4))
        image, method = add_finger(rgb, points, digit, rng)
    elif kind == "missing":
        # only a finger between two held-out neighbours: removing an outer or lone finger
        # leaves a hand that looks like an ordinary gesture with that finger folded, which no
        # viewer (or detector) could call wrong
        inner = [d for d in (2, 3) if extended[d] and extended[d - 1] and extended[d + 1]]
        if not inner:
            return None
        digit = rng.choice(inner)
        image, method = remove_finger(rgb, points, digit, rng)
    elif kind == "fused":
        pairs = [d for d in range(1, 4) if extended[d] and extended[d + 1]]
        if not pairs:
            return None
        digit = rng.choice(pairs)
        image, method = fuse_fingers(rgb, points, digit, rng)
    else:
        raise ValueError(f"unknown doctoring {kind!r}")
    return Doctored(kind, method, digit, image)


def make_doctored_set(photos: list[Path], folder: Path, seed: int = 7, variants: int = 2) -> list[tuple[Path, Doctored, Path]]:
    """Doctor every photo that allows it in each way, `variants` times with different
    random choices (digit, method, blending); write PNGs into `folder` (a temporary folder)
    and return (path written, doctoring, original)."""
    from PIL import Image

    from rules.hands.analysis import detect_hands

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, photo in enumerate(photos):
        rgb = np.asarray(Image.open(photo).convert("RGB"))
        hands = detect_hands(rgb)
        if not hands:
            continue
        hand = hands[0]
        extended = geo.extended_digits(hand.world)
        for k, kind in enumerate(KINDS):
            for v in range(variants):
                result = doctor(rgb, hand.points, extended, kind, seed * 100000 + i * 100 + k * 10 + v)
                if result is None:
                    continue
                path = folder / f"{photo.stem}__{kind}{v}_{result.method.replace('+', '-')}_d{result.digit}.png"
                Image.fromarray(result.image).save(path)
                out.append((path, result, photo))
    return out
