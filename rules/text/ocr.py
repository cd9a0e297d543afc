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

import time
from typing import Callable

import numpy as np

from rules.text.gate import GateResult, covered_height, merge_spans, text_presence
from rules.text.rapid import (
    QUICK_MIN_SHORT_SIDE,
    RAPIDOCR_MISSING,
    detect_lines_rapid,
    line_crops,
    rapidocr_available,
    rapidocr_engine,
    read_rapidocr,
)
from rules.text.reading import ENGINES, Box, OcrChar, OcrLine, OcrParams, OcrResult, OcrWord
from rules.text.tesseract import binarize_for_tesseract, read_hybrid, read_tesseract, tessdata_path, tesseract_line

__all__ = ["ENGINES", "Box", "GateResult", "OcrChar", "OcrLine", "OcrParams", "OcrResult", "OcrWord",
           "RAPIDOCR_MISSING", "READERS", "binarize_for_tesseract", "ocr_image", "rapidocr_available",
           "rapidocr_engine", "read_text", "second_reading", "second_reading_line", "tessdata_path", "text_presence"]


# lines tilted more than this are not read a second time: their axis-aligned box would hold
# parts of the lines around them
SECOND_READING_MAX_ANGLE = 3.0


def second_reading(ctx, params: OcrParams) -> tuple[OcrLine | None, ...]:
    """Tesseract's reading of each line of ``ctx.shared(read_text, params)``, one entry per
    line, in order: None where Tesseract reads nothing or the line is tilted. Two readers that
    work differently (RapidOCR's network reads a line as a whole; Tesseract segments glyphs)
    disagree where the lettering is ambiguous. Call as ``ctx.shared(second_reading, params)``."""
    lines = ctx.shared(read_text, params).lines
    return tuple(ctx.shared(second_reading_line, params, i) for i in range(len(lines)))


def second_reading_line(ctx, params: OcrParams, index: int) -> OcrLine | None:
    """Tesseract's reading of line ``index`` of ``ctx.shared(read_text, params)`` alone, as
    ``second_reading`` gives it (which is made of these): a check that needs the second
    reading of a few lines only (lenient's malformed letters) asks for those. Call as
    ``ctx.shared(second_reading_line, params, index)``."""
    line = ctx.shared(read_text, params).lines[index]
    if abs(line.angle) > SECOND_READING_MAX_ANGLE:
        return None
    b = line.box
    quad = np.array([[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]], dtype=np.float32)
    return tesseract_line(line_crops(ctx.rgb, quad[np.newaxis])[0], quad)


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
    if params.band_share > 0 and gate.bands and covered_height(gate.bands) <= narrow:
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
            if covered_height(bands) > params.band_share * height:
                bands = ()
    lines, candidates = READERS[params.engine](rgb, params, bands)
    return OcrResult(params.engine, True, lines, candidates, gate_ms=gate_ms,
                     ocr_ms=(time.perf_counter() - start) * 1000)


def read_text(ctx, params: OcrParams) -> OcrResult:
    """The shared OCR analysis: call as ``ctx.shared(read_text, params)``."""
    return ocr_image(ctx.rgb, ctx.gray, params)
