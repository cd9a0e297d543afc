"""ALIGN001 align.seam: a straight seam where tiles or an outpainted band meet."""
from __future__ import annotations

from dataclasses import dataclass

from checker.model import Issue, Region, Severity
from checker.rule import Rule

from . import seams


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

    def thresholds(self) -> seams.SeamThresholds:
        return seams.SeamThresholds(step_z=self.min_step_z, min_step=self.min_step_levels,
                                  shift_ratio=self.min_shift_ratio, sharpness=self.min_sharpness,
                                  min_length=self.min_length, min_pixels=self.min_pixels,
                                  max_flat_share=self.max_flat_share)


def _seam_region(line: seams.SeamLine) -> Region:
    if line.axis == "horizontal":
        return Region(line.start, max(0, line.position - 1), line.length, 2)
    return Region(max(0, line.position - 1), line.start, 2, line.length)


def _seam_words(line: seams.SeamLine) -> str:
    where = f"y={line.position}" if line.axis == "horizontal" else f"x={line.position}"
    kind = (f"brightness steps {line.step:+.1f} levels" if line.step_z / 8.0 >= line.shift_ratio - 0.6
            else f"content jumps ({line.shift_ratio:.1f}x the normal row-to-row change)")
    return f"{line.axis} seam at {where}, {line.length} px long: {kind}"


def _seam_measurements(line: seams.SeamLine) -> dict:
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
    gray = ctx.gray
    lines = seams.find_seams(gray, settings.thresholds())
    if not lines:
        return
    grid = seams.find_tile_grid(lines)
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
