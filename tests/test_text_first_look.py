"""The OCR stage's first look at small images (rules/text/rapid.py, issue #19): an image of
at most ``quick_det_side`` pixels searched whole is looked at on a copy of that size before
the enlarged search, which runs only when the first look finds a line."""
from __future__ import annotations

import numpy as np
import pytest

import rules.text.rapid as text_rapid
from rules.text.reading import OcrParams
from tests.helpers import recording_detector

pytestmark = pytest.mark.skipif(not text_rapid.rapidocr_available(), reason="the OCR models are not installed")


def _sign(text: str, width: int, height: int, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    from fixtures.text_gen import font_paths

    image = Image.new("RGB", (width, height), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype([p for p in font_paths() if "DejaVuSans-Bold" in p][0], size)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    draw.text(((width - (x1 - x0)) // 2 - x0, (height - (y1 - y0)) // 2 - y0), text, font=font, fill=(20, 20, 30))
    return np.asarray(image)


def _lines(rgb: np.ndarray, params: OcrParams) -> list[tuple[str, tuple]]:
    lines, _ = text_rapid.read_rapidocr(rgb, params)
    return [(line.text, (line.box.x0, line.box.y0, line.box.x1, line.box.y1)) for line in lines]


def test_a_small_image_without_lettering_is_not_searched_enlarged(monkeypatch):
    """A 120-px picture of soft blotches: the 320-px first look finds no line, so the
    640-px search (the dearest part of the OCR stage on such images) never runs."""
    import cv2

    noise = np.random.default_rng(3).uniform(0, 255, (120, 120, 3)).astype(np.float32)
    blotches = cv2.GaussianBlur(noise, (0, 0), 6)
    rgb = np.clip((blotches - blotches.mean()) * 4 + 128, 0, 255).astype(np.uint8)
    shapes = recording_detector(monkeypatch)
    assert _lines(rgb, OcrParams()) == []
    assert shapes == [(320, 320)]


def test_a_small_sign_reads_as_without_the_first_look(monkeypatch):
    """Lettering on a small image: the first look sees it, the enlarged search runs as it
    did without the first look, and the lines and boxes are the same."""
    rgb = _sign("OPEN DAILY", 300, 120, 34)
    shapes = recording_detector(monkeypatch)
    with_look = _lines(rgb, OcrParams())
    assert shapes[0] == (128, 320) and max(shapes[1]) == 640
    assert with_look == _lines(rgb, OcrParams(quick_det_side=0))
    assert with_look and with_look[0][0].replace(" ", "").upper() == "OPENDAILY"


def test_images_larger_than_the_first_look_are_searched_as_before(monkeypatch):
    """A copy of 320 px would shrink a 480-px image (small letters lost): no first look."""
    rgb = _sign("FRESH", 480, 200, 56)
    shapes = recording_detector(monkeypatch)
    lines = _lines(rgb, OcrParams())
    assert len(shapes) == 1 and max(shapes[0]) == 640
    assert [text for text, _ in lines] == ["FRESH"]
