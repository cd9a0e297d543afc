"""The hand-defect score, its calibration and the shipped model (pure functions, no MediaPipe)."""
from __future__ import annotations

import numpy as np
import pytest

from rules.hands.evidence import pixel_terms
from rules.hands.score import (STABILITY_TERMS, TERMS, Calibration, HandModel, HandScoring, calibrate,
                               hand_features, judge, score_bounds_without_augmentation, shipped_scoring,
                               term_values, without_augmentation)

CALM = {"mask_share": 0.2, "protrusions": [], "webbing": [], "digit_coverage": [1.0] * 5,
        "max_backward_bend_deg": 10.0, "max_lateral_bend_deg": 10.0, "max_phalanx_ratio": 1.3,
        "min_phalanx_ratio": 0.6, "thumb_side_ratio": 0.4, "crossing_pairs": []}
OPEN = (True,) * 5


def test_a_calm_hand_has_no_terms():
    assert not term_values(hand_features(CALM, OPEN)).any()


def test_large_sources_count_alike_in_the_calibration():
    # 1000 hands of one source score 0.1; 200 hands of another score 0.9: with every hand
    # weighed alike 0.9 would sit above the 83rd percentile, with sources alike it is about half
    scores = [("big", 0.1)] * 1000 + [("other", 0.9)] * 200
    cal = calibrate(scores)
    assert cal.share_below(0.5) == pytest.approx(0.5, abs=0.03)
    assert cal.share_below(0.95) == 1.0
    assert cal.share_below(0.05) == 0.0


def test_one_odd_hand_of_a_tiny_source_does_not_set_the_tail():
    # a source of one hand weighs 1 / (1 + SMALL_SOURCE_PRIOR) of a large one, not as much
    scores = [("big", 0.1)] * 1000 + [("tiny", 0.9)]
    cal = calibrate(scores)
    from rules.hands.score import SMALL_SOURCE_PRIOR

    big = 1000 / (1000 + SMALL_SOURCE_PRIOR)
    assert cal.share_below(0.5) == pytest.approx(big / (big + 1 / (1 + SMALL_SOURCE_PRIOR)), abs=0.01)
    assert cal.share_below(0.5) > 0.85  # sources alike: 0.5


def test_confidence_is_the_share_of_normal_hands_below():
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 1, 2000)
    cal = calibrate([("a", float(v)) for v in values])
    for level in (0.5, 0.93, 0.995):
        threshold = cal.threshold(level)
        assert cal.share_below(threshold) >= level - 1e-9
        assert cal.share_below(threshold - 0.01) < level
        assert np.mean(values < threshold) == pytest.approx(level, abs=0.01)
    assert all(a <= b for a, b in zip(cal.scores, cal.scores[1:]))


def test_augmentation_bounds_hold_every_outcome_of_augmentation():
    model = HandModel(tuple(float(x) for x in np.linspace(0.1, 2.0, len(TERMS))), -3.0)
    rng = np.random.default_rng(5)
    features = hand_features({**CALM, "digit_coverage": [1.0, 0.2, 1.0, 1.0, 1.0]}, OPEN)
    low, high = score_bounds_without_augmentation(model, without_augmentation(features))
    assert low < high
    for _ in range(50):
        tta = {"tta_lost": rng.uniform(), "tta_count_disagree": rng.uniform(),
               "tta_handedness_disagree": rng.uniform(), "tta_shift": rng.uniform(0, 0.5)}
        assert low - 1e-12 <= model.score({**features, **tta}) <= high + 1e-12


def _scoring(stability_weight: float) -> HandScoring:
    weights = tuple(stability_weight if name in STABILITY_TERMS else 3.0 if name == "missing_off_hand" else 0.0
                    for name in TERMS)
    rng = np.random.default_rng(1)
    return HandScoring(HandModel(weights, -2.0), calibrate([("a", float(s)) for s in rng.uniform(0.05, 0.4, 500)]))


def test_augmentation_runs_only_where_the_first_look_is_uncertain():
    calls = []

    def augmented(features):
        def look():
            calls.append(1)
            return {**features, "tta_measured": True, "tta_lost": 1.0, "tta_count_disagree": 1.0}
        return look

    calm = without_augmentation(hand_features(CALM, OPEN))
    off_hand = without_augmentation(hand_features({**CALM, "digit_coverage": [1.0, 0.0, 1.0, 1.0, 1.0]}, OPEN))
    strong = _scoring(stability_weight=1.5)
    # a calm hand can reach the threshold only through augmentation: uncertain, so it runs
    j = judge(strong, calm, augmented(calm), min_confidence=0.93)
    assert calls and j.augmented and j.confidence >= 0.93
    calls.clear()
    # the pixels alone already pass the threshold: augmentation cannot change the decision
    j = judge(strong, off_hand, augmented(off_hand), min_confidence=0.93)
    assert not calls and j.confidence >= 0.93
    # augmentation too weak to lift a calm hand to the threshold: it does not run
    j = judge(_scoring(stability_weight=0.05), calm, augmented(calm), min_confidence=0.93)
    assert not calls and not j.augmented and j.confidence < 0.93
    # augmentation off: never
    judge(strong, calm, augmented(calm), min_confidence=0.93, augment=False)
    assert not calls


def test_the_family_follows_the_evidence():
    weights = tuple(1.0 for _ in TERMS)
    model = HandModel(weights, -2.0)
    scoring = HandScoring(model, Calibration((0.0, 1.0), (0.0, 1.0)))
    bent = without_augmentation(hand_features({**CALM, "max_backward_bend_deg": 90.0, "thumb_side_ratio": 2.3}, OPEN))
    assert judge(scoring, bent, lambda: bent, 0.5, augment=False).family == "anatomy"
    off = without_augmentation(hand_features({**CALM, "digit_coverage": [1.0, 0.1, 0.1, 1.0, 1.0]}, OPEN))
    assert judge(scoring, off, lambda: off, 0.5, augment=False).family == "count"


def test_a_thumb_holding_a_folded_finger_is_a_pose_not_a_missing_finger():
    seven = (True, True, True, False, True)  # ring folded between middle and pinky
    lone = pixel_terms({**CALM, "thumb_to_folded_tip_fw": [None, None, None, 4.0, None]}, seven)
    held = pixel_terms({**CALM, "thumb_to_folded_tip_fw": [None, None, None, 0.6, None]}, seven)
    assert lone.values["missing_folded_between"] > 0.5
    assert held.values["missing_folded_between"] == 0.0


def test_another_hand_over_this_one_discounts_its_mask_evidence():
    fused = {**CALM, "webbing": [{"pair": [1, 2], "filled": 1.0, "crease": 0.1, "gap_fw": 1.0}]}
    alone = pixel_terms(fused, OPEN).values["fused_no_crease"]
    half = pixel_terms({**fused, "other_hand_overlap": 0.25}, OPEN).values["fused_no_crease"]
    covered = pixel_terms({**fused, "other_hand_overlap": 0.6}, OPEN).values["fused_no_crease"]
    assert alone > half > covered == 0.0


def test_the_fit_keeps_weights_non_negative_and_learns_the_evidence():
    from bench.hands_calibrate import fit_logistic

    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (400, 3))
    y = (x[:, 0] + 0.2 * rng.normal(size=400) > 0.6).astype(float)
    x[:, 2] = 1.0 - x[:, 0]  # evidence of a normal hand: must not get a negative weight
    coef, _ = fit_logistic(x, y, np.ones(400))
    assert (coef >= 0).all()
    assert coef[0] > 1.0 and coef[0] > 5 * coef[1]


def test_a_tiny_source_weighs_less_in_the_fit_than_a_large_one():
    # one odd hand of a source of two must not steer the weights as much as a source of 200
    from types import SimpleNamespace

    from bench.hands_calibrate import training_rows

    def outcome(source, positive, i):
        hand = SimpleNamespace(features=hand_features(CALM, OPEN), share=0.3, size=100.0,
                               detection_score=0.9, found_in="full")
        group = "doctored:extra" if positive else source
        case = SimpleNamespace(group=group, source=source, positive=positive, path=f"{source}{positive}{i}")
        return SimpleNamespace(case=case, hands=[hand])

    outs = [outcome("big", p, i) for p in (False, True) for i in range(200)]
    outs += [outcome("tiny", p, i) for p in (False, True) for i in range(2)]
    _, y, w, sources = training_rows(outs)
    tiny = sum(wi for wi, s, yi in zip(w, sources, y) if s == "tiny" and yi == 0)
    big = sum(wi for wi, s, yi in zip(w, sources, y) if s == "big" and yi == 0)
    from rules.hands.score import SMALL_SOURCE_PRIOR

    assert tiny / big == pytest.approx((2 / (2 + SMALL_SOURCE_PRIOR)) / (200 / (200 + SMALL_SOURCE_PRIOR)))
    assert tiny < 0.3 * big  # each source alike: 1.0
    for label in (0.0, 1.0):
        assert abs(w[y == label].sum() - 1.0) < 1e-9  # both classes weigh alike


def test_the_shipped_model_is_well_formed():
    scoring = shipped_scoring()
    assert len(scoring.model.weights) == len(TERMS)
    assert all(w >= 0 for w in scoring.model.weights)
    cal = scoring.calibration
    assert all(a < b for a, b in zip(cal.levels, cal.levels[1:]))
    assert all(a <= b for a, b in zip(cal.scores, cal.scores[1:]))
    # lenient asks for a higher score than strict, and both above what most normal hands reach
    assert cal.threshold(0.97) > cal.threshold(0.93) > cal.threshold(0.5)
