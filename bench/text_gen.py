"""Generated test images for the text rules, drawn by code with the system's fonts.

``make_case(seed, style, typo)`` renders one sign-like image: one to three common words
in a DejaVu or Liberation font at 16-120 px, on a plain, gradient, noisy, photo-like or
outlined style, sometimes rotated or in perspective, with one injected typo (a letter
swapped, dropped, doubled or replaced) when ``typo`` is true. ``make_label_case(seed, size)``
puts a small label anywhere on a large picture. ``make_text_free(seed)`` draws clutter
without letters. Everything is seeded, so cases are reproducible.
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STYLES = ("plain", "gradient", "noisy", "photo", "outlined")
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation2",
             "/usr/share/fonts/truetype/liberation")
FONT_NAMES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf",
    "DejaVuSansCondensed-Bold.ttf", "LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf",
    "LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf", "LiberationMono-Regular.ttf",
    "LiberationSansNarrow-Bold.ttf",
)
WORDS = """
    open closed coffee garden market station bakery pharmacy library welcome exit parking
    fresh bread summer winter festival concert museum theatre hotel street river mountain
    sunset morning evening kitchen dinner breakfast lunch happy birthday holiday travel
    school office police hospital airport ticket sale discount special friday monday
    weekend beautiful strong gentle wonder future dream water flower forest ocean island
    planet rocket dragon castle forest golden silver orange purple yellow green black
    window doctor teacher student family friend people world music dance light shadow
    """.split()


@dataclass(frozen=True)
class TextCase:
    image: np.ndarray  # H x W x 3 uint8 RGB
    style: str
    text: str  # what is drawn
    intended: str  # what should have been drawn
    typo_word: str | None  # the misspelled word as drawn, or None
    font: str
    size: int
    rotated: float
    perspective: bool


@functools.lru_cache(maxsize=1)
def font_paths() -> tuple[str, ...]:
    found = []
    for name in FONT_NAMES:
        for folder in FONT_DIRS:
            path = Path(folder) / name
            if path.is_file():
                found.append(str(path))
                break
    if not found:
        raise RuntimeError("no DejaVu or Liberation fonts found (apt-get install fonts-dejavu-core fonts-liberation2)")
    return tuple(found)


def inject_typo(word: str, rng: random.Random, is_word) -> str:
    """A misspelling of ``word`` that is not itself a word (``is_word`` decides)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(200):
        i = rng.randrange(1, len(word))  # keep the first letter: typos inside a word are what AI makes
        kind = rng.choice(("substitute", "delete", "insert", "swap"))
        if kind == "substitute":
            out = word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1:]
        elif kind == "delete":
            out = word[:i] + word[i + 1:]
        elif kind == "insert":
            out = word[:i] + rng.choice(letters) + word[i:]
        else:
            if i >= len(word) - 1 or word[i] == word[i + 1]:
                continue
            out = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if out != word and len(out) >= 4 and not is_word(out):
            return out
    raise RuntimeError(f"no typo found for {word!r}")


def _background(style: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    if style in ("plain",):
        return np.full((h, w, 3), rng.integers(170, 256, 3), np.uint8)
    if style == "gradient":
        a, b = rng.integers(150, 256, 3), rng.integers(100, 220, 3)
        t = np.linspace(0, 1, w)[None, :, None] if rng.random() < 0.5 else np.linspace(0, 1, h)[:, None, None]
        return np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).astype(np.uint8)
    if style == "noisy":
        base = np.full((h, w, 3), rng.integers(150, 230, 3), np.float32)
        return np.clip(base + rng.normal(0, rng.uniform(20, 35), (h, w, 1)), 0, 255).astype(np.uint8)
    # photo-like (also under outlined text): smooth colour fields, soft-edged shapes and
    # fine texture, like an out-of-focus scene with some detail
    field = np.zeros((h, w, 3), np.float32)
    for scale, weight in ((128, 1.0), (48, 0.6), (12, 0.15)):
        noise = rng.random((max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
        field += weight * cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    field = (field - field.min()) / max(1e-6, np.ptp(field))
    image = (field * 200 + 30).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(20, w // 3)), int(rng.integers(20, h // 3)))
        cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(1.5, 4.0)))
    grain = rng.normal(0, 6, (h, w, 1))
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def _draw_text(canvas: np.ndarray, text: str, font_path: str, size: int, style: str,
               rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(font_path, size)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    w, h = image.size
    # near the centre, so rotation and perspective keep the words inside the frame
    x = (w - (x1 - x0)) // 2 + int(rng.integers(-1, 2) * max(0, (w - (x1 - x0)) // 6))
    y = (h - (y1 - y0)) // 2 + int(rng.integers(-1, 2) * max(0, (h - (y1 - y0)) // 4))
    if style == "outlined":
        stroke = max(2, size // 12)
        draw.text((x - x0, y - y0), text, font=font, fill=(255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0))
    elif style == "photo":
        # a light or dark ink picked against the local background, as on a poster over a photo
        patch = canvas[max(0, y):y + (y1 - y0) + 1, max(0, x):x + (x1 - x0) + 1]
        ink = (15, 15, 20) if patch.mean() > 128 else (245, 245, 240)
        draw.text((x - x0, y - y0), text, font=font, fill=ink)
    else:
        draw.text((x - x0, y - y0), text, font=font, fill=tuple(int(v) for v in rng.integers(0, 70, 3)))
    return np.asarray(image)


def _warp(image: np.ndarray, angle: float, perspective: bool, rng: np.random.Generator) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    if angle:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        image = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if perspective:
        d = 0.08 * w
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = np.float32([[rng.uniform(0, d), rng.uniform(0, d)], [w - rng.uniform(0, d), rng.uniform(0, d)],
                          [w - rng.uniform(0, d), h - rng.uniform(0, d)], [rng.uniform(0, d), h - rng.uniform(0, d)]])
        image = cv2.warpPerspective(image, cv2.getPerspectiveTransform(src, dst), (w, h), borderMode=cv2.BORDER_REPLICATE)
    return image


def _fits(text: str, font_path: str, size: int, width: int) -> bool:
    from PIL import ImageFont

    font = ImageFont.truetype(font_path, size)
    return font.getlength(text) < 0.8 * width


def make_case(seed: int, style: str, typo: bool, is_word=None, width: int = 512, height: int = 384) -> TextCase:
    """One generated sign. ``is_word(str) -> bool`` decides which typos are non-words
    (default: the TEXT rules' dictionary)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}")
    if is_word is None:
        from rules.text.words import load_dictionary

        dictionary = load_dictionary(("en",))
        is_word = dictionary.knows
    rng_py = random.Random(seed * 7919 + STYLES.index(style) * 31 + typo)
    rng = np.random.default_rng(rng_py.randrange(1 << 30))
    font = rng_py.choice(font_paths())
    words = [rng_py.choice(WORDS) for _ in range(rng_py.choice((1, 2, 2, 3)))]
    case = rng_py.random()
    words = [w.upper() for w in words] if case < 0.35 else [w.capitalize() for w in words] if case < 0.7 else words
    intended = " ".join(words)
    typo_word = None
    if typo:
        k = rng_py.randrange(len(words))
        original = words[k]
        changed = inject_typo(original.lower(), rng_py, is_word)
        words[k] = changed.upper() if original.isupper() else changed.capitalize() if original[0].isupper() else changed
        typo_word = words[k]
    text = " ".join(words)
    size = int(rng_py.choice((16, 20, 24, 32, 40, 48, 64, 80, 96, 120)))
    while size > 16 and not _fits(text, font, size, width):
        size = int(size * 0.85)
    angle = rng_py.choice((0.0, 0.0, 0.0, rng_py.uniform(-12, 12)))
    perspective = rng_py.random() < 0.25
    canvas = _background(style, height, width, rng)
    drawn = _draw_text(canvas, text, font, size, style, rng)
    drawn = _warp(drawn, angle, perspective, rng)
    return TextCase(np.ascontiguousarray(drawn), style, text, intended, typo_word, Path(font).name, size,
                    round(angle, 1), perspective)


@dataclass(frozen=True)
class PackingCase:
    image: np.ndarray
    word: str
    defect: str | None  # "gap", "baseline" or None
    index: int | None  # the letter after the gap, or the letter off the baseline
    size: int


def make_packing_case(seed: int, defect: str | None, width: int = 512, height: int = 256) -> PackingCase:
    """One word set letter by letter with the font's own advances; with ``defect="gap"``
    one gap inside the word is widened by 0.4-0.8 letter heights, with ``"baseline"`` one
    letter is raised or dropped by 0.3-0.5 of the size."""
    from PIL import Image, ImageDraw, ImageFont

    if defect not in (None, "gap", "baseline"):
        raise ValueError("defect must be None, 'gap' or 'baseline'")
    rng = random.Random(50_000 + seed * 3 + (defect == "gap") + 2 * (defect == "baseline"))
    word = rng.choice([w for w in WORDS if len(w) >= 6])
    word = word.upper() if rng.random() < 0.5 else word.capitalize()
    font_path = rng.choice([p for p in font_paths() if "Mono" not in p])
    size = rng.choice((40, 48, 56, 64, 72))
    font = ImageFont.truetype(font_path, size)
    while font.getlength(word) + size > 0.85 * width and size > 24:
        size -= 4
        font = ImageFont.truetype(font_path, size)
    index = rng.randrange(2, len(word) - 1) if defect else None
    extra_gap = rng.uniform(0.4, 0.8) * size if defect == "gap" else 0.0
    shift = rng.choice((-1, 1)) * rng.uniform(0.3, 0.5) * size if defect == "baseline" else 0.0
    background = tuple(rng.randrange(180, 256) for _ in range(3))
    ink = tuple(rng.randrange(0, 70) for _ in range(3))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    total = font.getlength(word) + extra_gap
    x = (width - total) / 2
    y = height / 2 - size * 0.6
    for i, letter in enumerate(word):
        if i == index and defect == "gap":
            x += extra_gap
        # advance by the pair's length minus the next letter's, so kerning is kept
        advance = font.getlength(word[i:i + 2]) - font.getlength(word[i + 1:i + 2]) if i + 1 < len(word) \
            else font.getlength(letter)
        draw.text((x, y + (shift if i == index else 0.0)), letter, font=font, fill=ink)
        x += advance
    return PackingCase(np.asarray(image), word, defect, index, size)


LABEL_SIZES = (16, 20, 24, 28, 32, 40)


@dataclass(frozen=True)
class LabelCase:
    image: np.ndarray
    text: str
    size: int  # font size in pixels
    plate: bool


def _luma(rgb) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def make_label_case(seed: int, size: int, width: int = 1024, height: int = 1024) -> LabelCase:
    """A small label somewhere on a large picture (a price tag, a shop sign far away, a
    caption): one or two words at font ``size``, in half the cases on a plate, on a plain,
    gradient, noisy or photo-like background. Ink and ground differ by at least 80 levels of
    luminance, so every label is plainly legible; its colours are otherwise random."""
    from PIL import Image, ImageDraw, ImageFont

    rng_py = random.Random(70_000 + seed * 13 + size)
    rng = np.random.default_rng(rng_py.randrange(1 << 30))
    style = rng_py.choice(("plain", "gradient", "noisy", "photo"))
    image = Image.fromarray(np.ascontiguousarray(_background(style, height, width, rng)))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(rng_py.choice(font_paths()), size)
    words = [rng_py.choice(WORDS) for _ in range(rng_py.choice((1, 2)))]
    text = " ".join(w.upper() for w in words) if rng_py.random() < 0.4 else " ".join(words).capitalize()
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    x = rng_py.randrange(size, max(size + 1, width - (x1 - x0) - size))
    y = rng_py.randrange(size, max(size + 1, height - (y1 - y0) - size))
    plate = rng_py.random() < 0.5
    if plate:
        ground = tuple(rng_py.randrange(256) for _ in range(3))
        pad = max(3, size // 3)
        draw.rectangle((x - pad, y - pad, x + (x1 - x0) + pad, y + (y1 - y0) + pad), fill=ground)
    else:
        ground = tuple(int(v) for v in np.asarray(image)[y:y + (y1 - y0) + 1, x:x + (x1 - x0) + 1].reshape(-1, 3).mean(0))
    while True:
        ink = tuple(rng_py.randrange(256) for _ in range(3))
        if abs(_luma(ink) - _luma(ground)) >= 80:
            break
    draw.text((x - x0, y - y0), text, font=font, fill=ink)
    return LabelCase(np.asarray(image), text, size, plate)


def make_text_free(seed: int, width: int = 512, height: int = 384) -> np.ndarray:
    """Clutter without letters: a background of any style, then lines, boxes, circles and
    blobs in random colours."""
    import cv2

    rng_py = random.Random(10_000 + seed)
    rng = np.random.default_rng(seed + 77)
    style = rng_py.choice(("plain", "gradient", "noisy", "photo", "photo"))
    image = np.ascontiguousarray(_background(style, height, width, rng))
    for _ in range(rng_py.randrange(3, 15)):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng_py.choice(("line", "rect", "circle", "ellipse"))
        p = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        q = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        thickness = int(rng_py.choice((-1, 1, 2, 4)))
        if kind == "line":
            cv2.line(image, p, q, colour, max(1, thickness))
        elif kind == "rect":
            cv2.rectangle(image, p, q, colour, thickness)
        elif kind == "circle":
            cv2.circle(image, p, int(rng.integers(5, 80)), colour, thickness)
        else:
            cv2.ellipse(image, p, (int(rng.integers(5, 90)), int(rng.integers(5, 60))),
                        float(rng.uniform(0, 180)), 0, 360, colour, thickness)
    return image
