"""Spelling verdicts on what OCR read: each letter run of a word is known, a typo (with its
correction), a non-word, split into words, or skipped; and the line measures TEXT001 and
TEXT002 share (a line of no words, the share of a line's letters in non-words)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from rules.text.reading import OcrLine, OcrWord
from rules.text.scripts import is_latin_token
from rules.text.words import (
    COMMON_FREQUENCY,
    LONG_PIECE,
    SPLIT_THREE_LETTER_FREQUENCY,
    Dictionary,
    case_cuts,
    gap_cuts,
    is_acronym,
    is_number_or_unit,
    letter_runs,
    strip_word,
)


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
    if not is_latin_token(token):
        return [WordVerdict(token, "skipped", reason="not in Latin script")]
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
    near = dictionary.near_words(run)
    near_word = bool(near)
    if near_word and not any(dictionary.knows(w, COMMON_FREQUENCY) for w in near):
        # only rare words are one edit away (OFTIMES: ofttimes) and the run splits into common
        # words (of times): OCR dropped a space, no letter went wrong
        pieces = dictionary.segments(run, None, min_frequency=COMMON_FREQUENCY)
        if pieces and len(pieces) > 1:
            return [WordVerdict(run, "split", reason=" ".join(pieces))]
    if not near_word:
        # a run of function words (OFTHE, DONOT) is split wherever the profile splits: no
        # misspelling leaves one, and OCR drops the spaces around them most
        pieces = dictionary.segments(run, None, min_frequency=COMMON_FREQUENCY if split_anywhere
                                     else SPLIT_THREE_LETTER_FREQUENCY)
        if pieces and (split_anywhere or all(len(p) < LONG_PIECE for p in pieces)):
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


# a line of at least this many words, none of them a word, is pseudo-text ("Thr qolwe
# ebnrt skaljhe mpo"): TEXT002 reports it, TEXT001 does not list its words as misspellings
WORDLESS_MIN_WORDS = 3


# all-caps runs up to this long are acronyms in the line measures (CVPR, a conference's name,
# was a line of pseudo-text to them), unless one edit from a word at least as long (FRE)
PLAIN_ACRONYM_LETTERS = 4


@functools.lru_cache(maxsize=4096)
def plain_verdicts(word: OcrWord, dictionary: Dictionary, image_width: int) -> tuple[WordVerdict, ...]:
    """A word's verdicts with the plain settings the line measures use (3+ letters, acronyms
    of up to ``PLAIN_ACRONYM_LETTERS`` judged as such, split anywhere), a word cut by the image's edge framed (``framed_verdicts``):
    computed once per word for TEXT001's and TEXT002's checks of a line."""
    return tuple(framed_verdicts(judge_word(word, dictionary, 3, PLAIN_ACRONYM_LETTERS, True, True), word,
                                 image_width, dictionary))


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
