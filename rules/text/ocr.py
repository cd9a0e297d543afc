"""The OCR stage shared by the TEXT rules: a cheap text-presence gate, then one engine.

``read_text(ctx, params)`` is meant to be called through ``ctx.shared(read_text, params)``
so the gate and the engine run once per image whichever TEXT rules ask. The gate is a
few-millisecond test for strokes side by side (``text_presence``) that also says in which
horizontal bands it saw them. The detector, whose cost is in proportion to the pixels it
sees, then looks at full resolution only in those bands when they are narrow; when they
are wide (texture, or much text), images of 640 px and more first get RapidOCR's detector
on a 320-px copy, which calls the image text-free when it finds nothing and adds bands
around the large lettering it finds (see ``ocr_image``). Engines sit behind
one small interface (``image -> tuple[OcrLine, ...]``) and are loaded once per process:

- ``rapidocr``: RapidOCR's PP-OCRv4 detector and recogniser (ONNX models in its wheel);
  reads scene text, outlined text and text over photos, gives per-character boxes.
- ``tesseract``: Tesseract 5 through tesserocr (the engine stays loaded in the worker;
  pytesseract is the fallback when tesserocr is missing), on a median-filtered,
  Otsu-binarised copy; good on plain and gradient backgrounds, weak over photos.
- ``hybrid``: RapidOCR's detector finds the lines, Tesseract reads each line crop.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ENGINES = ("rapidocr", "tesseract", "hybrid")
TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels of the original image."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center_y(self) -> float:
        return (self.y0 + self.y1) / 2

    @classmethod
    def around(cls, points) -> "Box":
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        return cls(float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))

    def scaled(self, factor: float) -> "Box":
        return Box(self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor)

    def shifted(self, dx: float, dy: float) -> "Box":
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)


@dataclass(frozen=True)
class OcrChar:
    text: str
    box: Box
    confidence: float


@dataclass(frozen=True)
class OcrWord:
    text: str
    box: Box
    confidence: float  # 0..1
    chars: tuple[OcrChar, ...] = ()


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: Box
    confidence: float  # 0..1
    words: tuple[OcrWord, ...]
    text_height: float  # height of the lettering in pixels (the line's thickness across its direction)
    angle: float = 0.0  # degrees, direction of the line


@dataclass(frozen=True)
class OcrResult:
    engine: str
    gate_passed: bool
    lines: tuple[OcrLine, ...]
    candidate_boxes: tuple[Box, ...] = ()  # text-like regions the detector found, read or not
    gate_ms: float = 0.0
    ocr_ms: float = 0.0

    @property
    def words(self) -> tuple[OcrWord, ...]:
        return tuple(w for line in self.lines for w in line.words)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True)
class OcrParams:
    """Everything the OCR stage depends on. Rules must pass equal params so it runs once."""

    engine: str = "rapidocr"
    gate: bool = True
    det_side: int = 960  # longest side the detector sees (larger images are shrunk to this)
    min_det_side: int = 640  # smaller images are enlarged to this for the detector
    # second gate for large images: RapidOCR's detector on a copy this size (0: off); an
    # image where it finds no line is taken as text-free without the full-size pass
    quick_det_side: int = 320
    # detect only in horizontal bands around the lettering the gate (and the quick pass) saw
    # when they cover at most this share of the image's height (0: always everywhere)
    band_share: float = 0.6

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"text engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")


# ---------------------------------------------------------------- text-presence gate

@dataclass(frozen=True)
class GateResult:
    passed: bool
    # horizontal bands (y0, y1 in original pixels) that hold every patch of lettering the
    # gate saw at any of its scales, with a margin: where the detector needs to look
    bands: tuple[tuple[float, float], ...] = ()
    complete: bool = True  # False: the gate stopped once the bands were wide (a part of them)


def lettering_mask(gray: np.ndarray, work_side: int, window: tuple[int, int] = (16, 8),
                   contrast: int = 24, min_run: int = 32, keep_thin: bool = False,
                   shrunk: np.ndarray | None = None) -> np.ndarray:
    """Pixels (of a copy shrunk to ``work_side``) inside a horizontal run of lettering.

    Ink is what differs from its 15-px neighbourhood by more than ``contrast`` (dark on
    light and light on dark, after a 3x3 median removes pixel noise). With ``keep_thin``
    a copy shrunk to 0.6 or less skips the median: shrinking has averaged its pixel noise
    already, and the median would erase the 1-px strokes small letters shrink to. In a ``window``
    around each pixel, lettering has some ink but not only ink, and the ink switches on and
    off at least twice per row (strokes side by side) and now and then down the columns.
    Such windows must continue for ``min_run`` pixels along the row (a word, not a stroke).
    ``shrunk``: the copy already made (by ``gate_copies``), to save resizing again."""
    import cv2

    h, w = gray.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    if shrunk is not None:
        small = shrunk
    else:
        small = cv2.resize(gray, _shrunk_size(w, h, scale), interpolation=cv2.INTER_AREA) if scale < 1.0 else gray
    if not (keep_thin and scale <= 0.6):
        small = cv2.medianBlur(np.ascontiguousarray(small), 3)
    value = small.astype(np.int16)
    local = cv2.blur(small, (15, 15)).astype(np.int16)
    # -1 dark ink, +1 light ink, 0 ground: one pass covers both polarities
    ink = np.sign(value - local) * (np.abs(value - local) > contrast)
    win_w, win_h = window
    along_rows = (np.diff(ink, axis=1, append=ink[:, -1:]) != 0).astype(np.float32)
    along_cols = (np.diff(ink, axis=0, append=ink[-1:, :]) != 0).astype(np.float32)
    density = cv2.blur((ink != 0).astype(np.float32), window)
    row_switches = cv2.blur(along_rows, window) * win_w
    col_switches = cv2.blur(along_cols, window) * win_h
    found = ((density >= 0.1) & (density <= 0.7) & (row_switches >= 2.0) & (col_switches >= 0.5)).astype(np.uint8)
    return cv2.erode(found, cv2.getStructuringElement(cv2.MORPH_RECT, (min_run, 1)))


GATE_SCALES = ((512, 32, 40), (256, 24, 48), (128, 16, 72))  # (work side, min_run, contrast)


def _shrunk_size(w: int, h: int, scale: float) -> tuple[int, int]:
    return max(1, int(w * scale)), max(1, int(h * scale))


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` area-averaged down to ``size`` (width, height). OpenCV averages a whole
    factor (2, 4, ...) several times faster than a fractional one (measured on a 1024-px
    RGB photo: to 192 px 2.0 ms in one step, 1.1 ms through 256 px), so the largest
    power-of-two step goes first. The pixels differ little from a single step's (2 levels
    of 255 on average on that photo)."""
    import cv2

    h, w = image.shape[:2]
    factor = 1
    while w // (factor * 2) >= size[0] and h // (factor * 2) >= size[1]:
        factor *= 2
    if factor > 1 and (w // factor, h // factor) != size:
        image = cv2.resize(image, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def gate_copies(gray: np.ndarray, sides: tuple[int, ...]) -> list[np.ndarray]:
    """The image shrunk to each of ``sides`` (largest first), each copy made from the one
    before it rather than from the full image: area averaging in steps costs a fraction of
    reading the full image once per side. Halving steps give the same pixels to within
    rounding; other ratios differ little (see ``shrink``)."""
    h, w = gray.shape[:2]
    copies, source = [], gray
    for side in sides:
        scale = min(1.0, side / max(h, w))
        size = _shrunk_size(w, h, scale)
        if scale < 1.0 and (source.shape[1], source.shape[0]) != size:
            source = shrink(source, size)
        copies.append(source)
    return copies


def text_presence(gray: np.ndarray, enough: float | None = None) -> GateResult:
    """A few-millisecond test for lettering, at three scales (small to large letters).
    Tuned for recall: photos with fine texture may pass (then the detector decides);
    flat, smoothly shaded and sparsely drawn images do not.

    Besides the verdict it gives the horizontal bands where lettering was seen (at any
    scale), each patch widened by its own height above and below plus a fixed margin, so
    that a rotated or perspective line and the letters the mask missed stay inside.

    The coarse scales go first. With ``enough`` (a height in pixels), it stops as soon as
    the bands cover more than that: a caller that has no use for bands that wide need not
    pay for the finest scale, the dearest (textured photos end here). Such a result is
    marked ``complete=False``: its bands are a part of the whole."""
    import cv2

    h, w = gray.shape[:2]
    # coarser copies see large letters as strokes side by side; they also see texture as
    # lettering, so they ask for stronger contrast
    spans: list[tuple[float, float]] = []
    seen = False
    copies = gate_copies(gray, tuple(side for side, _, _ in GATE_SCALES))
    for (side, min_run, contrast), copy in reversed(list(zip(GATE_SCALES, copies))):
        if seen and enough is not None:
            merged = merge_spans(spans)
            if _covered(merged) > enough:
                return GateResult(True, merged, complete=False)
        # the finest copy keeps thin strokes: small letters on a large image
        mask = lettering_mask(gray, side, contrast=contrast, min_run=min_run,
                              keep_thin=side == GATE_SCALES[0][0], shrunk=copy)
        if not mask.any():
            continue
        seen = True
        scale = min(1.0, side / max(h, w))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        tops = stats[1:count, cv2.CC_STAT_TOP].astype(float)
        heights = stats[1:count, cv2.CC_STAT_HEIGHT].astype(float)
        margins = np.maximum(heights, 8.0) + 8.0  # work pixels above and below the patch
        spans += zip(np.maximum(0.0, (tops - margins) / scale).tolist(),
                     np.minimum(float(h), (tops + heights + margins) / scale).tolist())
    if not seen:
        return GateResult(False)
    return GateResult(True, merge_spans(spans))


def merge_spans(spans: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Overlapping (or touching) intervals joined, in order."""
    merged: list[list[float]] = []
    for y0, y1 in sorted(spans):
        if merged and y0 <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], y1)
        else:
            merged.append([y0, y1])
    return tuple((a, b) for a, b in merged)


# ---------------------------------------------------------------- engines

RAPIDOCR_MISSING = ("RapidOCR is not installed: `pip install --no-deps rapidocr-onnxruntime==1.4.4` (noticer "
                    "brings its dependencies; --no-deps keeps a second OpenCV out), or use Tesseract with "
                    "--set text.engine=tesseract")


def rapidocr_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


@functools.lru_cache(maxsize=1)
def rapidocr_engine():
    """RapidOCR with one inference thread (workers run one per core)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise RuntimeError(RAPIDOCR_MISSING) from None

    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1, use_cls=False)
    # the same networks (to float rounding) on graphs ONNX Runtime runs about a third faster
    from rules.text.model import DETECTOR_PROBE, RECOGNISER_PROBE, log, optimised_session

    try:
        det_path, rec_path = rapidocr_model_paths()
    except (OSError, KeyError, TypeError, ValueError) as exc:  # a RapidOCR laid out otherwise
        log.warning("RapidOCR's model files not found in its config (%s); its graphs stay as they are", exc)
    else:
        engine.text_det.infer.session = optimised_session(det_path, engine.text_det.infer.session, DETECTOR_PROBE)
        engine.text_rec.session.session = optimised_session(rec_path, engine.text_rec.session.session,
                                                            RECOGNISER_PROBE)
    detector = engine.text_det
    if np.allclose(detector.mean, 0.5) and np.allclose(detector.std, 0.5):
        own_preprocess = detector.get_preprocess
        detector.get_preprocess = lambda longest: DetectorInput(own_preprocess(longest).resize)
    return engine


class DetectorInput:
    """RapidOCR's detector input, normalised by OpenCV in one pass: its own resize (to
    multiples of 32), then ``(pixel/255 - 0.5) / 0.5`` as (N, 3, H, W) float32. RapidOCR
    computes the same in float64 NumPy: 24 ms for a 736x736 input, against 1.5 ms for
    ``cv2.dnn.blobFromImage`` (13 ms per detection on average over the corpus)."""

    def __init__(self, resize: Callable[[np.ndarray], np.ndarray | None]) -> None:
        self.resize = resize

    def __call__(self, bgr: np.ndarray) -> np.ndarray | None:
        import cv2

        resized = self.resize(bgr)
        if resized is None:
            return None
        return cv2.dnn.blobFromImage(resized, 1 / 127.5, mean=(127.5, 127.5, 127.5))


def rapidocr_model_paths() -> tuple[str, str]:
    """The detector's and recogniser's model files, as RapidOCR's own config names them."""
    import rapidocr_onnxruntime
    import yaml

    root = Path(rapidocr_onnxruntime.__file__).parent
    config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    return str(root / config["Det"]["model_path"]), str(root / config["Rec"]["model_path"])


def tessdata_path() -> str:
    env = os.environ.get("TESSDATA_PREFIX")
    for candidate in ((env,) if env else ()) + TESSDATA_CANDIDATES:
        if candidate and (Path(candidate) / "eng.traineddata").is_file():
            return candidate
    raise RuntimeError("Tesseract language data (eng.traineddata) not found; install tesseract-ocr-eng")


@functools.lru_cache(maxsize=4)
def tesseract_api(psm: int):
    import tesserocr

    return tesserocr.PyTessBaseAPI(path=tessdata_path(), lang="eng", psm=psm)


def _to_rgb_bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, :, ::-1])


# the shortest side the detector is given (unless the image is smaller): a wide banner's
# lettering fills its height, and shrinking its long side to det_side alone made 60-px
# letters on a 2000x100 banner 22 px and 36-px ones on 4000x50 7 px, too small to find
MIN_DETECTION_SHORT_SIDE = 96
# ... but the copy's long side stays within this many det_side: the detector's time and
# memory grow with its pixels, and a 100000x100 strip would otherwise be searched at 96000x96
MAX_DETECTION_LONG_SIDES = 8
# the quick low-resolution pass is skipped when its copy's short side would be smaller
# than this: such a wide image costs little to search whole, and the quick copy would
# hold its lettering at a few pixels
QUICK_MIN_SHORT_SIDE = 96


def detect_lines_rapid(rgb: np.ndarray, params: OcrParams,
                       bands: tuple[tuple[float, float], ...] = ()) -> tuple[np.ndarray, float]:
    """RapidOCR's DB detector on a copy sized to [min_det_side, det_side]; returns the
    quadrilaterals (N x 4 x 2) in original pixels and the scale used.

    With ``bands`` (y0, y1 in original pixels, from the gate) only those full-width strips
    of the copy are searched: the detector's cost is in proportion to the pixels it sees.
    A line cut by a strip's edge (lettering taller than the gate's margin, or text the gate
    did not see, half inside) is never read as half a line: it gets a second look on a
    strip widened past each edge it reaches (above, below or both); when even that strip
    cuts it (a line barely inside the band), the whole copy is searched instead, as
    without bands, so that no line of a band is lost."""
    import cv2

    engine = rapidocr_engine()
    h, w = rgb.shape[:2]
    longest = max(h, w)
    target = min(max(longest, params.min_det_side), params.det_side)
    # a banner shrunk by its long side alone would leave its lettering a few pixels high
    # (2000x100 to 736x37); its short side keeps MIN_DETECTION_SHORT_SIDE (or all it has)
    scale = max(target / float(longest), min(1.0, MIN_DETECTION_SHORT_SIDE / float(min(h, w))))
    scale = min(scale, MAX_DETECTION_LONG_SIDES * params.det_side / float(longest))
    if abs(scale - 1.0) > 1e-3:  # resize first: the channel swap then copies the small image
        bgr = _to_rgb_bgr(cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                                     interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC))
    else:
        bgr = _to_rgb_bgr(rgb)
    engine.text_det.limit_type = "max"
    engine.text_det.limit_side_len = max(bgr.shape[:2])
    if not bands:
        found = _detect_whole(engine, bgr)
    else:
        found = []
        rows = bgr.shape[0]
        for r0, r1 in strip_rows(bands, scale, rows):
            quads, cut = _detect_strip(engine, bgr, r0, r1)
            if cut:  # a line reaches past the strip: look again on a taller one
                g0, g1 = _strip_holding(cut, r0, r1, rows)
                quads, cut = _detect_strip(engine, bgr, g0, g1)
                # lines the taller strip cuts at its new edges but that never reached into
                # this band are other bands' business; one of this band still cut is not
                # dropped: the whole copy is searched instead
                if any(q[:, 1].max() > r0 and q[:, 1].min() < r1 for q in cut):
                    found = _detect_whole(engine, bgr)
                    break
            for quad in quads:
                if not any(_same_line(quad, other) for other in found):
                    found.append(quad)
    if not found:
        return np.zeros((0, 4, 2), np.float32), scale
    boxes = np.asarray(engine.sorted_boxes(np.asarray(found, dtype=np.float32)), dtype=np.float32) / scale
    return boxes, scale


# A line cut by a strip's edge still gets a box from the detector, short of the edge:
# measured on lines of 33-187 px cut at every depth (copies of 960 px), the box of a cut
# line ended up to 13 px, and up to a third of its own height (0.32), from the edge; a
# fixed few pixels would read big lettering cut a quarter down as a whole line ("DALE"
# for "SALE"). A box ending this close to an edge the image goes on past is taken as cut.
# Taking a whole line as cut costs only a second look (and, for a line still too close to
# the taller strip's edge, a search of the whole copy): nothing is dropped.
STRIP_EDGE_PX = 3.0
STRIP_EDGE_SHARE = 0.35


def _detect_whole(engine, bgr: np.ndarray) -> list[np.ndarray]:
    """The quads the detector finds in the whole copy."""
    boxes, _ = engine.text_det(bgr)
    return [] if boxes is None else list(boxes)


def _cut_edges(quad: np.ndarray, r0: int, r1: int, rows: int) -> tuple[bool, bool]:
    """Whether a quad (in the copy's rows) is cut by the strip's top edge, by its bottom edge
    (each only where the image goes on past it)."""
    top, bottom = float(quad[:, 1].min()), float(quad[:, 1].max())
    near = max(STRIP_EDGE_PX, STRIP_EDGE_SHARE * (bottom - top))
    return r0 > 0 and top <= r0 + near, r1 < rows and bottom >= r1 - near


def _detect_strip(engine, bgr: np.ndarray, r0: int, r1: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Quads the detector finds in rows r0..r1 of ``bgr`` (in its coordinates): those inside
    the strip, and those cut by one of its edges (or both) where the image goes on."""
    rows = bgr.shape[0]
    boxes, _ = engine.text_det(np.ascontiguousarray(bgr[r0:r1]))
    kept, cut = [], []
    for quad in ([] if boxes is None else boxes):
        quad = np.asarray(quad, np.float32) + np.array([0.0, r0], dtype=np.float32)
        (cut if any(_cut_edges(quad, r0, r1, rows)) else kept).append(quad)
    return kept, cut


def _strip_holding(cut: list[np.ndarray], r0: int, r1: int, rows: int) -> tuple[int, int]:
    """Rows r0..r1 widened past each edge a cut quad reaches, by twice the quad's visible
    height and a margin (a line less than about a third inside needs the whole copy)."""
    top, bottom = float(r0), float(r1)
    for quad in cut:
        y0, y1 = float(quad[:, 1].min()), float(quad[:, 1].max())
        reach = 2 * (y1 - y0) + 16
        cut_top, cut_bottom = _cut_edges(quad, r0, r1, rows)
        if cut_top:
            top = min(top, y0 - reach)
        if cut_bottom:
            bottom = max(bottom, y1 + reach)
    (g0, g1), = strip_rows(((max(0.0, top), min(float(rows), bottom)),), 1.0, rows)
    return g0, g1


def _same_line(a: np.ndarray, b: np.ndarray) -> bool:
    """Two quads (from overlapping strips) that cover mostly the same pixels."""
    ax0, ay0, ax1, ay1 = a[:, 0].min(), a[:, 1].min(), a[:, 0].max(), a[:, 1].max()
    bx0, by0, bx1, by1 = b[:, 0].min(), b[:, 1].min(), b[:, 0].max(), b[:, 1].max()
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return inter > 0.5 * max(smaller, 1e-6)


def strip_rows(bands: tuple[tuple[float, float], ...], scale: float, rows: int) -> list[tuple[int, int]]:
    """Bands in original pixels as row ranges of the detector's copy, joined where they
    overlap and each widened to a multiple of 32 rows (the detector's stride; a strip it
    would have to stretch reads worse)."""
    spans = tuple((max(0.0, np.floor(y0 * scale)), min(float(rows), np.ceil(y1 * scale))) for y0, y1 in bands)
    for _ in range(8):  # widening can make strips overlap again: join and widen until stable
        spans = merge_spans([(float(r0), float(r1)) for r0, r1 in spans])
        widened = []
        for r0, r1 in spans:
            need = min(rows, max(32, int(np.ceil((r1 - r0) / 32.0)) * 32))
            r1 = min(float(rows), r0 + need)
            widened.append((max(0.0, r1 - need), r1))
        if widened == list(spans):
            break
        spans = tuple(widened)
    return [(int(a), int(b)) for a, b in spans]


def _quad_height(quad: np.ndarray) -> float:
    return float((np.linalg.norm(quad[0] - quad[3]) + np.linalg.norm(quad[1] - quad[2])) / 2)


def _quad_angle(quad: np.ndarray) -> float:
    dx, dy = quad[1] - quad[0]
    return float(np.degrees(np.arctan2(dy, dx)))


def words_from_chars(chars: list[OcrChar], text: str, line_conf: float) -> tuple[OcrWord, ...]:
    """Group characters into words at spaces in ``text``; chars are the non-space characters
    of ``text`` in order (as RapidOCR reports them)."""
    words: list[OcrWord] = []
    pieces = text.split()
    position = 0
    for piece in pieces:
        group = chars[position:position + len(piece)]
        position += len(piece)
        if not group:
            continue
        box = Box(min(c.box.x0 for c in group), min(c.box.y0 for c in group),
                  max(c.box.x1 for c in group), max(c.box.y1 for c in group))
        conf = float(min(line_conf, np.mean([c.confidence for c in group])))
        words.append(OcrWord(piece, box, conf, tuple(group)))
    return tuple(words)


def line_crops(rgb: np.ndarray, quads: np.ndarray) -> list[np.ndarray]:
    """Each detected line cut out and straightened, in the BGR order the recogniser expects
    (cut from the RGB image, then swapped: swapping the whole image first costs a copy)."""
    crops = rapidocr_engine().get_crop_img_list(rgb, [q.astype(np.float32) for q in quads])
    return [_to_rgb_bgr(crop) for crop in crops]


def read_rapidocr(rgb: np.ndarray, params: OcrParams,
                  bands: tuple[tuple[float, float], ...] = ()) -> tuple[tuple[OcrLine, ...], tuple[Box, ...]]:
    engine = rapidocr_engine()
    quads, _ = detect_lines_rapid(rgb, params, bands)
    if len(quads) == 0:
        return (), ()
    crops = line_crops(rgb, quads)
    rec, _ = engine.text_rec(crops, True)
    detailed = engine.cal_rec_boxes(crops, [q for q in quads], [list(r) for r in rec])
    lines = []
    for quad, crop, (text, conf, char_quads, char_texts, char_confs) in zip(quads, crops, detailed):
        text = (text or "").strip()
        if not text:
            continue
        chars: list[OcrChar] = []
        # RapidOCR reports one box per character for Latin text and per word for
        # space-free scripts; spread multi-letter pieces evenly over their box.
        for cq, ct, cc in zip(char_quads or [], char_texts or [], char_confs or []):
            b = Box.around(cq)
            ct = ct.replace(" ", "")
            for k, letter in enumerate(ct):
                step = b.width / max(1, len(ct))
                chars.append(OcrChar(letter, Box(b.x0 + k * step, b.y0, b.x0 + (k + 1) * step, b.y1), float(cc)))
        if len(chars) != len(text.replace(" ", "")):
            chars = _even_chars(Box.around(quad), text, float(conf))
        else:
            chars = measured_gaps(chars, quad, crop)
        words = words_from_chars(chars, text, float(conf))
        lines.append(OcrLine(text, Box.around(quad), float(conf), words,
                             text_height=_quad_height(quad), angle=_quad_angle(quad)))
    return tuple(lines), tuple(Box.around(q) for q in quads)


def ink_mask(crop_bgr: np.ndarray) -> np.ndarray:
    """Ink of a line crop: the minority class of an Otsu threshold after a 3x3 median."""
    import cv2

    gray = cv2.medianBlur(cv2.cvtColor(np.ascontiguousarray(crop_bgr), cv2.COLOR_BGR2GRAY), 3)
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = binary == 0
    return dark if np.count_nonzero(dark) <= dark.size / 2 else ~dark


def blank_columns(ink: np.ndarray) -> np.ndarray:
    """Per column of a line crop's ink mask: True where no ink crosses it. The top and
    bottom tenth are left out so that neighbouring lines do not bridge the gaps."""
    h = ink.shape[0]
    band = ink[int(0.1 * h):max(int(0.1 * h) + 1, int(0.9 * h))]
    return band.sum(axis=0) <= 0.02 * band.shape[0]


def _longest_true_run(flags: np.ndarray) -> tuple[int, int] | None:
    best, start = None, None
    for i, flag in enumerate(list(flags) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def measured_gaps(chars: list[OcrChar], quad: np.ndarray, crop_bgr: np.ndarray) -> list[OcrChar]:
    """Replace the recogniser's guessed character edges by measured ones: between two
    neighbouring characters, the widest run of ink-free columns of the line crop is the
    gap (zero when the letters touch). The recogniser only knows roughly where each
    letter is (its CTC time step), not where the ink stops."""
    crop_h, crop_w = crop_bgr.shape[:2]
    if len(chars) < 2 or crop_w < crop_h:
        return chars
    origin = quad[0].astype(float)
    axis = quad[1].astype(float) - origin
    length2 = float(axis @ axis)
    if length2 <= 0:
        return chars
    ink = ink_mask(crop_bgr)
    blank = blank_columns(ink)
    side = quad[3].astype(float) - origin  # down the line's left edge

    def to_crop(x: float, y: float) -> float:
        return float(np.clip((np.array([x, y]) - origin) @ axis / length2, 0, 1) * crop_w)

    def to_image(column: float) -> float:
        return float(origin[0] + column / crop_w * axis[0])

    centres = [to_crop((c.box.x0 + c.box.x1) / 2, (c.box.y0 + c.box.y1) / 2) for c in chars]
    lefts = [c.box.x0 for c in chars]
    rights = [c.box.x1 for c in chars]
    for i in range(1, len(chars)):
        a, b = int(round(centres[i - 1])), int(round(centres[i]))
        run = _longest_true_run(blank[a:b]) if b > a else None
        if run is not None:
            rights[i - 1] = to_image(a + run[0])
            lefts[i] = to_image(a + run[1])
        else:
            middle = to_image((centres[i - 1] + centres[i]) / 2)
            rights[i - 1] = lefts[i] = middle
    measured = []
    for i, c in enumerate(chars):
        x0, x1 = min(lefts[i], rights[i]), max(lefts[i], rights[i])
        y0, y1 = c.box.y0, c.box.y1
        # the ink's top and bottom under this letter: where its baseline really is
        c0 = int(np.clip(to_crop(x0, c.box.y0), 0, crop_w - 1))
        c1 = int(np.clip(to_crop(x1, c.box.y0), c0 + 1, crop_w))
        rows = np.nonzero(ink[:, c0:c1].any(axis=1))[0]
        if len(rows):
            y0 = float(origin[1] + rows[0] / crop_h * side[1])
            y1 = float(origin[1] + (rows[-1] + 1) / crop_h * side[1])
        measured.append(OcrChar(c.text, Box(x0, y0, x1, y1), c.confidence))
    return measured


def _even_chars(box: Box, text: str, conf: float) -> list[OcrChar]:
    """Character boxes spread evenly over a line box (when the engine gives none)."""
    n = max(1, len(text))
    step = box.width / n
    return [OcrChar(c, Box(box.x0 + i * step, box.y0, box.x0 + (i + 1) * step, box.y1), conf)
            for i, c in enumerate(text) if not c.isspace()]


def binarize_for_tesseract(gray: np.ndarray) -> np.ndarray:
    """Median filter (removes speckle noise) then Otsu, dark text on light ground."""
    import cv2

    smooth = cv2.medianBlur(gray, 3)
    _, binary = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if np.count_nonzero(binary) < binary.size / 2:  # mostly dark: light text on dark ground
        binary = 255 - binary
    return binary


def _tesseract_words(gray: np.ndarray, psm: int, offset=(0.0, 0.0), scale: float = 1.0) -> list[OcrWord]:
    """Words with boxes, confidences and per-character boxes from Tesseract."""
    try:
        import tesserocr
    except ImportError:  # pragma: no cover - the wheel is a project dependency
        return _pytesseract_words(gray, psm, offset, scale)
    from PIL import Image

    api = tesseract_api(psm)
    api.SetImage(Image.fromarray(gray))
    api.Recognize()
    words: list[OcrWord] = []
    iterator = api.GetIterator()
    level_word, level_symbol = tesserocr.RIL.WORD, tesserocr.RIL.SYMBOL
    current: list[OcrChar] = []
    word_meta = None

    def flush():
        if word_meta is not None:
            text, box, conf = word_meta
            words.append(OcrWord(text, box, conf, tuple(current)))

    dx, dy = offset
    if iterator is None:
        api.Clear()
        return []

    def text_at(level) -> str:
        try:
            return iterator.GetUTF8Text(level) or ""
        except RuntimeError:  # tesserocr raises when a level holds no text
            return ""

    while True:
        if iterator.IsAtBeginningOf(level_word):
            flush()
            current = []
            text = text_at(level_word)
            bb = iterator.BoundingBox(level_word)
            conf = iterator.Confidence(level_word) / 100.0
            word_meta = (text.strip(), Box(*bb).scaled(1 / scale).shifted(dx, dy), conf) if bb else None
        symbol = text_at(level_symbol)
        sbb = iterator.BoundingBox(level_symbol)
        if symbol and sbb:
            current.append(OcrChar(symbol, Box(*sbb).scaled(1 / scale).shifted(dx, dy),
                                   iterator.Confidence(level_symbol) / 100.0))
        if not iterator.Next(level_symbol):
            break
    flush()
    api.Clear()
    return [w for w in words if w.text]


def _pytesseract_words(gray, psm, offset, scale):  # pragma: no cover - fallback only
    import pytesseract

    data = pytesseract.image_to_data(gray, config=f"--psm {psm}", output_type=pytesseract.Output.DICT)
    dx, dy = offset
    words = []
    for text, conf, x, y, w, h in zip(data["text"], data["conf"], data["left"], data["top"],
                                      data["width"], data["height"]):
        if text.strip() and float(conf) >= 0:
            box = Box(x, y, x + w, y + h).scaled(1 / scale).shifted(dx, dy)
            words.append(OcrWord(text.strip(), box, float(conf) / 100.0))
    return words


def _lines_from_words(words: list[OcrWord]) -> tuple[OcrLine, ...]:
    """Group Tesseract words into lines by vertical overlap."""
    lines: list[list[OcrWord]] = []
    for word in sorted(words, key=lambda w: (w.box.center_y, w.box.x0)):
        for line in lines:
            ref = line[-1].box
            overlap = min(ref.y1, word.box.y1) - max(ref.y0, word.box.y0)
            if overlap > 0.5 * min(ref.height, word.box.height):
                line.append(word)
                break
        else:
            lines.append([word])
    result = []
    for line in lines:
        line.sort(key=lambda w: w.box.x0)
        box = Box(min(w.box.x0 for w in line), min(w.box.y0 for w in line),
                  max(w.box.x1 for w in line), max(w.box.y1 for w in line))
        heights = sorted(w.box.height for w in line)
        result.append(OcrLine(" ".join(w.text for w in line), box,
                              float(np.mean([w.confidence for w in line])), tuple(line),
                              text_height=heights[len(heights) // 2]))
    return tuple(result)


def read_tesseract(rgb: np.ndarray, params: OcrParams,
                   bands: tuple[tuple[float, float], ...] = ()) -> tuple[tuple[OcrLine, ...], tuple[Box, ...]]:
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    scale = min(1.0, 1600.0 / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    binary = binarize_for_tesseract(gray)
    # sparse-text mode first; it reads nothing on some plain signs with large letters (the
    # gallery's FRESH BRAED, found by a review) that automatic page segmentation reads
    for psm in (11, 3):
        words = [wd for wd in _tesseract_words(binary, psm=psm, scale=scale) if wd.confidence > 0.3]
        if words:
            break
    lines = _lines_from_words(words)
    return lines, tuple(line.box for line in lines)


def read_hybrid(rgb: np.ndarray, params: OcrParams,
                bands: tuple[tuple[float, float], ...] = ()) -> tuple[tuple[OcrLine, ...], tuple[Box, ...]]:
    """RapidOCR finds the lines; Tesseract reads each (deskewed) line crop as one line."""
    quads, _ = detect_lines_rapid(rgb, params, bands)
    if len(quads) == 0:
        return (), ()
    lines = [tesseract_line(crop, quad) for quad, crop in zip(quads, line_crops(rgb, quads))]
    return tuple(line for line in lines if line is not None), tuple(Box.around(q) for q in quads)


def tesseract_line(crop: np.ndarray, quad: np.ndarray) -> OcrLine | None:
    """Tesseract's reading of one line crop (BGR, cut along ``quad`` by ``line_crops``) as a
    single line, in image coordinates; None when it reads nothing."""
    import cv2

    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    factor = 48.0 / max(1, gray.shape[0])
    gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    gray = cv2.copyMakeBorder(binarize_for_tesseract(gray), 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
    words = _tesseract_words(gray, psm=7)
    if not words:
        return None
    # Map crop coordinates back (approximately: axis-aligned lines) to the image.
    qbox = Box.around(quad)
    back = 1.0 / factor

    def to_image(b: Box) -> Box:
        return Box(qbox.x0 + (b.x0 - 12) * back, qbox.y0 + (b.y0 - 12) * back,
                   qbox.x0 + (b.x1 - 12) * back, qbox.y0 + (b.y1 - 12) * back)

    mapped = [OcrWord(wd.text, to_image(wd.box), wd.confidence,
                      tuple(OcrChar(c.text, to_image(c.box), c.confidence) for c in wd.chars)) for wd in words]
    return OcrLine(" ".join(wd.text for wd in mapped), qbox, float(np.mean([wd.confidence for wd in mapped])),
                   tuple(mapped), text_height=_quad_height(quad), angle=_quad_angle(quad))


# lines tilted more than this are not read a second time: their axis-aligned box would hold
# parts of the lines around them
SECOND_READING_MAX_ANGLE = 3.0


def second_reading(ctx, params: OcrParams) -> tuple[OcrLine | None, ...]:
    """Tesseract's reading of each line of ``ctx.shared(read_text, params)``, one entry per
    line, in order: None where Tesseract reads nothing or the line is tilted. Two readers that
    work differently (RapidOCR's network reads a line as a whole; Tesseract segments glyphs)
    disagree where the lettering is ambiguous. Call as ``ctx.shared(second_reading, params)``."""
    lines = ctx.shared(read_text, params).lines
    level = [abs(line.angle) <= SECOND_READING_MAX_ANGLE for line in lines]
    if not any(level):
        return tuple(None for _ in lines)
    quads = np.array([[[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]]
                      for b, keep in zip((line.box for line in lines), level) if keep], dtype=np.float32)
    readings = iter([tesseract_line(crop, quad) for quad, crop in zip(quads, line_crops(ctx.rgb, quads))])
    return tuple(next(readings) if keep else None for keep in level)


# reader(rgb, params, bands): bands are the gate's strips to detect in (empty: everywhere);
# Tesseract reads the whole image whatever the bands
READERS: dict[str, Callable[..., tuple[tuple[OcrLine, ...], tuple[Box, ...]]]] = {
    "rapidocr": read_rapidocr,
    "tesseract": read_tesseract,
    "hybrid": read_hybrid,
}


def ocr_image(rgb: np.ndarray, gray: np.ndarray, params: OcrParams) -> OcrResult:
    """Gate, then the chosen engine, on arrays.

    The detector's cost is in proportion to the pixels it sees, so it looks at full
    resolution only in horizontal bands around lettering when it can:
    - the gate's bands are narrow (at most half of ``band_share`` of the image's height,
      a sign or a caption): the detector looks there only;
    - else, for images of 640 px and more, a quick low-resolution detection runs: when it
      sees nothing the image counts as text-free; otherwise the bands around what it and
      the gate saw are searched if they cover at most ``band_share`` of the image, the
      whole image if not (the quick pass sees large lettering the gate's windows can miss);
    - smaller images with wide bands are searched whole.
    The gate is asked to stop once its bands are too wide to be searched without the quick
    pass; when the quick pass then finds lines, the whole gate is computed, so the bands
    searched are those of the whole gate.
    ``gate_passed`` is False when the gates said no text."""
    start = time.perf_counter()
    height = rgb.shape[0]
    narrow = params.band_share / 2 * height  # bands up to this high are searched without the quick pass
    gate = text_presence(gray, narrow) if params.gate else GateResult(True)
    gate_ms = (time.perf_counter() - start) * 1000
    if not gate.passed:
        return OcrResult(params.engine, False, (), gate_ms=gate_ms)
    start = time.perf_counter()
    bands: tuple[tuple[float, float], ...] = ()
    quick_possible = params.engine != "tesseract" or rapidocr_available()  # the quick pass is RapidOCR's
    if params.band_share > 0 and gate.bands and _covered(gate.bands) <= narrow:
        bands = gate.bands
    elif (params.quick_det_side and quick_possible and max(rgb.shape[:2]) >= 2 * params.quick_det_side
          and min(rgb.shape[:2]) * params.quick_det_side / max(rgb.shape[:2]) >= QUICK_MIN_SHORT_SIDE):
        quick = OcrParams(params.engine, params.gate, params.quick_det_side, params.quick_det_side, 0, 0.0)
        found, _ = detect_lines_rapid(rgb, quick)
        if len(found) == 0:
            return OcrResult(params.engine, False, (), gate_ms=gate_ms + (time.perf_counter() - start) * 1000)
        if params.band_share > 0 and gate.bands:
            if not gate.complete:  # the quick pass found lines: now the gate's finest bands count too
                gate = text_presence(gray)
            spans = list(gate.bands)
            for quad in found:
                y0, y1 = float(quad[:, 1].min()), float(quad[:, 1].max())
                margin = max(y1 - y0, 16.0)
                spans.append((max(0.0, y0 - margin), min(float(height), y1 + margin)))
            bands = merge_spans(spans)
            if _covered(bands) > params.band_share * height:
                bands = ()
    lines, candidates = READERS[params.engine](rgb, params, bands)
    return OcrResult(params.engine, True, lines, candidates, gate_ms=gate_ms,
                     ocr_ms=(time.perf_counter() - start) * 1000)


def _covered(bands: tuple[tuple[float, float], ...]) -> float:
    return sum(y1 - y0 for y0, y1 in bands)


def read_text(ctx, params: OcrParams) -> OcrResult:
    """The shared OCR analysis: call as ``ctx.shared(read_text, params)``."""
    return ocr_image(ctx.rgb, ctx.gray, params)
