"""Pixel misalignment (ALIGN001-ALIGN004): the traces of tiled upscaling, outpainting,
inpainting and upsampling that a careful viewer notices as "a few pixels off".

The measurements live in :mod:`rules.align.signals` (pure numpy, tested on synthetic images);
this module declares the rules, their settings and profiles, and words the findings.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from checker.model import Issue, Region, Severity
from checker.rule import Rule

from . import signals as sig


def _gray32(ctx) -> np.ndarray:
    """The image in gray as float32, shared by the ALIGN rules of one image."""
    return ctx.gray.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# ALIGN001 seam
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeamSettings:
    min_step_z: float = 10.0  # brightness jump over local spread, summed along the line
    min_step_levels: float = 2.0  # smallest brightness jump (gray levels) that is reported
    min_shift_ratio: float = 1.6  # |jump| across the line over the normal one (content shift)
    min_sharpness: float = 1.5  # the jump must be this much sharper than on the next lines
    min_length: float = 0.25  # share of the image side a seam must run along
    min_pixels: int = 128  # and at least this many pixels
    max_flat_share: float = 0.75  # steps between flat fills (this share of identical neighbours) are drawn edges
    max_findings: int = 6  # single seams reported at most (a tile grid counts once)

    def __post_init__(self) -> None:
        if not 0 < self.min_length <= 1:
            raise ValueError("min_length must be in (0, 1]")
        if self.min_shift_ratio <= 1:
            raise ValueError("min_shift_ratio must be above 1")
        if not self.max_flat_share > 0:  # a share is never below 0: 0 or less would drop every step
            raise ValueError("max_flat_share must be in (0, 1] (above 1 turns the filter off)")

    def thresholds(self) -> sig.SeamThresholds:
        return sig.SeamThresholds(step_z=self.min_step_z, min_step=self.min_step_levels,
                                  shift_ratio=self.min_shift_ratio, sharpness=self.min_sharpness,
                                  min_length=self.min_length, min_pixels=self.min_pixels,
                                  max_flat_share=self.max_flat_share)


def _seams(ctx, thresholds: sig.SeamThresholds) -> list[sig.SeamLine]:
    return sig.find_seams(ctx.shared(_gray32), thresholds)


def _seam_region(line: sig.SeamLine) -> Region:
    if line.axis == "horizontal":
        return Region(line.start, max(0, line.position - 1), line.length, 2)
    return Region(max(0, line.position - 1), line.start, 2, line.length)


def _seam_words(line: sig.SeamLine) -> str:
    where = f"y={line.position}" if line.axis == "horizontal" else f"x={line.position}"
    kind = (f"brightness steps {line.step:+.1f} levels" if line.step_z / 8.0 >= line.shift_ratio - 0.6
            else f"content jumps ({line.shift_ratio:.1f}x the normal row-to-row change)")
    return f"{line.axis} seam at {where}, {line.length} px long: {kind}"


def _seam_measurements(line: sig.SeamLine) -> dict:
    return {"axis": line.axis, "position": line.position, "start": line.start, "end": line.end,
            "length": line.length, "strength": round(line.strength, 3), "step_levels": round(line.step, 2),
            "step_z": round(line.step_z, 2), "shift_ratio": round(line.shift_ratio, 3),
            "sharpness": round(line.sharpness, 2)}


def check_seam(ctx, settings: SeamSettings):
    """
    What it detects
        Straight horizontal or vertical lines across which the image jumps more than its own
        texture explains: a brightness or colour step, or content that continues a few pixels
        off. Tile borders of tiled upscalers and tiled diffusion, and the border of an outpainted
        or inpainted band. A seam along which tiles step up and down in turn (tiles out of
        exposure in checkerboard order) is one seam. A regular set of seams is reported once,
        with the tile size found; other seams one by one with position, length and strength.

    Why people notice
        The eye follows straight lines very well: a sky or a face a shade brighter on one side
        of a row, or a railing that steps at one row, gives away a pasted or tiled image even
        at normal size.

    Settings
        min_step_z: brightness jump over the local row-to-row spread, summed along the line.
        min_step_levels: smallest brightness jump in gray levels that counts.
        min_shift_ratio: mean |jump| across the line over the normal one (shifted content).
        min_sharpness: how much sharper than on the neighbouring rows the jump must be.
        min_length, min_pixels: how long the line must run (share of the side, pixels).
        max_flat_share: a brightness step with at least this share of exactly equal
            neighbouring pixels on both sides is a drawn edge between flat fills (UI, vector
            art), not a tile step (lenient 0.75, strict 0.85; must be above 0, above 1 turns
            it off). On a nearest-neighbour upscale only the distinct columns are compared.
        max_findings: single seams reported at most.
        lenient flags steps a viewer sees at normal size; strict also fainter steps and smaller shifts.

    Known limits
        Only axis-aligned lines; seams along curved inpainting masks are not found. A thin
        bright or dark line (a stripe 1-6 px wide with the same tone on both sides) is no step
        and is not reported: a review drew such lines across a scene and none was found. Content
        shifts in flat areas leave no trace and are not reported (nor seen). A pixel-sharp
        drawn edge with small contrast that runs across a textured area can look like a seam;
        edges with large steps (above 24 levels) are taken as drawn content. Lines within 2% of
        the side (at least 8 px) of the border are ignored; rows on a JPEG 8x8 grid or a
        decoder's 8/12/16 px latent grid are compared with the rows one and two periods away,
        and nearest-neighbour upscales are judged on their distinct rows and columns. Shifts
        of 1 px are rarely found. A 2 px shift is found in most images (in bench.align 92% of
        them in lenient, all in strict) but not along its whole length: only a third to 40% of
        the seam lines are found, those crossing enough texture (a shift over a flat stretch
        leaves no trace). A tile step over a noise-free flat fill (at least max_flat_share
        identical neighbouring pixels on both sides: 75% in lenient, 85% in strict) is taken
        as a drawn edge and not reported in either profile.
    """
    gray = ctx.shared(_gray32)
    lines = sig.find_seams(gray, settings.thresholds())
    if not lines:
        return
    grid = sig.find_tile_grid(lines)
    in_grid: set = set()
    if grid is not None:
        in_grid = {(s.axis, s.position, s.start) for s in grid.seams}
        strongest = max(grid.seams, key=lambda s: s.strength)
        # a seam line found in pieces (tiles stepping up and down in turn) is one line
        seam_lines = sorted({(s.axis, s.position) for s in grid.seams})
        yield Issue(
            message=(f"tile grid: {len(seam_lines)} seam lines every {grid.tile} px "
                     f"(a tiled upscale or tiled diffusion whose tiles do not match)"),
            region=Region(0, 0, ctx.width, ctx.height),
            confidence=min(1.0, 0.5 + 0.1 * len(seam_lines)),
            measurements={"tile_size": grid.tile, "offset": grid.offset, "seams": len(seam_lines),
                          "positions": [list(line) for line in seam_lines],
                          "strength": round(strongest.strength, 3)},
        )
    singles = [s for s in lines if (s.axis, s.position, s.start) not in in_grid]
    for line in sorted(singles, key=lambda s: -s.strength)[: settings.max_findings]:
        yield Issue(message=_seam_words(line), region=_seam_region(line),
                    confidence=float(min(1.0, 0.4 + 0.2 * line.strength)),
                    measurements=_seam_measurements(line))


ALIGN001 = Rule(
    code="ALIGN001",
    name="align.seam",
    summary="Straight seam where tiles or an outpainted band meet",
    check=check_seam,
    severity=Severity.WARNING,
    settings=SeamSettings,
    profiles={
        "lenient": {},
        "strict": {"min_step_z": 8.0, "min_step_levels": 1.5, "min_shift_ratio": 1.5, "min_length": 0.2,
                   "max_flat_share": 0.85},
    },
)


# ----------------------------------------------------------------------------------------------
# ALIGN002 grid / checkerboard
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridSettings:
    min_amplitude: float = 1.5  # RMS gray levels of the repeating pattern
    min_consistency: float = 0.5  # how much the pattern repeats identically in every block (0..1)
    min_coverage: float = 0.1  # share of the image where the pattern is confirmed locally
    min_period: int = 2
    max_period: int = 16
    max_partial_period: int = 4  # patterns over part of the image are trusted up to this period
    min_partial_consistency: float = 0.9  # ... when the blocks carrying them agree this well
    ignore_jpeg_block_periods: bool = True  # in JPEG files, 8 and 16 px are the codec's own grid

    def __post_init__(self) -> None:
        if not 2 <= self.min_period <= self.max_period:
            raise ValueError("need 2 <= min_period <= max_period")


def check_grid(ctx, settings: GridSettings):
    """
    What it detects
        A fine repeating pattern locked to the pixel grid, with a period of 2-16 px: the
        checkerboard of transposed convolutions and the grid left by upsampling layers. It is
        found by folding the image at each period (the pattern adds up, texture averages out),
        kept only when every part of the image shows it with the same phase, and confirmed
        block by block to report the area it covers.

    Why people notice
        At 100% zoom flat areas and skin look like fabric or a screen door; once seen, the
        pattern is visible everywhere in the image.

    Settings
        min_amplitude: RMS strength of the repeating pattern in gray levels.
        min_consistency: share of the pattern's energy that is identical across blocks (0..1).
        min_coverage: share of the image where the pattern is confirmed block by block.
        min_period, max_period: periods searched, in pixels.
        max_partial_period, min_partial_consistency: a pattern over only part of the image is
            reported when its period is at most this and its blocks agree this well.
        ignore_jpeg_block_periods: skip 8 and 16 px in JPEG files (the codec's own block grid).

    Known limits
        Integer periods only; a pattern from a non-integer resampling factor shows as its
        nearest integer period or is missed. In JPEG files an 8 px VAE/latent grid cannot be
        told from the codec's blocks and is not reported. Regular fine textures that happen to
        align with the pixel grid (pixel art, halftone screens, 1 px dither) are reported.
    """
    gray = ctx.shared(_gray32)
    skip = (8, 16) if settings.ignore_jpeg_block_periods and ctx.image.format == "JPEG" else ()
    pattern = sig.find_grid_pattern(gray, tuple(range(settings.min_period, settings.max_period + 1)),
                                    skip_periods=skip)
    if pattern is None:
        return
    whole = pattern.amplitude >= settings.min_amplitude and pattern.consistency >= settings.min_consistency
    # over part of the image: a fine (2-4 px) pattern, identical in every block that carries it
    part = (pattern.period <= settings.max_partial_period and pattern.local_amplitude >= settings.min_amplitude
            and pattern.local_consistency >= settings.min_partial_consistency)
    if not (whole or part) or pattern.coverage < settings.min_coverage:
        return
    xs = [b[0] for b in pattern.blocks] + [b[0] + b[2] for b in pattern.blocks]
    ys = [b[1] for b in pattern.blocks] + [b[1] + b[3] for b in pattern.blocks]
    region = Region.from_bounds(min(xs), min(ys), max(xs), max(ys)) if pattern.blocks else None
    kind = "checkerboard" if pattern.period == 2 else f"{pattern.period} px grid"
    yield Issue(
        message=(f"{kind} pattern (period {pattern.period} px, "
                 f"{max(pattern.amplitude, pattern.local_amplitude):.1f} levels RMS) "
                 f"over {pattern.coverage:.0%} of the image"),
        region=region,
        confidence=float(min(1.0, pattern.consistency * min(1.0, pattern.amplitude / (2 * settings.min_amplitude)) + 0.3)),
        measurements={"period": pattern.period, "amplitude": round(pattern.amplitude, 3),
                      "consistency": round(pattern.consistency, 3), "coverage": round(pattern.coverage, 3),
                      "local_amplitude": round(pattern.local_amplitude, 3),
                      "local_consistency": round(pattern.local_consistency, 3),
                      "area_px": int(sum(b[2] * b[3] for b in pattern.blocks)),
                      "texture_rms": round(pattern.texture, 2)},
    )


ALIGN002 = Rule(
    code="ALIGN002",
    name="align.grid",
    summary="Checkerboard or fine grid pattern from upsampling",
    check=check_grid,
    severity=Severity.WARNING,
    settings=GridSettings,
    profiles={"lenient": {}, "strict": {"min_amplitude": 0.8, "min_coverage": 0.05}},
)


# ----------------------------------------------------------------------------------------------
# ALIGN003 broken line
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLineSettings:
    min_offset: float = 1.5  # pixels across the line between the two pieces
    max_offset: float = 6.0  # beyond this the pieces are two different lines
    max_angle: float = 0.6  # degrees of direction change still counted as "the same line"
    max_gap: float = 80.0  # pixels along the line between the pieces (a gap or an occluder)
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
    segs = sig.detect_segments(ctx.gray, max(10, min_segment // 2), merge=False)
    segs, sides = sig.refine_segments(ctx.shared(_gray32), segs, polarity=sig.DETECTOR_POLARITY)
    segs, sides, _counts = sig.chain_collinear(segs, sides, max_offset=chain_offset)
    if len(segs) == 0:
        return segs, sides
    keep = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]) >= min_segment
    return segs[keep], sides[keep]


def _break_point(br: sig.BrokenLine) -> tuple[float, float]:
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
        max_gap: largest distance along the line between the pieces.
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
        (3% of the real corpus in strict, none in lenient, in bench.align). Curved lines are
        not followed, and a change of direction without an offset is not reported on its own
        (gently curved edges would look the same).
    """
    pieces, sides = ctx.shared(_segments, settings.min_segment, min(0.5, settings.min_offset / 2))
    breaks = sig.pair_broken_segments(pieces, settings.min_offset, settings.max_offset,
                                      settings.max_angle, settings.max_gap,
                                      max_collinear_angle=settings.max_angle + 1.0, sides=sides,
                                      max_side_difference=settings.max_tone_difference)
    gray = ctx.shared(_gray32)
    reported: list[tuple[float, float]] = []
    for br in sorted(breaks, key=lambda b: -b.offset):
        shift, residual = sig.break_profile_match(gray, br)
        # the same edge moved: its neighbourhood matches once shifted, by about the offset
        if (residual > settings.max_profile_residual or abs(abs(shift) - br.offset) > 1.0
                or abs(shift) < settings.min_offset):
            continue
        # ... and by the same amount further from the break: a constant offset, not a curve
        # or a contour that bends away (whose offset grows with the distance)
        far_shift, far_residual = sig.break_profile_match(gray, br, depth=80.0, skip=40.0)
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


# ----------------------------------------------------------------------------------------------
# ALIGN004 reference offset
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceSettings:
    max_translation: float = 1.0  # pixels
    max_scale_change: float = 0.005  # relative (0.005 = 0.5 %)
    max_rotation: float = 0.2  # degrees
    min_response: float = 0.05  # phase-correlation peak below this: the images differ too much to compare

    def __post_init__(self) -> None:
        if self.max_translation < 0 or self.max_scale_change < 0 or self.max_rotation < 0:
            raise ValueError("tolerances must not be negative")


@functools.lru_cache(maxsize=8)
def _reference_gray(path: str, mtime: float) -> np.ndarray:
    import cv2

    from checker.context import load_image
    from pathlib import Path

    return cv2.cvtColor(load_image(Path(path)).rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def check_reference_offset(ctx, settings: ReferenceSettings):
    """
    What it detects
        With a reference folder (`--reference DIR` or config `reference`), the image is compared
        with the file of the same name there: translation (sub-pixel phase correlation), scale
        and rotation (log-polar spectrum) are estimated, and a drift beyond tolerance is
        reported with its size: the export that moved away from its original.

    Why people notice
        Flipping between the original and the export, or overlaying them in a layout, shows the
        jump at once; crops, masks and overlays made for the original no longer fit.

    Settings
        max_translation: pixels of shift tolerated (lenient 1.0, strict 0.25).
        max_scale_change: relative size change tolerated.
        max_rotation: degrees of rotation tolerated.
        min_response: below this phase-correlation peak the two images are too different to
            compare, and nothing is reported.

    Known limits
        No reference, no finding (the report's observations say "none found"). The reference
        is the file in the folder with the longest tail of the image's path (`a/x.png`
        before `x.png`). An unreadable reference is reported as such. A reference of another size is resized to the image first,
        so a pure resize is not reported (its ratio is in the measurements). Large edits between
        the two weaken the estimate; translations beyond a quarter of the image are unreliable.
    """
    if ctx.reference_path is None:
        return
    path = str(ctx.reference_path)
    import os

    from checker.context import ImageLoadError

    try:
        ref = _reference_gray(path, os.path.getmtime(path))
    except (ImageLoadError, OSError) as exc:  # the reference is broken, not the image
        yield Issue(message=f"reference {path} cannot be read: {exc}; the image was not compared with it",
                    region=None, confidence=1.0, measurements={"reference": path, "error": str(exc)})
        return
    gray = ctx.shared(_gray32)
    est = sig.estimate_alignment(gray, ref)
    if est.response < settings.min_response:
        return
    problems = []
    if est.translation > settings.max_translation:
        problems.append(f"moved {est.translation:.2f} px (dx {est.dx:+.2f}, dy {est.dy:+.2f})")
    if abs(est.scale - 1.0) > settings.max_scale_change:
        problems.append(f"scaled {100 * (est.scale - 1):+.2f}%")
    if abs(est.rotation) > settings.max_rotation:
        problems.append(f"rotated {est.rotation:+.2f} deg")
    if not problems:
        return
    yield Issue(
        message=f"offset from reference {ctx.reference_path.name}: " + ", ".join(problems),
        region=None,
        confidence=float(min(1.0, 0.5 + est.response)),
        measurements={"dx": round(est.dx, 3), "dy": round(est.dy, 3), "translation": round(est.translation, 3),
                      "scale": round(est.scale, 5), "rotation_deg": round(est.rotation, 4),
                      "response": round(est.response, 3),
                      "reference_size": [int(ref.shape[1]), int(ref.shape[0])],
                      "size_ratio": round(ctx.width / ref.shape[1], 5)},
    )


ALIGN004 = Rule(
    code="ALIGN004",
    name="align.reference-offset",
    summary="Image drifted from its reference (translation, scale, rotation)",
    check=check_reference_offset,
    severity=Severity.WARNING,
    settings=ReferenceSettings,
    profiles={"lenient": {}, "strict": {"max_translation": 0.25, "max_scale_change": 0.002, "max_rotation": 0.05}},
)

RULES = (ALIGN001, ALIGN002, ALIGN003, ALIGN004)
