"""Pure numpy measurements behind the ALIGN rules: seams, periodic grids, broken lines, offsets.

Every function here takes arrays (gray float32 images, profiles) and returns plain numbers or
frozen dataclasses, so each can be tested on synthetic images without the engine. The rules in
``rules/align.py`` turn these measurements into findings under a profile's thresholds.

Speed matters (the whole family must stay well under 60 ms per megapixel image), so the seam
and grid detectors work on row/column profiles and per-band sums rather than per-pixel loops.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# ----------------------------------------------------------------------------------------------
# ALIGN001: seams
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeamParams:
    band: int = 64  # width in pixels of the bands a line is split into along its length
    window: int = 6  # rows either side used as the local reference for "normal" texture
    clip: float = 40.0  # level differences are clipped here so one strong edge cannot dominate
    border: int = 8  # lines this close to the image border are ignored (pixels) ...
    border_share: float = 0.02  # ... or this share of the side, whichever is larger
    jpeg_period: int = 8  # JPEG block size: rows on this grid are compared with their own phase
    grid_periods: tuple[int, ...] = (8, 12, 16)  # latent-grid spacings a seam is compared across
    cell: int = 8  # pixels: the small cells whose agreement along a band confirms a seam


@dataclass(frozen=True)
class SeamLine:
    """One straight line across which the image jumps.

    ``axis`` is "horizontal" (a line between two rows: ``position`` is the first row below it)
    or "vertical" (between columns). ``start``/``end`` bound its extent along the line."""

    axis: str
    position: int
    start: int
    end: int
    strength: float  # evidence: how many times the local noise the jump is (max of step and shift)
    step: float  # mean brightness jump across the line, in levels (signed)
    step_z: float  # the jump over the local spread of row-to-row jumps
    shift_ratio: float  # mean absolute difference across the line / the local normal one
    sharpness: float  # the jump at the line / the largest jump on the neighbouring lines

    @property
    def length(self) -> int:
        return self.end - self.start


# a sorting network for ten values (29 compare-exchanges): the upper median of ten rows is
# ten element-wise min/max passes instead of a partition along a short axis (5x faster)
_SORT10 = ((4, 9), (3, 8), (2, 7), (1, 6), (0, 5), (1, 4), (6, 9), (0, 3), (5, 8), (0, 2), (3, 6), (7, 9),
           (0, 1), (2, 4), (5, 7), (8, 9), (1, 2), (4, 6), (7, 8), (3, 5), (2, 5), (6, 8), (1, 3), (4, 7),
           (2, 3), (6, 7), (3, 4), (5, 6), (4, 5))


def _upper_median(arrays: list[np.ndarray]) -> np.ndarray:
    """Element-wise upper median (the value of rank len // 2) of equally shaped arrays."""
    if len(arrays) != 10:
        stack = np.stack(arrays, axis=-1)
        mid = len(arrays) // 2
        return np.partition(stack, mid, axis=-1)[..., mid]
    v = list(arrays)
    for i, j in _SORT10:
        v[i], v[j] = np.minimum(v[i], v[j]), np.maximum(v[i], v[j])
    return v[5]


def _local_reference(values: np.ndarray, window: int, spread: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Median and robust spread of ``values`` (rows x bands) over the rows around each row,
    leaving the row itself and its two direct neighbours out (a seam must not explain itself)."""
    offsets = [k for k in range(-window, window + 1) if abs(k) > 1]
    n = values.shape[0]
    padded = np.pad(values, ((window, window), (0, 0)), mode="reflect")
    rows = [padded[window + k: window + k + n] for k in offsets]
    med = _upper_median(rows)  # the upper median: one pass instead of two
    if not spread:
        return med, None
    mad = _upper_median([np.abs(r - med) for r in rows])
    return med, 1.4826 * mad


def _phase_normalised(values: np.ndarray, period: int) -> np.ndarray:
    """Divide out a regular excess on one row phase (JPEG 8x8 block borders, 8 px VAE grids):
    each phase of ``period`` is scaled to the median level of all rows."""
    if values.shape[0] < 4 * period:
        return values
    overall = float(np.median(values)) + 1e-6
    out = values.copy()
    for phase in range(period):
        level = float(np.median(values[phase::period])) + 1e-6
        if level > overall * 1.03:
            out[phase::period] *= overall / level
    return out


def dominant_period(profile: np.ndarray, shortest: int = 6, longest: int = 64,
                    min_correlation: float = 0.25) -> int | None:
    """The period (rows) of a regular repetition in a row profile, if it has a clear one:
    the latent grid of a decoder, scaled by any later resize, shows up here."""
    x = profile.astype(np.float64)
    if x.size < 4 * longest:
        longest = x.size // 4
    if longest <= shortest:
        return None
    from scipy.ndimage import uniform_filter1d

    x = x - uniform_filter1d(x, 2 * longest + 1, mode="reflect")  # remove slow trends
    x = np.clip(x, -3 * x.std(), 3 * x.std())
    spectrum = np.fft.rfft(x, 2 * x.size)
    auto = np.fft.irfft(np.abs(spectrum) ** 2)[: x.size]
    if auto[0] <= 0:
        return None
    auto = auto / auto[0]
    lag = shortest + int(np.argmax(auto[shortest: longest + 1]))
    return lag if auto[lag] >= min_correlation else None


def seam_evidence(gray: np.ndarray, params: SeamParams = SeamParams()) -> dict[str, np.ndarray]:
    """Row-boundary evidence for horizontal seams, per band of columns.

    Returns arrays of shape (rows - 1, bands): ``step`` (mean signed jump), ``step_z`` (jump
    over local spread), ``shift_ratio`` (mean |jump| over the local normal), ``sharp_step`` and
    ``sharp_shift`` (how much larger the jump is than on the two neighbouring row boundaries).
    Row boundary ``i`` lies between rows ``i`` and ``i + 1``."""
    g = gray.astype(np.float32, copy=False)
    h, w = g.shape
    band = min(params.band, w)
    nb = max(1, w // band)
    used = nb * band
    x0 = (w - used) // 2
    d = g[1:, x0: x0 + used] - g[:-1, x0: x0 + used]
    signed = d.reshape(h - 1, nb, band).mean(axis=2)
    absd = np.minimum(np.abs(d), params.clip).reshape(h - 1, nb, band).mean(axis=2)
    absd = _phase_normalised(absd, params.jpeg_period)

    step_med, step_spread = _local_reference(signed, params.window)
    abs_med, _ = _local_reference(absd, params.window, spread=False)
    step_dev = np.abs(signed - step_med)
    step_z = step_dev / (step_spread + 0.25)
    shift_ratio = (absd + 0.5) / (abs_med + 0.5)
    # the same against the rows one and two latent-grid periods away: a decoder's 8 px grid
    # (12 or 16 px once the image was upscaled) repeats there, a seam does not
    n = absd.shape[0]
    periods = set(params.grid_periods)
    found = dominant_period(absd.mean(axis=1))
    if found:
        periods.add(found)
    for p in sorted(periods):
        if n > 6 * p:
            pad = 2 * p + 1
            padded = np.pad(absd, ((pad, pad), (0, 0)), mode="reflect")
            refs = []
            for k in (-2 * p, -p, p, 2 * p):
                # allow one row of jitter: upscaled grids have fractional periods
                offsets = (0,) if p in params.grid_periods else (-1, 0, 1)
                jitter = [padded[pad + k + j: pad + k + j + n] for j in offsets]
                refs.append(np.max(jitter, axis=0))
            stacked = np.stack(refs)  # median of four: the mean of the middle two
            grid_ref = (stacked.sum(axis=0) - stacked.max(axis=0) - stacked.min(axis=0)) / 2.0
            shift_ratio = np.minimum(shift_ratio, (absd + 0.5) / (grid_ref + 0.5))

    def neighbour_max(a: np.ndarray) -> np.ndarray:
        up = np.vstack([a[:1], a[:-1]])
        down = np.vstack([a[1:], a[-1:]])
        return np.maximum(up, down)

    sharp_step = (step_dev + 0.1) / (neighbour_max(step_dev) + 0.1)
    sharp_shift = (absd + 0.5) / (neighbour_max(absd) + 0.5)
    # isolation: the strongest line within 2..8 rows; fine stripes and small text have many
    from scipy.ndimage import maximum_filter

    footprint = np.ones((17, 1), bool)
    footprint[7:10, 0] = False
    isolation_shift = (absd + 0.5) / (maximum_filter(absd, footprint=footprint, mode="reflect") + 0.5)
    isolation_step = (step_dev + 0.1) / (maximum_filter(step_dev, footprint=footprint, mode="reflect") + 0.1)
    return {"step": signed - step_med, "step_z": step_z, "shift_ratio": shift_ratio,
            "abs_excess": np.maximum(absd - abs_med, 0.0),
            "isolation_shift": isolation_shift, "isolation_step": isolation_step,
            "sharp_step": sharp_step, "sharp_shift": sharp_shift, "x0": np.array(x0), "band": np.array(band)}


@dataclass(frozen=True)
class SeamThresholds:
    """A band of the line is a candidate at the ``band_*`` levels; a run of candidate bands
    at least ``min_length`` long is a seam when its median evidence reaches the main levels."""

    step_z: float = 8.0  # a brightness jump this many times the local spread (summed along the run)
    min_step: float = 1.5  # ... and at least this many levels
    shift_ratio: float = 1.6  # or a mean |jump| this many times the local normal (geometric mean)
    sharpness: float = 1.5  # and sharper than the neighbouring rows by this factor
    band_step_z: float = 1.5
    band_shift_ratio: float = 1.25
    band_sharpness: float = 1.2
    shift_agreement: float = 0.35  # share of cells showing a content shift (flat cells cannot)
    isolation: float = 1.2  # the line's jump over the strongest of the lines 2-8 rows away
    max_texture_ratio: float = 2.5  # one side this much busier than the other: a content edge
    max_shift_ratio: float = 8.0  # far above the texture: a drawn line on a flat area, not a shift
    max_shift_step: float = 6.0  # a content shift leaves no net brightness step beyond this
    max_one_sided: float = 0.6  # |mean sign| of the cells' jumps: above this it is a drawn edge
    max_step: float = 24.0  # jumps above this (levels) are drawn edges, not tile exposure steps
    max_flat_share: float = 1.01  # a step between sides with this share of identical neighbouring
    # pixels (or more) on both is a drawn edge between flat fills (UI, vector art); above 1: off
    min_length: float = 0.25  # fraction of the line's full length the seam must run
    min_pixels: int = 128  # ... and at least this many pixels
    agreement: float = 0.7  # share of the small cells along a band that must show the jump


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def find_seams_one_axis(gray: np.ndarray, axis: str, thresholds: SeamThresholds,
                        params: SeamParams = SeamParams()) -> list[SeamLine]:
    """Seams along one axis: "horizontal" lines (between rows) or "vertical" (between columns)."""
    if axis == "horizontal":
        g = gray
    else:
        import cv2

        g = cv2.transpose(np.ascontiguousarray(gray))
    if g.shape[0] < 2:
        return []
    # a nearest-neighbour upscale repeats rows: judge the distinct rows, then map back
    changes = np.abs(np.diff(g.astype(np.float32), axis=0)).mean(axis=1)  # float: uint8 would wrap
    repeated = changes < 0.05
    if repeated.mean() > 0.3:
        keep = np.concatenate([[0], np.flatnonzero(~repeated) + 1])
        lines = find_seams_one_axis(g[keep] if axis == "horizontal" else g[keep].T, axis, thresholds, params)
        return [dataclasses.replace(s, position=int(keep[min(s.position, len(keep) - 1)])) for s in lines]
    h, w = g.shape
    if h < 3 * params.window or w < 16:
        return []
    ev = seam_evidence(g, params)
    x0, band = int(ev["x0"]), int(ev["band"])
    step = ev["step"]
    step_ok = ((ev["step_z"] >= thresholds.band_step_z) & (np.abs(step) >= thresholds.min_step)
               & (np.abs(step) <= thresholds.max_step) & (ev["sharp_step"] >= thresholds.band_sharpness))
    shift_hit = (ev["shift_ratio"] >= thresholds.band_shift_ratio) & (ev["sharp_shift"] >= thresholds.band_sharpness)
    nb = step.shape[1]
    min_bands = max(1, int(math.ceil(thresholds.min_length * nb)), int(math.ceil(thresholds.min_pixels / band)))
    lines: list[SeamLine] = []
    candidates = (step_ok.sum(axis=1) >= min_bands) | (shift_hit.sum(axis=1) >= min_bands)
    # tiles in checkerboard order step up and down in turn along one seam: a step seam is a run
    # of bands stepping one way or the other, each way for at least ``min_pixels`` at a time
    min_same = max(1, int(math.ceil(thresholds.min_pixels / band)))
    border = max(params.border, int(params.border_share * h))
    distinct: list[np.ndarray] = []  # the distinct columns, found when a step seam needs them
    for i in np.flatnonzero(candidates):
        pos = int(i) + 1
        if pos < border or pos > h - border:
            continue
        cells: tuple[np.ndarray, np.ndarray] | None = None  # computed for the rows that need it
        steps = np.zeros(nb, bool)
        for same_way in (step_ok[i] & (step[i] > 0), step_ok[i] & (step[i] < 0)):
            for a, b in _runs(same_way):
                if b - a >= min_same:
                    steps[a:b] = True
        # the band where the way turns holds a tile corner (half up, half down): bridge it
        turn = np.zeros(nb, bool)
        turn[1:-1] = (~steps[1:-1] & steps[:-2] & steps[2:] & (step[i, :-2] * step[i, 2:] < 0))
        steps |= turn
        for kind, row_hit in (("step", steps), ("shift", shift_hit[i])):
            for b0, b1 in _runs(row_hit):
                n = b1 - b0
                if n < min_bands:
                    continue
                sl = slice(b0, b1)
                step_z = float(np.sum(ev["step_z"][i, sl]) / math.sqrt(n))  # evidence adds up along the run
                shift = float(np.exp(np.mean(np.log(ev["shift_ratio"][i, sl]))))
                if kind == "step":
                    strength = step_z / thresholds.step_z
                else:
                    strength = (shift - 1.0) / (thresholds.shift_ratio - 1.0)
                if strength < 1.0:
                    continue
                if kind == "step":
                    sharp = float(np.median(ev["sharp_step"][i, sl]))
                    isolated = float(np.median(ev["isolation_step"][i, sl]))
                else:
                    sharp = float(np.median(ev["sharp_shift"][i, sl]))
                    isolated = float(np.median(ev["isolation_shift"][i, sl]))
                if sharp < thresholds.sharpness or isolated < thresholds.isolation:
                    continue
                step_run = float(np.median(step[i, sl]))
                if cells is None:
                    cells = _cell_jumps(g, int(i), x0, band, nb, params)
                cell_step, cell_ratio = cells
                if kind == "step":
                    way = np.where(turn[sl], 0.0, np.sign(step[i, sl]))
                    size = float(np.median(np.abs(step[i, sl][way != 0])))
                    step_run = size if way.sum() >= 0 else -size  # the way most of the line steps
                    aligned = (cell_step[sl] * way[:, None])[way != 0].ravel()
                    agree = float(np.mean(aligned > size / 3.0))
                    even = float(np.median(aligned)) >= 0.5 * float(np.mean(aligned))  # not a few big edges
                    if agree < thresholds.agreement or not even:
                        continue
                    if thresholds.max_flat_share <= 1.0:
                        if not distinct:
                            distinct.append(_distinct_columns(g))
                        if _flat_share(g, int(i), x0 + b0 * band, x0 + b1 * band,
                                       columns=distinct[0]) >= thresholds.max_flat_share:
                            continue
                else:
                    jumping = cell_ratio[sl] > 1.2
                    agree = float(np.mean(jumping))
                    signs = np.sign(cell_step[sl][jumping])
                    one_sided = abs(float(signs.mean())) if signs.size else 1.0
                    # shifted content jumps up in some cells and down in others; the edge of a
                    # drawn box or a line of text jumps the same way all along
                    if (agree < thresholds.shift_agreement or one_sided > thresholds.max_one_sided
                            or shift > thresholds.max_shift_ratio or abs(step_run) > thresholds.max_shift_step):
                        continue
                start = x0 + b0 * band if b0 > 0 else 0
                end = x0 + b1 * band if b1 < nb else w
                if _texture_ratio(g, int(i), start, end) > thresholds.max_texture_ratio:
                    continue  # smooth on one side, textured on the other: a horizon, not a seam
                lines.append(SeamLine(axis, pos, start, end, strength, step_run, step_z, shift, sharp))
    return _strongest_per_neighbourhood(lines)


def _texture_ratio(g: np.ndarray, i: int, start: int, end: int, depth: int = 6) -> float:
    """How much busier one side of row boundary ``i`` is than the other: mean |difference
    between neighbouring pixels along the line| in the rows 2..depth away on each side.
    Tiles of one image carry the same texture on both sides of their seam."""
    above = g[max(0, i - depth): max(0, i - 1), start:end]
    below = g[i + 2: i + 2 + depth - 1, start:end]
    if above.size == 0 or below.size == 0:
        return 1.0
    busy_above = float(np.mean(np.abs(np.diff(above, axis=1)))) + 0.5
    busy_below = float(np.mean(np.abs(np.diff(below, axis=1)))) + 0.5
    return max(busy_above, busy_below) / min(busy_above, busy_below)


def _distinct_columns(g: np.ndarray, min_repeated: float = 0.3) -> np.ndarray | None:
    """The columns that differ from the one before them somewhere, when a nearest-neighbour
    upscale along the rows repeats columns (more than ``min_repeated`` of them are copies of
    their left neighbour over the whole height); None when the columns are not repeated."""
    changes = np.abs(np.diff(g.astype(np.float32, copy=False), axis=1)).mean(axis=0)
    repeated = changes < 0.05
    if repeated.mean() <= min_repeated:
        return None
    return np.concatenate([[0], np.flatnonzero(~repeated) + 1])


def _flat_share(g: np.ndarray, i: int, start: int, end: int, depth: int = 4,
                columns: np.ndarray | None = None, min_columns: int = 8) -> float:
    """The smaller, of the two sides of row boundary ``i``, of the share of neighbouring pixels
    along the line (in the ``depth`` rows next to it) that are exactly equal: near 1 on both
    sides for flat fills of computer graphics; generated and photographic images carry noise.

    With ``columns`` (the distinct columns of a nearest-neighbour upscale, from
    ``_distinct_columns``) only those are compared: an upscale by k repeats every pixel k times
    along the row, which would make (k - 1) / k of the neighbours equal even in noisy content.
    A span with fewer than ``min_columns`` distinct columns is flat along the line (nothing
    changes there anywhere in the image) and is measured on all its columns."""
    above = g[max(0, i + 1 - depth): i + 1, start:end]
    below = g[i + 1: i + 1 + depth, start:end]
    if columns is not None:
        inside = columns[(columns >= start) & (columns < end)] - start
        if inside.size >= min_columns:
            above, below = above[:, inside], below[:, inside]
    if above.shape[1] < 2 or below.shape[1] < 2:
        return 0.0
    return min(float(np.mean(above[:, 1:] == above[:, :-1])), float(np.mean(below[:, 1:] == below[:, :-1])))


def _cell_jumps(g: np.ndarray, i: int, x0: int, band: int, nb: int,
                params: SeamParams) -> tuple[np.ndarray, np.ndarray]:
    """The jump across row boundary ``i`` in small cells (``params.cell`` px) of each band:
    the signed brightness jump beyond that of the rows 2-3 away, and the ratio of the mean
    |jump| to theirs. Shape (bands, cells per band).

    A tile seam jumps all along the line; the edge of a row of windows or of a line of text
    jumps only where the windows or letters are, which these cells reveal."""
    h = g.shape[0]
    cell = params.cell
    n_cells = band // cell
    sl = slice(x0, x0 + nb * band)

    def row_diff(k: int) -> np.ndarray:
        k = min(max(k, 0), h - 2)
        return (g[k + 1, sl] - g[k, sl]).reshape(nb, n_cells, cell)

    d = row_diff(i)
    refs = np.stack([row_diff(i + k) for k in (-3, -2, 2, 3)])
    cell_step = d.mean(axis=2) - np.median(refs.mean(axis=3), axis=0)
    cell_abs = np.minimum(np.abs(d), params.clip).mean(axis=2)
    ref_abs = np.minimum(np.abs(refs), params.clip).mean(axis=3).mean(axis=0)
    return cell_step, (cell_abs + 0.3) / (ref_abs + 0.3)


def _flat_sides(g: np.ndarray, pos: int, a: int, b: int, depth: int = 6) -> bool:
    """True when the rows on both sides of a line are nearly flat (a drawn colour edge)."""
    above = g[max(0, pos - depth): pos - 1, a:b]
    below = g[pos + 1: pos + depth, a:b]
    if above.size == 0 or below.size == 0:
        return True
    return float(np.std(np.diff(above, axis=1))) < 3.0 and float(np.std(np.diff(below, axis=1))) < 3.0


def _strongest_per_neighbourhood(lines: list[SeamLine], gap: int = 3) -> list[SeamLine]:
    """Keep one line per cluster of lines within ``gap`` positions of each other."""
    kept: list[SeamLine] = []
    for line in sorted(lines, key=lambda s: -s.strength):
        if all(abs(line.position - k.position) > gap or line.axis != k.axis
               or line.end <= k.start or k.end <= line.start for k in kept):
            kept.append(line)
    return sorted(kept, key=lambda s: (s.axis, s.position))


def find_seams(gray: np.ndarray, thresholds: SeamThresholds, params: SeamParams = SeamParams()) -> list[SeamLine]:
    return (find_seams_one_axis(gray, "horizontal", thresholds, params)
            + find_seams_one_axis(gray, "vertical", thresholds, params))


@dataclass(frozen=True)
class TileGrid:
    tile: int  # the spacing of the seams in pixels
    offset: int  # the first seam position modulo the spacing
    seams: tuple[SeamLine, ...]


def find_tile_grid(lines: list[SeamLine], tolerance: int = 2, min_tile: int = 64,
                   min_seams: int = 3) -> TileGrid | None:
    """A regular set of seams: at least ``min_seams`` seam lines (both axes together) whose
    positions fall on multiples of one spacing ``tile`` (each axis may have its own offset,
    the overlap of tiled upscalers shifts it). Returns the spacing explaining the most seams."""
    if len(lines) < min_seams:
        return None
    positions = {axis: sorted({s.position for s in lines if s.axis == axis}) for axis in ("horizontal", "vertical")}
    candidates: set[int] = set()
    for pos in positions.values():
        for i, a in enumerate(pos):
            for b in pos[i + 1:]:
                if b - a >= min_tile:
                    candidates.add(b - a)
    best: TileGrid | None = None
    for tile in sorted(candidates):
        members: list[SeamLine] = []
        offsets = []
        for axis, pos in positions.items():
            if not pos:
                continue
            # the offset of this axis: the one that puts most seams on the grid
            scores = [(sum(1 for p in pos if _circular_distance(p - ref, tile) <= tolerance), ref % tile)
                      for ref in pos]
            count, offset = max(scores)
            if count >= 2 or (count == 1 and len(pos) == 1):
                members += [s for s in lines if s.axis == axis and _circular_distance(s.position - offset, tile) <= tolerance]
                offsets.append(offset)
        spacing_ok = all(
            _circular_distance(b - a, tile) <= tolerance
            for axis in positions for a, b in zip(sorted(s.position for s in members if s.axis == axis),
                                                  sorted(s.position for s in members if s.axis == axis)[1:]))
        if len(members) >= min_seams and spacing_ok:
            grid = TileGrid(tile, offsets[0] if offsets else 0, tuple(members))
            if best is None or len(members) > len(best.seams) or (len(members) == len(best.seams) and tile < best.tile):
                best = grid
    return best


def _circular_distance(value: int, period: int) -> int:
    r = value % period
    return min(r, period - r)


# ----------------------------------------------------------------------------------------------
# ALIGN002: periodic grid / checkerboard
# ----------------------------------------------------------------------------------------------


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


def high_pass(gray: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    import cv2

    g = gray.astype(np.float32, copy=False)
    return g - cv2.GaussianBlur(g, (0, 0), sigma)


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
    crop = residual[cy: cy + side_y, cx: cx + side_x]
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


# ----------------------------------------------------------------------------------------------
# ALIGN003: broken straight lines
# ----------------------------------------------------------------------------------------------


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
    from scipy.ndimage import map_coordinates

    if len(segments) == 0:
        return segments, np.zeros((0, 2))
    frame = segment_frame(segments)
    p0, vec, n = frame.p0, frame.vec, frame.normal
    t = np.linspace(0.15, 0.85, samples)
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    pts = p0[:, None, None, :] + t[None, :, None, None] * vec[:, None, None, :] \
        + offsets[None, None, :, None] * n[:, None, None, :]
    values = map_coordinates(gray, [pts[..., 1].ravel(), pts[..., 0].ravel()], order=1, mode="nearest")
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
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

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
    n_groups, labels = connected_components(coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)),
                                            directed=False)
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
    from scipy.ndimage import map_coordinates

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
        vals = map_coordinates(gray, [pts[..., 1].ravel(), pts[..., 0].ravel()], order=1, mode="nearest")
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


# ----------------------------------------------------------------------------------------------
# ALIGN004: offset from a reference
# ----------------------------------------------------------------------------------------------


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
