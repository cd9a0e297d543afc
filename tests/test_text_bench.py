"""Accuracy figures of the text rules held at the level the benchmark reached
(``python -m bench.text``), on generated signs and on the real corpus.

Each floor is the figure measured on the same cases minus a small margin; if a change
lowers a figure below it, the test fails and the benchmark says where."""
from __future__ import annotations

import pytest

from bench.text import (
    FALSE_ALARM_BUDGET,
    LARGE_SIDE,
    SampleRecord,
    calibrated_threshold,
    corpus_samples,
    evaluate_codes,
    evaluate_corpus,
    evaluate_generated,
    evaluate_labels,
    evaluate_malformed,
    evaluate_scripts,
    generated_correct_records,
    intended_text,
    leave_one_source_out,
    per_source,
)

# Seeds 0..N-1 per style, typo and correct versions, plus text-free images: 512x384 signs
# (2N text-free) and 1024x1024 ones (N text-free; the OCR stage detects in bands there).
GENERATED = {"512": dict(n=4), "1024": dict(n=5, size=(LARGE_SIDE, LARGE_SIDE), text_free_n=5)}
# Measured on these seeds with rapidocr: typo recall 1.0 in every style for both profiles
# (1024 px, 10 seeds: strict outlined 0.9), no false alarm on correct or text-free images.
MIN_RECALL = {"plain": 0.95, "gradient": 0.95, "noisy": 0.7, "photo": 0.7, "outlined": 0.7}
MAX_TEXT_FREE_ALARMS_PER_IMAGE = 0.05


@pytest.fixture(scope="module", params=sorted(GENERATED), ids=lambda size: f"{size}px")
def generated(request):
    options = GENERATED[request.param]
    return options, evaluate_generated("rapidocr", **options)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_typo_recall_on_generated_signs(generated, profile):
    options, result = generated
    for style, floor in MIN_RECALL.items():
        tally = result["by_style"][profile][style]["typo"]
        assert tally.n == options["n"]
        assert tally.hits / tally.n >= floor, f"{profile} {style}: {tally.hits}/{tally.n}"


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_false_alarms_on_generated_signs_and_text_free_images(generated, profile):
    options, result = generated
    free = result["text_free"][profile]
    assert free.n == options.get("text_free_n", 2 * options["n"])
    assert free.alarms / free.n <= MAX_TEXT_FREE_ALARMS_PER_IMAGE
    correct_alarms = sum(result["by_style"][profile][s]["clean"].alarms for s in MIN_RECALL)
    assert correct_alarms / (options["n"] * len(MIN_RECALL)) <= 0.1


@pytest.mark.slow
def test_small_labels_on_large_pictures_are_read():
    """One- or two-word labels at font sizes 16-40 px on 1024-px pictures. Measured on these
    8 seeds per size: every word read on 38 of the 40 labels of 20 px and more (one miss at
    28 px is the gate's), 5 of 8 at 16 px, below the gate's reach (its finest copy is 512 px),
    which is not held."""
    result = evaluate_labels("rapidocr", 8)
    larger = [counts for size, counts in result.items() if size >= 20]
    assert len(larger) == 5 and all(n == 8 for _, _, n in larger)
    assert all(read >= 6 for _, read, _ in larger), result
    assert sum(read for _, read, _ in larger) >= 37, result


@pytest.mark.slow
def test_strict_finds_malformed_letters_the_rest_does_not_and_leaves_correct_words():
    """Words with one letter partly erased, crossed by a stray stroke or merged with the next,
    seeds 0-14. Measured: strict flags 15 of 45 (the malformed-letter check 3 of them, on
    images nothing else flagged), strict without it 12, lenient 7; no correct word flagged.
    Lenient's check (from 1.0) finds none of these: on seeds 0-39 it found 1 of 120 (a merged
    Travel) and flagged 1 of 40 correct words (seed 31's Parking)."""
    result = evaluate_malformed("rapidocr", 15)
    flagged = {p: sum(t.flagged for k, t in result["profiles"][p].items() if k != "correct")
               for p in result["profiles"]}
    assert flagged["strict"] >= flagged["strict without it"] + 2, flagged
    assert flagged["strict"] >= 13 and flagged["lenient"] <= flagged["strict without it"], flagged
    assert all(result["malformed"]["lenient"][k] == 0 for k in result["malformed"]["lenient"])
    assert all(result["profiles"][p]["correct"].flagged == 0 for p in result["profiles"]), result


@pytest.mark.slow
def test_a_digit_changed_in_a_name_asked_for_is_found_and_right_names_pass():
    """make_code_case seeds 0-9. Measured (seeds 0-29): lenient flags 25 of 30 names with a
    digit changed (24 by the digit check; 1 without it), strict 30; correct signs flagged:
    lenient 0, strict 2 (H2O read apart, by the similarity check)."""
    result = evaluate_codes("rapidocr", 10)
    lenient = result["profiles"]["lenient"]
    assert lenient["changed"].n == 10 and lenient["changed"].flagged >= 7, result
    assert result["digit"]["lenient"] >= 7 and lenient["correct"].flagged == 0, lenient["correct"].names
    assert result["profiles"]["strict"]["changed"].flagged >= 9


def test_intended_text_is_read_from_labels():
    assert intended_text('intended text="fire"; rendered "FRE" (I missing) GARBLED') == ("fire",)
    assert intended_text('text="Big promotion" / "60% OFF" - correct') == ("Big promotion", "60% OFF")
    assert intended_text('keys=prompt,workflow; quoted_text="ZImage, Now in ComfyUI"; rendered ...') == \
        ("ZImage, Now in ComfyUI",)
    assert intended_text("clean (black marble skull)") == ()


def _record(source: str, defective: bool, *confidences: float) -> SampleRecord:
    return SampleRecord(source, f"{source}-{len(confidences)}", defective, {"lenient": confidences, "strict": confidences})


def test_a_held_out_source_is_judged_with_a_threshold_chosen_without_it():
    records = [_record("a", False, 0.5), _record("a", False), _record("a", True, 0.9),
               _record("b", False, 0.95), _record("b", True, 0.6), _record("b", False)]
    assert per_source(records, "lenient") == {"a": (1, 1, 1, 2), "b": (1, 1, 1, 2)}
    # at most one in two correct samples flagged: as shipped on a alone, above 0.5 on both
    assert calibrated_threshold([r for r in records if r.source == "a"], "lenient", 0.5) == 0.0
    assert calibrated_threshold(records, "lenient", 0.25) == 0.6
    # no false alarm allowed: chosen on b alone nothing may be reported; chosen on a alone,
    # from a's defect's 0.9 on, which misses b's defect (0.6) and flags b's correct sample (0.95)
    held_out = leave_one_source_out(records, "lenient", 0.0)
    assert held_out["a"] == (float("inf"), (0, 1, 0, 2))
    assert held_out["b"] == (0.9, (0, 1, 1, 2))


def test_the_held_out_threshold_can_be_set_on_generated_correct_signs_alone():
    """Item 1 of issue #18: strict's leave-one-source-out recall fell below the rules as shipped
    because the threshold chosen without microsoft/unilm (19 of 40 correct samples) had 3 false
    alarms in 21 to stay under: set on generated correct signs, no corpus source sets it."""
    generated = generated_correct_records("rapidocr", 1)
    assert len(generated) == 6 and {r.source for r in generated} == {"generated"}
    assert not any(r.defective for r in generated)
    assert all(calibrated_threshold(generated, p, b) == 0.0 for p, b in FALSE_ALARM_BUDGET.items()
               if not any(r.flagged(p) for r in generated))
    # the corpus case: without the source of most correct samples, the rest's one false alarm
    # at 0.9 is over budget, and the held-out defect found at 0.6 is lost
    corpus_like = [_record("big", False) for _ in range(6)] + [_record("big", True, 0.6), _record("small", False, 0.9),
                                                                _record("small", False)]
    assert leave_one_source_out(corpus_like, "strict", 0.12)["big"] == (float("inf"), (0, 1, 0, 6))


def test_correct_lettering_in_other_scripts_is_not_flagged_and_cjk_pseudo_characters_are():
    """On seeds apart from those the script thresholds were looked at on (0-11)."""
    result = evaluate_scripts("rapidocr", 3)
    for profile in ("lenient", "strict"):
        for key, tally in result["profiles"][profile].items():
            if key != "cjk pseudo":
                assert tally.flagged == 0, (profile, key, result["names"])
    assert result["profiles"]["strict"]["cjk pseudo"].flagged >= 1, result["names"]


# ---------------------------------------------------------------- corpus

@pytest.fixture(scope="module")
def corpus_result(corpus):
    return evaluate_corpus("rapidocr", corpus)


@pytest.mark.corpus
def test_corpus_labels_give_defects_and_correct_samples(corpus):
    samples = [s for s in corpus_samples(corpus) if s.category == "text_ai"]
    defects = [s for s in samples if s.defective]
    assert len(samples) >= 40 and 10 <= len(defects) < len(samples)
    assert all(s.intended for s in defects)


@pytest.mark.corpus
def test_lenient_flags_at_most_six_in_a_hundred_correct_corpus_samples(corpus_result):
    correct = corpus_result["profiles"]["lenient"]["correct"]
    # measured: 2 of 40 (PARTI, a pun; nothng, a misread handwritten word). ROCKDOWN, a
    # band's pun on LOCKDOWN, is a first-letter pun to lenient; VERNM, a word cut by the
    # photo's edge, is no misspelling
    assert correct.flagged / correct.n <= 0.06, correct.names
    assert correct.flagged <= 2, correct.names
    assert not any(name.startswith("diffste_edit_STAFF_realphoto.png") for name in correct.names)
    assert corpus_result["profiles"]["lenient"]["clean"].flagged == 0


@pytest.mark.corpus
def test_defect_recall_on_the_corpus(corpus_result):
    lenient = corpus_result["profiles"]["lenient"]
    strict = corpus_result["profiles"]["strict"]
    # measured: lenient 10/13 alone (LATETEN, read ATETEN, is no longer split into ATE TEN;
    # the garbled body text of a 259-px newspaper is prominent there), 13/13 with the intended
    # text; strict 11/13 and 13/13 (the second reading catches SENT ENCE: lenient's on its
    # small lines)
    assert lenient["defect"].hits >= 10, lenient["defect"].names
    assert lenient["defect_with_expected"].hits >= 13, lenient["defect_with_expected"].names
    assert "textdiffuser_template_dress_SENT_ENCE.png" not in lenient["defect"].names
    assert "ldm_street_sign_LATETEN_garbled.png" not in lenient["defect"].names
    assert "glyphcontrol_newspaper.png" not in lenient["defect"].names
    # the flame-lettered FIRL, read FIRE: lenient's malformed-letter check (from 1.0, beyond
    # every generated correct word) judges short lines too
    assert "ldm_shirt_fire_5_FIRL.png" not in lenient["defect"].names
    # Glyph-ByT3 for Glyph-ByT5: one digit in a 61-letter text, found by TEXT003's digit check
    assert "glyphbyt5_scene_1.png" not in lenient["defect_with_expected"].names
    assert strict["defect"].hits >= 10, strict["defect"].names
    assert strict["defect_with_expected"].hits >= 12, strict["defect_with_expected"].names
    assert "textdiffuser_template_dress_SENT_ENCE.png" not in strict["defect"].names
    assert strict["defect"].hits >= lenient["defect"].hits


@pytest.mark.corpus
def test_strict_false_alarms_on_correct_corpus_samples_stay_within_twelve_in_a_hundred(corpus_result):
    """Strict reads every word and flags what it cannot place; measured: 1 of 40 correct
    samples (PARTI, a pun), 1 finding, none on text-free pictures. wost (joined script read
    without its r) is RapidOCR's: Tesseract reads the r there (wordt). CVPR is an acronym, OFTHE two function words; ROCKDOWN puns on the
    LOCKDOWN the poster shows; 'twas (it was, run together) is too rare a word for the
    malformed-letter check to judge its glyphs."""
    strict = corpus_result["profiles"]["strict"]
    assert strict["correct"].flagged <= 1 and strict["correct"].alarms <= 1, strict["correct"].names
    assert not any(name.startswith("glyphbyt5_paragraph_1.png") for name in strict["correct"].names)
    assert not any(name.startswith("lexart_fig1_steel_panther_lockdown.png") for name in strict["correct"].names)
    assert not any("TEXT002:twas" in name for name in strict["correct"].names)
    assert strict["correct"].flagged / strict["correct"].n <= 0.12
    assert strict["clean"].flagged == 0


@pytest.mark.corpus
def test_figures_per_source_and_leave_one_source_out(corpus_result):
    records = corpus_result["records"]
    assert len({r.source for r in records}) >= 6
    for profile, budget in FALSE_ALARM_BUDGET.items():
        held_out = leave_one_source_out(records, profile, budget)
        found = sum(cells[0] for _, cells in held_out.values())
        flagged = sum(cells[2] for _, cells in held_out.values())
        correct = sum(cells[3] for _, cells in held_out.values())
        # measured: lenient 10 of 13 defects, 1 of 40 correct flagged; strict 11 and 1 (with 3
        # strict false alarms, holding out microsoft/unilm raised the threshold over SENT ENCE's 0.6)
        assert found >= {"lenient": 10, "strict": 11}[profile], profile
        assert flagged <= 1 and flagged / correct <= budget, profile


@pytest.mark.corpus
def test_text_read_matches_intended_text_on_the_corpus(corpus_result):
    similarities = corpus_result["similarity"]
    # measured: mean normalized edit similarity 0.944, exact match 35/53
    assert len(similarities) >= 40
    assert sum(similarities) / len(similarities) >= 0.92
    assert sum(corpus_result["exact"]) >= 32
