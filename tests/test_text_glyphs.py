"""Malformed letters read as the letter they imitate (rules/text/glyphs.py, TEXT002's
malformed-letter check) and the generated signs that measure it (fixtures/text_gen.py)."""
from __future__ import annotations

import numpy as np
import pytest

from checker.testing import context_from_array, run_rule
from fixtures.text_gen import MALFORMED_KINDS, make_malformed_case
from rules.text import TEXT002
from rules.text.glyphs import (
    Calibration,
    GlyphEvidence,
    calibrate,
    calibration,
    disagreement,
    glyph_evidence,
    read_calibration,
    share_below,
    write_calibration,
)
from rules.text.reading import Box, OcrChar, OcrLine, OcrWord
from rules.text.words import load_dictionary


def _word(text: str, confidences: list[float], x0: float = 0.0) -> OcrWord:
    chars = tuple(OcrChar(c, Box(x0 + 10 * i, 0, x0 + 10 * i + 9, 20), p) for i, (c, p) in enumerate(zip(text, confidences)))
    return OcrWord(text, Box(x0, 0, x0 + 10 * len(text), 20), float(np.mean(confidences)), chars)


def _line(*words: OcrWord) -> OcrLine:
    return OcrLine(" ".join(w.text for w in words), Box(0, 0, 200, 20), 0.9, words, text_height=20.0)


# ---------------------------------------------------------------- evidence

def test_disagreement_is_how_far_the_second_reading_is_from_the_word():
    assert disagreement("FIRE", ["FIRE"]) == 0.0
    assert disagreement("Fire", ["fire!"]) == 0.0  # case and punctuation do not count
    assert disagreement("SENTENCE", ["DO", "SENT", "ENCE"]) == 0.0  # a word the second reader splits
    assert disagreement("FIRE", ["ri"]) == pytest.approx(0.75)  # three edits of four letters
    assert disagreement("FIRE", ["|", "—"]) == 1.0  # nothing with letters read
    assert disagreement("FIRE", []) == 1.0


def test_evidence_is_judged_on_known_words_of_four_letters_or_more():
    dictionary = load_dictionary(("en",))
    line = _line(_word("FIRE", [0.97, 0.79, 0.94, 0.92]), _word("XQZW", [0.9, 0.3, 0.9, 0.9], 60),
                 _word("OUT", [0.9, 0.2, 0.9], 120))
    second = _line(_word("ri", [0.9, 0.9]))
    (evidence,) = glyph_evidence(line, second, dictionary)  # XQZW is no word, OUT too short
    assert evidence.word.text == "FIRE"
    assert evidence.letter == 1 and evidence.doubt == pytest.approx(0.21)
    assert evidence.disagreement == pytest.approx(0.75) and evidence.second == "ri"
    (alone,) = glyph_evidence(line, None, dictionary)
    assert alone.disagreement is None and alone.second == ""
    # a rare word read ('twas, for "it was" run together in joined handwriting) is not judged:
    # what was meant is more likely two words than the rare one
    rare = _line(_word("twas", [0.99, 0.99, 0.99, 0.08]), _word("worst", [0.99, 0.99, 0.99, 0.99, 0.08], 60))
    assert [e.word.text for e in glyph_evidence(rare, second, dictionary)] == ["worst"]


def _evidence(doubt: float, disagreement_: float | None) -> GlyphEvidence:
    return GlyphEvidence(None, doubt, 0, disagreement_, "")


def test_confidence_needs_both_readers_to_find_fault():
    words = [(d / 100, s / 100) for d in range(100) for s in (0, 0, 0, 10 * (d % 10))]
    table = calibrate(words, "test")
    both = table.confidence(_evidence(0.995, 0.95))
    doubt_only = table.confidence(_evidence(0.995, 0.0))
    second_only = table.confidence(_evidence(0.0, 0.95))
    assert both > 0.95
    assert doubt_only == 0.0 and second_only == 0.0
    assert table.confidence(_evidence(0.995, None)) == 0.0  # no second reading: no finding


def test_share_below_counts_strictly_lower_scores():
    assert share_below((0.0, 0.0, 0.5, 1.0), 0.0) == 0.0
    assert share_below((0.0, 0.0, 0.5, 1.0), 0.6) == 0.75
    assert share_below((), 0.6) == 0.0


def test_calibration_file_round_trips_and_a_damaged_one_is_named(tmp_path):
    table = calibrate([(0.1, 0.0), (0.3, 0.5), (0.2, None)], "three words")
    path = tmp_path / "glyphs.txt"
    write_calibration(table, path)
    again = read_calibration(path)
    assert again == Calibration(table.doubt, table.disagreement, table.combined, "three words")
    path.write_text("# no lines\ndoubt 0.1 0.2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="disagreement"):
        read_calibration(path)


def test_the_shipped_calibration_comes_from_generated_correct_signs():
    table = calibration()
    assert "generated correct signs" in table.source
    assert len(table.doubt) >= 300 and len(table.combined) == len(table.disagreement) >= 300
    for values in (table.doubt, table.disagreement, table.combined):
        assert list(values) == sorted(values)
    # most correct words: the second reader reads them as the recogniser does
    assert share_below(table.disagreement, 1e-9) > 0.5


# ---------------------------------------------------------------- generated signs

def test_a_malformed_case_differs_from_its_correct_sign_at_its_letter_only():
    correct = make_malformed_case(3, None)
    assert correct.defect is None and correct.index is None
    for kind in ("erased", "stroke"):
        case = make_malformed_case(3, kind)
        assert case.word == correct.word and case.defect == kind and 1 <= case.index < len(case.word) - 1
        changed = np.nonzero(np.any(case.image != correct.image, axis=2))[1]
        assert 0 < len(changed) and changed.max() - changed.min() < 1.5 * case.size  # one letter's width
    merged = make_malformed_case(3, "merged")
    assert merged.word == correct.word and np.any(merged.image != correct.image)
    with pytest.raises(ValueError, match="defect"):
        make_malformed_case(3, "smudged")
    assert np.array_equal(make_malformed_case(3, "stroke").image, make_malformed_case(3, "stroke").image)
    assert set(MALFORMED_KINDS) == {"erased", "stroke", "merged"}


def test_a_tilted_line_without_a_second_reading_gives_no_malformed_letter_even_from_zero():
    """A line tilted past the second reading's 3 degrees has no second reading: no evidence,
    no finding, whatever malformed_min_confidence (0 made the rule crash on round(None))."""
    import cv2

    from fixtures.text_gen import plain_sign

    sign = plain_sign("GARDEN", size=64, width=560, height=320)
    h, w = sign.shape[:2]
    tilted = cv2.warpAffine(sign, cv2.getRotationMatrix2D((w / 2, h / 2), 8.0, 1.0), (w, h),
                            borderMode=cv2.BORDER_REPLICATE)
    ctx = context_from_array(np.ascontiguousarray(tilted))
    findings = run_rule(TEXT002, ctx, "strict", {"malformed_min_confidence": 0.0})
    assert not [f for f in findings if f.measurements.get("kind") == "malformed"]
    from rules.text.ocr import read_text, second_reading
    from rules.text.settings import ocr_params
    from bench.text import settings_for

    params = ocr_params(settings_for("strict", "rapidocr")["TEXT002"])
    assert ctx.shared(read_text, params).lines and all(r is None for r in ctx.shared(second_reading, params))
