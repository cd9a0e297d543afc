"""Evidence about a detected hand that the landmarks alone cannot give.

MediaPipe always answers with five digits, so each signal here looks at the pixels (or at
the landmark model disagreeing with itself) for independent evidence of how many digits the
image really shows:

- a hand mask segmented from colours sampled along the landmark bones, refined by GrabCut;
- protrusions of that mask (finger-like parts) that no landmark digit explains: extra finger;
- landmark digits lying over background rather than on the mask: missing finger;
- neighbouring digits joined by hand-coloured webbing without a crease: fused fingers;
- the landmark model re-run on the hand crop mirrored, rotated and rescaled, with its
  finger count and landmarks compared: test-time disagreement;
- joint angles, proportions, thumb side and crossings of the skeleton (for HAND002).

All functions are pure functions on numpy arrays; `hand_signals` bundles them for one hand.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import geometry as geo
from .lab import rgb_to_lab

WORK_SIZE = 160  # hands are analysed at this size (pixels, longer side of the landmark box)


# ---------------------------------------------------------------- crop and scale

@dataclass(frozen=True)
class HandCrop:
    image: np.ndarray  # RGB crop, resized so the hand is about WORK_SIZE pixels
    points: np.ndarray  # 21x2 landmarks in crop pixels
    scale: float  # crop pixel = (image pixel - origin) * scale
    origin: tuple[float, float]


def crop_hand(rgb: np.ndarray, points: np.ndarray, margin: float = 0.35, work_size: int = WORK_SIZE) -> HandCrop:
    """A square crop around the landmarks with `margin` (share of the hand size) on every
    side, resized so the hand measures `work_size` pixels; parts outside the image are
    filled by replicating the border."""
    import cv2

    pts = np.asarray(points, dtype=float)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    size = max(x1 - x0, y1 - y0, 8.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = size * (0.5 + margin)
    ox, oy = cx - half, cy - half
    scale = work_size / size
    out = int(round(2 * half * scale))
    m = np.array([[scale, 0, -ox * scale], [0, scale, -oy * scale]], dtype=np.float64)
    crop = cv2.warpAffine(rgb, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return HandCrop(crop, (pts - [ox, oy]) * scale, scale, (ox, oy))


# ---------------------------------------------------------------- mask

def line_pixels(p: np.ndarray, q: np.ndarray, start: float = 0.0, stop: float = 1.0, step: float = 1.0) -> np.ndarray:
    """Integer pixel positions (x, y) along the segment p->q between fractions start and stop."""
    length = float(np.linalg.norm(np.asarray(q, float) - np.asarray(p, float)))
    n = max(2, int(length * (stop - start) / step))
    t = np.linspace(start, stop, n)[:, None]
    return np.round(np.asarray(p, float) + t * (np.asarray(q, float) - np.asarray(p, float))).astype(int)


def bone_samples(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels along the digit bones (inner 15-85% of each, away from the joints' edges) and
    the palm, clipped to the image."""
    chunks = []
    for a, b in geo.BONES:
        chunks.append(line_pixels(points[a], points[b], 0.15, 0.85))
    palm = points[[0, 5, 9, 13, 17]].mean(axis=0)
    for i in (0, 5, 9, 13, 17, 1):
        chunks.append(line_pixels(palm, points[i], 0.0, 0.7))
    px = np.concatenate(chunks)
    h, w = shape
    keep = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    return px[keep]


def colour_distance_map(rgb: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Mahalanobis distance in Lab of every pixel to the colours at `samples` (x, y).

    The model is robust: the 20% of samples farthest from the median (bones that slipped
    onto background, shadows) are dropped before the covariance is taken."""
    lab = rgb_to_lab(rgb).astype(np.float32)
    vals = lab[samples[:, 1], samples[:, 0]]
    med = np.median(vals, axis=0)
    d = np.linalg.norm(vals - med, axis=1)
    core = vals[d <= np.quantile(d, 0.8)] if len(vals) >= 10 else vals
    mean = core.mean(axis=0)
    cov = np.cov(core.T) + np.diag([25.0, 9.0, 9.0])  # floor: flat anime colours have ~zero spread
    inv = np.linalg.inv(cov)
    diff = lab.reshape(-1, 3) - mean
    dist = np.sqrt(np.einsum("ij,jk,ik->i", diff, inv, diff))
    return dist.reshape(rgb.shape[:2])


def hand_mask(rgb: np.ndarray, points: np.ndarray, colour_threshold: float = 3.0, grabcut_iterations: int = 1,
              grabcut_side: int = 320) -> np.ndarray:
    """Boolean mask of the hand in a crop: colours near those along the bones, refined with
    GrabCut (bones sure foreground, crop border sure background) and reduced to the part
    connected to the palm."""
    import cv2

    h, w = rgb.shape[:2]
    samples = bone_samples(points, (h, w))
    dist = colour_distance_map(rgb, samples)
    close = dist < colour_threshold
    gc = np.where(close, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    border = max(2, h // 40)
    gc[:border, :] = cv2.GC_BGD
    gc[-border:, :] = cv2.GC_BGD
    gc[:, :border] = cv2.GC_BGD
    gc[:, -border:] = cv2.GC_BGD
    gc[samples[:, 1], samples[:, 0]] = cv2.GC_FGD
    if grabcut_iterations > 0 and (gc == cv2.GC_PR_BGD).any() and (gc == cv2.GC_PR_FGD).any():
        # GrabCut dominates the cost: run it on a smaller copy and bring the labels back
        f = min(1.0, grabcut_side / max(h, w))
        small = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else rgb
        gc_small = cv2.resize(gc, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST) if f < 1 else gc
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        # GrabCut seeds its colour models from OpenCV's global random generator: fix it so
        # a hand's mask does not depend on what ran before it
        cv2.setRNGSeed(12345)
        try:
            cv2.grabCut(small, gc_small, None, bgd, fgd, grabcut_iterations, cv2.GC_INIT_WITH_MASK)
            refined = cv2.resize(gc_small, (w, h), interpolation=cv2.INTER_NEAREST) if f < 1 else gc_small
            keep_sure = (gc == cv2.GC_FGD) | (gc == cv2.GC_BGD)
            gc = np.where(keep_sure, gc, refined).astype(np.uint8)
        except cv2.error:
            pass
    mask = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels = cv2.connectedComponents(mask)
    if n <= 1:
        return mask.astype(bool)
    palm = np.round(points[[0, 5, 9, 13, 17]].mean(axis=0)).astype(int)
    px, py = np.clip(palm[0], 0, w - 1), np.clip(palm[1], 0, h - 1)
    keep = labels[py, px]
    if keep == 0:  # palm centre fell in a hole: keep the component holding most bone samples
        counts = np.bincount(labels[samples[:, 1], samples[:, 0]], minlength=n)
        counts[0] = 0
        keep = int(np.argmax(counts))
    return labels == keep


# ---------------------------------------------------------------- digits over background

def digit_coverage(mask: np.ndarray, points: np.ndarray) -> list[float]:
    """Share of the outer half of each digit (PIP to tip) that lies on the mask."""
    h, w = mask.shape
    out = []
    for chain in geo.DIGIT_CHAINS:
        px = np.concatenate([line_pixels(points[chain[1]], points[chain[2]], 0.3, 1.0),
                             line_pixels(points[chain[2]], points[chain[3]], 0.0, 0.85)])
        inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
        hits = np.zeros(len(px), bool)
        hits[inside] = mask[px[inside, 1], px[inside, 0]]
        out.append(float(hits.mean()))
    return out


# ---------------------------------------------------------------- protrusions

def finger_width_px(points: np.ndarray) -> float:
    """Expected finger width: a third of the knuckle line (index to pinky knuckle centres,
    which spans three finger spacings), about one finger's width in adult hands."""
    return float(np.linalg.norm(points[5] - points[17])) / 3.0


def protrusions(mask: np.ndarray, points: np.ndarray, min_length: float = 0.45) -> list[dict]:
    """Finger-like parts of the mask: what is left after removing everything a disc wider
    than a finger covers (the palm), kept when at least `min_length` finger widths long.
    Each comes with the digits whose landmark line runs through it."""
    import cv2

    fw = max(finger_width_px(points), 4.0)
    radius = int(round(fw * 0.85))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    m = mask.astype(np.uint8)
    body = cv2.morphologyEx(m, cv2.MORPH_OPEN, disc)
    parts = cv2.morphologyEx((m & (1 - body)).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(parts)
    h, w = mask.shape
    digit_px = []
    for chain in geo.DIGIT_CHAINS:
        px = np.concatenate([line_pixels(points[chain[i]], points[chain[i + 1]]) for i in range(3)])
        px = px[(px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)]
        digit_px.append(px)
    found = []
    for k in range(1, n):
        ys, xs = np.nonzero(labels == k)
        if len(xs) < fw * fw * 0.5:
            continue
        coords = np.stack([xs, ys], axis=1).astype(float)
        centred = coords - coords.mean(axis=0)
        eig = np.linalg.eigvalsh(np.cov(centred.T)) if len(xs) > 2 else np.array([0.0, 0.0])
        length = 4.0 * np.sqrt(max(eig[-1], 0.0))  # ~ extent along the main axis
        width = len(xs) / max(length, 1.0)
        if length < min_length * fw * 2 or length < 1.5 * width:
            continue
        comp = labels == k
        # dilate a little so a landmark line running along the edge still explains it
        comp_d = cv2.dilate(comp.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        explained = [d for d, px in enumerate(digit_px) if len(px) and comp_d[px[:, 1], px[:, 0]].mean() > 0.08]
        # how far along the palm axis (wrist = 0, middle knuckle = 1) the part sits: fingers
        # sit beyond ~0.8, sleeves, wrists and faces behind the hand do not
        axis = points[9] - points[0]
        along = float(np.dot(coords.mean(axis=0) - points[0], axis) / max(float(np.dot(axis, axis)), 1e-9))
        found.append({"length_fw": round(float(length / fw), 2), "width_fw": round(float(width / fw), 2),
                      "digits": explained, "along_palm": round(along, 2), "area": int(len(xs))})
    return found


# ---------------------------------------------------------------- mask beyond the hand

LEAK_MARGIN_FW = 0.6  # mask this far from the skeleton's outline still belongs to the hand


def mask_leak(mask: np.ndarray, points: np.ndarray, margin: float = LEAK_MARGIN_FW) -> float:
    """Area of the mask outside the hand the skeleton outlines (palm polygon and bones a
    finger wide, grown by `margin` finger widths), wrist side excluded (the forearm belongs
    there), in square finger widths. A sixth finger adds 2 to 4; a skin-coloured background
    the mask ran into (a face behind the fingers, another hand, an arm) adds tens."""
    import cv2

    pts = np.asarray(points, float)
    fw = max(finger_width_px(pts), 4.0)
    outline = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(outline, [np.round(pts[[0, 1, 5, 9, 13, 17]]).astype(np.int32)], 1)
    for a, b in geo.BONES:
        cv2.line(outline, tuple(int(v) for v in np.round(pts[a])), tuple(int(v) for v in np.round(pts[b])), 1,
                 max(1, int(round(fw))))
    r = max(1, int(round(margin * fw)))
    outline = cv2.dilate(outline, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    axis = pts[9] - pts[0]
    along = ((xx - pts[0, 0]) * axis[0] + (yy - pts[0, 1]) * axis[1]) / max(float(axis @ axis), 1e-9)
    return round(float((mask & (outline == 0) & (along > 0.0)).sum()) / fw ** 2, 2)


# ---------------------------------------------------------------- runs across the fingers

RUN_LEVELS = (0.3, 0.45, 0.6, 0.75)  # where the scan lines cross the held-out fingers (share of MCP to tip)
RUN_MIN_FW = 0.3  # narrower runs of mask are noise (a strand of hair, a ragged edge)
RUN_EXTEND_FW = 2.2  # the scan line runs on this far beyond the outer held-out fingers
RUN_THUMB_FW = 0.6  # mask this near the thumb's landmark line is the thumb


def _point_along(points: np.ndarray, chain: tuple[int, ...], fraction: float) -> np.ndarray:
    """The point at `fraction` of a digit's length (by arc length, base to tip)."""
    pts = np.asarray(points, float)[list(chain)]
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    total = float(seg.sum())
    if total < 1e-9:
        return pts[0]
    target = fraction * total
    for i, length in enumerate(seg):
        if target <= length or i == len(seg) - 1:
            t = min(target / max(float(length), 1e-9), 1.0)
            return pts[i] + t * (pts[i + 1] - pts[i])
        target -= length
    return pts[-1]


def _segment_distance(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((px - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.linalg.norm(px - (a + t[:, None] * ab), axis=1)


def runs_across_fingers(mask: np.ndarray, points: np.ndarray, extended: tuple[bool, ...],
                        levels: tuple[float, ...] = RUN_LEVELS, gray: np.ndarray | None = None) -> dict:
    """Count the finger-like runs of the hand mask on scan lines across the held-out fingers,
    independently of the five digits the landmark model fits.

    Each scan line joins the points at the same share of length of every held-out finger
    (index to pinky) and runs on beyond the outer ones. Along it the mask falls into runs;
    a run is explained by the digits whose crossing lies in it, and the thumb's and the folded
    fingers' (mostly within RUN_THUMB_FW of their bones) are left out.
    Per line: runs no digit explains (`free`: a finger the skeleton does not hold, as a sixth
    finger beside the pinky), the widest run holding a single digit in finger widths (`wide`:
    a second finger drawn against it), and held-out digits crossing no run (`bare`: a
    finger the skeleton places over background). Needs two held-out fingers.
    With `gray`, also the fingers the shading shows on each line (`seen`, against the
    held-out digits: `seen_minus_held`): a run holds one finger more for every crease in it
    (see creases_in_run), so fingers held together are counted too."""
    held = [d for d in range(1, 5) if extended[d]]
    out = {"lines": 0, "free": [], "wide": [], "bare": [], "runs": []}
    if gray is not None:
        out["seen_minus_held"] = []
    if len(held) < 2:
        return out
    pts = np.asarray(points, float)
    h, w = mask.shape
    fw = max(finger_width_px(pts), 4.0)
    thumb = [(pts[a], pts[b]) for a, b in zip(geo.DIGIT_CHAINS[0][:-1], geo.DIGIT_CHAINS[0][1:])]
    # the bones of the folded fingers (index to pinky): a run along one is that finger, curled
    # beside the held-out ones (a hand holding a sandwich), not a finger the skeleton misses
    folded = [(pts[a], pts[b]) for d in range(1, 5) if not extended[d]
              for a, b in zip(geo.DIGIT_CHAINS[d][:-1], geo.DIGIT_CHAINS[d][1:])]
    for level in levels:
        anchors = np.array([_point_along(pts, geo.DIGIT_CHAINS[d], level) for d in held])
        first = anchors[1] - anchors[0]
        last = anchors[-1] - anchors[-2]
        if np.linalg.norm(first) < 1e-6 or np.linalg.norm(last) < 1e-6:
            continue
        start = anchors[0] - first / np.linalg.norm(first) * RUN_EXTEND_FW * fw
        end = anchors[-1] + last / np.linalg.norm(last) * RUN_EXTEND_FW * fw
        line = np.vstack([start, anchors, end])
        # sample the polyline every half pixel, keeping each sample's arc length
        samples, arc, digit_at = [], [], []
        travelled = 0.0
        for i in range(len(line) - 1):
            a, b = line[i], line[i + 1]
            length = float(np.linalg.norm(b - a))
            n = max(2, int(np.ceil(length * 2)))
            t = np.linspace(0.0, 1.0, n, endpoint=False)
            samples.append(a + t[:, None] * (b - a))
            arc.append(travelled + t * length)
            if 1 <= i + 1 <= len(held):
                digit_at.append(travelled + length)  # anchors[i] sits at the end of segment i
            travelled += length
        xy = np.concatenate(samples)
        s = np.concatenate(arc)
        ix, iy = np.round(xy[:, 0]).astype(int), np.round(xy[:, 1]).astype(int)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        on = np.zeros(len(xy), bool)
        on[inside] = mask[iy[inside], ix[inside]]
        near_thumb = np.min([_segment_distance(xy, a, b) for a, b in thumb], axis=0) < RUN_THUMB_FW * fw
        near_folded = (np.min([_segment_distance(xy, a, b) for a, b in folded], axis=0) < RUN_THUMB_FW * fw
                       if folded else np.zeros(len(xy), bool))
        # runs of mask along the line
        edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
        runs = []
        for r0, r1 in zip(edges[::2], edges[1::2]):
            width = (s[r1 - 1] - s[r0]) / fw if r1 - 1 > r0 else 0.0
            if width < RUN_MIN_FW:
                continue
            digits = [d for d, at in zip(held, digit_at) if s[r0] - 1.0 <= at <= s[r1 - 1] + 1.0]
            runs.append({"span": (int(r0), int(r1)), "width": width, "digits": digits,
                         "thumb": bool(near_thumb[r0:r1].mean() > 0.5),
                         "folded": bool(near_folded[r0:r1].mean() > 0.5), "open_end": bool(r0 == 0 or r1 == len(on))})
        free = sum(1 for r in runs if not r["digits"] and not r["thumb"] and not r["folded"] and not r["open_end"]
                   and r["width"] <= 1.6)
        single = [r["width"] for r in runs if len(r["digits"]) == 1 and not r["thumb"]]
        covered = {d for r in runs for d in r["digits"]}
        out["lines"] += 1
        out["free"].append(free)
        out["wide"].append(round(max(single, default=0.0), 2))
        out["bare"].append(sum(1 for d in held if d not in covered))
        out["runs"].append(sum(1 for r in runs if not r["thumb"]))
        if gray is not None:
            out["seen_minus_held"].append(_fingers_seen(gray, xy, s, on, runs, fw, start, end, pts, held) - len(held))
    return out


CREASE_SMOOTH_FW = 0.12  # the shading is smoothed over this share of a finger width first
CREASE_MIN_SEP_FW = 0.55  # a crease leaves at least this much finger on either side
CREASE_DEPTH = 0.15  # ... and is this much darker than the shading either side (share of the hand's range)
CREASE_MIN_RANGE = 8.0  # grey levels: the range a flat-coloured hand is taken to have at least


def creases_in_run(profile: np.ndarray, arc: np.ndarray, width: float, depth: float) -> int:
    """Creases in one run of mask along a scan line: local minima of its smoothed grey
    profile at least `depth` below the brightest shading within a finger `width` either side,
    each at least CREASE_MIN_SEP_FW finger widths from the run's ends and from the next
    crease. Fingers held together show one between each two (a finger is shaded as a
    cylinder: bright along its middle, darker where it meets the next one)."""
    n = len(profile)
    if n < 3:
        return 0
    step = max(float(np.median(np.diff(arc))), 1e-6)
    sigma = max(CREASE_SMOOTH_FW * width / step, 0.5)
    k = np.arange(-int(3 * sigma) - 1, int(3 * sigma) + 2)
    kernel = np.exp(-0.5 * (k / sigma) ** 2)
    kernel /= kernel.sum()
    smooth = np.convolve(np.pad(profile, len(k), mode="edge"), kernel, mode="same")[len(k):-len(k)]
    sep = CREASE_MIN_SEP_FW * width
    found: list[tuple[float, float]] = []
    for i in range(1, n - 1):
        if not (smooth[i] < smooth[i - 1] and smooth[i] <= smooth[i + 1]):
            continue
        if arc[i] - arc[0] < sep or arc[-1] - arc[i] < sep:
            continue
        lo, hi = np.searchsorted(arc, arc[i] - width), np.searchsorted(arc, arc[i] + width)
        d = min(smooth[lo:i].max(), smooth[i + 1:hi].max()) - smooth[i]
        if d < depth:
            continue
        if found and arc[i] - found[-1][0] < sep:
            if d > found[-1][1]:
                found[-1] = (arc[i], d)
            continue
        found.append((arc[i], d))
    return len(found)


def _fingers_seen(gray: np.ndarray, xy: np.ndarray, s: np.ndarray, on: np.ndarray, runs: list[dict], fw: float,
                  start: np.ndarray, end: np.ndarray, pts: np.ndarray, held: list[int]) -> int:
    """Fingers one scan line crosses by the shading: each run that runs_across_fingers
    counts as a finger (a free run, or one holding held-out digits) plus its creases. Widths
    are taken across the fingers: a line crossing them slantwise (fingers of unequal
    length) is stretched by 1 / sin of its angle to them."""
    import cv2

    direction = _unit(np.mean([_unit(pts[geo.DIGIT_CHAINS[d][3]] - pts[geo.DIGIT_CHAINS[d][0]]) for d in held], axis=0))
    along = _unit(end - start)
    sine = abs(float(direction[0] * along[1] - direction[1] * along[0]))
    width = fw / max(sine, 0.5)
    profile = cv2.remap(gray.astype(np.float32), xy[:, 0].astype(np.float32).reshape(1, -1),
                        xy[:, 1].astype(np.float32).reshape(1, -1), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE).ravel()
    lo, hi = np.percentile(profile[on], [10, 90]) if on.any() else (0.0, 0.0)
    depth = CREASE_DEPTH * max(float(hi - lo), CREASE_MIN_RANGE)
    seen = 0
    for run in runs:
        if run["thumb"] or run["folded"] or run["open_end"] or (not run["digits"] and run["width"] > 1.6):
            continue
        r0, r1 = run["span"]
        seen += 1 + creases_in_run(profile[r0:r1], s[r0:r1], width, depth)
    return seen


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


# ---------------------------------------------------------------- fused fingers

CREASE_WINDOW_FW = 0.22  # how far from the landmarks' midline a crease between two fingers is looked for

def webbing(mask: np.ndarray, gray: np.ndarray, points: np.ndarray, extended: tuple[bool, ...]) -> list[dict]:
    """For neighbouring held-out fingers: how much of the line between their middle
    phalanges lies on the mask, and how strong the crease (intensity edge) along the midline
    between them is. Fused fingers are joined by mask with no crease; fingers merely held
    together still show a dark line between them."""
    import cv2

    h, w = mask.shape
    gx = cv2.Sobel(gray.astype(np.float32), cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray.astype(np.float32), cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    ref = float(np.percentile(mag[mask], 90)) if mask.any() else 1.0
    out = []
    for a in range(1, 4):
        b = a + 1
        if not (extended[a] and extended[b]):
            continue
        ca, cb = geo.DIGIT_CHAINS[a], geo.DIGIT_CHAINS[b]
        mid_a = (points[ca[1]] + points[ca[2]]) / 2
        mid_b = (points[cb[1]] + points[cb[2]]) / 2
        across = line_pixels(mid_a, mid_b, 0.2, 0.8)
        along = np.concatenate([line_pixels((points[ca[i]] + points[cb[i]]) / 2,
                                            (points[ca[i + 1]] + points[cb[i + 1]]) / 2) for i in (1, 2)])
        ok_a = (across[:, 0] >= 0) & (across[:, 0] < w) & (across[:, 1] >= 0) & (across[:, 1] < h)
        ok_b = (along[:, 0] >= 0) & (along[:, 0] < w) & (along[:, 1] >= 0) & (along[:, 1] < h)
        if ok_a.sum() < 2 or ok_b.sum() < 2:
            continue
        filled = float(mask[across[ok_a, 1], across[ok_a, 0]].mean())
        crease = float(np.median(mag[along[ok_b, 1], along[ok_b, 0]]) / max(ref, 1e-6))
        # the landmarks sit a few pixels off the real crease: the strongest edge within a
        # fifth of a finger width either side of the midline (not as far as the fingers'
        # outer edges, which two digits fitted on one finger would find)
        side = mid_b - mid_a
        side = side / max(float(np.linalg.norm(side)), 1e-6)
        offsets = np.linspace(-CREASE_WINDOW_FW, CREASE_WINDOW_FW, 7) * finger_width_px(points)
        near = np.round(along[ok_b][:, None, :] + offsets[None, :, None] * side).astype(int)
        inside = (near[..., 0] >= 0) & (near[..., 0] < w) & (near[..., 1] >= 0) & (near[..., 1] < h)
        values = np.where(inside, mag[np.clip(near[..., 1], 0, h - 1), np.clip(near[..., 0], 0, w - 1)], 0.0)
        crease_near = float(np.median(values.max(axis=1)) / max(ref, 1e-6))
        gap = float(np.linalg.norm(mid_a - mid_b) / max(finger_width_px(points), 1e-6))
        out.append({"pair": [a, b], "filled": round(filled, 2), "crease": round(crease, 2),
                    "crease_near": round(crease_near, 2), "gap_fw": round(gap, 2)})
    return out


# ---------------------------------------------------------------- test-time augmentation

def _rotate(img: np.ndarray, angle: float, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m


AUGMENTATIONS = ("mirror", "rotate+20", "rotate-20", "shrink")


def tta_runs(crop: np.ndarray, points: np.ndarray) -> list[dict]:
    """Re-run the landmark model on the hand crop under each augmentation and map the
    landmarks back into the crop; each run reports whether a hand was found, its count, its
    handedness and the mean landmark shift against `points` (in hand sizes)."""
    import cv2

    from .analysis import detect_in

    size = float(max(np.ptp(points[:, 0]), np.ptp(points[:, 1]), 1.0))
    runs = []
    for aug in AUGMENTATIONS:
        if aug == "mirror":
            img = np.ascontiguousarray(crop[:, ::-1])
            inv = None
        elif aug.startswith("rotate"):
            img, m = _rotate(crop, float(aug[len("rotate"):]))
            inv = cv2.invertAffineTransform(m)
        else:
            img, m = _rotate(crop, 0.0, 0.7)
            inv = cv2.invertAffineTransform(m)
        hands = detect_in(img, max_hands=1)
        if not hands:
            runs.append({"aug": aug, "found": False})
            continue
        hand = hands[0]
        pts = hand.points.copy()
        if aug == "mirror":
            pts[:, 0] = crop.shape[1] - pts[:, 0]
        else:
            pts = pts @ inv[:, :2].T + inv[:, 2]
        shift = float(np.mean(np.linalg.norm(pts - points, axis=1)) / size)
        runs.append({"aug": aug, "found": True, "count": int(sum(geo.extended_digits(hand.world))),
                     "handedness": hand.handedness, "shift": round(shift, 3)})
    return runs


def tta_summary(runs: list[dict], count: int, handedness: str) -> dict:
    """Disagreement of the landmark model with itself: share of augmentations that lost the
    hand, gave another finger count, or another handedness (mirror is expected to flip it),
    and the median landmark shift."""
    found = [r for r in runs if r["found"]]
    n = max(len(runs), 1)
    flipped = {"Left": "Right", "Right": "Left"}
    other_count = sum(1 for r in found if r["count"] != count)
    other_hand = sum(1 for r in found
                     if r["handedness"] != (flipped.get(handedness, handedness) if r["aug"] == "mirror" else handedness))
    return {
        "tta_lost": round((n - len(found)) / n, 2),
        "tta_count_disagree": round(other_count / n, 2),
        "tta_handedness_disagree": round(other_hand / n, 2),
        "tta_shift": round(float(np.median([r["shift"] for r in found])) if found else 1.0, 3),
        "tta_counts": [r.get("count") for r in runs],
    }


# ---------------------------------------------------------------- plausibility

def plausibility(points: np.ndarray, world: np.ndarray, extended: tuple[bool, ...]) -> dict:
    """Skeleton measures for HAND002. Backward and sideways bends are taken on held-out
    fingers only: on curled fingers and hands seen edge-on the fitted angles are unreliable."""
    flex = geo.signed_flexion_deg(world)
    lateral = geo.lateral_bend_deg(world)
    ratios = geo.phalanx_ratios(world)
    held = [d for d in range(1, 5) if extended[d]]
    backward = max([0.0] + [float(-flex[d, 1:].min()) for d in held])
    sideways = max([0.0] + [float(lateral[d - 1].max()) for d in held])
    return {
        "max_backward_bend_deg": round(backward, 1),
        "max_lateral_bend_deg": round(sideways, 1),
        "max_phalanx_ratio": round(float(ratios.max()), 2),
        "min_phalanx_ratio": round(float(ratios.min()), 2),
        "thumb_side_ratio": round(geo.thumb_side_ratio(points), 2),
        "crossing_pairs": [list(p) for p in geo.crossing_digit_pairs(points, world)],
    }


# ---------------------------------------------------------------- all signals of one hand

def hand_signals(rgb: np.ndarray, hand, extended: tuple[bool, ...]) -> dict:
    """Every pixel and skeleton signal for one detected hand (a `DetectedHand`), as plain
    numbers and lists; the augmentation signals come from `hand_analysis.augment_hand`."""
    import cv2

    crop = crop_hand(rgb, hand.points)
    mask = hand_mask(crop.image, crop.points)
    gray = cv2.cvtColor(crop.image, cv2.COLOR_RGB2GRAY)
    coverage = digit_coverage(mask, crop.points)
    parts = protrusions(mask, crop.points)
    webs = webbing(mask, gray, crop.points, extended)
    runs = runs_across_fingers(mask, crop.points, extended, gray=gray)
    fw = finger_width_px(crop.points)
    out: dict = {
        "digit_coverage": [round(c, 2) for c in coverage],
        "protrusions": parts,
        "unexplained_protrusions": sum(1 for p in parts if not p["digits"]),
        "webbing": webs,
        "finger_runs": runs,
        "mask_share": round(float(mask.mean()), 3),
        "mask_leak_fw2": mask_leak(mask, crop.points),
        "finger_width_px": round(fw / crop.scale, 1),
    }
    out["thumb_to_folded_tip_fw"] = thumb_to_folded_tips(hand.points, extended)
    out["thumb_ring_digits"] = thumb_ring_digits(hand.points, extended)
    out.update(plausibility(hand.points, hand.world, extended))
    return out


THUMB_RING_FW = 1.0  # a held-out finger's tip this near the thumb's tip closes a ring with it


def thumb_ring_digits(points: np.ndarray, extended: tuple[bool, ...]) -> list[int]:
    """The held-out fingers whose tip touches the thumb's tip (within THUMB_RING_FW finger
    widths), with the thumb: the ring of the OK sign. Attached at both ends, such a finger is no
    finger-like part of the hand's mask. Empty when no finger touches it."""
    fw = max(finger_width_px(points), 1e-6)
    ring = [d for d in range(1, 5) if extended[d]
            and float(np.linalg.norm(points[4] - points[geo.DIGIT_CHAINS[d][3]])) < THUMB_RING_FW * fw]
    return [0] + ring if ring else []


def thumb_to_folded_tips(points: np.ndarray, extended: tuple[bool, ...]) -> list:
    """For each finger folded between two held-out ones, the distance from the thumb's tip to
    its tip in finger widths (None for the others): a thumb holding a folded finger down (the
    sign-language 7 and 8) is an ordinary pose, not a finger the image lacks."""
    fw = max(finger_width_px(points), 1e-6)
    out = []
    for d in range(5):
        if 2 <= d <= 3 and extended[d - 1] and extended[d + 1] and not extended[d]:
            tip = geo.DIGIT_CHAINS[d][3]
            out.append(round(float(np.linalg.norm(points[4] - points[tip]) / fw), 2))
        else:
            out.append(None)
    return out


def overlap_with_other_hands(boxes: list[tuple[float, float, float, float]]) -> list[float]:
    """For each hand's landmark box, the largest share of it that another hand's box covers:
    hands touching, clasped or interlaced, where one hand's mask holds parts of the other."""
    out = []
    for i, a in enumerate(boxes):
        area = max((a[2] - a[0]) * (a[3] - a[1]), 1e-9)
        best = 0.0
        for j, b in enumerate(boxes):
            if i != j:
                ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
                iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
                best = max(best, ix * iy / area)
        out.append(round(best, 3))
    return out
