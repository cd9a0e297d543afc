"""ALIGN002 align.grid: a checkerboard or fine grid pattern from upsampling."""
from __future__ import annotations

from dataclasses import dataclass

from checker.model import Issue, Region, Severity
from checker.rule import Rule

from . import grids


@dataclass(frozen=True)
class GridSettings:
    min_amplitude: float = 1.5  # RMS gray levels of the repeating pattern
    min_consistency: float = 0.5  # how much the pattern repeats identically in every block (0..1)
    min_coverage: float = 0.1  # share of the image where the pattern is confirmed locally
    min_period: int = 2
    max_period: int = 16
    max_partial_period: int = 6  # patterns over part of the image are trusted up to this period
    min_partial_consistency: float = 0.75  # ... when the blocks carrying them agree this well
    min_partial_blocks: int = 12  # ... and at least this many 64 px blocks carry them
    ignore_jpeg_block_periods: bool = True  # in JPEG files, 8 and 16 px are the codec's own grid

    def __post_init__(self) -> None:
        if not 2 <= self.min_period <= self.max_period:
            raise ValueError("need 2 <= min_period <= max_period")
        if self.min_partial_blocks < 3:
            raise ValueError("min_partial_blocks must be at least 3 (fewer blocks always agree)")


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
        max_partial_period, min_partial_consistency, min_partial_blocks: a pattern over only
            part of the image (a transposed convolution's checkerboard in one region, a halftone
            screen bleeding through) is reported when its period is at most 6 px, the 64 px
            blocks carrying it agree this well (lenient 0.75, strict 0.7) and there are at least
            this many of them (12: a few blocks always agree, so small images are judged whole).
        ignore_jpeg_block_periods: skip 8 and 16 px in JPEG files (the codec's own block grid).

    Known limits
        Integer periods only; a pattern from a non-integer resampling factor shows as its
        nearest integer period or is missed. In JPEG files an 8 px VAE/latent grid cannot be
        told from the codec's blocks and is not reported. Regular fine textures that happen to
        align with the pixel grid (pixel art, halftone screens, 1 px dither, the dot grid of a
        node editor's canvas in a screenshot) are reported. A pattern of 1.5 levels RMS over a
        third of the image is found in strict but not in lenient (measured at about 1.1 levels
        once the image's own texture is filtered out, under lenient's 1.5).
    """
    gray = ctx.gray
    skip = (8, 16) if settings.ignore_jpeg_block_periods and ctx.image.format == "JPEG" else ()
    pattern = grids.find_grid_pattern(gray, tuple(range(settings.min_period, settings.max_period + 1)),
                                    skip_periods=skip)
    if pattern is None:
        return
    whole = pattern.amplitude >= settings.min_amplitude and pattern.consistency >= settings.min_consistency
    # over part of the image: a fine (2-6 px) pattern, alike in the many blocks that carry it
    part = (pattern.period <= settings.max_partial_period and pattern.local_amplitude >= settings.min_amplitude
            and pattern.local_consistency >= settings.min_partial_consistency
            and len(pattern.blocks) >= settings.min_partial_blocks)
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
    profiles={"lenient": {}, "strict": {"min_amplitude": 0.8, "min_coverage": 0.05, "min_partial_consistency": 0.7}},
)
