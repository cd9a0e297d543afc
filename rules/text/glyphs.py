"""Evidence from the glyphs themselves that a letter is malformed, where the recogniser still
reads the word it imitates (a flame-lettered FIRE whose E trails off like an L, read FIRE):

- doubt: the recogniser's probability of a letter (its CTC time step's), low inside a word
  whose other letters it is sure of;
- disagreement: a second reader that segments glyphs (Tesseract, on the same line crop: the
  ``second_reading`` strict TEXT004 already makes) does not read the word there.

Each is turned into a confidence by its calibration on generated correct signs
(``rules/text/data/glyph_calibration.txt``, written by ``python -m bench.text
--calibrate-glyphs``): the share of the correct signs' words that score lower."""
from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from rules.text.reading import OcrLine, OcrWord
from rules.text.scripts import is_latin_token
from rules.text.words import COMMON_FREQUENCY, Dictionary, normalized_edit_similarity

# plain text (package data ships data/*.txt): a "# " line naming its source, then one line per
# evidence, its name and its sorted scores
CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "glyph_calibration.txt"
# letters a word needs before its glyphs are judged: a short word's second reading is too
# often another short word
MIN_LETTERS = 4


@dataclass(frozen=True)
class GlyphEvidence:
    word: OcrWord
    doubt: float  # 1 - the lowest probability of a letter of the word
    letter: int  # the index of that letter in the word
    disagreement: float | None  # 1 - the best similarity of the second reading there (None: no second reading)
    second: str  # what the second reader read on the line ("" without one)


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def disagreement(word: str, tokens: list[str]) -> float:
    """1 - the best normalized edit similarity of ``word`` (letters only, any case) to a token
    of the second reading, or to two or three neighbouring tokens joined (a second reader
    splits a word where it sees a gap); 1.0 when the second reading has no letters."""
    target = _letters(word)
    pieces = [_letters(t) for t in tokens]
    best = 0.0
    for i in range(len(pieces)):
        for j in range(i + 1, min(len(pieces), i + 3) + 1):
            joined = "".join(pieces[i:j])
            if joined:
                best = max(best, normalized_edit_similarity(target, joined))
    return 1.0 - best


def glyph_evidence(line: OcrLine, second: OcrLine | None, dictionary: Dictionary) -> list[GlyphEvidence]:
    """Evidence for each word of ``line`` that is a common word (``COMMON_FREQUENCY``) of
    ``MIN_LETTERS``+ Latin letters (nothing else: a word read as no word is TEXT001's and TEXT002's), with the
    recogniser's per-letter probabilities."""
    tokens = [w.text for w in second.words] if second is not None else None
    out = []
    for word in line.words:
        chars = word.chars
        letters = "".join(c.text for c in chars)
        if len(chars) < MIN_LETTERS or not letters.isalpha() or not is_latin_token(letters):
            continue
        if not dictionary.knows(letters, COMMON_FREQUENCY):
            # a rare word read is more often two words run together than the word meant
            # ('twas read for "it was" in joined handwriting); generated text is common words
            continue
        k = min(range(len(chars)), key=lambda i: chars[i].confidence)
        out.append(GlyphEvidence(word, 1.0 - float(chars[k].confidence), k,
                                 None if tokens is None else disagreement(letters, tokens),
                                 "" if second is None else second.text))
    return out


@dataclass(frozen=True)
class Calibration:
    """Sorted scores of the words of generated correct signs: each evidence's, and the
    combined score's (``combined_score``) of the words that had a second reading."""

    doubt: tuple[float, ...]
    disagreement: tuple[float, ...]
    combined: tuple[float, ...]
    source: str = ""

    def combined_score(self, evidence: GlyphEvidence) -> float:
        """The smaller of the two evidences' shares of correct words scoring lower: both readers
        must find fault (the recogniser hesitates on a letter, and the second reader does not
        read the word). Either alone is common on correct stylised lettering: script fonts
        and mixed case make the recogniser doubt a letter, flames and photos the second reader
        misread. A word without a second reading scores 0."""
        if evidence.disagreement is None:
            return 0.0
        return min(share_below(self.doubt, evidence.doubt), share_below(self.disagreement, evidence.disagreement))

    def confidence(self, evidence: GlyphEvidence) -> float:
        """The share of correct signs' words whose combined score is lower than this word's."""
        return share_below(self.combined, self.combined_score(evidence))


def share_below(values: tuple[float, ...], score: float) -> float:
    """The share of the sorted ``values`` that are lower than ``score``."""
    return bisect.bisect_left(values, score) / len(values) if values else 0.0


def calibrate(words: list[tuple[float, float | None]], source: str = "") -> Calibration:
    """The calibration from (doubt, disagreement) of correct signs' words (disagreement None:
    no second reading)."""
    doubt = tuple(sorted(d for d, _ in words))
    disagreement = tuple(sorted(s for _, s in words if s is not None))
    partial = Calibration(doubt, disagreement, (), source)
    combined = tuple(sorted(partial.combined_score(GlyphEvidence(None, d, 0, s, "")) for d, s in words if s is not None))
    return Calibration(doubt, disagreement, combined, source)


def write_calibration(calibration_: Calibration, path: Path = CALIBRATION_FILE) -> None:
    rows = [f"# {calibration_.source}"]
    for name in ("doubt", "disagreement", "combined"):
        rows.append(name + " " + " ".join(f"{v:.4f}" for v in getattr(calibration_, name)))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def read_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    source, values = "", {}
    for row in path.read_text(encoding="utf-8").splitlines():
        if row.startswith("#"):
            source = row[1:].strip()
        elif row.strip():
            name, *numbers = row.split()
            values[name] = tuple(float(v) for v in numbers)
    missing = {"doubt", "disagreement", "combined"} - set(values)
    if missing:
        raise ValueError(f"{path}: no {', '.join(sorted(missing))} line (rewrite it with python -m bench.text --calibrate-glyphs)")
    return Calibration(values["doubt"], values["disagreement"], values["combined"], source)


@functools.lru_cache(maxsize=1)
def calibration() -> Calibration:
    """The shipped calibration (``CALIBRATION_FILE``)."""
    return read_calibration()
