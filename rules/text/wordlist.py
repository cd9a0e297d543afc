"""pyspellchecker's word list for one language, with noticer's own everyday words added,
loaded once per process and kept ready in the user's cache folder.

pyspellchecker builds its list from a gzipped JSON file in its wheel: for English (160 000
words) that took ~0.22 s of CPU on this machine (parsing 0.10 s, lower-casing and counting
0.08 s), paid by each worker on its first image with lettering: a fifth of a one-image
pre-commit run. The merged list (the same counts, the letters they are written with and
the longest word's length) is kept in Python's ``marshal`` form, which loads in ~0.05 s,
beside the rewritten OCR graphs (``rules.text.model.model_cache_dir``: ``NOTICER_MODEL_CACHE``,
else ``$XDG_CACHE_HOME/noticer/models`` or ``~/.cache/noticer/models``).

An entry is keyed by what the list is made from: pyspellchecker's file (its content), the
words added and their count, this module's code and the Python version (``marshal``'s
format is Python's own). Its name ends with the digest of its content, checked before it is
read: a damaged entry is removed and made again. ``marshal`` trusts what it reads, as the
ONNX Runtime trusts the graphs in the same folder: the folder is the user's own. When the
folder cannot be written the list is built each time, as pyspellchecker builds it.

``WordList.known_one_edit`` gives what pyspellchecker's ``known(edit_distance_1(word))``
gives (``tests/test_text_wordlist.py`` compares them word by word).
"""
from __future__ import annotations

import hashlib
import logging
import marshal
import re
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

log = logging.getLogger(__name__)

WORDS_CACHE_MAX_ENTRIES = 8  # a language or two, for a few versions of the code
_SUFFIX = ".marshal"
# what the cache bounds may remove for this module: its entries and temporary files
_OURS = re.compile(r"words-[a-z_]+-[0-9a-f]{24}-[0-9a-f]{16}\.marshal|tmp\w+\.tmp")


@dataclass(frozen=True)
class WordList:
    """The words of one language (lower case) with how often each is counted."""

    counts: dict[str, int]
    letters: frozenset[str]  # every character of the listed words: what one edit may insert or put instead
    longest: int  # the longest word's length

    def checkable(self, word: str) -> bool:
        """Whether a string is looked up at all (pyspellchecker's rule): not a lone punctuation
        mark, not a number, not more than three letters longer than any listed word."""
        if len(word) == 1 and word in string.punctuation:
            return False
        if len(word) > self.longest + 3:
            return False
        if word.lower() in ("nan", "inf", "infinity"):
            return True
        try:
            float(word)
        except ValueError:
            return True
        return False

    def known(self, words: Iterable[str]) -> set[str]:
        """The words (lower-cased) that are listed."""
        lowered = (w.lower() for w in words)
        return {w for w in lowered if w in self.counts and self.checkable(w)}

    def one_edit(self, word: str) -> set[str]:
        """Every string one deletion, swap of neighbours, replacement or insertion (of a
        listed letter) away from the lower-cased word; the word alone when it is not checkable."""
        w = word.lower()
        if not self.checkable(w):
            return {w}
        splits = [(w[:i], w[i:]) for i in range(len(w) + 1)]
        out = {left + right[1:] for left, right in splits if right}
        out.update(left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1)
        out.update(left + c + right[1:] for left, right in splits if right for c in self.letters)
        out.update(left + c + right for left, right in splits for c in self.letters)
        return out

    def known_one_edit(self, word: str) -> set[str]:
        """Listed words one edit away; the word itself among them when it is listed
        (replacing a letter by itself counts as an edit, as in pyspellchecker)."""
        return self.known(self.one_edit(word))


def built(language: str, extra: frozenset[str], floor: int) -> WordList:
    """The list as pyspellchecker builds it, each of the ``extra`` words (lower case) counted
    at least ``floor`` times."""
    from spellchecker import SpellChecker

    checker = SpellChecker(language=language, distance=1)
    counts = checker.word_frequency.dictionary
    missing = {w: floor - counts.get(w, 0) for w in sorted(extra) if counts.get(w, 0) < floor}
    if missing:
        checker.word_frequency.load_json(missing)  # adds to the counts, in one pass
    frequency = checker.word_frequency
    return WordList(dict(frequency.dictionary), frozenset(frequency.letters), frequency.longest_word_length)


def _source_bytes(language: str) -> bytes | None:
    """pyspellchecker's file for the language (None when there is none: building the list
    then raises pyspellchecker's own error)."""
    import pkgutil

    try:
        return pkgutil.get_data("spellchecker", f"resources/{language.lower()}.json.gz")
    except (FileNotFoundError, OSError):
        return None


def entry_key(language: str, source: bytes, extra: frozenset[str], floor: int) -> str:
    """What the list depends on, hashed (see the module's notes)."""
    key = hashlib.sha256()
    key.update(f"{language}\0{sys.version_info[:2]}\0{marshal.version}\0{floor}\0".encode())
    key.update(hashlib.sha256(source).digest())
    key.update("\n".join(sorted(extra)).encode())
    key.update(Path(__file__).read_bytes())
    return key.hexdigest()[:24]


def _valid(value) -> bool:
    return (isinstance(value, tuple) and len(value) == 3 and isinstance(value[0], dict)
            and isinstance(value[1], str) and isinstance(value[2], int))


def _read_cached(folder: Path, language: str, key: str) -> WordList | None:
    """The list kept under ``key``, or None (``rules.text.model.intact_entry``: a damaged
    entry is removed; so is an intact one that does not hold a list)."""
    from rules.text.model import intact_entry

    entry = intact_entry(folder, f"words-{language}-{key}", _SUFFIX)
    if entry is None:
        return None
    try:
        value = marshal.loads(entry.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        value = None
    if _valid(value):
        return WordList(value[0], frozenset(value[1]), value[2])
    log.info("removing the unreadable word list cache entry %s", entry)
    entry.unlink(missing_ok=True)
    return None


def _store(folder: Path, language: str, key: str, words: WordList) -> None:
    """Keep the list in the cache folder (``rules.text.model.store_entry``: written whole,
    then renamed into place); a folder that cannot be written is no error."""
    from rules.text.model import store_entry

    # the letters in order: a set's order changes with each process's string hashing, and the
    # same list must give the same bytes (the entry's name carries their digest)
    data = marshal.dumps((words.counts, "".join(sorted(words.letters)), words.longest))
    path = folder / f"words-{language}-{key}-{hashlib.sha256(data).hexdigest()[:16]}{_SUFFIX}"
    try:
        store_entry(path, data, ours=_OURS, suffix=_SUFFIX, max_entries=WORDS_CACHE_MAX_ENTRIES)
    except (OSError, UnicodeError) as exc:
        log.info("could not keep the word list in %s (%s)", folder, exc)


def load_word_list(language: str, extra: frozenset[str] = frozenset(), floor: int = 0) -> WordList:
    """The language's list, each of the ``extra`` words counted at least ``floor`` times: from
    the cache when there, else built (and stored). Any error of the cache counts as not cached."""
    from rules.text.model import model_cache_dir

    source = _source_bytes(language)
    if source is None or not re.fullmatch(r"[a-z_]+", language):
        return built(language, extra, floor)
    try:
        folder = model_cache_dir()
        key = entry_key(language, source, extra, floor)
        cached = _read_cached(folder, language, key)
    except OSError as exc:
        log.info("cannot use the word list cache (%s)", exc)
        return built(language, extra, floor)
    if cached is not None:
        return cached
    words = built(language, extra, floor)
    _store(folder, language, key, words)
    return words
