"""ALIGN003 measurements: straight segments (OpenCV's fast line detector, refined to sub-pixel
positions), joined along one edge, and pairs of pieces that continue each other a few pixels off.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .numeric import bilinear_nearest, connected_labels


@dataclass(frozen=True)
class BrokenLine:
    first: tuple[float, float, float, float]  # x0, y0, x1, y1 of one segment (full-resolution pixels)
    second: tuple[float, float, float, float]
    offset: float  # perpendicular distance between the two segments' lines, pixels
    angle: float  # direction change between them, degrees
    gap: float  # distance along the line between the end of one and the start of the other


# OpenCV's fast line detector directs its segments so that the darker side lies along the
# normal (-dy, dx) of the direction (dx, dy): read along that normal, the gray level falls
DETECTOR_POLARITY = -1.0


FLD_MIN_SIDE = 6  # OpenCV 4.11's fast line detector asserts on images under 6 px high or wide


def detect_segments(gray_u8: np.ndarray, min_length: int, canny: float = 50.0, merge: bool = True) -> np.ndarray:
    """Straight segments (N x 4: x0, y0, x1, y1) found by OpenCV's fast line detector; with
    ``merge`` it joins nearby segments itself (loosely: across offsets of a pixel or two).
    Segments are directed: the gray level falls across each along its normal (-dy, dx)
    (``DETECTOR_POLARITY``)."""
    import cv2

    if min(gray_u8.shape[:2]) < FLD_MIN_SIDE:  # the detector fails on such strips (an OpenCV error)
        return np.zeros((0, 4), np.float32)
    fld = cv2.ximgproc.createFastLineDetector(min_length, 1.414, canny, canny, 3, merge)
    lines = fld.detect(gray_u8)
    if lines is None:
        return np.zeros((0, 4), np.float32)
    return lines.reshape(-1, 4).astype(np.float64)


class SegmentFrame(NamedTuple):
    """Segments (N x 4) as end points, vector, length, unit direction, unit normal (-dy, dx)
    and midpoint, each N rows."""

    p0: np.ndarray
    p1: np.ndarray
    vec: np.ndarray
    length: np.ndarray
    direction: np.ndarray
    normal: np.ndarray
    mid: np.ndarray


def segment_frame(segments: np.ndarray) -> SegmentFrame:
    p0, p1 = segments[:, :2], segments[:, 2:]
    vec = p1 - p0
    length = np.hypot(vec[:, 0], vec[:, 1]) + 1e-9
    direction = vec / length[:, None]
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    return SegmentFrame(p0, p1, vec, length, direction, normal, 0.5 * (p0 + p1))


def refine_segments(gray: np.ndarray, segments: np.ndarray, samples: int = 9,
                    reach: int = 3, polarity: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Move each segment across itself onto the full-resolution edge (sub-pixel), and measure
    the gray level on either side of it.

    At ``samples`` points along the segment the gray level is read along the normal (-dy, dx),
    the strongest step of the segment's polarity is located with a parabola fit, and a straight
    line is fitted through those positions. The polarity is ``polarity`` (+1: the gray level
    rises along the normal, -1: it falls; ``DETECTOR_POLARITY`` for ``detect_segments``'
    directed segments) or, when None, the sign of the step across the segment's own position
    (the centre of the window, one pixel either side). Not the sum over the whole window: across
    a stroke about as thin as the window both sides show the background, the sum is noise, and
    pieces of one edge would land on either edge of the stroke.
    Returns the moved segments (N x 4) and the side levels (N x 2: median gray ``reach`` px to
    the left and to the right of the segment's direction)."""
    if len(segments) == 0:
        return segments, np.zeros((0, 2))
    frame = segment_frame(segments)
    p0, vec, n = frame.p0, frame.vec, frame.normal
    t = np.linspace(0.15, 0.85, samples)
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    pts = p0[:, None, None, :] + t[None, :, None, None] * vec[:, None, None, :] \
        + offsets[None, None, :, None] * n[:, None, None, :]
    values = bilinear_nearest(gray, pts[..., 1].ravel(), pts[..., 0].ravel())
    values = values.reshape(len(segments), samples, len(offsets))
    signed = np.diff(values, axis=2)  # between offsets k and k+1: position k + 0.5
    # only the segment's own edge: the one whose step has the segment's polarity (the other
    # edge of a thin stroke, a few pixels away, steps the other way)
    if polarity is None:
        centre = np.sum(values[:, :, reach + 1] - values[:, :, reach - 1], axis=1)
        sign = np.sign(centre)
        sign = np.where(sign == 0, np.sign(np.sum(signed, axis=(1, 2))), sign)
        sign = np.where(sign == 0, 1.0, sign)
    else:
        sign = np.full(len(segments), 1.0 if polarity >= 0 else -1.0)
    grad = np.maximum(signed * sign[:, None, None], 0.0)
    k = np.clip(np.argmax(grad, axis=2), 1, grad.shape[2] - 2)
    idx = np.arange(len(segments))[:, None], np.arange(samples)[None, :]
    left, mid, right = grad[idx + (k - 1,)], grad[idx + (k,)], grad[idx + (k + 1,)]
    denom = left - 2 * mid + right
    frac = np.where(np.abs(denom) > 1e-6, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    position = offsets[0] + k + 0.5 + np.clip(frac, -0.5, 0.5)
    # fit position = a + b * t per segment (least squares), robust to a stray sample by
    # dropping samples far from the median first
    med = np.median(position, axis=1, keepdims=True)
    weight = (np.abs(position - med) <= 1.0).astype(np.float64)
    tw = weight * t[None, :]
    sw, st, stt = weight.sum(1), tw.sum(1), (tw * t[None, :]).sum(1)
    sp, stp = (weight * position).sum(1), (tw * position).sum(1)
    det = sw * stt - st * st
    ok = (sw >= 3) & (np.abs(det) > 1e-9)
    b = np.where(ok, (sw * stp - st * sp) / np.where(ok, det, 1.0), 0.0)
    a = np.where(ok, (sp - b * st) / np.where(sw > 0, sw, 1.0), med[:, 0])
    start_shift, end_shift = a, a + b
    bad = (np.abs(start_shift) >= reach) | (np.abs(end_shift) >= reach)
    start_shift = np.where(bad, 0.0, start_shift)
    end_shift = np.where(bad, 0.0, end_shift)
    moved = segments.astype(np.float64).copy()
    moved[:, :2] += start_shift[:, None] * n
    moved[:, 2:] += end_shift[:, None] * n
    sides = np.stack([np.median(values[:, :, 0], axis=1), np.median(values[:, :, -1], axis=1)], axis=1)
    return moved, sides


def similar_direction_pairs(direction: np.ndarray, max_angle: float,
                            budget: int = 1 << 19):
    """The pairs (i < j) of unit ``direction`` vectors at most ``max_angle`` degrees apart, in
    chunks of at most max(``budget``, n) candidate pairs: (rows, cols) index arrays, each pair
    once, in no particular order. Callers test the pairs of a chunk and keep the few that pass.

    Directions are sorted by angle and each is compared only with those following it within
    the angle (and across the wrap at 180 degrees), a chunk of them at a time, so memory stays
    bounded by ``budget`` instead of growing with the square of the segment count (a 2000 px
    poster gives over 2000 segments: 44 MB for one n x n matrix)."""
    n = len(direction)
    if n < 2:
        return
    theta = np.arctan2(direction[:, 1], direction[:, 0])
    order = np.argsort(theta, kind="stable")
    t = theta[order]
    tol = math.radians(max_angle) + 1e-6  # a little wide: the exact test is on the dot product
    cos_min = math.cos(math.radians(max_angle))
    wrap = int(np.searchsorted(t, -math.pi + tol, side="right"))  # near -180 deg: also after +180
    t_ext = np.concatenate([t, t[:wrap] + 2.0 * math.pi])
    idx_ext = np.concatenate([order, order[:wrap]])
    positions = np.arange(n)
    hi = np.minimum(np.searchsorted(t_ext, t + tol, side="right"), positions + n)
    count = np.maximum(hi - positions - 1, 0)
    total = np.concatenate([[0], np.cumsum(count)])
    start = 0
    while start < n:
        end = min(n, max(start + 1, int(np.searchsorted(total, total[start] + budget, side="right")) - 1))
        c = count[start:end]
        m = int(c.sum())
        if m:
            ks = np.repeat(positions[start:end], c)
            first = np.repeat(total[start:end] - total[start], c)
            i, j = order[ks], idx_ext[ks + 1 + (np.arange(m) - first)]
            ok = np.einsum("ij,ij->i", direction[i], direction[j]) >= cos_min
            i, j = i[ok], j[ok]
            yield np.minimum(i, j), np.maximum(i, j)
        start = end


def chain_collinear(segments: np.ndarray, sides: np.ndarray | None = None, max_offset: float = 0.5,
                    max_angle: float = 0.6, max_gap: float = 60.0, max_overlap: float = 3.0,
                    max_side_difference: float = 20.0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Join the pieces of one straight edge into one segment.

    The line detector cuts an edge wherever another line crosses it (and sometimes for no
    visible reason), so the piece next to a break can be short, and the distance to the other
    side of the break looks like the gap plus the crossing. Segments with the same direction
    (within ``max_angle`` degrees, same polarity), whose end points lie within ``max_offset``
    pixels of each other's line, that follow each other along it within ``max_gap`` pixels and
    separate the same tones, are joined; a joined group whose members do not all stay within
    ``max_offset`` of its fitted line is left apart (a curve, not a straight edge).

    Pairs are formed by ``similar_direction_pairs`` (angle order, bounded chunks), so memory
    does not grow with the square of the segment count.

    Returns the segments (M x 4), their side levels (M x 2, or None) and how many pieces
    each is made of."""
    n = len(segments)
    counts = np.ones(n, np.int64)
    if n < 2:
        return segments, sides, counts
    frame = segment_frame(segments)
    p0, p1, length, direction, normal, mid = (frame.p0, frame.p1, frame.length, frame.direction, frame.normal,
                                              frame.mid)
    # only pairs with the same direction (a cheap, very selective test, done by angle order in
    # bounded chunks, not on an n x n matrix) are measured further
    linked_rows, linked_cols = [], []
    for rows, cols in similar_direction_pairs(direction, max_angle):
        # the shorter piece's end points against the longer one's line
        flip = length[rows] < length[cols]
        li, si = np.where(flip, cols, rows), np.where(flip, rows, cols)
        across = np.maximum(np.abs(np.sum((p0[si] - p0[li]) * normal[li], axis=1)),
                            np.abs(np.sum((p1[si] - p0[li]) * normal[li], axis=1)))
        along = np.abs(np.sum((mid[cols] - mid[rows]) * direction[rows], axis=1))
        gap = along - 0.5 * (length[rows] + length[cols])
        link = (across <= max_offset) & (gap <= max_gap) & (gap >= -max_overlap)
        if sides is not None and len(sides) == n:
            link &= np.all(np.abs(sides[rows] - sides[cols]) <= max_side_difference, axis=1)
        linked_rows.append(rows[link])
        linked_cols.append(cols[link])
    rows = np.concatenate(linked_rows) if linked_rows else np.zeros(0, np.int64)
    cols = np.concatenate(linked_cols) if linked_cols else np.zeros(0, np.int64)
    if len(rows) == 0:
        return segments, sides, counts
    n_groups, labels = connected_labels(n, rows, cols)
    sizes = np.bincount(labels, minlength=n_groups)
    alone = sizes[labels] == 1
    out_segments = [segments[alone]]
    out_sides = [sides[alone]] if sides is not None else []
    out_counts = [np.ones(int(alone.sum()), np.int64)]
    for g in np.flatnonzero(sizes > 1):
        members = np.flatnonzero(labels == g)
        w = length[members]
        u = (direction[members] * w[:, None]).sum(axis=0)
        u /= np.hypot(u[0], u[1]) + 1e-12
        nrm = np.array([-u[1], u[0]])
        centre = (mid[members] * w[:, None]).sum(axis=0) / w.sum()
        ends = np.concatenate([p0[members], p1[members]])
        t = (ends - centre) @ u
        off = (ends - centre) @ nrm
        if np.max(np.abs(off)) <= 1.5 * max_offset:
            a, b = centre + t.min() * u, centre + t.max() * u
            out_segments.append(np.array([[a[0], a[1], b[0], b[1]]]))
            if sides is not None:
                out_sides.append(((sides[members] * w[:, None]).sum(axis=0) / w.sum())[None, :])
            out_counts.append(np.array([len(members)], np.int64))
        else:  # a curve, not one straight edge: keep the pieces
            out_segments.append(segments[members])
            if sides is not None:
                out_sides.append(sides[members])
            out_counts.append(np.ones(len(members), np.int64))
    return (np.concatenate(out_segments).astype(np.float64),
            np.concatenate(out_sides) if sides is not None else None, np.concatenate(out_counts))


def pair_broken_segments(segments: np.ndarray, min_offset: float, max_offset: float,
                         max_angle: float, max_gap: float, max_overlap: float = 3.0,
                         max_collinear_angle: float = 1.0, sides: np.ndarray | None = None,
                         max_side_difference: float = 20.0) -> list[BrokenLine]:
    """Pairs of segments that continue each other (same direction and polarity, one starting
    where the other ends, within ``max_gap`` along the line) but sit ``min_offset``..
    ``max_offset`` pixels apart across it or turn by a small angle: a straight edge broken by a
    shift. Parallel segments that overlap along their length are two lines (a stripe), not a
    break. Segments are directed (the detector keeps the bright side on one hand), so the two
    edges of one stroke never pair. With ``sides`` (gray level left and right of each segment),
    pieces must also separate the same two tones (within ``max_side_difference`` levels):
    one edge continued, not two different edges that happen to line up. Pairs within
    ``max_angle`` come from ``similar_direction_pairs`` (bounded memory, no n x n matrices)."""
    out: list[BrokenLine] = []
    n = len(segments)
    if n < 2:
        return out
    frame = segment_frame(segments)
    p0, p1, length, direction, normal, mid = (frame.p0, frame.p1, frame.length, frame.direction, frame.normal,
                                              frame.mid)
    found_rows, found_cols = [], []
    # pairs within the angle (by angle order, in bounded chunks: no n x n matrices)
    for rows, cols in similar_direction_pairs(direction, max_angle):
        # distance of the second segment's midpoint from the first one's line, and along it
        rel = mid[cols] - mid[rows]
        across = np.abs(np.sum(rel * normal[rows], axis=1))
        along = np.abs(np.sum(rel * direction[rows], axis=1))
        half = 0.5 * (length[rows] + length[cols])
        slack = np.sin(np.radians(max_angle)) * half + max_offset
        candidate = (across <= slack) & (along - half <= max_gap) & (along - half >= -max_overlap)
        if sides is not None and len(sides) == n:
            # same polarity and the same tones on both sides
            candidate &= np.all(np.abs(sides[rows] - sides[cols]) <= max_side_difference, axis=1)
        found_rows.append(rows[candidate])
        found_cols.append(cols[candidate])
    if not found_rows:
        return out
    rows, cols = np.concatenate(found_rows), np.concatenate(found_cols)
    order = np.lexsort((cols, rows))
    for i, j in zip(rows[order].tolist(), cols[order].tolist()):
        u = direction[i] if length[i] >= length[j] else direction[j]
        nrm = np.array([-u[1], u[0]])
        ti = sorted([float(np.dot(p0[i], u)), float(np.dot(p1[i], u))])
        tj = sorted([float(np.dot(p0[j], u)), float(np.dot(p1[j], u))])
        gap = max(tj[0] - ti[1], ti[0] - tj[1])
        if gap > max_gap or gap < -max_overlap:
            continue
        meet = 0.5 * (ti[1] + tj[0]) if ti[1] <= tj[0] + max_overlap else 0.5 * (ti[0] + tj[1])
        offset = abs(_normal_position_at(p0[i], direction[i], u, nrm, meet)
                     - _normal_position_at(p0[j], direction[j], u, nrm, meet))
        da = float(np.degrees(np.arccos(np.clip(np.dot(direction[i], direction[j]), -1.0, 1.0))))
        if offset > max_offset or (offset < min_offset and da < max_collinear_angle):
            continue
        out.append(BrokenLine(tuple(float(v) for v in segments[i]), tuple(float(v) for v in segments[j]),
                              float(offset), da, float(gap)))
    return out


def break_profile_match(gray: np.ndarray, br: BrokenLine, reach: float = 8.0, depth: float = 40.0,
                        samples: int = 12, step: float = 0.5, skip: float = 2.0) -> tuple[float, float]:
    """How well the neighbourhood across one piece, next to the break, matches the one across
    the other piece once shifted: (best shift in pixels across the line, residual).

    The gray level is read across the line (``reach`` pixels either side, every ``step``) at
    ``samples`` places along the last ``depth`` pixels of each piece before the break, and the
    median profile of each piece is compared under shifts up to the measured offset + 2 px.
    ``skip`` pixels next to the break are left out (with a larger ``skip`` and ``depth``, the
    same comparison further away from it).
    The residual is the RMS difference at the best shift over the RMS contrast of the profile
    (0 = the same edge moved; ~1 = unrelated). One edge continued off keeps its whole
    neighbourhood (stroke width, the tones further out); two different edges that happen to
    line up (letters, stacked boxes) rarely do."""
    a, b = np.array(br.first[:2]), np.array(br.first[2:])
    c, d = np.array(br.second[:2]), np.array(br.second[2:])
    la, lc = np.hypot(*(b - a)), np.hypot(*(d - c))
    u = (b - a) / (la + 1e-9) if la >= lc else (d - c) / (lc + 1e-9)
    n = np.array([-u[1], u[0]])
    ta, tc = sorted([a @ u, b @ u]), sorted([c @ u, d @ u])
    if ta[0] > tc[0]:  # order the pieces along u: first one, then the other
        a, b, c, d, ta, tc = c, d, a, b, tc, ta
    # the first piece's line, as (point, direction) to read both pieces against it
    dir_a = (b - a) / (np.hypot(*(b - a)) + 1e-9)
    along = float(dir_a @ u) if abs(float(dir_a @ u)) > 1e-6 else 1.0

    def line_point(t: float) -> np.ndarray:
        s = (t - float(a @ u)) / along
        return a + s * dir_a

    span = br.offset + 2.0
    wide = np.arange(-(reach + span), reach + span + step / 2, step)
    core = np.abs(wide) <= reach + 1e-9

    def profile(t0: float, t1: float) -> np.ndarray:
        ts = np.linspace(t0, t1, samples)
        base = np.stack([line_point(t) for t in ts])  # samples x 2
        pts = base[:, None, :] + wide[None, :, None] * n[None, None, :]
        vals = bilinear_nearest(gray, pts[..., 1].ravel(), pts[..., 0].ravel())
        return np.median(vals.reshape(samples, len(wide)), axis=0)

    da = max(skip + 1.0, min(depth, 0.5 * (ta[1] - ta[0])))
    dc = max(skip + 1.0, min(depth, 0.5 * (tc[1] - tc[0])))
    pa = profile(ta[1] - da, ta[1] - skip)
    pc = profile(tc[0] + skip, tc[0] + dc)
    ref = pa[core]
    contrast = float(np.sqrt(np.mean((ref - ref.mean()) ** 2))) + 1e-6
    best_shift, best_res = 0.0, np.inf
    for shift in np.arange(-span, span + step / 2, step / 2):
        moved = np.interp(wide[core] + shift, wide, pc)
        res = float(np.sqrt(np.mean((moved - ref) ** 2))) / contrast
        if res < best_res:
            best_shift, best_res = float(shift), res
    return best_shift, best_res


def _normal_position_at(point: np.ndarray, direction: np.ndarray, u: np.ndarray, normal: np.ndarray,
                        t: float) -> float:
    """Where the infinite line through ``point`` along ``direction`` crosses the position ``t``
    along ``u``, measured along ``normal``."""
    along = float(np.dot(direction, u))
    if abs(along) < 1e-6:
        return float(np.dot(point, normal))
    s = (t - float(np.dot(point, u))) / along
    return float(np.dot(point + s * direction, normal))
