"""TEXT001: misspelled words in rendered text."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from checker.model import Issue, Severity
from checker.rule import Rule
from rules.text.rapid import line_crops
from rules.text.tesseract import tesseract_line
from rules.text.reading import Box, OcrLine, OcrWord
from rules.text.scripts import crop_reading
from rules.text.settings import DEFAULT_ENGINE, SHARED_OCR_SETTINGS, ocr_engine_missing, validate_text_settings
from rules.text.shared import ocr, other_script, region_of, rule_dictionary
from rules.text.verdicts import framed_verdicts, judge_word, wordless_line
from rules.text.words import edit_distance, letter_runs


@dataclass(frozen=True)
class MisspelledSettings:
    engine: str = DEFAULT_ENGINE  # rapidocr, tesseract or hybrid; same on every TEXT rule
    # longest side the text detector sees; smaller is faster and misses more small text
    detection_side: int = 960
    languages: tuple[str, ...] = ("en",)
    words: tuple[str, ...] = ()  # extra words to accept (names, brands)
    words_file: str = ""  # a file of extra words, whitespace separated, '#' comments
    min_confidence: float = 0.85  # OCR confidence a word needs to be judged
    min_text_height: float = 12.0  # pixels: smaller lettering is ignored
    min_letters: int = 3
    acronym_letters: int = 5  # all-caps words up to this length are treated as acronyms
    check_acronyms: bool = True  # flag an acronym when it is one edit from a dictionary word
    split_anywhere: bool = True  # accept run-together words split anywhere (else only at gaps/case changes)
    skip_mixed_case: bool = True  # ZImage, ComfyUI: mixed-case words are names or brands
    min_char_confidence: float = 0.6  # a word with a letter read below this is not judged
    accept_expected_words: bool = True  # words of the text the image was asked to show are known
    # Tesseract re-reads each word found misspelled; when it reads the correction there, the
    # typo was RapidOCR's misreading of the lettering (handwriting, script), not the image's
    second_reader: bool = True
    # a word that is a common word with its first letter replaced (ROCKDOWN, LOCKDOWN) reads
    # as a pun or a name: generated misspellings keep the first letter and go wrong inside
    skip_first_letter_puns: bool = True
    # ... and in both profiles, when the word punned on is shown in the image too (ROCKDOWN
    # beside "In The Lockdown"): wordplay on a word the image shows is deliberate
    skip_puns_on_shown_words: bool = True

    def __post_init__(self) -> None:
        validate_text_settings(self)


def check_misspelled(ctx, settings: MisspelledSettings) -> Iterator[Issue]:
    """
    What it detects
        Words of `min_letters`+ letters, read with enough OCR confidence, that are not in the
        dictionary but are one or two edits from a word that is: `FIRL` for `FIRE`,
        `LATETEN` for `LATENT`. The message gives the suggested correction.

    Why people notice
        A misspelled word on a sign, shirt or poster is read by everyone who looks at it,
        and is the best-known tell of a generated image.

    Settings
        engine: OCR engine for all TEXT rules: rapidocr (PP-OCRv4 detection and recognition,
        the default), tesseract, or hybrid (RapidOCR finds the lines, Tesseract reads them).
        Set it for the family (`text.engine`) so that OCR runs once per image.
        detection_side: the longest side the text detector sees (lenient 736, strict 960);
        smaller is faster and misses more small lettering. A family setting, like engine.
        languages: pyspellchecker dictionaries to use (en, de, fr, es, ...).
        words / words_file: your own words (names, brands, slogans) to accept; a relative
        words_file is taken from the config file's folder.
        min_confidence: OCR confidence a word needs (lenient 0.85, strict 0.6).
        min_text_height: lettering lower than this many pixels is ignored (lenient 12, strict 0).
        min_letters: shorter words are not judged.
        acronym_letters / check_acronyms: all-caps words up to this length count as
        acronyms (lenient 5, strict 4) and are only flagged, with check_acronyms, when one
        edit from a word at least as long (FRE for FIRE, SAEL for SALE; USA is not taken
        for US, nor CVPR for CAR). Common acronyms (USA, FBI, CEO, DIY, BBQ, ...) are in
        noticer's own word list.
        split_anywhere: run-together words that split into common words pass (lenient);
        a three-letter piece must then be a function word (THE, WAS, NOT: ATETEN is no ATE
        TEN). Strict splits at visible gaps and case changes, and runs of function words
        (OFTHE, DONOT) anywhere.
        skip_mixed_case: words like ZImage or ComfyUI are taken as names (lenient).
        min_char_confidence: skip words with a letter the OCR is unsure of (lenient 0.6,
        strict 0.3), which are more often misreadings of odd fonts than misspellings.
        second_reader: Tesseract re-reads the crop of each word found misspelled, and its
        line (unless tilted more than 6 degrees); when it reads the correction there, and not the misspelling,
        the typo was RapidOCR's misreading of handwriting or a script font (achieping for
        achieving, nothng for nothing); likewise when the typo lacks a letter of the
        correction and Tesseract reads that very letter in its place (wost, read wordt: the
        r of worst is drawn, RapidOCR dropped it). On in both.
        skip_first_letter_puns: a common word with only its first letter replaced
        (ROCKDOWN for LOCKDOWN) is taken as a pun or a name (lenient); generated
        misspellings keep the first letter.
        skip_puns_on_shown_words: such a word is a pun in strict too when the word it
        replaces is read in the image as well (ROCKDOWN above "In The Lockdown"). On in both.
        accept_expected_words: the words of the text the image was asked to show (see
        TEXT003: the config's `expected-text`, the prompt's quoted strings, the sidecar)
        count as known: a prompt that asks for "Rockdown" wants ROCKDOWN. On by default.

    Known limits
        Numbers, units, and words with digits are skipped. Names, brands and acronyms one
        edit from a common word (a pun such as PARTI, NASA next to "nasal") are flagged
        unless listed in `words` or asked for by the prompt. A typo that makes another real
        word (IMAGES for IMAGINE) is not a misspelling: TEXT003 catches it when the intended
        text is known. A line of three or more words none of which is a word is left to
        TEXT002 (pseudo-text, not typos). OCR misreadings of unusual fonts can be reported
        (a letter of joined script dropped, when Tesseract reads neither the correction nor
        the dropped letter in its place); the engine can read a malformed letter as the right
        one (FIRL read as FIRE) and miss the typo: TEXT002 then looks at the glyphs. A word that reaches the image's left or right edge (within a quarter
        of its height) and is the visible part of a common word is taken as cut by the
        crop, not misspelled (VERNM, of GOVERNMENT); a typo there that is also such a part
        (the end of a word on the left edge, the start of one on the right) is missed.
        Lettering in another script than Latin is not judged (see the README's "Lettering
        in other scripts"): words with such letters are skipped, and a line a Tesseract
        model of another script reads far better than English is left alone. Without
        those models, Cyrillic or Greek read as Latin look-alikes can be reported. Lenient
        misses a misspelling that only changes the first letter.
    """
    result = ocr(ctx, settings)
    if not result.lines:
        return
    dictionary = rule_dictionary(ctx, settings)
    width = ctx.rgb.shape[1]
    # the letters read, line by line (OCR drops spaces: INTHELOCKDOWN holds LOCKDOWN)
    shown = "\n".join("".join(letter_runs(line.text)).lower() for line in result.lines) \
        if settings.skip_puns_on_shown_words else ""
    for line in result.lines:
        if wordless_line(line, dictionary, width):
            continue  # pseudo-text, not misspelled words: TEXT002 reports it
        issues = list(_line_typos(line, dictionary, width, settings, result.engine, shown))
        if settings.second_reader and result.engine != "tesseract":
            issues = [issue for issue in issues if not _misread(ctx, issue, line)]
        if issues and not other_script(ctx, line.text, line.box):  # СВЕЖИЙ read as CBE>KNV is no typo
            yield from issues


def first_letter_pun(word: str, suggestion: str) -> bool:
    """Whether ``word`` is ``suggestion`` with only its first letter replaced by another."""
    a, b = word.lower(), suggestion.lower()
    return len(a) == len(b) >= 4 and a[0] != b[0] and a[1:] == b[1:]


def _misread(ctx, issue: Issue, line: OcrLine) -> bool:
    """Whether Tesseract, re-reading the word's crop or its line, reads the suggested
    correction there as a word of its own (and not the misspelling) in either: RapidOCR drops
    letters of handwriting and joined script (``nothng`` for ``nothing``, which Tesseract
    reads on the line's crop, as "No thing", but not on the word's). PARTI read as PARTI holds no PART. A reading
    merely near the correction does not count (Tesseract read a generated FESTIVXAL as
    Festivas, one edit from FESTIVAL), unless it reads the very letter RapidOCR's reading
    lacks in its place (``dropped_letter_read``)."""
    word, suggestion = str(issue.measurements["word"]).lower(), str(issue.measurements["suggestion"]).lower()
    region = issue.region
    box = Box(region.x, region.y, region.x + region.width, region.y + region.height)
    reading = ctx.shared(crop_reading, box, "eng")
    readings = [[run.lower() for run in letter_runs(reading.text)] if reading is not None else [],
                _line_tokens(ctx, line, box)]
    # each reading on its own: the crops differ, and on handwriting Tesseract reads one
    # right and the other as RapidOCR did (the word's crop nothng, the line's "No thing")
    return any((suggestion in tokens or any(dropped_letter_read(word, suggestion, t) for t in tokens))
               and word not in tokens for tokens in readings)


def dropped_letter_read(word: str, suggestion: str, token: str) -> bool:
    """Whether ``word`` is ``suggestion`` with one letter missing and the second reader's
    ``token``, as long as the suggestion and one edit from it, reads that very letter in its
    place: the letter is drawn and RapidOCR dropped it (joined script's ``wost``, which
    Tesseract read ``wordt``: an r where worst has it). A letter the image lacks is not read
    there (``FRE``); a token one edit from the correction elsewhere proves nothing (FESTIVXAL
    read ``Festivas``)."""
    if len(suggestion) != len(word) + 1 or len(token) != len(suggestion) or edit_distance(token, suggestion) > 1:
        return False
    return any(suggestion[:i] + suggestion[i + 1:] == word and token[i] == suggestion[i] for i in range(len(suggestion)))


def _line_tokens(ctx, line: OcrLine, box: Box) -> list[str]:
    """The letter runs Tesseract reads, on the line's crop, over the word in ``box``, and each
    two neighbouring ones joined."""
    reading = ctx.shared(line_second_reading, line.box, line.angle)
    if reading is None:
        return []
    over = []
    for other in reading.words:
        if min(other.box.x1, box.x1) - max(other.box.x0, box.x0) > 0.3 * min(other.box.width, box.width):
            over += [run.lower() for run in letter_runs(other.text)]
    # a reader that segments glyphs splits handwriting ("No thing"): two pieces side by side count joined too
    return over + [a + b for a, b in zip(over, over[1:])]


# lines tilted more than this are not re-read: their axis-aligned box holds much of the
# lines around them (strict TEXT004's second reading stops at 3 degrees; handwriting slopes,
# and a sketch's 4-degree "nothing" was read right only on its line's box)
LINE_READING_MAX_ANGLE = 6.0


def line_second_reading(ctx, box: Box, angle: float) -> OcrLine | None:
    """Tesseract's reading of the line in ``box`` (None for a line tilted more than
    ``LINE_READING_MAX_ANGLE``, or when Tesseract is missing or reads nothing). Call as
    ``ctx.shared(line_second_reading, box, angle)``."""
    if abs(angle) > LINE_READING_MAX_ANGLE:
        return None
    quad = np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]], dtype=np.float32)
    try:
        return tesseract_line(line_crops(ctx.rgb, quad[np.newaxis])[0], quad)
    except (RuntimeError, ImportError, OSError):
        return None


def _line_typos(line: OcrLine, dictionary, width: int, settings: MisspelledSettings, engine: str,
                shown: str = "") -> Iterator[Issue]:
    for word in line.words:
        if not _readable(line, word, settings.min_confidence, settings.min_text_height):
            continue
        verdicts = judge_word(word, dictionary, settings.min_letters, settings.acronym_letters,
                              settings.check_acronyms, settings.split_anywhere,
                              settings.skip_mixed_case, settings.min_char_confidence)
        for verdict in framed_verdicts(verdicts, word, width, dictionary):
            if verdict.status != "typo":
                continue
            if first_letter_pun(verdict.text, verdict.suggestion) and \
                    (settings.skip_first_letter_puns or verdict.suggestion.lower() in shown):
                continue
            yield Issue(
                message=f"misspelled word {verdict.text!r} (did you mean {verdict.suggestion!r}?)",
                region=region_of(word.box),
                confidence=round(float(word.confidence), 3),
                measurements={
                    "word": verdict.text,
                    "suggestion": verdict.suggestion,
                    "edit_distance": edit_distance(verdict.text.lower(), verdict.suggestion.lower()),
                    "ocr_confidence": round(float(word.confidence), 3),
                    "text_height": round(line.text_height, 1),
                    "line": line.text,
                    "engine": engine,
                },
            )


def _readable(line: OcrLine, word: OcrWord, min_confidence: float, min_text_height: float) -> bool:
    return word.confidence >= min_confidence and line.text_height >= min_text_height


TEXT001 = Rule(
    code="TEXT001",
    name="text.misspelled",
    summary="Misspelled word in rendered text",
    check=check_misspelled,
    severity=Severity.WARNING,
    settings=MisspelledSettings,
    shared_settings=SHARED_OCR_SETTINGS,
    preflight=ocr_engine_missing,
    profiles={
        "lenient": {"detection_side": 736, "min_confidence": 0.85, "min_text_height": 12.0, "check_acronyms": True, "acronym_letters": 5,
                    "split_anywhere": True, "skip_mixed_case": True, "min_char_confidence": 0.6,
                    "skip_first_letter_puns": True},
        "strict": {"min_confidence": 0.6, "min_text_height": 0.0, "check_acronyms": True, "acronym_letters": 4,
                   "split_anywhere": False, "skip_mixed_case": False, "min_char_confidence": 0.3,
                   "skip_first_letter_puns": False,
                   "severity": "error"},
    },
)
