"""Rendered text: misspelled words (TEXT001), garbled pseudo-text (TEXT002), expected text
missing (TEXT003) and badly packed lettering (TEXT004).

All four read the same OCR result, computed once per image through
``ctx.shared(read_text, OcrParams(engine=...))`` (see rules/text/ocr.py); word logic lives
in rules/text/words.py.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from checker.model import Issue, Region, Severity
from checker.rule import Rule
from rules.text.ocr import OcrLine, OcrParams, OcrResult, OcrWord, read_text, second_reading
from rules.text.words import (
    COMMON_FREQUENCY,
    Dictionary,
    best_substring_similarity,
    case_cuts,
    compact_text,
    edit_distance,
    file_stamp,
    gap_cuts,
    is_acronym,
    is_number_or_unit,
    letter_runs,
    load_dictionary,
    normalized_edit_similarity,
    strip_word,
)

DEFAULT_ENGINE = "rapidocr"


def ocr_params(settings) -> OcrParams:
    """The OCR parameters of a TEXT rule's settings: the engine and detection size are family
    settings (`rules.text.engine`, `rules.text.detection_side`), the same for every TEXT rule."""
    return OcrParams(engine=settings.engine, det_side=settings.detection_side)


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


# settings that are shares or OCR confidences (0..1), and counts that cannot be negative
_UNIT_INTERVAL = ("min_confidence", "min_char_confidence", "max_confidence", "min_nonword_share", "min_similarity")
_AT_LEAST = {"min_letters": 1, "min_chars": 2, "min_nonwords": 1, "acronym_letters": 0, "sidecar_max_words": 0,
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


def _region(box) -> Region:
    return Region.from_bounds(box.x0, box.y0, box.x1, box.y1)


def _dictionary(settings, also: frozenset[str] = frozenset()) -> Dictionary:
    """The rule's dictionary: its languages, ``words`` and ``words_file``, and ``also``."""
    dictionary = load_dictionary(tuple(settings.languages), tuple(settings.words), settings.words_file,
                                 file_stamp(settings.words_file))
    if also - dictionary.user_words:
        dictionary = replace(dictionary, user_words=dictionary.user_words | also)
    return dictionary


def _rule_dictionary(ctx, settings) -> Dictionary:
    """A TEXT rule's dictionary for this image: with ``accept_expected_words``, the words the
    image was asked to show are known too."""
    return _dictionary(settings, expected_words(ctx) if settings.accept_expected_words else frozenset())


def expected_words(ctx) -> frozenset[str]:
    """The words of the text this image was asked to show (``expected_text`` in the config,
    the prompt's quoted strings, the sidecar, as TEXT003 finds them), lower-cased: what the
    author asked for is no misspelling, even when no dictionary has it (a band's name, a pun)."""
    return frozenset(run.lower() for _, text in expected_strings(ctx, ExpectedSettings())
                     for run in letter_runs(text))


# ---------------------------------------------------------------- word judgement

@dataclass(frozen=True)
class WordVerdict:
    """What the spelling check concluded about one letter run of an OCR word."""

    text: str
    status: str  # "known", "split", "skipped", "typo", "nonword"
    suggestion: str | None = None
    reason: str = ""


def _allowed_cuts(word: OcrWord, start: int, run: str) -> list[int]:
    cuts = case_cuts(run)
    chars = word.chars[start:start + len(run)] if len(word.chars) >= start + len(run) else ()
    if len(chars) == len(run):
        cuts += gap_cuts([c.box.x0 for c in chars], [c.box.x1 for c in chars], [c.box.height for c in chars])
    return sorted(set(cuts))


def judge_word(word: OcrWord, dictionary: Dictionary, min_letters: int, acronym_letters: int,
               check_acronyms: bool, split_anywhere: bool, skip_mixed_case: bool = False,
               min_char_confidence: float = 0.0) -> list[WordVerdict]:
    """Spelling verdicts for the letter runs of an OCR word (``"Glyph-ByT5"`` has two).

    OCR engines drop spaces (``"worldoceantrdvel"``), so a run that is not a word is first
    split at case changes (``BearInfested``), then into known words at visible gaps, or
    anywhere when ``split_anywhere`` and the whole run is not one edit from a word; failing
    that, the unknown remainder next to known words is judged on its own."""
    token = strip_word(word.text)
    if not token or any(c.isdigit() for c in token) or is_number_or_unit(token):
        return [WordVerdict(token, "skipped", reason="number or unit")]
    runs = letter_runs(token)
    if len(runs) > 1 and any(len(r) < min_letters for r in runs):
        # "Dall-e", "T-shirt", "e-mail": compounds with a fragment are names, not typos
        return [WordVerdict(token, "skipped", reason="compound with a fragment")]
    verdicts: list[WordVerdict] = []
    flat = word.text.replace(" ", "")
    position = 0
    for run in runs:
        start = flat.find(run, position)
        position = max(position, start + len(run)) if start >= 0 else position
        offset = max(start, 0)
        cuts = case_cuts(run)
        if cuts and len(run) >= min_letters and dictionary.knows(run):
            # lettering that mixes cases is still the word it spells (graffiti's fUTURe)
            verdicts.append(WordVerdict(run, "known"))
            continue
        pieces, previous = [], 0
        for cut in cuts + [len(run)]:
            pieces.append((run[previous:cut], offset + previous))
            previous = cut
        for piece, piece_start in pieces:
            verdicts += _judge_run(word, piece, piece_start, dictionary, min_letters, acronym_letters,
                                   check_acronyms, split_anywhere, skip_mixed_case, min_char_confidence)
    return verdicts


def _judge_run(word: OcrWord, run: str, start: int, dictionary: Dictionary, min_letters: int,
               acronym_letters: int, check_acronyms: bool, split_anywhere: bool, skip_mixed_case: bool,
               min_char_confidence: float) -> list[WordVerdict]:
    if len(run) < min_letters:
        return [WordVerdict(run, "skipped", reason="short")]
    if dictionary.knows(run):
        return [WordVerdict(run, "known")]
    if skip_mixed_case and any(c.isupper() for c in run[1:]) and any(c.islower() for c in run):
        return [WordVerdict(run, "skipped", reason="mixed case (a name or brand)")]
    chars = word.chars[start:start + len(run)] if len(word.chars) >= start + len(run) else ()
    if chars and min(c.confidence for c in chars) < min_char_confidence:
        return [WordVerdict(run, "skipped", reason="unsure letters")]
    visible = _allowed_cuts(word, start, run)
    if visible:
        # a visible gap is a word boundary the engine did not mark, when what it leaves
        # on each side is a word (or too short to judge): "isn" is "is n..."
        pieces, previous = [], 0
        for cut in visible + [len(run)]:
            pieces.append(run[previous:cut])
            previous = cut
        if all(len(p) < min_letters or dictionary.knows(p) for p in pieces):
            return [WordVerdict(p, "known" if len(p) >= min_letters else "skipped",
                                reason="" if len(p) >= min_letters else "short") for p in pieces]
        unknown = [p for p in pieces if len(p) >= min_letters and not dictionary.knows(p)]
        one_typo = len(unknown) == 1 and bool(dictionary.near_words(unknown[0]))
        if split_anywhere and not one_typo and not dictionary.near_words(run):
            anywhere = dictionary.segments(run, None, min_frequency=COMMON_FREQUENCY)
            if anywhere:  # the gaps were misplaced, the words are there
                return [WordVerdict(run, "split", reason=" ".join(anywhere))]
        if sum(len(p) >= min_letters for p in pieces) >= 2:
            # several words run together: judge each on its own ("MARKVET|KITCHEN")
            verdicts = []
            for p in pieces:
                if len(p) < min_letters or dictionary.knows(p):
                    verdicts.append(WordVerdict(p, "known" if len(p) >= min_letters else "skipped"))
                else:
                    verdicts += _judge_run(OcrWord(p, word.box, word.confidence, ()), p, 0, dictionary,
                                           min_letters, acronym_letters, check_acronyms, split_anywhere,
                                           skip_mixed_case, min_char_confidence)
            return verdicts
    near_word = bool(dictionary.near_words(run))
    if split_anywhere and not near_word:
        pieces = dictionary.segments(run, None, min_frequency=COMMON_FREQUENCY)
        if pieces:
            return [WordVerdict(run, "split", reason=" ".join(pieces))]
    if not near_word and len(run) >= 2 * min_letters:
        # cut anywhere, a rare short piece is found by chance inside pseudo-text (SAGS and
        # ILA in SAGSILASESS): as for whole splits, short pieces must be common words
        parts = dictionary.partial_segments(run, None if split_anywhere else visible, max(4, min_letters),
                                            min_frequency=COMMON_FREQUENCY if split_anywhere else 1)
        unknown = [p for p, known in parts if not known]
        if len(parts) > 1 and len(unknown) == 1:
            piece = unknown[0]
            return [WordVerdict(p, "known") for p, known in parts if known] + \
                _judge_unknown(piece, dictionary, acronym_letters, check_acronyms)
    return _judge_unknown(run, dictionary, acronym_letters, check_acronyms)


def _judge_unknown(run: str, dictionary: Dictionary, acronym_letters: int, check_acronyms: bool) -> list[WordVerdict]:
    acronym = is_acronym(run, acronym_letters)
    if acronym and not check_acronyms:
        return [WordVerdict(run, "skipped", reason="acronym")]
    # an acronym is taken for a typo only when a word at least as long is one edit away
    # (FRE for FIRE, SAEL for SALE): a letter dropped from an acronym leaves some short
    # word too often (USA -> US, CEO -> CE, NBA -> NA)
    if acronym and not any(len(w) >= len(run) for w in dictionary.near_words(run)):
        return [WordVerdict(run, "skipped", reason="acronym")]
    suggestion = dictionary.suggestion(run)
    if suggestion is None:
        return [WordVerdict(run, "nonword")]
    return [WordVerdict(run, "typo", suggestion=_match_case(suggestion, run))]


# A word whose box comes this close to the image's left or right edge, in its own heights
# (a letter gap, and the slack of the detector's box around the ink: 6 px at 43 px), may go
# on past it: a photo or a crop cut the sign (VERNM of GOVERNMENT, 0.10 and 0.13 of its
# height from the edges). Big lettering on a small picture comes this close too (the
# shirt's FRE, 0.17): it is judged as a part of a word only on the side(s) it nears.
FRAME_MARGIN = 0.25


def frame_cuts(word: OcrWord, image_width: int) -> tuple[bool, bool]:
    """Whether ``word`` may have lost letters to the image's left edge, and to its right edge."""
    margin = 2.0 + FRAME_MARGIN * word.box.height
    return word.box.x0 <= margin, word.box.x1 >= image_width - margin


def framed_verdicts(verdicts, word: OcrWord, image_width: int, dictionary: Dictionary) -> list[WordVerdict]:
    """``verdicts`` of ``word``, where the first or last run, when the image's edge may have
    cut it and it is the visible part of a common word, is no typo nor pseudo-text: a
    cropped GOVERNMENT shows VERNM, which is nobody's misspelling."""
    verdicts = list(verdicts)
    before, after = frame_cuts(word, image_width)
    if not (before or after):
        return verdicts
    for i, verdict in enumerate(verdicts):
        cut_before, cut_after = before and i == 0, after and i == len(verdicts) - 1
        if verdict.status not in ("typo", "nonword") or not (cut_before or cut_after):
            continue
        whole = dictionary.completion(verdict.text, cut_before, cut_after)
        if whole:
            verdicts[i] = WordVerdict(verdict.text, "skipped", reason=f"cut by the image's edge (of {whole!r}?)")
    return verdicts


def _match_case(suggestion: str, original: str) -> str:
    if original.isupper():
        return suggestion.upper()
    if original[:1].isupper():
        return suggestion[:1].upper() + suggestion[1:]
    return suggestion


def _readable(line: OcrLine, word: OcrWord, min_confidence: float, min_text_height: float) -> bool:
    return word.confidence >= min_confidence and line.text_height >= min_text_height


# ---------------------------------------------------------------- TEXT001

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
        acronyms (lenient 5, strict 3) and are only flagged, with check_acronyms, when one
        edit from a word at least as long (FRE for FIRE, SAEL for SALE; USA is not taken
        for US). In lenient CVPR passes; strict judges it as a word. Common acronyms (USA,
        FBI, CEO, DIY, BBQ, ...) are in noticer's own word list.
        split_anywhere: run-together words that split into common words pass (lenient);
        strict only splits at visible gaps and case changes.
        skip_mixed_case: words like ZImage or ComfyUI are taken as names (lenient).
        min_char_confidence: skip words with a letter the OCR is unsure of (lenient 0.6),
        which are more often misreadings of odd fonts than misspellings.
        accept_expected_words: the words of the text the image was asked to show (see
        TEXT003: the config's `expected-text`, the prompt's quoted strings, the sidecar)
        count as known: a prompt that asks for "Rockdown" wants ROCKDOWN. On by default.

    Known limits
        Numbers, units, and words with digits are skipped. Names, brands and acronyms one
        edit from a common word (a pun such as PARTI, NASA next to "nasal") are flagged
        unless listed in `words` or asked for by the prompt. A typo that makes another real
        word (IMAGES for IMAGINE) is not a misspelling: TEXT003 catches it when the intended
        text is known. A line of three or more words none of which is a word is left to
        TEXT002 (pseudo-text, not typos). OCR misreadings of unusual fonts can be reported;
        the engine can misread a malformed letter as the right one (FIRL read as FIRE) and
        miss the typo. A word that reaches the image's left or right edge (within a quarter
        of its height) and is the visible part of a common word is taken as cut by the
        crop, not misspelled (VERNM, of GOVERNMENT); a typo there that is also such a part
        (the end of a word on the left edge, the start of one on the right) is missed.
    """
    result = ocr(ctx, settings)
    if not result.lines:
        return
    dictionary = _rule_dictionary(ctx, settings)
    width = ctx.rgb.shape[1]
    for line in result.lines:
        if wordless_line(line, dictionary, width):
            continue  # pseudo-text, not misspelled words: TEXT002 reports it
        for word in line.words:
            if not _readable(line, word, settings.min_confidence, settings.min_text_height):
                continue
            verdicts = judge_word(word, dictionary, settings.min_letters, settings.acronym_letters,
                                  settings.check_acronyms, settings.split_anywhere,
                                  settings.skip_mixed_case, settings.min_char_confidence)
            for verdict in framed_verdicts(verdicts, word, width, dictionary):
                if verdict.status != "typo":
                    continue
                yield Issue(
                    message=f"misspelled word {verdict.text!r} (did you mean {verdict.suggestion!r}?)",
                    region=_region(word.box),
                    confidence=round(float(word.confidence), 3),
                    measurements={
                        "word": verdict.text,
                        "suggestion": verdict.suggestion,
                        "edit_distance": edit_distance(verdict.text.lower(), verdict.suggestion.lower()),
                        "ocr_confidence": round(float(word.confidence), 3),
                        "text_height": round(line.text_height, 1),
                        "line": line.text,
                        "engine": result.engine,
                    },
                )


# ---------------------------------------------------------------- TEXT002

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
    flag_unreadable: bool = False  # also report detected lettering that reads as nothing
    min_nonwords: int = 2  # non-word runs a line needs to be garbled by its share
    accept_expected_words: bool = True  # words of the text the image was asked to show are known

    def __post_init__(self) -> None:
        validate_text_settings(self)


# a line of at least this many words, none of them a word, is pseudo-text ("Thr qolwe
# ebnrt skaljhe mpo"): TEXT002 reports it, TEXT001 does not list its words as misspellings
WORDLESS_MIN_WORDS = 3


@functools.lru_cache(maxsize=4096)
def plain_verdicts(word: OcrWord, dictionary: Dictionary, image_width: int) -> tuple[WordVerdict, ...]:
    """A word's verdicts with the plain settings the line measures use (3+ letters, acronyms
    judged, split anywhere), a word cut by the image's edge framed (``framed_verdicts``):
    computed once per word for TEXT001's and TEXT002's checks of a line."""
    return tuple(framed_verdicts(judge_word(word, dictionary, 3, 0, True, True), word, image_width, dictionary))


def wordless_line(line: OcrLine, dictionary: Dictionary, image_width: int) -> bool:
    """Whether ``line`` has ``WORDLESS_MIN_WORDS`` or more words of 3+ letters, none of them
    a known word (nor splits into known words, nor is a common word cut by the image's
    edge), and fewer than half of them typos of common words (``_typo_of_a_common_word``);
    numbers and short words are left out. Each word of pseudo-text alone may be one or two
    edits from some word, as most short strings are (Thr, mpo), but a line of typos of
    common words (FRSH BRAED DAILLY) is misspelled, not pseudo-text."""
    judged = unknown = typos = 0
    for word in line.words:
        verdicts = [v for v in plain_verdicts(word, dictionary, image_width) if v.status != "skipped"]
        if not verdicts:
            continue
        judged += 1
        unknown += any(v.status in ("typo", "nonword") for v in verdicts)
        typos += any(_typo_of_a_common_word(v, dictionary) for v in verdicts)
    return judged >= WORDLESS_MIN_WORDS and unknown == judged and 2 * typos < judged


# letters a word needs before its correction says it is a typo rather than pseudo-text:
# nearly every string of three is one edit from a common word (Thr, Oas, Hme: the, was, he)
TYPO_EVIDENCE_LETTERS = 4


def _typo_of_a_common_word(verdict: WordVerdict, dictionary: Dictionary) -> bool:
    """Whether ``verdict`` is a typo of 4+ letters whose correction is a common word about as
    long (FRSH for FRESH, DAILLY for DAILY; not ebnrt for the rare EBERT, nor Thr for THE)."""
    return (verdict.status == "typo" and len(verdict.text) >= TYPO_EVIDENCE_LETTERS and bool(verdict.suggestion)
            and len(verdict.suggestion) >= len(verdict.text) - 1
            and dictionary.knows(verdict.suggestion, COMMON_FREQUENCY))


def nonword_share(line: OcrLine, dictionary: Dictionary, image_width: int) -> tuple[float, int, int]:
    """Share of a line's letters in runs of 3+ letters that are neither words, nor
    run-together words, nor one edit from a word, nor a common word cut by the image's edge;
    the line's letter count; and the number of such non-word runs."""
    letters = 0
    bad = 0
    runs = 0
    for word in line.words:
        for verdict in plain_verdicts(word, dictionary, image_width):
            n = len(verdict.text)
            letters += n
            # two edits from the nearest word ("Deligut" for "Delight") reads as garbage too
            if verdict.status == "nonword" or (verdict.status == "typo" and not dictionary.near_words(verdict.text)):
                bad += n
                runs += 1
    return (bad / letters if letters else 0.0), letters, runs


def check_garbled(ctx, settings: GarbledSettings) -> Iterator[Issue]:
    """
    What it detects
        Lines that look like lettering but read as no language: OCR reads them with low
        confidence, most of their letters form runs that are not words nor near any word
        (`CIEFLIEEELENIN SAGSILASESS`), or none of their three or more words is a word
        (`Thr qolwe ebnrt skaljhe mpo`, where each alone is near some short word). In
        strict mode also detected text regions that yield no readable string at all.

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
        min_text_height: smaller lettering is ignored (lenient 12 px, strict 0).
        flag_unreadable: report detected text regions with no readable string (strict).
        languages / words / words_file / accept_expected_words: as for TEXT001.

    Known limits
        Script and decorative fonts can read badly and look garbled; foreign words count as
        non-words unless their language is listed. Tiny text is ignored by the lenient profile.
        A word cut by the image's left or right edge that is part of a common word is no
        non-word (as for TEXT001). The evidence is what OCR reads, not the shape of each
        glyph: a malformed letter that both engines read as the letter it imitates (a
        flame-lettered FIRE whose E trails off like an L) goes unflagged.
    """
    result = ocr(ctx, settings)
    if not result.gate_passed:
        return
    dictionary = _rule_dictionary(ctx, settings)
    width = ctx.rgb.shape[1]
    read_boxes = []
    for line in result.lines:
        read_boxes.append(line.box)
        if line.text_height < settings.min_text_height:
            continue
        share, letters, runs = nonword_share(line, dictionary, width)
        if letters < settings.min_letters:
            continue
        low_confidence = line.confidence < settings.max_confidence
        wordless = wordless_line(line, dictionary, width)
        if low_confidence or wordless or (share >= settings.min_nonword_share and runs >= settings.min_nonwords):
            why = (f"read with confidence {line.confidence:.2f}" if low_confidence else
                   "none of its words is a word" if wordless else f"{share:.0%} of its letters form no word")
            yield Issue(
                message=f"garbled lettering {line.text[:40]!r}: {why}",
                region=_region(line.box),
                confidence=round(float(max(1 - line.confidence, share)), 3),
                measurements={"text": line.text, "ocr_confidence": round(line.confidence, 3),
                              "nonword_share": round(share, 3), "letters": letters,
                              "text_height": round(line.text_height, 1), "engine": result.engine},
            )
    if settings.flag_unreadable:
        for box in result.candidate_boxes:
            if box.height < settings.min_text_height or box.width < 2 * box.height:
                continue
            if any(_overlap(box, rb) > 0.5 for rb in read_boxes):
                continue
            yield Issue(message="text-like region that reads as nothing", region=_region(box),
                        confidence=0.5, measurements={"text_height": round(box.height, 1), "engine": result.engine})


def _overlap(a, b) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    return ix * iy / max(1e-6, a.width * a.height)


# ---------------------------------------------------------------- TEXT003

@dataclass(frozen=True)
class ExpectedSettings:
    engine: str = DEFAULT_ENGINE
    detection_side: int = 960
    min_similarity: float = 0.8  # normalized edit similarity below this is reported
    use_prompt: bool = True  # quoted strings of the generation prompt
    use_sidecar: bool = True  # <image>.txt next to the image
    # an unquoted sidecar of one line and at most this many words is the text to show
    # ("Grand Opening"); a longer one is a caption or a prompt: only its quoted strings count
    sidecar_max_words: int = 4

    def __post_init__(self) -> None:
        validate_text_settings(self)


def expected_strings(ctx, settings: ExpectedSettings) -> tuple[tuple[str, str], ...]:
    """(source, text) pairs of text the image should show: config entry, prompt quotes, sidecar."""
    from checker.metadata import parse_a1111, quoted_strings

    found: list[tuple[str, str]] = [("config", t) for t in (ctx.expected_text or ()) if t.strip()]
    if settings.use_prompt:
        found += [("prompt", t) for t in ctx.metadata.quoted_text]
    if settings.use_sidecar and ctx.sidecar_text:
        sidecar = ctx.sidecar_text.strip()
        if "Negative prompt:" in sidecar:  # a copy of A1111's parameters: the positive prompt only
            sidecar = parse_a1111(sidecar)[0] or ""
        quoted = quoted_strings(sidecar)
        if quoted:
            found += [("sidecar", t) for t in quoted]
        elif sidecar and "\n" not in sidecar and len(sidecar.split()) <= settings.sidecar_max_words:
            found.append(("sidecar", sidecar))
    unique: dict[str, tuple[str, str]] = {}
    for source, text in found:
        unique.setdefault(compact_text(text), (source, text))
    return tuple(v for k, v in unique.items() if k)


def expected_text_match(expected: str, read: str) -> tuple[float, bool, str]:
    """(normalized edit similarity, exact match, best-matching read substring) of expected
    text against everything read, compared without case, accents, punctuation and spaces."""
    want = compact_text(expected)
    have = compact_text(read)
    similarity, match = best_substring_similarity(want, have)
    return similarity, want in have, match


def lines_holding(lines: tuple[OcrLine, ...], match: str) -> list[OcrLine]:
    """The lines a best match found by ``expected_text_match`` (in the compact form of all
    lines' text, in reading order) comes from: each line's compact text follows the last."""
    if not match:
        return []
    compact = [compact_text(line.text) for line in lines]
    start = "".join(compact).find(match)
    if start < 0:
        return []
    end, out, offset = start + len(match), [], 0
    for line, piece in zip(lines, compact):
        if piece and offset < end and offset + len(piece) > start:
            out.append(line)
        offset += len(piece)
    return out


def check_expected(ctx, settings: ExpectedSettings) -> Iterator[Issue]:
    """
    What it detects
        Text the image was asked to show that the image does not show, or shows
        misspelled. The text comes from the config's `expected-text` table (globs to text),
        the quoted strings of the prompt in the file's metadata (A1111, ComfyUI, ...; not the
        negative prompt, nor quotes after "in the style of" or "by"), and a sidecar beside
        the image (`poster.txt` or `poster.png.txt`): its quoted strings, or the whole of a
        short one ("Grand Opening"). Measured as normalized edit similarity
        (1 - edit distance / longer length) and exact match, as AnyText and TextDiffuser do.

    Why people notice
        The sign says `LATETEN DIFFUSION` when it should say `Latent Diffusion`, or a word
        asked for is missing: the author sees it at once; viewers see a misspelling.

    Settings
        engine: OCR engine for all TEXT rules.
        min_similarity: report below this similarity (lenient 0.8, strict 0.95).
        use_prompt / use_sidecar: where expected text may come from (config always counts).
        sidecar_max_words: an unquoted one-line sidecar of at most this many words (4) is
        the text itself; a longer one is a caption or a prompt, whose quoted strings count.

    Known limits
        Case, punctuation and spaces are ignored. OCR misreadings of script or decorative
        fonts lower the similarity of correct renderings; text split across distant places
        in the image is matched in reading order only.
    """
    wanted = expected_strings(ctx, settings)
    if not wanted:
        return
    result = ocr(ctx, settings)
    read = " ".join(line.text for line in result.lines)
    for source, text in wanted:
        similarity, exact, match = expected_text_match(text, read)
        if similarity >= settings.min_similarity:
            continue
        holding = lines_holding(result.lines, match)
        if holding:
            shown = f"closest reading {' / '.join(line.text for line in holding)!r}"
        else:
            shown = "no text read" if not result.lines else "nothing like it read"
        region = None
        if holding:
            region = Region.from_bounds(min(line.box.x0 for line in holding), min(line.box.y0 for line in holding),
                                        max(line.box.x1 for line in holding), max(line.box.y1 for line in holding))
        yield Issue(
            message=f"expected text {text!r} (from {source}) not shown: {shown}, similarity {similarity:.2f}",
            region=region,
            confidence=round(1.0 - similarity, 3),
            measurements={"expected": text, "source": source, "read": read[:200], "closest": match,
                          "normalized_edit_similarity": round(similarity, 4), "exact_match": exact,
                          "engine": result.engine},
        )


# ---------------------------------------------------------------- TEXT004

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

    def __post_init__(self) -> None:
        validate_text_settings(self)
        if self.gap_jump <= 0 or self.baseline_jump <= 0:
            raise ValueError("gap_jump and baseline_jump must be positive")


@dataclass(frozen=True)
class PackingJump:
    kind: str  # "gap" or "baseline"
    index: int  # character index in the word (the letter after the gap, or the jumping letter)
    size: float  # in line heights (gap) or letter heights (baseline)


def gap_jumps(lefts: np.ndarray, rights: np.ndarray, height: float, gap_jump: float,
              ignore: frozenset[int] = frozenset()) -> list[PackingJump]:
    """Gaps between neighbouring characters wider than the word's usual gap by more than
    ``gap_jump`` x ``height``; ``ignore`` lists positions (index of the letter after the gap)
    where a space may belong."""
    if len(lefts) < 3 or height <= 0:
        return []
    gaps = lefts[1:] - rights[:-1]
    usual = float(np.median(gaps))
    jumps = []
    for i, g in enumerate(gaps, 1):
        excess = (g - usual) / height
        if excess > gap_jump and i not in ignore:
            jumps.append(PackingJump("gap", i, round(float(excess), 3)))
    return jumps


def baseline_jumps(centers: np.ndarray, bottoms: np.ndarray, letter_height: float, baseline_jump: float,
                   letters: str = "") -> list[PackingJump]:
    """Letters whose lower edge leaves the straight line fitted through the word's other
    lower edges by more than ``baseline_jump`` x ``letter_height`` (descenders excluded)."""
    usable = [k for k in range(len(bottoms)) if not letters or letters[k] not in "gjpqyQ,;"]
    if len(usable) < 4 or letter_height <= 0:
        return []
    x, y = centers[usable], bottoms[usable]
    jumps = []
    for pos, k in enumerate(usable):
        others = [j for j in range(len(usable)) if j != pos]
        fit = np.polyfit(x[others], y[others], 1)
        off = abs(y[pos] - np.polyval(fit, x[pos])) / letter_height
        if off > baseline_jump:
            jumps.append(PackingJump("baseline", int(k), round(float(off), 3)))
    return jumps


def _space_positions(letters: str, dictionary: Dictionary) -> frozenset[int]:
    """Positions in a run of letters where a space would leave known words on both sides
    (OCR often drops spaces, and a word gap is not a packing fault)."""
    out = set(case_cuts(letters))
    for cut in range(1, len(letters)):
        if dictionary.segments(letters, [cut]) or (dictionary.segments(letters[:cut]) and dictionary.segments(letters[cut:])):
            out.add(cut)
    return frozenset(out)


def neighbour_words(lines: tuple[OcrLine, ...]) -> list[tuple[OcrLine, OcrWord, OcrWord]]:
    """Pairs of words side by side: within a line, and across two detected lines on the
    same row when the second starts within one line height of the first's end, or overlaps
    it by up to half a line height with the same top and bottom (the detector pads its
    boxes: the two pieces of a word split apart were seen to overlap by a quarter of the
    line's height)."""
    pairs = [(line, a, b) for line in lines for a, b in zip(line.words, line.words[1:])]
    for first in lines:
        for second in lines:
            if first is second or not first.words or not second.words:
                continue
            overlap = min(first.box.y1, second.box.y1) - max(first.box.y0, second.box.y0)
            gap = second.box.x0 - first.box.x1
            height = first.text_height
            # boxes that overlap much must also be of one size on one row: a letter dropped
            # off the baseline gets a box of its own, taller and lower (PHARM|ACY)
            aligned = (abs(first.box.y1 - second.box.y1) <= 0.25 * height
                       and abs(first.box.y0 - second.box.y0) <= 0.25 * height)
            if overlap > 0.6 * min(first.box.height, second.box.height) and gap <= height and \
                    (gap >= -0.2 * height or (gap >= -0.5 * height and aligned)):
                pairs.append((first, first.words[-1], second.words[0]))
    return pairs


def split_words(lines: tuple[OcrLine, ...], dictionary: Dictionary, settings: PackingSettings,
                engine: str) -> Iterator[Issue]:
    """Neighbouring words that only make a word together (`SENT ENCE`): a gap inside a word
    wide enough that the OCR engine read it as a space."""
    for line, left, right in neighbour_words(lines):
        if line.text_height < settings.min_text_height:
            continue
        a, b = strip_word(left.text), strip_word(right.text)
        if not (a.isalpha() and b.isalpha()) or min(left.confidence, right.confidence) < settings.min_confidence:
            continue
        if len(a) + len(b) < settings.min_chars or (dictionary.knows(a) and dictionary.knows(b)):
            continue
        if not dictionary.knows(a + b):
            continue
        gap = (right.box.x0 - left.box.x1) / max(1.0, line.text_height)
        yield Issue(
            message=f"word split apart: {a!r} and {b!r} read as two words, together {a + b!r}",
            region=Region.from_bounds(left.box.x0, min(left.box.y0, right.box.y0), right.box.x1,
                                      max(left.box.y1, right.box.y1)),
            confidence=0.8,
            measurements={"word": f"{a} {b}", "kind": "split", "index": len(a), "size": round(float(gap), 3),
                          "text_height": round(line.text_height, 1), "engine": engine},
        )


# letters a word needs before a second reading may call it split (short words are easily
# misread as two pieces), and how close the two pieces together must be to it
SECOND_READING_MIN_LETTERS = 5
SECOND_READING_MIN_SIMILARITY = 0.85


def split_in_second_reading(word: str, tokens: list[str], dictionary: Dictionary) -> tuple[str, str] | None:
    """The two neighbouring ``tokens`` of a second reading that together make ``word`` (a
    known word of 5 or more letters, read whole by the first reader) when at least one of
    them is no word: ``SENTENCE`` read as ``SENT ENCE``. None when there are none. A split
    into two words (``SUN SET`` for ``SUNSET``) is a word gap the lettering may well have."""
    letters = "".join(c for c in word if c.isalpha())
    if len(letters) < SECOND_READING_MIN_LETTERS or not dictionary.knows(letters):
        return None
    pieces = ["".join(c for c in token if c.isalpha()) for token in tokens]
    pieces = [piece for piece in pieces if piece]
    for a, b in zip(pieces, pieces[1:]):
        if normalized_edit_similarity((a + b).lower(), letters.lower()) < SECOND_READING_MIN_SIMILARITY:
            continue
        if not (dictionary.knows(a) and dictionary.knows(b)):
            return a, b
    return None


def second_reading_gaps(ctx, result: OcrResult, settings: PackingSettings, dictionary: Dictionary,
                        already: set[str]) -> Iterator[Issue]:
    """Words RapidOCR read whole that Tesseract, reading the same line, splits (see
    ``split_in_second_reading``); words in ``already`` were reported by the gap measure."""
    try:
        second = ctx.shared(second_reading, ocr_params(settings))
    except (RuntimeError, ImportError, OSError) as exc:  # Tesseract missing: the rest of the rule stands
        ctx.observe("text.second_reader", f"skipped: {exc}")
        return
    for line, other in zip(result.lines, second):
        if other is None or line.text_height < settings.min_text_height:
            continue
        tokens = [w.text for w in other.words]
        for word in line.words:
            if word.confidence < settings.min_confidence or word.text in already:
                continue
            split = split_in_second_reading(word.text, tokens, dictionary)
            if split is None:
                continue
            a, b = split
            yield Issue(
                message=f"gap inside {word.text!r}: a second reader sees {a!r} and {b!r}",
                region=_region(word.box),
                confidence=0.6,
                measurements={"word": word.text, "kind": "second-reading", "index": len(a),
                              "second_reading": f"{a} {b}", "text_height": round(line.text_height, 1),
                              "engine": result.engine},
            )


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
        min_confidence / min_text_height: skip doubtful and small words.
        languages / words / words_file / accept_expected_words: the words that decide where a
        space may belong (as for TEXT001: `NASAIKEA` read without its space is two names
        once IKEA is in `words`).
        second_reader: (strict) Tesseract re-reads each line RapidOCR read (about 5 ms a
        line, a median 13 ms per corpus image with text); a known word of 5+ letters that
        it reads as two pieces, one of them no word (`SENT ENCE`), is reported. Tesseract
        sees gaps of a few pixels in small lettering that RapidOCR's letter positions are
        too coarse to show.

    Known limits
        RapidOCR only knows roughly where each letter is (its recogniser's time steps);
        noticer measures gaps and baselines on the ink of the line crop instead, which
        letters that touch or overlap confuse. Tesseract (and hybrid) give glyph boxes.
        Touching script letters have no gaps to measure; without the second reader a gap
        smaller than `gap_jump` line heights (SENT ENCE on a small shirt) is missed; the
        second reader now and then splits an evenly set word (1 of 192 small words measured);
        deliberate letter spacing can be reported.
    """
    result = ocr(ctx, settings)
    if not result.lines:
        return
    dictionary = _rule_dictionary(ctx, settings)
    glyph_boxes = settings.check_baseline  # boxes: Tesseract's glyphs, or measured on RapidOCR's line ink
    yield from split_words(result.lines, dictionary, settings, result.engine)
    reported: set[str] = set()
    for line in result.lines:
        if line.text_height < settings.min_text_height:
            continue
        for word in line.words:
            chars = list(word.chars)
            letters = "".join(c.text for c in chars)
            if sum(c.isalpha() for c in letters) < settings.min_chars or word.confidence < settings.min_confidence:
                continue
            if not all(c.isalpha() for c in letters):
                continue  # punctuation and digits have their own spacing
            lefts = np.array([c.box.x0 for c in chars])
            rights = np.array([c.box.x1 for c in chars])
            jumps = gap_jumps(lefts, rights, line.text_height, settings.gap_jump,
                              _space_positions(letters, dictionary))
            if glyph_boxes:
                small = [c.box.height for c in chars if c.text.islower() and c.text not in "bdfhklt"]
                letter_height = float(np.median(small)) if small else float(np.median([c.box.height for c in chars]))
                jumps += baseline_jumps((lefts + rights) / 2, np.array([c.box.y1 for c in chars]),
                                        letter_height, settings.baseline_jump, letters)
            for jump in jumps:
                reported.add(word.text)
                position = f"{letters[:jump.index]}|{letters[jump.index:]}" if jump.kind == "gap" else letters[jump.index]
                yield Issue(
                    message=(f"uneven letter spacing in {word.text!r} at {position!r}" if jump.kind == "gap"
                             else f"letter {position!r} in {word.text!r} leaves the baseline"),
                    region=_region(word.box),
                    confidence=round(min(1.0, jump.size), 3),
                    measurements={"word": word.text, "kind": jump.kind, "index": jump.index,
                                  "size": jump.size, "text_height": round(line.text_height, 1),
                                  "engine": result.engine},
                )
    if settings.second_reader and result.engine == "rapidocr":
        yield from second_reading_gaps(ctx, result, settings, dictionary, reported)


# ---------------------------------------------------------------- declarations

# the OCR stage's settings: every TEXT rule must give the same, so that OCR runs once
SHARED_OCR_SETTINGS = ("engine", "detection_side")


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
                    "split_anywhere": True, "skip_mixed_case": True, "min_char_confidence": 0.6},
        "strict": {"min_confidence": 0.6, "min_text_height": 0.0, "check_acronyms": True, "acronym_letters": 3,
                   "split_anywhere": False, "skip_mixed_case": False, "min_char_confidence": 0.0,
                   "severity": "error"},
    },
)

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
                    "min_text_height": 12.0, "flag_unreadable": False},
        "strict": {"min_letters": 4, "max_confidence": 0.7, "min_nonword_share": 0.5, "min_nonwords": 1,
                   "min_text_height": 0.0, "flag_unreadable": True},
    },
)

TEXT003 = Rule(
    code="TEXT003",
    name="text.expected",
    summary="Text the prompt asked for is missing or misspelled",
    check=check_expected,
    severity=Severity.WARNING,
    settings=ExpectedSettings,
    shared_settings=SHARED_OCR_SETTINGS,
    preflight=ocr_engine_missing,
    profiles={"lenient": {"detection_side": 736, "min_similarity": 0.8}, "strict": {"min_similarity": 0.95, "severity": "error"}},
)

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
        "lenient": {"detection_side": 736, "gap_jump": 0.45, "baseline_jump": 0.3, "min_text_height": 16.0},
        "strict": {"gap_jump": 0.3, "baseline_jump": 0.2, "min_text_height": 0.0, "min_confidence": 0.6,
                   "second_reader": True, "severity": "warning"},
    },
    stability="preview",
)

RULES = (TEXT001, TEXT002, TEXT003, TEXT004)

