"""Tesseract 5 through tesserocr (the engine stays loaded in the worker; pytesseract is the
fallback when tesserocr is missing), on a median-filtered, Otsu-binarised copy; and the
hybrid engine, where RapidOCR's detector finds the lines and Tesseract reads each crop."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from checker.loading import loading_models

from rules.text.rapid import _quad_angle, _quad_height, detect_lines_rapid, line_crops
from rules.text.reading import Box, OcrChar, OcrLine, OcrParams, OcrWord

TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


def tessdata_path() -> str:
    env = os.environ.get("TESSDATA_PREFIX")
    for candidate in ((env,) if env else ()) + TESSDATA_CANDIDATES:
        if candidate and (Path(candidate) / "eng.traineddata").is_file():
            return candidate
    raise RuntimeError("Tesseract language data (eng.traineddata) not found; install tesseract-ocr-eng")


@functools.lru_cache(maxsize=16)
def tesseract_reader(language: str, psm: int):
    """The worker's one Tesseract engine for ``language`` in page segmentation mode ``psm``
    (loading a model costs 7-90 ms: English's ~70, Japanese's ~85), shared by every caller
    that reads with that pair."""
    with loading_models():
        import tesserocr

        return tesserocr.PyTessBaseAPI(path=tessdata_path(), lang=language, psm=psm)


def tesseract_api(psm: int):
    """The English engine in mode ``psm``."""
    return tesseract_reader("eng", psm)


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
