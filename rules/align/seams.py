"""ALIGN001 measurements: straight seams between rows (or columns) across which the image
jumps, and regular tile grids made of them.

Pure numpy on gray arrays: uint8 as the rule passes them (converted to float32 a few rows
at a time, so that no float copy of a large image is held), or float. The seam detector
works on row profiles and per-band sums rather than per-pixel loops (the whole family must
stay well under 60 ms per megapixel image).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .numeric import maximum_around_rows, moving_average_reflect


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


# rows of an image-sized temporary computed at a time: a difference of a few MiB instead of
# one (or two) the size of the image (8192 x 8192 float32: 256 MiB each). The numbers are
# the same: every value comes from the same rows, each reduction runs along one row.
CHUNK_BYTES = 4 << 20


def row_chunks(rows: int, width: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive blocks of ``rows`` rows, each about ``CHUNK_BYTES`` of
    float32 ``width`` wide (at least one row)."""
    step = max(1, CHUNK_BYTES // max(1, 4 * width))
    return [(a, min(rows, a + step)) for a in range(0, rows, step)]


def row_differences(g: np.ndarray, a: int, b: int, columns: slice = slice(None)) -> np.ndarray:
    """Rows ``a + 1 .. b`` less rows ``a .. b - 1`` of ``g`` (over ``columns``), in float32
    whatever ``g``'s type: a uint8 difference would wrap. Each value is the one the float32
    copy of ``g`` gives (uint8 levels are exact in float32), without making that copy."""
    return np.subtract(g[a + 1: b + 1, columns], g[a: b, columns], dtype=np.float32)


def mean_abs_row_change(g: np.ndarray) -> np.ndarray:
    """Per row boundary, the mean |difference| between the two rows, in float32:
    ``np.abs(np.diff(g, axis=0)).mean(axis=1)``, a few rows at a time."""
    h, w = g.shape
    out = np.empty(max(0, h - 1), np.float32)
    for a, b in row_chunks(h - 1, w):
        d = row_differences(g, a, b)
        out[a:b] = np.abs(d, out=d).mean(axis=1)
        del d  # before the next chunk's is made
    return out


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
    x = x - moving_average_reflect(x, 2 * longest + 1)  # remove slow trends
    spread = x.std()
    x = np.clip(x, -3 * spread, 3 * spread)
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
    g = gray
    h, w = g.shape
    band = min(params.band, w)
    nb = max(1, w // band)
    used = nb * band
    x0 = (w - used) // 2
    signed = np.empty((h - 1, nb), np.float32)
    absd = np.empty((h - 1, nb), np.float32)
    for a, b in row_chunks(h - 1, used):
        d = row_differences(g, a, b, slice(x0, x0 + used))
        signed[a:b] = d.reshape(b - a, nb, band).mean(axis=2)
        # |d| clipped in place: the same values without two more temporaries
        np.abs(d, out=d)
        np.minimum(d, params.clip, out=d)
        absd[a:b] = d.reshape(b - a, nb, band).mean(axis=2)
        del d  # before the next chunk's is made
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
    isolation_shift = (absd + 0.5) / (maximum_around_rows(absd, 2, 8) + 0.5)
    isolation_step = (step_dev + 0.1) / (maximum_around_rows(step_dev, 2, 8) + 0.1)
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
    """(start, end) index pairs of the runs of True in a 1-D boolean array.

    Called for every candidate row on arrays of one entry per band (16 for 1024 px), where a
    plain loop costs a tenth of numpy's per-call overhead (measured: 3000 calls per image)."""
    runs: list[tuple[int, int]] = []
    start = -1
    for i, value in enumerate(mask.tolist()):
        if value and start < 0:
            start = i
        elif not value and start >= 0:
            runs.append((start, i))
            start = -1
    if start >= 0:
        runs.append((start, len(mask)))
    return runs


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
    changes = mean_abs_row_change(g)
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
    above = g[max(0, i - depth): max(0, i - 1), start:end].astype(np.float32, copy=False)
    below = g[i + 2: i + 2 + depth - 1, start:end].astype(np.float32, copy=False)
    if above.size == 0 or below.size == 0:
        return 1.0
    busy_above = float(np.mean(np.abs(np.diff(above, axis=1)))) + 0.5
    busy_below = float(np.mean(np.abs(np.diff(below, axis=1)))) + 0.5
    return max(busy_above, busy_below) / min(busy_above, busy_below)


def _distinct_columns(g: np.ndarray, min_repeated: float = 0.3) -> np.ndarray | None:
    """The columns that differ from the one before them somewhere, when a nearest-neighbour
    upscale along the rows repeats columns (more than ``min_repeated`` of them are copies of
    their left neighbour over the whole height); None when the columns are not repeated."""
    changes = _mean_abs_column_change(g)
    repeated = changes < 0.05
    if repeated.mean() <= min_repeated:
        return None
    return np.concatenate([[0], np.flatnonzero(~repeated) + 1])


def _mean_abs_column_change(g: np.ndarray) -> np.ndarray:
    """Per column boundary, the mean |difference| between the two columns over all rows.

    For uint8 images the sums are taken in integers, a few rows at a time (the float32
    formula makes two image-sized temporaries, the differences and their absolute values:
    256 MiB each for 8192 x 8192). They are the sums the float32 formula gives: integers
    below 2**24 are exact in float32 whatever the order they are added in. Only an image of
    more than 65793 rows could reach it; such an image takes the float32 formula."""
    h, w = g.shape
    if g.dtype != np.uint8 or h * 255 >= 1 << 24:
        return np.abs(np.diff(g.astype(np.float32, copy=False), axis=1)).mean(axis=0)
    total = np.zeros(max(0, w - 1), np.int64)
    for a, b in row_chunks(h, w):
        total += np.abs(np.diff(g[a:b].astype(np.int16), axis=1)).sum(axis=0)
    return total.astype(np.float32) / np.float32(h)


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
        return np.subtract(g[k + 1, sl], g[k, sl], dtype=np.float32).reshape(nb, n_cells, cell)

    d = row_diff(i)
    refs = np.stack([row_diff(i + k) for k in (-3, -2, 2, 3)])
    cell_step = d.mean(axis=2) - np.median(refs.mean(axis=3), axis=0)
    cell_abs = np.minimum(np.abs(d), params.clip).mean(axis=2)
    ref_abs = np.minimum(np.abs(refs), params.clip).mean(axis=3).mean(axis=0)
    return cell_step, (cell_abs + 0.3) / (ref_abs + 0.3)


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
