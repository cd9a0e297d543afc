"""What every TEXT rule's settings share: the OCR engine and detection size (one OCR stage
for the family), the checks made when a settings object is built, and the check before a run
that the chosen engine is installed."""
from __future__ import annotations

from pathlib import Path

from rules.text.reading import OcrParams

DEFAULT_ENGINE = "rapidocr"

# the OCR stage's settings: every TEXT rule must give the same, so that OCR runs once
SHARED_OCR_SETTINGS = ("engine", "detection_side")


def ocr_params(settings) -> OcrParams:
    """The OCR parameters of a TEXT rule's settings: the engine and detection size are family
    settings (`rules.text.engine`, `rules.text.detection_side`), the same for every TEXT rule."""
    return OcrParams(engine=settings.engine, det_side=settings.detection_side)


# settings that are shares or OCR confidences (0..1), and counts that cannot be negative
_UNIT_INTERVAL = ("min_confidence", "min_char_confidence", "max_confidence", "min_nonword_share", "min_similarity",
                  "cjk_min_doubtful_share", "cjk_max_confidence", "min_text_share", "malformed_min_confidence")
_AT_LEAST = {"min_letters": 1, "cjk_min_chars": 1, "min_chars": 2, "min_nonwords": 1, "acronym_letters": 0, "sidecar_max_words": 0,
             "min_text_height": 0.0, "detection_side": 64}


def validate_text_settings(settings) -> None:
    """Called by every TEXT settings class once it is made (the config is resolved): a value
    that would make a rule crash on every image, or quietly switch it off (``detection_side
    = 0``, ``min_char_confidence = 7``, no language, a words file that is not there), is a
    configuration error naming the setting."""
    from dataclasses import fields

    from rules.text.ocr import ENGINES

    names = {f.name for f in fields(settings)}
    if settings.engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {settings.engine!r}")
    for name in names & set(_UNIT_INTERVAL):
        if not 0.0 <= getattr(settings, name) <= 1.0:
            raise ValueError(f"{name} must be within 0..1, not {getattr(settings, name)!r}")
    for name in names & set(_AT_LEAST):
        if getattr(settings, name) < _AT_LEAST[name]:
            raise ValueError(f"{name} must be at least {_AT_LEAST[name]}, not {getattr(settings, name)!r}")
    if "languages" in names:
        from spellchecker import SpellChecker

        available = SpellChecker.languages()
        if not settings.languages:
            raise ValueError(f"languages must name at least one of {', '.join(available)}")
        unknown = [lang for lang in settings.languages if lang not in available]
        if unknown:
            raise ValueError(f"no dictionary for language(s) {', '.join(unknown)}; available: {', '.join(available)}")
    if "words_file" in names and settings.words_file:
        path = Path(settings.words_file).expanduser()
        if not path.is_file():
            raise ValueError(f"words_file {settings.words_file!r} is not a file")


def ocr_engine_missing(settings) -> str | None:
    """Before a run: the engine the TEXT rules are set to use, when it is not installed (where
    RapidOCR cannot be installed, a pre-commit environment, this says how to switch)."""
    from rules.text.ocr import RAPIDOCR_MISSING, rapidocr_available, tessdata_path

    if settings.engine in ("rapidocr", "hybrid") and not rapidocr_available():
        return RAPIDOCR_MISSING
    if settings.engine in ("tesseract", "hybrid"):
        try:
            tessdata_path()
        except RuntimeError as exc:  # strict TEXT004's second reading does without it
            return f"{exc} (apt-get install tesseract-ocr tesseract-ocr-eng), or use RapidOCR with --set text.engine=rapidocr"
    return None
