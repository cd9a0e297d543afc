"""What an OCR engine reads, in pixels of the original image: boxes, characters, words,
lines and the whole result, and the parameters the shared OCR stage depends on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENGINES = ("rapidocr", "tesseract", "hybrid")


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
