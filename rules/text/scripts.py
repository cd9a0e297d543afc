"""Which writing system lettering is in, so that only a reader for that script judges it.

noticer's spelling and pseudo-text checks read English (RapidOCR's recogniser reads Chinese
and Latin letters; the dictionaries are Latin-script languages). Lettering in another script
is read by them as nothing, as fragments, or as Latin look-alikes (СВЕЖИЙ as ``CBE>KNV``,
ΚΑΛΗΜΕΡΑ as ``KAAHMEPA``): none of that is evidence that the lettering is garbled.

Two sources tell the script:
- the Unicode ranges of what RapidOCR read: Han characters (and the few kana its key list
  has) make a CJK line, which its recogniser reads and ``cjk_glyph_doubt`` judges;
- for a line about to be reported, or a text region that read as nothing, Tesseract re-reads
  the crop with each installed language model of another script (Debian's tesseract-ocr-rus,
  -ell, -ara, -heb, -hin, -jpn, -kor): a model of the script reads its own lettering with high
  confidence and in its own letters, far above English (``foreign_script``). Without those
  models installed, only the first source works.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rules.text.reading import Box

# (first, last) code points of each script's letters
SCRIPT_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)),
    "cjk": ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
            (0xFF66, 0xFF9D)),
    "hangul": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
    "cyrillic": ((0x400, 0x52F),),
    "greek": ((0x370, 0x3FF), (0x1F00, 0x1FFF)),
    "arabic": ((0x600, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "hebrew": ((0x590, 0x5FF),),
    "devanagari": ((0x900, 0x97F),),
}

# Tesseract language models that read each script other than Latin (the first installed wins)
SCRIPT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "cjk": ("jpn", "chi_sim"),
    "hangul": ("kor",),
    "cyrillic": ("rus", "ukr"),
    "greek": ("ell",),
    "arabic": ("ara",),
    "hebrew": ("heb",),
    "devanagari": ("hin",),
}

# A script's own model reads clean lettering of it at 0.75-0.96 mean word confidence, and
# lettering on a busy ground or in a bold face down to about 0.47 (Arabic and Devanagari on
# generated signs). But the English model reads some Latin crops badly (its binarisation
# loses a script font, an outline), and the other models then read them in their own letters
# at up to 0.88 (the corpus's "here" as πετε at 0.88 against English's 0.82, DO NOT as זסא at
# 0.87 against 0.59, HABIT as μαθι at 0.82 against 0.68). So a reading counts when its
# confidence is at least MIN_SCRIPT_CONFIDENCE and above English's by MARGIN_OVER_ENGLISH,
# or, from CONFIDENT_SCRIPT_READING on, by CONFIDENT_MARGIN_OVER_ENGLISH (Greek capitals are
# read by the English model as look-alikes at 0.89-0.90, by the Greek one at 0.95-0.96).
MIN_SCRIPT_CONFIDENCE = 0.45
CONFIDENT_SCRIPT_READING = 0.9
MARGIN_OVER_ENGLISH = 0.2
CONFIDENT_MARGIN_OVER_ENGLISH = 0.03
# Greek and Cyrillic letters RapidOCR reads as Latin look-alikes (ΑΘΗΝΑ as AOHNA, СВЕЖИЙ as
# CBE>KNV): a reading of the script's model that, so transliterated, is RapidOCR's reading
# (normalised edit similarity LOOKALIKE_SIMILARITY or more) explains it, and needs only
# LOOKALIKE_CONFIDENCE and the narrow margin
LOOKALIKES = dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧΘΛαβεικνορτυχΑВЕКМНОРСТХУИЗБаеорсхукмнтви",
                      "ABEZHIKMNOPTYXOAaBeiKvoptuxABEKMHOPCTXYN36aeopcxykmhtBN"))
LOOKALIKE_SIMILARITY = 0.75
LOOKALIKE_CONFIDENCE = 0.75

# share of a reading's letters that must be in the model's own script, how many letters it
# needs, and how many for each letter RapidOCR read there: a reading of its own script
# spells about as many letters as the lettering has (the short readings above, and ואו for
# IMAGES at 0.53, spell half as many or fewer).
MIN_SCRIPT_SHARE = 0.6
MIN_SCRIPT_LETTERS = 3
MIN_LETTER_RATIO = 0.8


def script_of_char(char: str) -> str | None:
    """The script of one letter (None for digits, punctuation and scripts not listed)."""
    code = ord(char)
    for script, ranges in SCRIPT_RANGES.items():
        if any(first <= code <= last for first, last in ranges):
            return script if (script != "latin" or char.isalpha()) else None
    return None


def script_shares(text: str) -> dict[str, float]:
    """Share of ``text``'s letters (of the listed scripts; digits and marks left out) in each script."""
    scripts = [s for s in (script_of_char(c) for c in text if c.isalpha()) if s]
    if not scripts:
        return {}
    return {s: scripts.count(s) / len(scripts) for s in set(scripts)}


def _letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def main_script(text: str) -> str | None:
    """The script of most of ``text``'s letters; None when it has none."""
    shares = script_shares(text)
    return max(shares, key=shares.get) if shares else None


def is_latin_token(token: str) -> bool:
    """Whether ``token`` has no letter of another script than Latin (the English checks judge
    only such words; a word with Han characters or Cyrillic letters is not theirs to judge)."""
    return all(script_of_char(c) in (None, "latin") for c in token if c.isalpha() or ord(c) > 0x2FF)


# ---------------------------------------------------------------- Tesseract's script models

@functools.lru_cache(maxsize=1)
def installed_script_languages() -> tuple[tuple[str, str], ...]:
    """(script, Tesseract language) for each script whose model is installed beside eng."""
    try:
        from rules.text.tesseract import tessdata_path

        folder = Path(tessdata_path())
    except (RuntimeError, ImportError):
        return ()
    found = []
    for script, languages in SCRIPT_LANGUAGES.items():
        for language in languages:
            if (folder / f"{language}.traineddata").is_file():
                found.append((script, language))
                break
    return tuple(found)


def _line_reader(language: str):
    """A single line's reader (page segmentation mode 7): for English, the same engine as
    the second reader's (``rules.text.tesseract.tesseract_line``)."""
    from rules.text.tesseract import tesseract_reader

    return tesseract_reader(language, 7)


@dataclass(frozen=True)
class ScriptReading:
    """A Tesseract model's reading of a crop: its script, language, text and mean word confidence."""

    script: str
    language: str
    text: str
    confidence: float


def read_crop(gray: np.ndarray, language: str, script: str) -> ScriptReading:
    from PIL import Image

    api = _line_reader(language)
    api.SetImage(Image.fromarray(gray))
    api.Recognize()
    text = (api.GetUTF8Text() or "").strip()
    confidences = api.AllWordConfidences()
    api.Clear()
    return ScriptReading(script, language, text, float(np.mean(confidences)) / 100.0 if confidences else 0.0)


def line_gray(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The crop of ``box`` (with a small margin), gray, scaled to 48-px lettering, binarised
    and framed in white, as Tesseract reads a line best."""
    import cv2

    from rules.text.tesseract import binarize_for_tesseract

    h, w = rgb.shape[:2]
    pad = max(2.0, 0.1 * box.height)
    y0, y1 = max(0, int(box.y0 - pad)), min(h, int(np.ceil(box.y1 + pad)))
    x0, x1 = max(0, int(box.x0 - pad)), min(w, int(np.ceil(box.x1 + pad)))
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]), cv2.COLOR_RGB2GRAY)
    factor = 48.0 / max(1, gray.shape[0])
    gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(binarize_for_tesseract(gray), 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)


def transliterated(text: str) -> str:
    """``text`` with Greek and Cyrillic letters replaced by the Latin ones they look like."""
    return "".join(LOOKALIKES.get(c, c) for c in text)


def explains_lookalikes(reading: ScriptReading, read_text: str) -> bool:
    """Whether ``reading``, transliterated, is what RapidOCR read (``read_text``)."""
    from rules.text.words import compact_text, normalized_edit_similarity

    if reading.script not in ("greek", "cyrillic") or not read_text:
        return False
    return normalized_edit_similarity(compact_text(transliterated(reading.text)),
                                      compact_text(read_text)) >= LOOKALIKE_SIMILARITY


def judge_script(readings: list[ScriptReading], english: float, read_text: str = "") -> ScriptReading | None:
    """The reading that shows the crop is lettering of another script: mostly in that
    script's letters, at least ``MIN_SCRIPT_LETTERS`` of them and ``MIN_LETTER_RATIO`` of the
    letters of ``read_text`` (what RapidOCR read there), read with at least
    ``MIN_SCRIPT_CONFIDENCE`` and above English's ``english`` confidence by the margin its
    confidence asks, or explaining RapidOCR's reading as look-alikes; the best such, or None."""
    read_letters = _letters(read_text)

    def fits(r: ScriptReading) -> bool:
        confident = r.confidence >= CONFIDENT_SCRIPT_READING or (
            r.confidence >= LOOKALIKE_CONFIDENCE and explains_lookalikes(r, read_text))
        margin = CONFIDENT_MARGIN_OVER_ENGLISH if confident else MARGIN_OVER_ENGLISH
        letters = _letters(r.text)
        return (r.confidence >= MIN_SCRIPT_CONFIDENCE and r.confidence >= english + margin
                and letters >= max(MIN_SCRIPT_LETTERS, MIN_LETTER_RATIO * read_letters)
                and script_shares(r.text).get(r.script, 0.0) >= MIN_SCRIPT_SHARE)

    fitting = [r for r in readings if fits(r)]
    return max(fitting, key=lambda r: r.confidence) if fitting else None


def crop_reading(ctx, box: Box, language: str, script: str = "latin") -> ScriptReading | None:
    """Tesseract's ``language`` model's reading of the lettering in ``box`` (see ``line_gray``);
    None when Tesseract or the model is missing. Call as ``ctx.shared(crop_reading, box, ...)``."""
    if box.width < 2 or box.height < 2:
        return None
    try:
        return read_crop(ctx.shared(_crop_gray, box), language, script)
    except (RuntimeError, ImportError):
        return None


def _crop_gray(ctx, box: Box) -> np.ndarray:
    return line_gray(ctx.rgb, box)


def foreign_script(ctx, box: Box, read_text: str = "") -> ScriptReading | None:
    """Whether the lettering in ``box``, where RapidOCR read ``read_text``, is in a script
    other than Latin that an installed Tesseract model reads (``judge_script``). Call as
    ``ctx.shared(foreign_script, box, read_text)``.
    None when no such model is installed, Tesseract is missing, or the crop is Latin (or
    garbled: no model reads it well)."""
    languages = installed_script_languages()
    if not languages:
        return None
    english = ctx.shared(crop_reading, box, "eng", "latin")
    if english is None:
        return None
    readings = [ctx.shared(crop_reading, box, language, script) for script, language in languages]
    return judge_script([r for r in readings if r is not None], english.confidence, read_text)
