"""The word list kept ready in the cache folder (rules/text/wordlist.py): the same words and
look-ups as pyspellchecker's, read from the cache after the first build, rebuilt when the
entry is damaged, and no error when the folder cannot be written."""
from __future__ import annotations

import os
import random
import time

import pytest

from rules.text import wordlist
from rules.text.wordlist import WordList, built, load_word_list
from rules.text.words import EXTRA_WORD_FREQUENCY, extra_words


@pytest.fixture
def cache(monkeypatch, tmp_path):
    folder = tmp_path / "models"
    monkeypatch.setenv("NOTICER_MODEL_CACHE", str(folder))
    return folder


def _entries(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def pyspellchecker_en():
    """pyspellchecker's English checker with noticer's extra words raised as words.py raises them."""
    from spellchecker import SpellChecker

    checker = SpellChecker(language="en", distance=1)
    counts = checker.word_frequency.dictionary
    checker.word_frequency.load_json({w: EXTRA_WORD_FREQUENCY - counts.get(w, 0) for w in extra_words("en")
                                      if counts.get(w, 0) < EXTRA_WORD_FREQUENCY})
    return checker


def test_the_list_and_its_one_edit_look_up_are_pyspellcheckers(pyspellchecker_en, cache):
    words = load_word_list("en", extra_words("en"), EXTRA_WORD_FREQUENCY)
    assert words.counts == dict(pyspellchecker_en.word_frequency.dictionary)
    assert words.letters == pyspellchecker_en.word_frequency.letters
    assert words.longest == pyspellchecker_en.word_frequency.longest_word_length
    rng = random.Random(7)
    samples = ["helo", "bakry", "LATETEN", "Diffuson", "3.5", "NaN", "inf", "a", "!", "x" * 40, "cafe",
               "Zürich", "don't", "1st", "", "İstanbul", "straße", "lockdown"]
    samples += rng.sample(sorted(words.counts), 150)
    samples += ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz'-") for _ in range(rng.randint(1, 12))) for _ in range(150)]
    differing = [w for w in samples
                 if words.known_one_edit(w) != pyspellchecker_en.known(pyspellchecker_en.edit_distance_1(w))]
    assert differing == []
    assert words.known_one_edit("helo") >= {"hello", "help", "hero"}
    assert "lockdown" in words.counts and words.counts["lockdown"] >= EXTRA_WORD_FREQUENCY  # an extra word


def test_the_second_load_reads_the_cache_and_a_damaged_entry_is_made_again(cache, monkeypatch):
    extra = frozenset({"zzyzxq"})
    first = load_word_list("en", extra, 1000)
    (entry,) = _entries(cache)
    assert entry.startswith("words-en-") and entry.endswith(".marshal")
    assert first.counts["zzyzxq"] == 1000

    def no_build(*args):
        raise AssertionError("built again although cached")

    monkeypatch.setattr(wordlist, "built", no_build)
    again = load_word_list("en", extra, 1000)
    assert again == first

    data = bytearray((cache / entry).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed: the name's digest no longer matches
    (cache / entry).write_bytes(bytes(data))
    monkeypatch.setattr(wordlist, "built", built)
    rebuilt = load_word_list("en", extra, 1000)
    assert rebuilt == first and _entries(cache) == [entry]  # the same content, so the same name


def test_other_extra_words_make_another_entry(cache):
    a = load_word_list("en", frozenset({"zzyzxq"}), 1000)
    b = load_word_list("en", frozenset({"qqxzzy"}), 1000)
    assert "qqxzzy" in b.counts and "qqxzzy" not in a.counts
    assert len(_entries(cache)) == 2


def test_an_unwritable_cache_folder_still_gives_the_list(monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("NOTICER_MODEL_CACHE", str(tmp_path / "a-file" / "models"))
    words = load_word_list("en")
    assert words.counts["the"] > 1_000_000


def test_a_language_pyspellchecker_lacks_is_its_error():
    with pytest.raises(ValueError, match="does not exist"):
        load_word_list("xx")


def test_the_bounds_keep_word_lists_and_graphs_apart(cache):
    """Storing a word list removes only surplus word lists; the graphs' bounds leave word lists alone."""
    from rules.text import model as text_model

    cache.mkdir()
    now = time.time()

    def entry(name: str, days_unused: float) -> str:
        (cache / name).write_bytes(b"x")
        os.utime(cache / name, (now - days_unused * 86400,) * 2)
        return name

    graph = entry("a" * 24 + "-" + "b" * 16 + ".onnx", 1)
    lists = [entry(f"words-en-{k:024x}-{k:016x}.marshal", k) for k in range(1, wordlist.WORDS_CACHE_MAX_ENTRIES + 2)]
    new = load_word_list("en", frozenset({"zzyzxq"}), 1000)
    assert isinstance(new, WordList)
    names = _entries(cache)
    assert graph in names
    kept = [n for n in names if n.endswith(".marshal")]
    assert len(kept) == wordlist.WORDS_CACHE_MAX_ENTRIES
    assert lists[-1] not in kept and lists[-2] not in kept and lists[0] in kept  # the least recently used go

    text_model.prune_cache(cache, keep=cache / graph)  # as storing a graph does
    assert _entries(cache) == names


def test_the_entry_is_the_same_file_whatever_the_process_string_hashing(tmp_path):
    """Two workers (each with its own string hashing) store the same bytes under the same name,
    so they share one entry instead of keeping one each."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    names = []
    for seed in ("1", "2"):
        folder = tmp_path / seed
        env = dict(os.environ, PYTHONHASHSEED=seed, NOTICER_MODEL_CACHE=str(folder))
        subprocess.run([sys.executable, "-c", "from rules.text.words import word_list; word_list('en')"],
                       cwd=root, env=env, check=True)
        names.append(_entries(folder))
    assert len(names[0]) == 1 and names[0] == names[1]
