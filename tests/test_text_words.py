"""Word logic of the text rules: edit distance, normalisation, dictionary, splitting, and
the per-word spelling verdicts, on hand-made OCR words (no OCR engine needed)."""
from __future__ import annotations

import pytest

from rules.text import judge_word
from rules.text.ocr import Box, OcrChar, OcrWord
from rules.text.words import (
    best_substring_similarity,
    compact_text,
    edit_distance,
    gap_cuts,
    letter_runs,
    load_dictionary,
    normalize_text,
    normalized_edit_similarity,
)

EN = load_dictionary(("en",))


@pytest.mark.parametrize("a,b,d", [
    ("", "", 0), ("fire", "fire", 0), ("fire", "firl", 1), ("latent", "lateten", 3),
    ("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3),
])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


def test_normalized_edit_similarity_is_one_minus_distance_over_longer_length():
    assert normalized_edit_similarity("fire", "fire") == 1.0
    assert normalized_edit_similarity("fire", "firl") == pytest.approx(0.75)
    assert normalized_edit_similarity("cvpr", "cvppr") == pytest.approx(0.8)
    assert normalized_edit_similarity("", "") == 1.0


def test_best_substring_similarity_finds_text_inside_longer_reading():
    similarity, match = best_substring_similarity("open", "welcomeweareopentoday")
    assert similarity == 1.0 and match == "open"
    similarity, match = best_substring_similarity("latentdiffusion", "atetendiffusion")
    assert 0.7 < similarity < 1.0 and match.endswith("diffusion")
    assert best_substring_similarity("open", "")[0] == 0.0


def test_normalisation_ignores_case_accents_punctuation_and_spaces():
    assert normalize_text("  Café,  OPEN!! ") == "cafe open"
    assert compact_text("Flux 2, Now in ComfyUI") == compact_text("FLUX 2 now in comfyui")


def test_letter_runs_keep_apostrophes_inside_words():
    assert letter_runs("Glyph-ByT5") == ["Glyph", "ByT"]
    assert letter_runs("isn't") == ["isn't"]


@pytest.mark.parametrize("word,known", [
    ("fire", True), ("FIRE", True), ("isn't", True), ("Xqzv's", False), ("cats'", True),
    ("firl", False), ("lateten", False),
])
def test_dictionary_knows(word, known):
    assert EN.knows(word) is known


def test_dictionary_suggestion_and_user_words(tmp_path):
    assert EN.suggestion("diffuson") == "diffusion"
    words_file = tmp_path / "words.txt"
    words_file.write_text("# brands\nnoticer zimage\n", encoding="utf-8")
    custom = load_dictionary(("en",), ("Parti",), str(words_file))
    assert custom.knows("PARTI") and custom.knows("ZImage") and custom.knows("noticer")
    assert not EN.knows("parti")


@pytest.mark.parametrize("word,suggestion", [
    ("opne", "open"),  # letters swapped: not the commoner ONE
    ("deight", "delight"),  # the first letter kept: not EIGHT
    ("fre", "free"),  # not the rare anagram FER
    ("braed", "bread"),
    ("diffuson", "diffusion"),
])
def test_suggestions_prefer_swapped_letters_and_the_same_first_letter(word, suggestion):
    assert EN.suggestion(word) == suggestion


def test_a_word_written_without_its_accents_is_known():
    assert EN.knows("Zurich") and EN.knows("cafe") and EN.knows("Zürich")
    assert not EN.knows("Zurichs")


def test_an_edited_words_file_is_read_again(tmp_path):
    import os

    from rules.text.words import file_stamp

    words_file = tmp_path / "words.txt"
    words_file.write_text("zimage\n", encoding="utf-8")
    first = load_dictionary(("en",), (), str(words_file), file_stamp(str(words_file)))
    assert first.knows("ZImage") and not first.knows("comfyui")
    words_file.write_text("zimage comfyui\n", encoding="utf-8")
    os.utime(words_file, ns=(1, 10**18))  # a new stamp even within the clock's resolution
    again = load_dictionary(("en",), (), str(words_file), file_stamp(str(words_file)))
    assert again.knows("ComfyUI")
    assert file_stamp(str(tmp_path / "none.txt")) == file_stamp("") == (0, 0)


def test_everyday_words_missing_from_pyspellchecker_are_known_and_offered():
    """pyspellchecker's English list lacks LOCKDOWN, MATCHA, HOODIE, APP...; noticer's own list
    (rules/text/data/words_en.txt) adds them: known, offered as corrections, split out of
    run-together words, and still less common than common words."""
    for word in ("LOCKDOWN", "Matcha", "hoodie", "apps", "selfie"):
        assert EN.knows(word), word
    assert EN.suggestion("hodie") == "hoodie"
    assert EN.segments("matchalatte", None, min_frequency=500) == ["matcha", "latte"]
    assert EN.frequency("matcha") < EN.frequency("online")
    assert not EN.knows("matchq")


def test_every_extra_word_is_one_pyspellchecker_lacks():
    """The list holds only what is missing (or counted under 100 times) in the installed
    pyspellchecker: a word the list no longer needs fails here, to be removed."""
    from spellchecker import SpellChecker

    from rules.text.words import extra_words

    counts = SpellChecker(language="en").word_frequency.dictionary
    words = extra_words("en")
    assert len(words) > 50
    assert sorted(w for w in words if counts.get(w, 0) >= 100) == []
    assert extra_words("xx") == frozenset()


def test_long_rare_words_split_out_of_a_run_but_short_rare_ones_do_not():
    """Place names are rare in the frequency list (Nashville 90, Tennessee 281): a piece of 7+
    letters needs only to be known, a shorter one must be common (``min_frequency``), or
    pseudo-text would split into rare short words."""
    assert EN.segments("nashvilletennessee", None, min_frequency=500) == ["nashville", "tennessee"]
    assert EN.frequency("nashville") < 500
    rare_short = next(w for w in ("sags", "ila", "yer") if 0 < EN.frequency(w) < 500)
    assert EN.segments(rare_short + "open", None, min_frequency=500) is None


def test_segments_split_run_together_words_only_at_allowed_cuts():
    assert EN.segments("thenext") == ["the", "next"]
    assert EN.segments("thenext", [3]) == ["the", "next"]
    assert EN.segments("thenext", [2]) is None
    assert EN.segments("xqzv") is None


def test_gap_cuts_find_the_wide_gap():
    # five letters 10 px wide, 2 px apart, with a 12 px gap before the fourth
    lefts = [0, 12, 24, 46, 58]
    rights = [10, 22, 34, 56, 68]
    assert gap_cuts(lefts, rights, [20] * 5) == [3]
    assert gap_cuts([0, 12, 24], [10, 22, 34], [20] * 3) == []


def _word(text: str, conf: float = 0.95, gaps: dict[int, float] | None = None, char_conf: float = 0.95) -> OcrWord:
    chars, x = [], 0.0
    for i, c in enumerate(text):
        x += (gaps or {}).get(i, 2.0) if i else 0.0
        chars.append(OcrChar(c, Box(x, 0, x + 10, 20), char_conf))
        x += 10
    return OcrWord(text, Box(0, 0, x, 20), conf, tuple(chars))


LENIENT = dict(min_letters=3, acronym_letters=5, check_acronyms=True, split_anywhere=True,
               skip_mixed_case=True, min_char_confidence=0.6)
STRICT = dict(min_letters=3, acronym_letters=3, check_acronyms=True, split_anywhere=False,
              skip_mixed_case=False, min_char_confidence=0.0)


def _statuses(text, **kwargs):
    return [(v.text, v.status) for v in judge_word(_word(text), EN, **kwargs)]


@pytest.mark.parametrize("text,lenient,strict", [
    ("Welcome", "known", "known"),
    ("Diffuson", "typo", "typo"),
    ("FRE", "typo", "typo"),  # an all-caps short word one edit from FIRE is no acronym
    ("USA", "known", "known"),  # common acronyms are in noticer's own word list
    ("OPNE", "typo", "typo"),  # one swap from OPEN
    ("XQJ", "skipped", "skipped"),  # an unknown acronym no word is near
    ("JXO", "skipped", "skipped"),  # only a shorter word (JO) is one edit away: an acronym
    ("CVPR", "skipped", "typo"),  # acronym far from any word in lenient; strict judges 4+ letters
    ("ZImage", "skipped", "typo"),  # mixed case: a brand name in lenient
    ("Xqzvbnt", "nonword", "nonword"),
    ("2025", "skipped", "skipped"),
    ("Dall-e", "skipped", "skipped"),
])
def test_judge_word_by_profile(text, lenient, strict):
    assert _statuses(text, **LENIENT)[0][1] == lenient
    assert _statuses(text, **STRICT)[0][1] == strict


def test_a_word_in_mixed_case_lettering_is_the_word_it_spells():
    """Graffiti's fUTURe was cut at its case change and UTURe flagged as a typo in strict."""
    assert _statuses("fUTURe", **STRICT) == [("fUTURe", "known")]
    assert _statuses("fUTURe", **LENIENT) == [("fUTURe", "known")]
    assert [s for _, s in _statuses("BearInfested", **STRICT)] == ["known", "known"]  # still two words


def test_run_together_words_split_anywhere_in_lenient_and_only_at_gaps_in_strict():
    assert _statuses("THENEXT", **LENIENT) == [("THENEXT", "split")]
    assert _statuses("ATETEN", **STRICT)[0][1] == "typo"  # "ate ten" needs a visible gap
    gapped = judge_word(_word("THENEXT", gaps={3: 14.0}), EN, **STRICT)
    assert [(v.text, v.status) for v in gapped] == [("THE", "known"), ("NEXT", "known")]


def test_a_run_only_rare_words_are_near_that_splits_into_common_words_lost_a_space():
    """Strict reported "oftimes" (of times, small script lettering) as a typo of the rare
    OFTTIMES; a run one edit from a common word stays a typo, even when it splits."""
    assert _statuses("oftimes", **STRICT) == [("oftimes", "split")]
    assert _statuses("oftimes", **LENIENT) == [("oftimes", "split")]
    assert _statuses("ROCKDOWN", **STRICT) == [("ROCKDOWN", "typo")]  # LOCKDOWN is near: rock down is no way out
    assert _statuses("PARTI", **STRICT)[0][1] == "typo"  # PART is near and common
    assert _statuses("annualy", **STRICT)[0][1] == "typo"


def test_suggestion_keeps_the_case_of_the_word():
    (verdict,) = judge_word(_word("DIFFUSON"), EN, **LENIENT)
    assert verdict.suggestion == "DIFFUSION"


def test_unsure_letters_are_not_judged_in_lenient():
    word = _word("Diffuson", char_conf=0.4)
    assert judge_word(word, EN, **LENIENT)[0].status == "skipped"
    assert judge_word(word, EN, **STRICT)[0].status == "typo"


@pytest.mark.parametrize("word", ["discont", "latenten", "bakry", "helo", "resturant", "statinodis"])
def test_two_edit_lookup_finds_what_applying_one_edit_twice_finds(word):
    """The C look-up gives the same words as pyspellchecker's own two-edit expansion (which
    builds every string two edits away), without its cost."""
    from spellchecker import SpellChecker

    from rules.text.words import EXTRA_WORD_FREQUENCY, extra_words, known_within_two_edits

    checker = SpellChecker(language="en", distance=1)
    counts = checker.word_frequency.dictionary
    checker.word_frequency.load_json({w: EXTRA_WORD_FREQUENCY for w in extra_words("en") if w not in counts})
    assert known_within_two_edits(word, "en") == checker.known(checker.edit_distance_2(word))


def test_two_edit_suggestion_for_a_word_no_single_edit_fixes():
    from rules.text.words import known_within_two_edits

    assert "restaurant" in known_within_two_edits("resturnt", "en")  # two letters missing
    assert EN.suggestion("resturnt") == "return"  # the most frequent word two edits away
    assert EN.suggestion("qzxqzxqzxqzxq") is None
    assert known_within_two_edits("12", "en") == set()


@pytest.mark.parametrize("fragment,before,after,whole", [
    ("VERNM", True, True, "government"),  # both ends cut: any inner part of a common word
    ("ERNMENT", True, False, "government"),  # only the left edge: the end of a word
    ("GOVERNM", False, True, "government"),  # only the right edge: the start of a word
    ("VERNM", True, False, None),  # no common word ends in "vernm"
    ("VERNM", False, True, None),  # nor starts with it
    ("LATETEN", True, True, None),  # a typo is no part of any word
    ("VERNM", False, False, None),  # not at an edge: nothing was cut
])
def test_completion_finds_the_word_an_edge_cut(fragment, before, after, whole):
    assert EN.completion(fragment, before, after) == whole


def test_completion_knows_the_users_words():
    """A brand name the user listed, cut by the edge, is as much a part of a word."""
    mine = load_dictionary(("en",), ("Zorblaxian",))
    assert mine.completion("BLAXI", True, True) == "zorblaxian"
    assert mine.completion("ZORBLA", False, True) == "zorblaxian"
    assert mine.completion("ZORBLA", True, False) is None  # no word ends so
    assert EN.completion("BLAXI", True, True) is None


def test_words_cut_by_the_image_edge_are_no_typos_unless_no_word_holds_them():
    from rules.text import framed_verdicts

    def at(text, x0, image_width=400):
        word = _word(text)
        word = OcrWord(word.text, Box(x0, 0, x0 + word.box.width, 20), word.confidence, word.chars)
        return [v.status for v in framed_verdicts(judge_word(word, EN, **STRICT), word, image_width, EN)]

    assert at("VERNMENT", 30) == ["typo"]  # well inside the image: VERNMENT is a typo
    assert at("VERNMENT", 2) == ["skipped"]  # at the left edge: the end of GOVERNMENT
    assert at("GOVERNM", 400 - 70) == ["skipped"]  # its right end at the right edge
    assert at("RESTAURNAT", 2) == ["typo"]  # at the edge, but no common word ends so
