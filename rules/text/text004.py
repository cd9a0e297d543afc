"""TEXT004: letters whose spacing or baseline breaks the line's rhythm."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from checker.model import Issue, Severity
from checker.rule import Rule
from rules.text.packing import space_positions, baseline_jumps, gap_jumps, second_reading_gaps, split_words
from rules.text.settings import DEFAULT_ENGINE, SHARED_OCR_SETTINGS, ocr_engine_missing, validate_text_settings
from rules.text.scripts import is_latin_token
from rules.text.shared import ocr, other_script, region_of, rule_dictionary


@dataclass(frozen=True)
class PackingSettings:
    engine: str = DEFAULT_ENGINE
    detection_side: int = 960
    languages: tuple[str, ...] = ("en",)
    words: tuple[str, ...] = ()  # names and brands: a space may belong between them
    words_file: str = ""
    accept_expected_words: bool = True  # words of the text the image was asked to show are known
    min_chars: int = 4  # letters a word needs before its rhythm is judged
    gap_jump: float = 0.45  # a gap this many line heights wider than the word's usual gap
    baseline_jump: float = 0.3  # a letter whose bottom leaves the line by this share of the letter height
    check_baseline: bool = False  # off by default: curved, wavy and script lettering trips it
    min_confidence: float = 0.85
    min_text_height: float = 16.0
    # Tesseract re-reads each line RapidOCR read; a word read whole that it reads in two
    # pieces, one of them no word, has a gap inside (strict)
    second_reader: bool = False
    # ... only lines lower than this many pixels (0: every line): the small lettering whose
    # gaps RapidOCR's letter positions are too coarse to show, and cheap for Tesseract to read
    second_reader_max_height: float = 0.0

    def __post_init__(self) -> None:
        validate_text_settings(self)
        if self.gap_jump <= 0 or self.baseline_jump <= 0:
            raise ValueError("gap_jump and baseline_jump must be positive")


def check_packing(ctx, settings: PackingSettings) -> Iterator[Issue]:
    """
    What it detects
        Within a word, a letter gap far wider than the word's own rhythm (`SENT ENCE`) or
        a letter whose baseline jumps off the line, measured on the OCR engine's
        per-character boxes; and neighbouring words that only make a word together (the gap
        was wide enough to read as a space). Gaps where a space would leave two known words
        are word gaps, not faults.

    Why people notice
        Type has an even rhythm; one gap or one jumping letter breaks it and draws the eye,
        and makes a word read as two.

    Settings
        engine: OCR engine for all TEXT rules.
        min_chars: letters a word needs to be judged.
        gap_jump: how many line heights wider than the usual gap a gap must be (lenient 0.45, strict 0.3).
        check_baseline / baseline_jump: also judge baselines, and the share of a letter height
        a step must reach (0.3 lenient, 0.2 strict). Off in both profiles: on real AI images
        curved, wavy and script lettering made most of its reports.
        min_confidence / min_text_height: skip doubtful and small words (lenient 12 px,
        strict 0).
        languages / words / words_file / accept_expected_words: the words that decide where a
        space may belong (as for TEXT001: `NASAIKEA` read without its space is two names
        once IKEA is in `words`).
        second_reader / second_reader_max_height: Tesseract re-reads each line RapidOCR
        read (a few ms a line; `python -m bench.text` measures it); a known word of 5+
        letters that it reads as two pieces, one of them no word (`SENT ENCE`), is
        reported. Tesseract sees gaps of a few pixels in small lettering that RapidOCR's
        letter positions are too coarse to show. Strict reads every line; lenient only
        lines lower than second_reader_max_height (24 px) holding such a word, which are
        cheap to read (on the corpus 2.9 ms of CPU per image with text on average).

    Known limits
        RapidOCR only knows roughly where each letter is (its recogniser's time steps);
        noticer measures gaps and baselines on the ink of the line crop instead, which
        letters that touch or overlap confuse. Tesseract (and hybrid) give glyph boxes.
        Touching script letters have no gaps to measure; without the second reader a gap
        smaller than `gap_jump` line heights (SENT ENCE on a small shirt) is missed; the
        second reader now and then splits an evenly set word;
        deliberate letter spacing can be reported. CJK lettering, and lines a Tesseract
        model of another script reads (Greek capitals read as Latin look-alikes), are not
        judged.
    """
    result = ocr(ctx, settings)
    if not result.lines:
        return
    dictionary = rule_dictionary(ctx, settings)
    glyph_boxes = settings.check_baseline  # boxes: Tesseract's glyphs, or measured on RapidOCR's line ink
    yield from split_words(result.lines, dictionary, settings, result.engine)
    reported: set[str] = set()
    for line in result.lines:
        if line.text_height < settings.min_text_height:
            continue
        issues = []
        for word in line.words:
            chars = list(word.chars)
            letters = "".join(c.text for c in chars)
            if sum(c.isalpha() for c in letters) < settings.min_chars or word.confidence < settings.min_confidence:
                continue
            if not all(c.isalpha() for c in letters) or not is_latin_token(letters):
                continue  # punctuation and digits have their own spacing; CJK has no letter rhythm to judge
            lefts = np.array([c.box.x0 for c in chars])
            rights = np.array([c.box.x1 for c in chars])
            jumps = gap_jumps(lefts, rights, line.text_height, settings.gap_jump,
                              space_positions(letters, dictionary))
            if glyph_boxes:
                small = [c.box.height for c in chars if c.text.islower() and c.text not in "bdfhklt"]
                letter_height = float(np.median(small)) if small else float(np.median([c.box.height for c in chars]))
                jumps += baseline_jumps((lefts + rights) / 2, np.array([c.box.y1 for c in chars]),
                                        letter_height, settings.baseline_jump, letters)
            for jump in jumps:
                position = f"{letters[:jump.index]}|{letters[jump.index:]}" if jump.kind == "gap" else letters[jump.index]
                issues.append((word.text, Issue(
                    message=(f"uneven letter spacing in {word.text!r} at {position!r}" if jump.kind == "gap"
                             else f"letter {position!r} in {word.text!r} leaves the baseline"),
                    region=region_of(word.box),
                    confidence=round(min(1.0, jump.size), 3),
                    measurements={"word": word.text, "kind": jump.kind, "index": jump.index,
                                  "size": jump.size, "text_height": round(line.text_height, 1),
                                  "engine": result.engine},
                )))
        if issues and other_script(ctx, line.text, line.box):
            continue  # Greek or Cyrillic read as Latin look-alikes: their rhythm is not Latin's
        for word_text, issue in issues:
            reported.add(word_text)
            yield issue
    if settings.second_reader and result.engine == "rapidocr":
        yield from second_reading_gaps(ctx, result, settings, dictionary, reported)


TEXT004 = Rule(
    code="TEXT004",
    name="text.packing",
    summary="Letters whose spacing or baseline breaks the line's rhythm",
    check=check_packing,
    severity=Severity.INFO,
    settings=PackingSettings,
    shared_settings=SHARED_OCR_SETTINGS,
    preflight=ocr_engine_missing,
    profiles={
        "lenient": {"detection_side": 736, "gap_jump": 0.45, "baseline_jump": 0.3, "min_text_height": 12.0,
                    "second_reader": True, "second_reader_max_height": 24.0},
        "strict": {"gap_jump": 0.3, "baseline_jump": 0.2, "min_text_height": 0.0, "min_confidence": 0.6,
                   "second_reader": True, "severity": "warning"},
    },
    stability="preview",
)
