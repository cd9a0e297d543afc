"""ALIGN003 align.broken-line: a straight edge that continues a few pixels off."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checker.model import Issue, Region, Severity
from checker.rule import Rule

from . import lines


@dataclass(frozen=True)
class BrokenLineSettings:
    min_offset: float = 1.5  # pixels across the line between the two pieces
    max_offset: float = 6.0  # beyond this the pieces are two different lines
    max_angle: float = 0.6  # degrees of direction change still counted as "the same line"
    max_gap: float = 160.0  # pixels along the line between the pieces (a gap or an occluder)
    long_gap: float = 80.0  # beyond this gap each piece must be at least as long as the gap
    min_segment: int = 60  # pixels: shortest piece considered
    max_tone_difference: float = 24.0  # gray levels: both pieces must separate the same two tones
    max_profile_residual: float = 0.15  # the neighbourhoods across the two pieces, one shifted onto the other
    max_findings: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.min_offset < self.max_offset:
            raise ValueError("need 0 <= min_offset < max_offset")


def _segments(ctx, min_segment: int, chain_offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Line segments at full resolution, moved onto the edge with sub-pixel accuracy, with the
    gray level on either side; pieces of one straight edge cut by crossing lines are joined
    first, then pieces shorter than ``min_segment`` are dropped. (At half size thin strokes
    fade below the detector's edge threshold and a 2 px offset becomes 1 px: recall halved in
    bench.align. Without the joining, a crossing line next to a break hid a fifth of the breaks.)"""
    segs = lines.detect_segments(ctx.gray, max(10, min_segment // 2), merge=False)
    segs, sides = lines.refine_segments(ctx.gray, segs, polarity=lines.DETECTOR_POLARITY)
    segs, sides, _counts = lines.chain_collinear(segs, sides, max_offset=chain_offset)
    if len(segs) == 0:
        return segs, sides
    keep = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]) >= min_segment
    return segs[keep], sides[keep]


# the offset a direction read 0.3 degrees off adds per pixel of gap beyond long_gap
LONG_GAP_SLOPE = float(np.tan(np.radians(0.3)))


def _length(segment: tuple[float, float, float, float]) -> float:
    return float(np.hypot(segment[2] - segment[0], segment[3] - segment[1]))


def _break_point(br: lines.BrokenLine) -> tuple[float, float]:
    """Where the break is: the middle of the two nearest end points of the pieces."""
    ends_a = [(br.first[0], br.first[1]), (br.first[2], br.first[3])]
    ends_b = [(br.second[0], br.second[1]), (br.second[2], br.second[3])]
    a, b = min(((p, q) for p in ends_a for q in ends_b), key=lambda pq: np.hypot(pq[0][0] - pq[1][0], pq[0][1] - pq[1][1]))
    return (a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0


def check_broken_line(ctx, settings: BrokenLineSettings):
    """
    What it detects
        A straight edge (line art, horizon, table edge, window frame, panel border) whose
        continuation past a small gap or an occluding object is offset across the line by a
        pixel or more. Both pieces, the offset, the gap and any small change of direction
        between them are reported.

    Why people notice
        A ruler-straight edge that resumes slightly off after passing behind an object, or at a
        tile border, reads as a glitch: the eye extrapolates straight lines precisely.

    Settings
        min_offset: smallest offset across the line, in pixels (lenient 1.5, strict 0.8).
        max_offset: larger offsets are taken as two different lines.
        max_angle: largest direction change, in degrees, for pieces of one line (lenient 0.6,
            strict 0.8); the change is measured and reported with the offset.
        max_gap: largest distance along the line between the pieces (160 px: an occluder
            hides a line over its whole width, and the detector stops a few pixels short of it).
        long_gap: across a gap longer than this both pieces must be at least half as long as
            the gap, and the offset must exceed min_offset by what a direction read 0.3 degrees
            off would add over the extra gap (the eye, too, extrapolates a line only from
            pieces long enough against what hides it).
        min_segment: shortest piece considered, in pixels.
        max_tone_difference: the gray on each side of the two pieces may differ this much.
        max_profile_residual: the gray profile across the line next to the break, on both
            sides of it, must match once shifted (RMS difference over the profile's contrast,
            0 = the same edge moved), the shift must agree with the offset and reach
            min_offset, and the same must hold 40-80 px from the break with the same shift:
            one straight edge continued off, not two different edges that line up, nor a
            contour that bends away.
        max_findings: breaks reported at most.

    Known limits
        Segments come from OpenCV's fast line detector (its own loose merging off), refined to
        sub-pixel positions; pieces of one edge cut by crossing lines are joined when they stay
        within half of min_offset (at most 0.5 px) of one line. Very short, blurred or
        low-contrast edges are missed, and a break right where other lines cross it can be
        missed (the profile next to it is disturbed).
        Intentionally staggered parallel lines (brickwork, stair edges, hatching, text) can be
        reported: the rule is a preview with a measurable false-alarm rate on real images
        (5 of 442 real corpus images in strict, 2 in lenient, in bench.align). Curved lines are
        not followed, and a change of direction without an offset is not reported on its own
        (gently curved edges would look the same).
    """
    pieces, sides = ctx.shared(_segments, settings.min_segment, min(0.5, settings.min_offset / 2))
    breaks = lines.pair_broken_segments(pieces, settings.min_offset, settings.max_offset,
                                      settings.max_angle, settings.max_gap,
                                      max_collinear_angle=settings.max_angle + 1.0, sides=sides,
                                      max_side_difference=settings.max_tone_difference)
    gray = ctx.gray
    reported: list[tuple[float, float]] = []
    for br in sorted(breaks, key=lambda b: -b.offset):
        long_gap = br.gap > settings.long_gap
        needed = settings.min_offset + max(0.0, br.gap - settings.long_gap) * LONG_GAP_SLOPE
        if long_gap and (min(_length(br.first), _length(br.second)) < 0.5 * br.gap or br.offset < needed):
            continue  # a line is followed across a long gap only when seen long enough on both sides
        shift, residual = lines.break_profile_match(gray, br)
        # the same edge moved: its neighbourhood matches once shifted, by about the offset
        if (residual > settings.max_profile_residual or abs(abs(shift) - br.offset) > 1.0
                or abs(shift) < settings.min_offset):
            continue
        # ... and across a long gap by more than a direction read slightly off would move it
        if long_gap and abs(shift) < needed:
            continue
        # ... and by the same amount further from the break: a constant offset, not a curve
        # or a contour that bends away (whose offset grows with the distance)
        far_shift, far_residual = lines.break_profile_match(gray, br, depth=80.0, skip=40.0)
        if far_residual > settings.max_profile_residual or abs(far_shift - shift) > 0.3:
            continue
        at = _break_point(br)
        # the two edges of one stroke give the same break twice: report it once
        if any(np.hypot(at[0] - x, at[1] - y) < 12 for x, y in reported):
            continue
        if len(reported) >= settings.max_findings:
            break
        reported.append(at)
        xs = [br.first[0], br.first[2], br.second[0], br.second[2]]
        ys = [br.first[1], br.first[3], br.second[1], br.second[3]]
        region = Region.from_bounds(min(xs) - 2, min(ys) - 2, max(xs) + 2, max(ys) + 2).clipped(ctx.width, ctx.height)
        yield Issue(
            message=(f"straight line broken: its continuation is {br.offset:.1f} px off"
                     + (f" and turns {br.angle:.1f} deg" if br.angle >= 0.5 else "")
                     + f" after a {max(br.gap, 0):.0f} px gap"),
            region=region,
            confidence=float(min(1.0, 0.5 + 0.1 * br.offset)),
            measurements={"offset_px": round(br.offset, 2), "angle_deg": round(br.angle, 2),
                          "gap_px": round(br.gap, 1), "at": [round(at[0], 1), round(at[1], 1)],
                          "profile_residual": round(residual, 3), "profile_shift_px": round(abs(shift), 2),
                          "first": [round(v, 1) for v in br.first], "second": [round(v, 1) for v in br.second]},
        )


ALIGN003 = Rule(
    code="ALIGN003",
    name="align.broken-line",
    summary="Straight edge that continues a few pixels off",
    check=check_broken_line,
    severity=Severity.WARNING,
    settings=BrokenLineSettings,
    profiles={"lenient": {}, "strict": {"min_offset": 0.8, "max_angle": 0.8, "max_offset": 8.0, "min_segment": 40,
                                     "max_tone_difference": 30.0}},
    stability="preview",
)
