"""The default text engine: PP-OCRv4 detection and recognition on the ONNX models noticer
ships (``rules/text/models``, loaded by ``rules/text/ppocr.py``; the models and this engine's
name come from RapidOCR, whose wheel they were taken from), loaded once per process:
detection in bands of the image, reading of line crops, and letter edges measured on the
ink of each crop."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from checker.loading import loading_models
from rules.text.gate import merge_spans
from rules.text.reading import Box, OcrChar, OcrLine, OcrParams, OcrWord


RAPIDOCR_MISSING = ("noticer's OCR models (rules/text/models) are missing from this installation: reinstall "
                    "noticer (`pip install --force-reinstall noticer`), or use Tesseract with "
                    "--set text.engine=tesseract")


def rapidocr_available() -> bool:
    """Whether the default engine's model files are installed."""
    from rules.text.ppocr import models_present

    return models_present()


@functools.lru_cache(maxsize=1)
def rapidocr_engine():
    """The PP-OCR engine (``rules.text.ppocr.PPOCR``) with one inference thread (workers run
    one per core), on the faster rewritten graphs of ``rules/text/model.py`` when they pass
    their probe."""
    from rules.text import ppocr

    if not rapidocr_available():
        raise RuntimeError(RAPIDOCR_MISSING)
    # the same networks (to float rounding) on graphs ONNX Runtime runs about a third faster;
    # the original graph is opened only when its rewrite is not in the model cache
    from rules.text.model import DETECTOR_PROBE, RECOGNISER_PROBE, optimised_session

    sessions = {}
    with loading_models():
        try:
            for name, probe in (("det", DETECTOR_PROBE), ("rec", RECOGNISER_PROBE)):
                path = ppocr.verify_model(name)  # the digest the cache is keyed by is checked here
                sessions[name] = optimised_session(str(path), ppocr.new_session, probe,
                                                   digest=ppocr.MODEL_SHA256[name])
        except ppocr.ModelFileError as exc:
            raise RuntimeError(str(exc)) from None
        return ppocr.PPOCR(threads=1, sessions=sessions)


def rapidocr_model_paths() -> tuple[str, str]:
    """The detector's and recogniser's model files (shipped in ``rules/text/models``)."""
    from rules.text.ppocr import model_path

    return str(model_path("det")), str(model_path("rec"))


def _to_rgb_bgr(rgb: np.ndarray) -> np.ndarray:
    """A contiguous BGR copy of an RGB array (the PP-OCR models take BGR). OpenCV swaps the
    channels of a 1024x1024 picture in ~0.1 ms; numpy's copy through a reversed stride took
    ~8 ms, ~5 ms CPU per image with text in all. The same bytes either way."""
    if rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8 and rgb.size:
        import cv2

        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
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


def first_look_applies(longest: int, target: int, params: OcrParams) -> bool:
    """Whether an image of this long side, to be searched whole at ``target``, gets the
    first look at ``quick_det_side``: only where that copy is no smaller than the image
    (it loses none of its pixels, only the enlargement) and smaller than the search's."""
    return bool(params.quick_det_side) and longest <= params.quick_det_side < target


def detect_lines_rapid(rgb: np.ndarray, params: OcrParams,
                       bands: tuple[tuple[float, float], ...] = ()) -> tuple[np.ndarray, float]:
    """The DB detector on a copy sized to [min_det_side, det_side]; returns the
    quadrilaterals (N x 4 x 2) in original pixels and the scale used.

    A small image (long side at most ``quick_det_side``) searched whole is first looked at
    on a copy of ``quick_det_side`` (``first_look``): when the detector finds no line there,
    it is taken as having none, without the enlarged search (``min_det_side``, 2-6 times
    the pixels: ~120 ms against ~20 ms on a 100-px photo).

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
    if not bands and first_look_applies(longest, target, params):
        first = dataclasses.replace(params, det_side=params.quick_det_side, min_det_side=params.quick_det_side,
                                    quick_det_side=0, band_share=0.0)
        found, _ = detect_lines_rapid(rgb, first)
        if len(found) == 0:
            return found, target / float(longest)
    # a banner shrunk by its long side alone would leave its lettering a few pixels high
    # (2000x100 to 736x37); its short side keeps MIN_DETECTION_SHORT_SIDE (or all it has)
    scale = max(target / float(longest), min(1.0, MIN_DETECTION_SHORT_SIDE / float(min(h, w))))
    scale = min(scale, MAX_DETECTION_LONG_SIDES * params.det_side / float(longest))
    if abs(scale - 1.0) > 1e-3:  # resize first: the channel swap then copies the small image
        bgr = _to_rgb_bgr(cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                                     interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC))
    else:
        bgr = _to_rgb_bgr(rgb)
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
    of ``text`` in order (as the recogniser reports them)."""
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
    crops = rapidocr_engine().crops(rgb, [q.astype(np.float32) for q in quads])
    return [_to_rgb_bgr(crop) for crop in crops]


def read_rapidocr(rgb: np.ndarray, params: OcrParams,
                  bands: tuple[tuple[float, float], ...] = ()) -> tuple[tuple[OcrLine, ...], tuple[Box, ...]]:
    engine = rapidocr_engine()
    quads, _ = detect_lines_rapid(rgb, params, bands)
    if len(quads) == 0:
        return (), ()
    crops = line_crops(rgb, quads)
    lines = []
    for quad, crop, reading in zip(quads, crops, engine.read(crops, list(quads))):
        text, conf = (reading.text or "").strip(), reading.confidence
        char_quads, char_texts, char_confs = reading.char_boxes, reading.char_texts, reading.char_confidences
        if not text:
            continue
        chars: list[OcrChar] = []
        # one box per character (a multi-letter piece, were there one, is spread evenly over its box)
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
