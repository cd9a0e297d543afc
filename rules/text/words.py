"""Words for the text rules: dictionary look-ups, normalisation, edit distance, splitting.

Plain functions on strings. The dictionary is pyspellchecker's word-frequency list (shipped
in its wheel, nothing downloaded), loaded once per process and language
(``rules/text/wordlist.py`` keeps it ready in the cache folder).
"""
from __future__ import annotations

import functools
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from checker.loading import loading_models
from rules.text.wordlist import WordList, load_word_list

# Characters OCR engines put around words that say nothing about spelling.
_EDGE_PUNCTUATION = "\"'`\u2018\u2019\u201c\u201d.,;:!?()[]{}<>-_\u2014\u2013*#~|/\\"
_LETTERS = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*", re.UNICODE)
# a suggestion is chosen among the candidates no more than this many times less frequent
# than the commonest one (see Dictionary.suggestion)
SUGGESTION_FREQUENCY_RATIO = 100
# Pieces of a run-together token this long need only be known words, however rare:
# "NASHVILLETENNESSEE" (Nashville is counted 90 times, Tennessee 281).
LONG_PIECE = 7
# A three-letter piece of a run cut anywhere (no visible gap, no case change) must be a word
# counted this often, a function word (the, was, not, and, you: 1-76 million; ate and ten,
# 68 and 274 thousand): common three-letter words are found by chance inside a misspelling
# (ATETEN, the sign's LATETEN cut by the frame, is no ATE TEN) and dropped spaces are
# mostly around function words (DONOT, THENEXT, OFTHE).
SPLIT_THREE_LETTER_FREQUENCY = 1_000_000
# Short words a run-together token may be split into when no gap shows where the space was
# (longer pieces only need to be known): "MYOLD", "DONOT", "Iam", but not "BA KEY".
SHORT_WORDS = frozenset("a i am an as at be by do go he if in is it me my no of oh on or so to up us we".split())
_UNITS = frozenset("""
    mm cm km kg mg ml kb mb gb tb px pt hz khz mhz ghz kw kwh mph kmh rpm fps dpi ppi am pm
    st nd rd th vs etc inc ltd co
""".split())


def normalize_text(text: str) -> str:
    """Lower-case, accents folded, runs of spaces and punctuation collapsed: the form two
    renderings of the same text share (used for expected-text comparison)."""
    folded = fold_accents(text).lower()
    folded = re.sub(r"[^\w\s]", " ", folded)
    return " ".join(folded.split())


def compact_text(text: str) -> str:
    """``normalize_text`` without spaces: OCR engines often drop or add word gaps."""
    return normalize_text(text).replace(" ", "")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions, each cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalized_edit_similarity(a: str, b: str) -> float:
    """1 - edit distance / longer length (1.0 for identical strings, the NED of AnyText/TextDiffuser)."""
    longer = max(len(a), len(b))
    if longer == 0:
        return 1.0
    return 1.0 - edit_distance(a, b) / longer


def best_substring_similarity(needle: str, haystack: str) -> tuple[float, str]:
    """The best normalized similarity of ``needle`` to any substring of ``haystack``
    (approximate substring match, so expected text is found inside longer read text).
    Returns (similarity, matched substring)."""
    if not needle:
        return 1.0, ""
    if not haystack:
        return 0.0, ""
    n = len(needle)
    # Sellers' algorithm: edit distance of needle against the best-ending substring.
    previous = [0] * (len(haystack) + 1)
    starts_prev = list(range(len(haystack) + 1))
    for i in range(1, n + 1):
        current = [i] + [0] * len(haystack)
        starts = [0] * (len(haystack) + 1)
        for j in range(1, len(haystack) + 1):
            options = (
                (previous[j - 1] + (needle[i - 1] != haystack[j - 1]), starts_prev[j - 1]),
                (previous[j] + 1, starts_prev[j]),
                (current[j - 1] + 1, starts[j - 1]),
            )
            current[j], starts[j] = min(options)
        previous, starts_prev = current, starts
    best_j = min(range(len(haystack) + 1), key=lambda j: (previous[j], -j))
    match = haystack[starts_prev[best_j]:best_j]
    distance = previous[best_j]
    return 1.0 - distance / max(n, len(match), 1), match


def strip_word(token: str) -> str:
    return token.strip(_EDGE_PUNCTUATION)


def letter_runs(token: str) -> list[str]:
    """The alphabetic runs of a token: ``"Glyph-ByT5"`` -> ``["Glyph", "ByT"]``."""
    return _LETTERS.findall(token)


def is_acronym(word: str, max_len: int = 5) -> bool:
    return word.isupper() and len(word) <= max_len


def is_number_or_unit(token: str) -> bool:
    bare = strip_word(token).lower()
    if not bare:
        return True
    if any(c.isdigit() for c in bare):
        return True
    return bare in _UNITS


@dataclass(frozen=True)
class Dictionary:
    """Known words: pyspellchecker's lists for ``languages`` plus user words."""

    languages: tuple[str, ...] = ("en",)
    user_words: frozenset[str] = frozenset()

    def frequency(self, word: str) -> int:
        """How often the word is counted in the languages' lists (user words: very often).
        A word written without the accents its listed form has counts as that form (English
        text writes Zurich and cafe for Zürich and café)."""
        w = word.lower().replace("\u2019", "'")
        if w in self.user_words:
            return 1 << 30
        found = 0
        for lang in self.languages:
            counts = word_list(lang).counts
            found = max(found, counts.get(w, 0), counts.get(_accented(lang).get(w, ""), 0))
        return found

    def knows(self, word: str, min_frequency: int = 1) -> bool:
        if self.frequency(word) >= min_frequency:
            return True
        # possessives and contractions of known words: "Anna's", "cats'", "we'll"
        stem = re.sub(r"['\u2019](s|t|ll|re|ve|d|m)?$", "", word.lower())
        return stem != word.lower() and len(stem) > 1 and self.frequency(stem) >= min_frequency

    @functools.lru_cache(maxsize=4096)
    def near_words(self, word: str) -> frozenset[str]:
        """Known words one edit (or one swap of neighbours) away."""
        w = word.lower()
        out = set()
        for lang in self.languages:
            out |= word_list(lang).known_one_edit(w)
        out |= {uw for uw in self.user_words if edit_distance(uw, w) <= 1}
        return frozenset(out)

    @functools.lru_cache(maxsize=4096)
    def suggestion(self, word: str) -> str | None:
        """The likeliest known word within edit distance 2, or None. Among the candidates at
        least a hundredth as frequent as the commonest: the same letters in another order
        first (OPNE is OPEN, not the commoner ONE), then words that begin with the same
        letter (a first letter is seldom the one gone wrong: Deight is Delight, not Eight),
        then the most frequent. The floor keeps rare words (FER for FRE) out of the way."""
        w = word.lower()
        found: dict[str, int] = {}
        for lang in self.languages:
            words = word_list(lang)
            candidates = words.known_one_edit(w)
            if not candidates and len(w) <= 15:
                candidates = known_within_two_edits(w, lang)
            for cand in candidates - {w}:
                found[cand] = max(found.get(cand, 0), words.counts.get(cand, 0))
        floor = max(found.values(), default=0) / SUGGESTION_FREQUENCY_RATIO
        likely = [c for c, f in found.items() if f >= floor]
        best = max(likely, key=lambda c: (sorted(c) == sorted(w), c[:1] == w[:1], found[c], c), default=None)
        for uw in self.user_words:
            if edit_distance(uw, w) <= 1:
                return uw
        return best

    @functools.lru_cache(maxsize=1024)
    def completion(self, fragment: str, cut_before: bool, cut_after: bool) -> str | None:
        """The commonest word of which ``fragment`` is the part left when the image's edge cut
        the word: its end (``cut_before``: letters lost on the left, ``VERNMENT``), its
        start (``cut_after``: ``GOVERN``), or any inner part (both: ``VERNM``). Only common
        words (``COMMON_FREQUENCY``) and the user's words count; None when there is none."""
        if not (cut_before or cut_after):
            return None
        w = fragment.lower()
        if not w or "\n" in w:
            return None
        # one side: letters on that side; both: a longer word holding it anywhere
        before, after = (r"[^\n]*", r"[^\n]*") if cut_before and cut_after else \
            (r"[^\n]+" if cut_before else "", r"[^\n]+" if cut_after else "")
        pattern = re.compile(r"\n(" + before + re.escape(w) + after + r")\n")
        for words in (_one_per_line(self.user_words), *map(_common_words, self.languages)):
            found = pattern.search(words)
            if found and len(found.group(1)) > len(w):
                return found.group(1)
        return None

    def segments(self, word: str, allowed_cuts: Iterable[int] | None = None,
                 min_frequency: int = 1) -> list[str] | None:
        """Split a run of letters into known words (OCR often drops the space in
        ``"BearInfested"``), cutting only at ``allowed_cuts`` (positions between letters)
        when given. Returns the pieces, or None when no split into known words exists.
        Pieces shorter than three letters must be common short words (``SHORT_WORDS``),
        and three-letter ones function words (``SPLIT_THREE_LETTER_FREQUENCY``), when no
        cuts are given. ``min_frequency`` applies to pieces shorter than
        ``LONG_PIECE``; a longer piece needs only to be known (place names and other
        long words are rare in the list, and pseudo-text does not split into them)."""
        w = word.lower()
        cuts = set(range(1, len(w))) if allowed_cuts is None else {c for c in allowed_cuts if 0 < c < len(w)}
        ends = sorted(cuts | {len(w)})
        best: dict[int, list[str] | None] = {0: []}
        for end in ends:
            for start in [0] + sorted(c for c in cuts if c < end):
                if best.get(start) is None:
                    continue
                piece = w[start:end]
                if len(piece) == 1 and piece not in ("a", "i"):
                    continue
                if allowed_cuts is None and len(piece) < 3 and piece not in SHORT_WORDS:
                    continue
                if allowed_cuts is None and len(piece) == 3 and self.frequency(piece) < SPLIT_THREE_LETTER_FREQUENCY:
                    continue
                if not self.knows(piece, min_frequency if len(piece) < LONG_PIECE else 1):
                    continue
                candidate = best[start] + [piece]
                if best.get(end) is None or len(candidate) < len(best[end]):
                    best[end] = candidate
        return best.get(len(w))


    def partial_segments(self, word: str, allowed_cuts: Iterable[int] | None = None,
                         min_unknown: int = 4, min_frequency: int = 1) -> list[tuple[str, bool]]:
        """Split a run of letters into pieces so that as few letters as possible lie in
        unknown pieces (each at least ``min_unknown`` letters): ``"worldoceantrdvel"`` ->
        world, ocean, (trdvel unknown). Returns (piece, known) pairs in order; ties go to
        fewer pieces. The same piece rules as :meth:`segments` apply to known pieces,
        ``min_frequency`` included."""
        w = word.lower()
        n = len(w)
        cuts = set(range(1, n)) if allowed_cuts is None else {c for c in allowed_cuts if 0 < c < n}
        points = [0] + sorted(cuts) + [n]
        best: dict[int, tuple[int, int, list[tuple[str, bool]]]] = {0: (0, 0, [])}
        for end in points[1:]:
            for start in points:
                if start >= end or start not in best:
                    continue
                piece = w[start:end]
                known = self.knows(piece, min_frequency if len(piece) < LONG_PIECE else 1) and \
                    (len(piece) > 1 or piece in ("a", "i")) and \
                    (allowed_cuts is not None or len(piece) >= 3 or piece in SHORT_WORDS) and \
                    (allowed_cuts is not None or len(piece) != 3 or self.frequency(piece) >= SPLIT_THREE_LETTER_FREQUENCY)
                if not known and len(piece) < min_unknown and not (start == 0 and end == n):
                    continue
                cost_letters, cost_pieces, pieces = best[start]
                candidate = (cost_letters + (0 if known else len(piece)), cost_pieces + 1,
                             pieces + [(word[start:end], known)])
                if end not in best or candidate[:2] < best[end][:2]:
                    best[end] = candidate
        return best[n][2] if n in best else [(word, False)]


def fold_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@functools.lru_cache(maxsize=None)
def _accented(language: str) -> dict[str, str]:
    """The language's listed words that carry accents, by their unaccented spelling (the
    commonest one when several fold alike)."""
    counts = word_list(language).counts
    index: dict[str, str] = {}
    for word in counts:
        if not word.isascii():
            bare = fold_accents(word)
            if bare != word and bare.isascii() and counts[word] > counts.get(index.get(bare, ""), 0):
                index[bare] = word
    return index


# A common word is counted at least this often (a sixth of pyspellchecker's English list:
# "government" is counted 130955 times, "vern" 159): the pieces of run-together words split
# anywhere, the words a word cut by the image's edge may be part of, and the corrections
# that make a line of unknown words a line of typos rather than pseudo-text.
COMMON_FREQUENCY = 500


@functools.lru_cache(maxsize=32)
def _one_per_line(words: frozenset[str]) -> str:
    """``words`` in name order, one per line between newlines: one string a pattern searches."""
    return _newline_joined(sorted(words))


def _newline_joined(words: Iterable[str]) -> str:
    return "\n" + "\n".join(words) + "\n"


@functools.lru_cache(maxsize=None)
def _common_words(language: str) -> str:
    """The language's words counted ``COMMON_FREQUENCY`` times or more, commonest
    first, one per line between newlines: one string a pattern searches in C."""
    counts = word_list(language).counts
    return _newline_joined(sorted((w for w, n in counts.items() if n >= COMMON_FREQUENCY),
                                  key=lambda w: (-counts[w], w)))


@functools.lru_cache(maxsize=None)
def _words_by_length(language: str) -> dict[int, list[str]]:
    buckets: dict[int, list[str]] = {}
    for word in word_list(language).counts:
        buckets.setdefault(len(word), []).append(word)
    return buckets


def known_within_two_edits(word: str, language: str) -> set[str]:
    """Dictionary words at most two edits (insert, delete, replace, swap of neighbours) from
    ``word``: the words pyspellchecker finds by applying its one-edit step twice, which builds
    hundreds of thousands of strings (0.1-1.4 s and up to 400 MB for one 7-15 letter word).
    Here rapidfuzz's Damerau-Levenshtein runs in C over the words of length +-2 (a few ms)."""
    import numpy as np
    from rapidfuzz import process
    from rapidfuzz.distance import DamerauLevenshtein

    if not any(ch.isalpha() for ch in word):
        return set()  # pyspellchecker treats numbers as known; no word is "near" one
    buckets = _words_by_length(language)
    found: set[str] = set()
    for length in range(max(1, len(word) - 2), len(word) + 3):
        bucket = buckets.get(length)
        if not bucket:
            continue
        distances = process.cdist([word], bucket, scorer=DamerauLevenshtein.distance, score_cutoff=2,
                                  dtype=np.int32, workers=1)[0]
        found.update(bucket[i] for i in np.flatnonzero(distances <= 2))
    return found


# How often pyspellchecker's list is taken to hold each of noticer's own everyday words
# (rules/text/data/words_<language>.txt): enough to be split out of run-together words (which
# asks for 500) and to be offered as a correction, still far below common words ("online"
# is counted about 23000 times).
EXTRA_WORD_FREQUENCY = 1000
EXTRA_WORDS_DIR = Path(__file__).with_name("data")


@functools.lru_cache(maxsize=None)
def extra_words(language: str) -> frozenset[str]:
    """noticer's own everyday words for ``language`` that pyspellchecker's list lacks
    (empty when it ships none for that language)."""
    path = EXTRA_WORDS_DIR / f"words_{language}.txt"
    if not path.is_file():
        return frozenset()
    return frozenset(word.lower() for line in path.read_text(encoding="utf-8").splitlines()
                     for word in line.split("#", 1)[0].split())


@functools.lru_cache(maxsize=None)
def word_list(language: str) -> WordList:
    """pyspellchecker's list for ``language`` with noticer's own everyday words counted at
    least EXTRA_WORD_FREQUENCY times, once per process (``rules/text/wordlist.py`` keeps it
    ready in the cache folder: ~0.05 s to load instead of ~0.22 s to build)."""
    with loading_models():  # a worker's first image with lettering waits for it
        return load_word_list(language, extra_words(language), EXTRA_WORD_FREQUENCY)


def file_stamp(path: str) -> tuple[int, int]:
    """(size, modification time) of ``path``, (0, 0) when there is none: passed to
    ``load_dictionary`` so that an edited words file is read again."""
    try:
        stat = os.stat(path) if path else None
    except OSError:
        stat = None
    return (stat.st_size, stat.st_mtime_ns) if stat else (0, 0)


@functools.lru_cache(maxsize=32)
def load_dictionary(languages: tuple[str, ...], words: tuple[str, ...] = (), words_file: str = "",
                    stamp: tuple[int, int] = (0, 0)) -> Dictionary:
    """A Dictionary for the languages, the user's ``words`` and the words in ``words_file``
    (one or more per line, ``#`` starts a comment). Cached per process, by ``stamp`` too
    (``file_stamp(words_file)``)."""
    user = {w.lower() for w in words if w}
    if words_file:
        for line in Path(words_file).expanduser().read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0]
            user.update(w.lower() for w in line.split())
    return Dictionary(languages=tuple(languages), user_words=frozenset(user))


def case_cuts(word: str) -> list[int]:
    """Positions where a lower-case letter is followed by an upper-case one (``OpenSource``)."""
    return [i for i in range(1, len(word)) if word[i - 1].islower() and word[i].isupper()]


def gap_cuts(char_lefts: Sequence[float], char_rights: Sequence[float], heights: Sequence[float],
             factor: float = 1.8) -> list[int]:
    """Positions between characters whose gap is much wider than the word's usual gap:
    where a dropped space most likely was."""
    n = len(char_lefts)
    if n < 2:
        return []
    gaps = [char_lefts[i] - char_rights[i - 1] for i in range(1, n)]
    typical = sorted(gaps)[(len(gaps) - 1) // 2]  # lower median: a short word has one wide gap at most
    height = sorted(heights)[len(heights) // 2] if heights else 0.0
    threshold = max(typical * factor, typical + 0.2 * height, 0.25 * height)  # a space is about a quarter em
    return [i for i, g in enumerate(gaps, 1) if g > threshold]
