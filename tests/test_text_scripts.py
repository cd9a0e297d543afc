"""Script awareness: lettering in a script other than Latin is judged only by a reader for
that script (rules/text/scripts.py)."""
from __future__ import annotations

import pytest

from checker.testing import context_from_array, run_rule
from fixtures.text_gen import make_script_case
from rules.text import TEXT001, TEXT002
from rules.text.reading import Box, OcrChar, OcrLine, OcrWord
from rules.text.scripts import (
    ScriptReading,
    installed_script_languages,
    is_latin_token,
    judge_script,
    main_script,
    script_of_char,
    script_shares,
)
from rules.text.text002 import cjk_doubt


@pytest.mark.parametrize("char, script", [("A", "latin"), ("é", "latin"), ("欢", "cjk"), ("の", "cjk"),
                                          ("ラ", "cjk"), ("안", "hangul"), ("Ж", "cyrillic"), ("Λ", "greek"),
                                          ("م", "arabic"), ("ב", "hebrew"), ("क", "devanagari"),
                                          ("7", None), ("!", None)])
def test_script_of_char(char, script):
    assert script_of_char(char) == script


def test_script_shares_count_letters_only():
    assert main_script("欢迎光临 2024") == "cjk"
    assert main_script("Coffee 咖啡店") == "latin"  # six Latin letters, three Han characters
    assert script_shares("१२३ ६") == {}  # Devanagari digits are no letters
    assert main_script("...") is None


def test_only_latin_words_are_the_english_checks_to_judge():
    assert is_latin_token("Café") and is_latin_token("ByT5") and is_latin_token("50%")
    assert not is_latin_token("咖啡") and not is_latin_token("ХЛЕБ") and not is_latin_token("Coffee咖啡")


def _reading(script: str, text: str, confidence: float) -> ScriptReading:
    return ScriptReading(script, {"cyrillic": "rus", "greek": "ell", "cjk": "jpn"}[script], text, confidence)


def test_a_script_model_must_read_its_own_letters_well_above_english():
    greek = _reading("greek", "ΚΑΛΗΜΕΡΑ ΑΘΗΝΑ", 0.96)
    assert judge_script([greek], english=0.89) == greek  # confident: a narrow margin will do
    assert judge_script([greek], english=0.95) is None
    doubtful = _reading("cyrillic", "Пекарня", 0.55)
    assert judge_script([doubtful], english=0.50) is None  # a doubtful reading needs a wide margin
    assert judge_script([doubtful], english=0.30) == doubtful
    # Latin lettering read by the Russian model as look-alikes, or a model's digits and stray marks
    assert judge_script([_reading("cyrillic", "ЕКЕЗН ВКЕАО", 0.89)], english=0.95) is None
    assert judge_script([_reading("cjk", "FRESH BREAD", 0.92)], english=0.2) is None
    assert judge_script([_reading("cyrillic", "2 3 ^^", 0.9)], english=0.1) is None


def _cjk_line(confidences: list[float]) -> OcrLine:
    chars = tuple(OcrChar("字", Box(i * 10, 0, i * 10 + 9, 10), c) for i, c in enumerate(confidences))
    word = OcrWord("字" * len(chars), Box(0, 0, 10 * len(chars), 10), min(confidences), chars)
    return OcrLine(word.text, word.box, min(confidences), (word,), text_height=10.0)


def test_cjk_doubt_is_the_share_of_characters_read_unsure():
    assert cjk_doubt(_cjk_line([1.0, 0.99, 1.0, 1.0])) == (0.0, 4)
    assert cjk_doubt(_cjk_line([0.3, 0.95, 0.5, 0.2])) == (0.75, 4)


needs_models = pytest.mark.skipif(len(installed_script_languages()) < 7,
                                  reason="Tesseract models of other scripts not installed "
                                         "(tesseract-ocr-rus, -ell, -ara, -heb, -hin, -jpn, -kor)")


@needs_models
@pytest.mark.parametrize("script", ["cyrillic", "greek", "arabic", "hebrew", "devanagari", "hangul"])
def test_correct_lettering_in_another_script_is_never_garbled_nor_misspelled(script):
    """Read by RapidOCR as Latin look-alikes (СВЕЖИЙ as CBE>KNV), fragments or nothing, such
    lettering was flagged TEXT001 and TEXT002 in strict; the script's own model now tells it."""
    for seed in range(3):
        case = make_script_case(seed, script)
        ctx = context_from_array(case.image)
        for profile in ("lenient", "strict"):
            found = run_rule(TEXT001, ctx, profile=profile) + run_rule(TEXT002, ctx, profile=profile)
            assert found == [], (script, case.text, profile, [f.message for f in found])


@needs_models
def test_what_was_not_judged_is_in_the_observations():
    ctx = context_from_array(make_script_case(0, "cyrillic").image)
    run_rule(TEXT002, ctx, profile="strict")
    (entry,) = ctx.observations["text.scripts"]
    assert entry["script"] == "cyrillic" and entry["language"] == "rus"


@needs_models
def test_english_is_loaded_once_for_the_script_check_and_the_second_reader():
    """Both read single lines in English (mode 7): one engine, not two copies of the model
    (~70 ms and its memory per worker)."""
    from rules.text.scripts import _line_reader
    from rules.text.tesseract import tesseract_api

    assert _line_reader("eng") is tesseract_api(7)
    assert _line_reader("rus") is not tesseract_api(7)


def test_correct_chinese_is_not_garbled_and_pseudo_characters_are():
    for seed in range(4):
        case = make_script_case(seed, "cjk")
        for profile in ("lenient", "strict"):
            assert run_rule(TEXT002, case.image, profile=profile) == [], (case.text, profile)
    flagged = [bool(run_rule(TEXT002, make_script_case(seed, "cjk", pseudo=True).image, profile="strict"))
               for seed in range(4)]
    assert sum(flagged) >= 2, flagged


def test_a_reading_that_explains_rapidocrs_look_alikes_needs_less_confidence():
    """ΑΘΗΝΑ read by RapidOCR as AOHNA and by the Greek model as ΑΘΗΝΑ at 0.82 (English:
    AQHNA at 0.73): the Greek reading, transliterated, is what RapidOCR read."""
    athens = _reading("greek", "ΑΘΗΝΑ", 0.82)
    assert judge_script([athens], english=0.73, read_text="AOHNA") == athens
    assert judge_script([athens], english=0.73, read_text="SALE") is None


def test_a_short_reading_of_long_lettering_is_no_script():
    """Read on the corpus's Latin lettering, other models gave short readings far above the
    English one (ואו for IMAGES at 0.53): a reading must spell about as many letters."""
    hebrew = ScriptReading("hebrew", "heb", "ואו", 0.53)
    assert judge_script([hebrew], english=0.0, read_text="IMAGES") is None
    assert judge_script([hebrew], english=0.0, read_text="ab") == hebrew
