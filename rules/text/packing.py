"""Letter rhythm measures for TEXT004: gaps and baseline steps inside a word, words split
apart at a gap read as a space, and a second reader's split of a word read whole."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from checker.model import Issue, Region
from rules.text.ocr import OcrLine, OcrResult, OcrWord, second_reading, second_reading_line
from rules.text.settings import ocr_params
from rules.text.shared import region_of
from rules.text.words import Dictionary, case_cuts, normalized_edit_similarity, strip_word

if TYPE_CHECKING:
    from rules.text.text004 import PackingSettings


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


def space_positions(letters: str, dictionary: Dictionary) -> frozenset[int]:
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


def _splittable(line: OcrLine, dictionary: Dictionary, settings: PackingSettings, already: set[str]) -> bool:
    """Whether ``line`` has a word ``split_in_second_reading`` could report: read with enough
    confidence, not reported yet, a known word of ``SECOND_READING_MIN_LETTERS``+ letters."""
    for word in line.words:
        letters = "".join(c for c in word.text if c.isalpha())
        if word.confidence >= settings.min_confidence and word.text not in already and \
                len(letters) >= SECOND_READING_MIN_LETTERS and dictionary.knows(letters):
            return True
    return False


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
    params = ocr_params(settings)
    limit = settings.second_reader_max_height
    try:
        if limit <= 0:
            second = ctx.shared(second_reading, params)
        else:  # only small lines with a word it could find split (the same reading second_reading gives them)
            second = tuple(ctx.shared(second_reading_line, params, i)
                           if settings.min_text_height <= line.text_height < limit
                           and _splittable(line, dictionary, settings, already) else None
                           for i, line in enumerate(result.lines))
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
                region=region_of(word.box),
                confidence=0.6,
                measurements={"word": word.text, "kind": "second-reading", "index": len(a),
                              "second_reading": f"{a} {b}", "text_height": round(line.text_height, 1),
                              "engine": result.engine},
            )
