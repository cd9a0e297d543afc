"""Accuracy figures of the text rules held at the level the benchmark reached
(``python -m bench.text``), on generated signs and on the real corpus.

Each floor is the figure measured on the same cases minus a small margin; if a change
lowers a figure below it, the test fails and the benchmark says where."""
from __future__ import annotations

import pytest

from bench.text import LARGE_SIDE, corpus_samples, evaluate_corpus, evaluate_generated, evaluate_labels, intended_text

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


def test_intended_text_is_read_from_labels():
    assert intended_text('intended text="fire"; rendered "FRE" (I missing) GARBLED') == ("fire",)
    assert intended_text('text="Big promotion" / "60% OFF" - correct') == ("Big promotion", "60% OFF")
    assert intended_text('keys=prompt,workflow; quoted_text="ZImage, Now in ComfyUI"; rendered ...') == \
        ("ZImage, Now in ComfyUI",)
    assert intended_text("clean (black marble skull)") == ()


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
def test_lenient_flags_at_most_one_in_ten_correct_corpus_samples(corpus_result):
    correct = corpus_result["profiles"]["lenient"]["correct"]
    # measured: 3 of 40 (PARTI and ROCKDOWN, puns; nothng, a misread handwritten word); VERNM,
    # a word cut by the photo's edge, is no longer flagged
    assert correct.flagged / correct.n <= 0.1, correct.names
    assert correct.flagged <= 3, correct.names
    assert not any(name.startswith("diffste_edit_STAFF_realphoto.png") for name in correct.names)
    assert corpus_result["profiles"]["lenient"]["clean"].flagged == 0


@pytest.mark.corpus
def test_defect_recall_on_the_corpus(corpus_result):
    lenient = corpus_result["profiles"]["lenient"]
    strict = corpus_result["profiles"]["strict"]
    # measured: lenient 7/13 alone, 9/13 with the intended text; strict 10/13 and 12/13 (its
    # second reading catches SENT ENCE)
    assert lenient["defect"].hits >= 7, lenient["defect"].names
    assert strict["defect"].hits >= 10, strict["defect"].names
    assert strict["defect_with_expected"].hits >= 12, strict["defect_with_expected"].names
    assert "textdiffuser_template_dress_SENT_ENCE.png" not in strict["defect"].names
    assert strict["defect"].hits >= lenient["defect"].hits


@pytest.mark.corpus
def test_strict_false_alarms_on_correct_corpus_samples_stay_where_they_are(corpus_result):
    """Strict reads every word and flags what it cannot place; measured: 7 of 40 correct samples
    (puns, script misreadings, CVPR as a word), 10 findings, none on text-free pictures."""
    strict = corpus_result["profiles"]["strict"]
    assert strict["correct"].flagged <= 7 and strict["correct"].alarms <= 10, strict["correct"].names
    assert strict["clean"].flagged == 0


@pytest.mark.corpus
def test_text_read_matches_intended_text_on_the_corpus(corpus_result):
    similarities = corpus_result["similarity"]
    # measured: mean normalized edit similarity 0.944, exact match 35/53
    assert len(similarities) >= 40
    assert sum(similarities) / len(similarities) >= 0.92
    assert sum(corpus_result["exact"]) >= 32
