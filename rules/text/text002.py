"""TEXT002: garbled pseudo-text that reads as no language."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from checker.model import Issue, Severity
from checker.rule import Rule
from rules.text.glyphs import calibration, glyph_evidence, share_below
from rules.text.ocr import second_reading_line
from rules.text.settings import DEFAULT_ENGINE, SHARED_OCR_SETTINGS, ocr_engine_missing, ocr_params, validate_text_settings
from rules.text.reading import OcrLine
from rules.text.scripts import foreign_script, main_script, script_of_char
from rules.text.shared import ocr, other_script, region_of, rule_dictionary
from rules.text.verdicts import nonword_share, wordless_line


@dataclass(frozen=True)
class GarbledSettings:
    engine: str = DEFAULT_ENGINE
    detection_side: int = 960
    languages: tuple[str, ...] = ("en",)
    words: tuple[str, ...] = ()
    words_file: str = ""
    min_letters: int = 8  # letters a line needs before it can be called garbled
    max_confidence: float = 0.55  # a line read below this confidence is garbled
    min_nonword_share: float = 0.6  # or: this share of its letters in runs that are no word
    min_text_height: float = 12.0
    # ... unless it is at least this share of the image's shorter side: on a small picture
    # (a 259-px newspaper) 10-px lettering is prominent, and its pseudo-text plain to see
    min_text_share: float = 0.035
    flag_unreadable: bool = False  # also report detected lettering that reads as nothing
    min_nonwords: int = 2  # non-word runs a line needs to be garbled by its share
    accept_expected_words: bool = True  # words of the text the image was asked to show are known
    # a CJK line is pseudo-characters when read below cjk_max_confidence and this share of its
    # characters are doubtful
    cjk_min_doubtful_share: float = 0.5
    cjk_max_confidence: float = 0.8
    cjk_min_chars: int = 2
    # a known word whose glyphs both readers find fault with (see rules/text/glyphs.py) is
    # reported when its evidence is above this share of generated correct signs' words
    malformed_letters: bool = False
    malformed_min_confidence: float = 0.99

    def __post_init__(self) -> None:
        validate_text_settings(self)


def check_garbled(ctx, settings: GarbledSettings) -> Iterator[Issue]:
    """
    What it detects
        Lines that look like lettering but read as no language: OCR reads them with low
        confidence, most of their letters form runs that are not words nor near any word
        (`CIEFLIEEELENIN SAGSILASESS`), or none of their three or more words is a word
        (`Thr qolwe ebnrt skaljhe mpo`, where each alone is near some short word). With
        flag_unreadable, detected text regions that yield no readable string at all. CJK
        lines (read by RapidOCR's Chinese recogniser) whose characters it mostly doubts:
        pseudo-characters, strokes composed into characters that do not exist.

    Why people notice
        The meaningless background lettering of AI images (newspaper columns, labels,
        book spines) looks like text until someone tries to read it.

    Settings
        engine: OCR engine for all TEXT rules.
        min_letters: letters a line needs to be judged (lenient 8, strict 4).
        max_confidence: lines read below this confidence are garbled (lenient 0.55, strict 0.7).
        min_nonword_share / min_nonwords: share of non-word letters, and how many non-word
        runs, that make a line garbled (lenient 0.6 and 2, strict 0.5 and 1): one unknown
        word is a name, several are pseudo-text.
        min_text_height / min_text_share: lettering lower than min_text_height pixels (lenient
        12, strict 0) is ignored unless it is at least min_text_share of the image's shorter
        side (3.5%: 10-px lettering on a 259-px picture is as plain as 36 px on 1024).
        flag_unreadable: report detected text regions with no readable string. Off in both
        profiles: such a region is as often lettering in a script noticer has no reader for
        (Arabic, Korean, kana) as pseudo-text, and on the corpus it never was a defect's only
        finding.
        malformed_letters / malformed_min_confidence: also judge the glyphs of words read
        as known words: a word is reported as holding a malformed letter when the
        recogniser doubts one of its letters and a second reader (Tesseract, re-reading the
        line as strict TEXT004 does) does not read the word there, both more than on nearly
        all words of generated correct signs. The finding's confidence is the share of
        those words whose evidence is weaker; it is reported from malformed_min_confidence
        (strict 0.99; lenient 1.0: only beyond every one of them, as either evidence alone
        is common on correct stylised lettering). The second reader reads only lines with a
        letter doubted enough to reach that confidence, so lenient seldom pays for it.
        cjk_min_doubtful_share / cjk_max_confidence / cjk_min_chars: a CJK line (of at
        least cjk_min_chars characters) read below cjk_max_confidence (0.8) is
        pseudo-characters when this share of its characters is read below 0.7 confidence
        (lenient 0.5, strict 0.4); real characters are read at 0.95-1.
        languages / words / words_file / accept_expected_words: as for TEXT001.

    Known limits
        Script and decorative fonts can read badly and look garbled; foreign words count as
        non-words unless their language is listed. Lettering in another script than Latin
        is never garbled for being unreadable to the English checks: Chinese is judged by
        its characters' doubt; Japanese kana, Korean, Cyrillic, Greek, Arabic, Hebrew and
        Devanagari that a Tesseract model of the script reads well are not judged (and
        are listed in the observations); pseudo-text in those scripts is not detected.
        Without the script models installed, such lettering may be reported. Japanese
        kana lines RapidOCR only partly reads rely on the Japanese model in strict. Tiny
        text is ignored by the lenient profile. A word cut by the image's left or right
        edge that is part of a common word is no non-word (as for TEXT001). The evidence
        is mostly what OCR reads: a malformed letter that the recogniser reads, without
        doubt, as the letter it imitates goes unflagged; only common words are judged so
        (a rare word read, 'twas for "it was", is more likely two words run together).
        In lenient (from 1.0) the malformed-letter check is a last resort that adds little
        on generated malformed letters; in strict it adds 16 of 180 generated words with a
        letter partly erased, crossed by a stray stroke or merged with the next (`python -m
        bench.text`). It needs both readers to find fault: the letter the recogniser doubts
        need not be the malformed one (the flame-lettered FIRL, read FIRE, is found through
        its doubtful I).
    """
    result = ocr(ctx, settings)
    if not result.gate_passed:
        return
    dictionary = rule_dictionary(ctx, settings)
    width = ctx.rgb.shape[1]
    read_boxes = []
    prominent = min(settings.min_text_height, settings.min_text_share * min(ctx.rgb.shape[:2]))
    judged = []  # Latin lines not found garbled: their words' glyphs may still be malformed
    for line in result.lines:
        read_boxes.append(line.box)
        if line.text_height < prominent:
            continue
        script = main_script(line.text)
        if script == "cjk":  # RapidOCR's recogniser reads Chinese: its doubt is the evidence
            yield from _pseudo_characters(ctx, line, settings, result.engine)
            continue
        if script not in (None, "latin"):
            other_script(ctx, line.text, line.box)  # noted in the observations, not judged
            continue
        share, letters, runs = nonword_share(line, dictionary, width)
        if letters < settings.min_letters:
            judged.append(line)  # too short to be called garbled; its words' glyphs are judged
            continue
        low_confidence = line.confidence < settings.max_confidence
        wordless = wordless_line(line, dictionary, width)
        if not (low_confidence or wordless or (share >= settings.min_nonword_share and runs >= settings.min_nonwords)):
            judged.append(line)
        else:
            if other_script(ctx, line.text, line.box):
                continue  # Cyrillic read as Latin look-alikes is no pseudo-text
            why = (f"read with confidence {line.confidence:.2f}" if low_confidence else
                   "none of its words is a word" if wordless else f"{share:.0%} of its letters form no word")
            yield Issue(
                message=f"garbled lettering {line.text[:40]!r}: {why}",
                region=region_of(line.box),
                confidence=round(float(max(1 - line.confidence, share)), 3),
                measurements={"text": line.text, "ocr_confidence": round(line.confidence, 3),
                              "nonword_share": round(share, 3), "letters": letters,
                              "text_height": round(line.text_height, 1), "engine": result.engine},
            )
    if settings.malformed_letters and judged and result.engine == "rapidocr":
        yield from _malformed_letters(ctx, result, judged, dictionary, settings)
    if settings.flag_unreadable:
        for box in result.candidate_boxes:
            if box.height < settings.min_text_height or box.width < 2 * box.height:
                continue
            if any(_overlap(box, rb) > 0.5 for rb in read_boxes):
                continue
            if other_script(ctx, "", box):
                continue  # Korean, Arabic, kana: read by no reader of noticer's, not garbled
            yield Issue(message="text-like region that reads as nothing", region=region_of(box),
                        confidence=0.5, measurements={"text_height": round(box.height, 1), "engine": result.engine})


# a CJK character RapidOCR reads below this confidence is doubtful: it reads real characters
# at 0.95-1.0 and the composed non-characters of fixtures/text_gen.py mostly at 0.1-0.7
CJK_DOUBTFUL_CONFIDENCE = 0.7


def cjk_doubt(line: OcrLine) -> tuple[float, int]:
    """Share of a line's CJK characters read below ``CJK_DOUBTFUL_CONFIDENCE``, and how many
    CJK characters it has."""
    confidences = [c.confidence for word in line.words for c in word.chars if script_of_char(c.text) == "cjk"]
    if not confidences:
        return 0.0, 0
    return sum(c < CJK_DOUBTFUL_CONFIDENCE for c in confidences) / len(confidences), len(confidences)


def _pseudo_characters(ctx, line: OcrLine, settings: GarbledSettings, engine: str) -> Iterator[Issue]:
    """A CJK line most of whose characters the recogniser doubts is pseudo-characters, unless
    Tesseract's Japanese model (kana, which RapidOCR does not know) reads it well."""
    share, count = cjk_doubt(line)
    if count < settings.cjk_min_chars or share < settings.cjk_min_doubtful_share \
            or line.confidence >= settings.cjk_max_confidence:
        return
    if ctx.shared(foreign_script, line.box, line.text) is not None:  # Japanese kana, or Korean read as CJK
        other_script(ctx, line.text, line.box)
        return
    yield Issue(
        message=f"pseudo-characters {line.text[:20]!r}: {share:.0%} of its {count} CJK characters read as no known character",
        region=region_of(line.box),
        confidence=round(float(share), 3),
        measurements={"text": line.text, "script": "cjk", "ocr_confidence": round(line.confidence, 3),
                      "doubtful_share": round(share, 3), "letters": count,
                      "text_height": round(line.text_height, 1), "engine": engine},
    )


def _malformed_letters(ctx, result, lines: list[OcrLine], dictionary, settings: GarbledSettings) -> Iterator[Issue]:
    """Known words of ``lines`` whose glyphs both readers find fault with (rules/text/glyphs.py).
    The second reader reads only lines with a word whose recogniser doubt alone could reach
    ``malformed_min_confidence`` (the combined score is at most the doubt's share): the same
    findings as reading every line, at the cost of Tesseract on the few doubtful lines."""
    table = calibration()
    params = ocr_params(settings)
    index = {id(line): i for i, line in enumerate(result.lines)}
    for line in lines:
        doubtful = [e for e in glyph_evidence(line, None, dictionary)
                    if share_below(table.combined, share_below(table.doubt, e.doubt)) >= settings.malformed_min_confidence]
        if not doubtful:
            continue
        try:
            second = ctx.shared(second_reading_line, params, index[id(line)])
        except (RuntimeError, ImportError, OSError) as exc:  # Tesseract missing: the rest of the rule stands
            ctx.observe("text.second_reader", f"skipped: {exc}")
            return
        if second is None:
            continue  # no second reading of the line (tilted, or Tesseract read nothing): no evidence
        found = []
        for evidence in glyph_evidence(line, second, dictionary):
            confidence = table.confidence(evidence)
            if confidence < settings.malformed_min_confidence:
                continue
            word = evidence.word
            letter = word.chars[evidence.letter]
            found.append(Issue(
                message=(f"malformed letter in {word.text!r}: the recogniser doubts its {letter.text!r} "
                         f"({letter.confidence:.2f}) and a second reader reads {evidence.second[:30]!r}"),
                region=region_of(word.box),
                confidence=round(confidence, 3),
                measurements={"word": word.text, "kind": "malformed", "letter": evidence.letter,
                              "letter_confidence": round(letter.confidence, 3),
                              "second_reading": evidence.second, "disagreement": round(evidence.disagreement, 3),
                              "text_height": round(line.text_height, 1), "engine": result.engine},
            ))
        if found and not other_script(ctx, line.text, line.box):
            yield from found


def _overlap(a, b) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    return ix * iy / max(1e-6, a.width * a.height)


TEXT002 = Rule(
    code="TEXT002",
    name="text.garbled",
    summary="Garbled pseudo-text that reads as no language",
    check=check_garbled,
    severity=Severity.WARNING,
    settings=GarbledSettings,
    shared_settings=SHARED_OCR_SETTINGS,
    preflight=ocr_engine_missing,
    profiles={
        "lenient": {"detection_side": 736, "min_letters": 8, "max_confidence": 0.55, "min_nonword_share": 0.6, "min_nonwords": 2,
                    "min_text_height": 12.0, "flag_unreadable": False, "cjk_min_doubtful_share": 0.5,
                    "malformed_letters": True, "malformed_min_confidence": 1.0},
        "strict": {"min_letters": 4, "max_confidence": 0.7, "min_nonword_share": 0.5, "min_nonwords": 1,
                   "min_text_height": 0.0, "flag_unreadable": False, "cjk_min_doubtful_share": 0.4,
                   "malformed_letters": True, "malformed_min_confidence": 0.99},
    },
)
