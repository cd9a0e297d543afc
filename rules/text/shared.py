"""What the TEXT rules read together: the shared OCR stage (run once per image, recorded in
the report's observations) and the rule's dictionary."""
from __future__ import annotations

from dataclasses import replace

from checker.model import Region
from rules.text.ocr import OcrResult, read_text
from rules.text.prompt import expected_words
from rules.text.scripts import foreign_script, main_script
from rules.text.settings import ocr_params
from rules.text.words import Dictionary, file_stamp, load_dictionary


def ocr(ctx, settings) -> OcrResult:
    """The shared OCR stage; every TEXT rule passes the same parameters, so it runs once.
    What it read goes into the report's observations (``text``), so that a passing image
    tells "read correctly" from "no text seen"."""
    result = ctx.shared(read_text, ocr_params(settings))
    ctx.observe("text", {
        "engine": result.engine,
        "gate_passed": result.gate_passed,  # False: no lettering seen, OCR did not run
        "lines": [{"text": line.text, "confidence": round(line.confidence, 3),
                   "box": [round(v) for v in (line.box.x0, line.box.y0, line.box.width, line.box.height)]}
                  for line in result.lines],
    })
    return result


def region_of(box) -> Region:
    return Region.from_bounds(box.x0, box.y0, box.x1, box.y1)


def dictionary_for(settings, also: frozenset[str] = frozenset()) -> Dictionary:
    """The rule's dictionary: its languages, ``words`` and ``words_file``, and ``also``."""
    dictionary = load_dictionary(tuple(settings.languages), tuple(settings.words), settings.words_file,
                                 file_stamp(settings.words_file))
    if also - dictionary.user_words:
        dictionary = replace(dictionary, user_words=dictionary.user_words | also)
    return dictionary


def rule_dictionary(ctx, settings) -> Dictionary:
    """A TEXT rule's dictionary for this image: with ``accept_expected_words``, the words the
    image was asked to show are known too."""
    return dictionary_for(settings, expected_words(ctx) if settings.accept_expected_words else frozenset())


def other_script(ctx, text: str, box) -> str | None:
    """The script other than Latin that the lettering in ``box`` (read as ``text``) is in, or
    None: the script of most letters RapidOCR read, or else (``foreign_script``) the script
    whose Tesseract model reads the crop far better than English does. What it finds goes
    into the report's observations (``text.scripts``): lettering noticer does not judge."""
    script = main_script(text)
    reading = None
    if script in (None, "latin"):
        reading = ctx.shared(foreign_script, box, text)
        script = reading.script if reading else None
    if script is None:
        return None
    seen = ctx.observations.get("text.scripts", [])
    entry = {"text": text, "script": script,
             "box": [round(v) for v in (box.x0, box.y0, box.width, box.height)]}
    if reading is not None:
        entry.update(read_as=reading.text, language=reading.language, confidence=round(reading.confidence, 3))
    if entry not in seen:
        ctx.observe("text.scripts", seen + [entry])
    return script
