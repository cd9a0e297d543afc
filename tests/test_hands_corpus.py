"""The hand benchmark's figures on the evaluation corpus hold (a sample, to stay fast).

The full benchmark (`python -m bench.hands`, ~15 min) measures every image, doctored copies
and leave-one-source-out refits of the model. This test takes every image of the small
sources and every 6th of the two large ones (~100 images, ~2 min), collects each hand's
evidence once, and checks on it what the rules decide with the shipped model and calibration,
and what they decide when the calibration's thresholds are chosen without the source
measured (leave-one-source-out of the calibration; the model's weights stay the shipped ones).
The bounds are what was reached, one image more on the two large sources (see below).
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.corpus

LARGE_SOURCES = ("fingercount", "signdigits")
NEGATIVE_SOURCES = ("fingercount", "signdigits", "hagrid", "mmpose", "hamer", "mediapipe", "ai_ok", "illust_ok",
                    "clean")


@pytest.fixture(scope="module")
def outcomes(corpus):
    from bench.hands import collect_hands, load_cases

    cases = load_cases(corpus)
    sample = []
    for source in sorted({c.source for c in cases}):
        group = [c for c in cases if c.source == source]
        sample += group[::6] if source in LARGE_SOURCES else group
    return [collect_hands(c) for c in sample]


def _flag_rates(outcomes, decide) -> dict:
    rates = {}
    for source in {o.case.source for o in outcomes}:
        group = [o for o in outcomes if o.case.source == source]
        flags = [decide(o) for o in group]
        rates[source] = {p: sum(any(f[(p, c)] for c in ("HAND001", "HAND002")) for f in flags) / len(group)
                         for p in ("lenient", "strict")}
    return rates


@pytest.fixture(scope="module")
def shipped_rates(outcomes):
    from bench.hands import decisions
    from rules.hands.score import shipped_scoring

    scoring = shipped_scoring()
    return _flag_rates(outcomes, lambda o: decisions(scoring, o))


@pytest.fixture(scope="module")
def loso_rates(outcomes):
    """Thresholds from every other source's normal hands, applied to the source left out."""
    from bench.hands import decisions
    from rules.hands.score import HandScoring, calibrate, shipped_scoring

    model = shipped_scoring().model
    per_source = {}
    for source in {o.case.source for o in outcomes}:
        normal = [(o.case.source, model.score(h.features)) for o in outcomes
                  if not o.case.positive and o.case.source != source
                  for h in o.hands if h.share >= 0.04 and h.detection_score >= 0.4 and h.size >= 24]
        per_source[source] = HandScoring(model, calibrate(normal))
    return _flag_rates(outcomes, lambda o: decisions(per_source[o.case.source], o))


def test_hands_are_found_and_counted_in_real_photos(outcomes):
    from bench.hands import main_hand

    photos = [o for o in outcomes if o.case.source in LARGE_SOURCES]
    found = [o for o in photos if main_hand(o) is not None]
    assert len(found) / len(photos) >= 0.85  # reached 0.91
    counted = [o for o in found if o.case.extended is not None]
    exact = sum(1 for o in counted if sum(main_hand(o).extended) == o.case.extended)
    assert exact / len(counted) >= 0.8  # reached 0.89


def test_lenient_false_alarms_on_every_source(shipped_rates, loso_rates):
    for source in NEGATIVE_SOURCES:
        assert shipped_rates[source]["lenient"] <= LENIENT_MAX_SHIPPED.get(source, 0.0), source
        assert loso_rates[source]["lenient"] <= LENIENT_MAX_LOSO.get(source, 0.0), source


def test_strict_false_alarms_on_every_source(shipped_rates, loso_rates):
    for source in NEGATIVE_SOURCES:
        assert shipped_rates[source]["strict"] <= STRICT_MAX_SHIPPED.get(source, 0.0), source
        assert loso_rates[source]["strict"] <= STRICT_MAX_LOSO.get(source, 0.0), source


def test_strict_finds_malformed_ai_hands(shipped_rates):
    assert shipped_rates["ai_defect"]["strict"] >= STRICT_MIN_AI_RECALL


def test_lenient_finds_malformed_ai_hands(shipped_rates, loso_rates):
    assert shipped_rates["ai_defect"]["lenient"] >= LENIENT_MIN_AI_RECALL
    assert loso_rates["ai_defect"]["lenient"] >= LENIENT_MIN_AI_RECALL


def test_clean_images_have_no_findings(shipped_rates):
    assert shipped_rates["clean"] == {"lenient": 0.0, "strict": 0.0}


# bounds: what the sample reached (2026-12-05), one image more on the two large sources
# (fingercount 30 images, signdigits 24), none on the small ones: hagrid 9, mmpose 10, hamer 5,
# mediapipe 2, ai_ok 4, illust_ok 8 (one image there is 10-25%)
LENIENT_MAX_SHIPPED = {"fingercount": 0.04, "signdigits": 0.05, "hamer": 0.2, "illust_ok": 0.125}  # reached 1/30, 0, 1/5, 0
LENIENT_MAX_LOSO = {"fingercount": 0.04, "signdigits": 0.05, "hamer": 0.2, "illust_ok": 0.125}  # reached 1/30, 0, 1/5, 0
# fingercount strict 0.04 -> 0.07: the refit with the runs across the fingers, the mask-leak
# discount and one instability term puts 2 of the 30 sampled photos in strict's tail (the
# full corpus, leave-one-source-out, stays at 0.07 as before: bench.hands); mmpose 0 -> 0.1:
# the refit gives the thumb's side of the hand a weight, and one mmpose hand (1/10) is a
# HAND002 finding in strict with the shipped thresholds (none leave-one-source-out)
# hands2 refit (a source of a few hands weighs less in the fit, the wide run needs most scan
# lines): lenient finds 2 of the 5 AI hands (was 1), mmpose strict 1/10 -> 0, fingercount strict
# 2/30 -> 1/30; one more illust_ok image (small hands on hips, under 50 px, unstable landmarks) reaches
# strict: 1/8 -> 2/8, and hamer's thresholds chosen without hamer put a second of its 5 photos
# in strict's tail (2/5; the benchmark's full leave-one-source-out, model refitted too: 1/5)
STRICT_MAX_SHIPPED = {"fingercount": 0.07, "signdigits": 0.09, "hamer": 0.2, "illust_ok": 0.25}  # reached 1/30, 2/24, 1/5, 2/8
STRICT_MAX_LOSO = {"fingercount": 0.07, "signdigits": 0.09, "hamer": 0.4, "illust_ok": 0.25}  # reached 1/30, 0, 2/5, 2/8
STRICT_MIN_AI_RECALL = 0.6  # reached 3 of 5
LENIENT_MIN_AI_RECALL = 0.4  # reached 2 of 5
