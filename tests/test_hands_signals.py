"""Pixel signals of HAND001 on drawn hands whose truth is known (landmarks given, no MediaPipe)."""
from __future__ import annotations

import numpy as np
import pytest

from fixtures.hands_fixtures import SKIN, draw_hand
from rules.hands import signals as hs
from rules.hands import finger_count_evidence


def crop_of(hand):
    return hs.crop_hand(hand.image, hand.points)


def drawn_mask(hand) -> np.ndarray:
    """Ground truth: pixels close to the skin colour in the crop."""
    crop = crop_of(hand)
    diff = np.abs(crop.image.astype(int) - np.array(SKIN)).sum(axis=2)
    return diff < 60


def test_crop_puts_the_hand_at_work_size():
    hand = draw_hand(256)
    crop = crop_of(hand)
    extent = crop.points.max(axis=0) - crop.points.min(axis=0)
    assert max(extent) == pytest.approx(hs.WORK_SIZE, rel=0.01)
    # the wrist landmark maps to the same colour in the crop as in the image
    x, y = np.round(crop.points[9]).astype(int)
    X, Y = np.round(hand.points[9]).astype(int)
    assert np.abs(crop.image[y, x].astype(int) - hand.image[Y, X].astype(int)).sum() < 40


@pytest.mark.parametrize("outline", [True, False])
def test_mask_covers_the_drawn_hand(outline):
    hand = draw_hand(256, outline=outline)
    crop = crop_of(hand)
    mask = hs.hand_mask(crop.image, crop.points)
    truth = drawn_mask(hand)
    iou = (mask & truth).sum() / max((mask | truth).sum(), 1)
    assert iou > 0.8


def test_colour_distance_is_small_on_skin_and_large_on_background():
    hand = draw_hand(256)
    crop = crop_of(hand)
    samples = hs.bone_samples(crop.points, crop.image.shape[:2])
    dist = hs.colour_distance_map(crop.image, samples)
    truth = drawn_mask(hand)
    assert np.median(dist[truth]) < 2.0
    assert np.median(dist[~truth]) > 6.0


def test_extra_finger_is_an_unexplained_protrusion():
    normal = draw_hand(256)
    six = draw_hand(256, extra_finger=True)
    for hand, expected in ((normal, 0), (six, 1)):
        crop = crop_of(hand)
        mask = hs.hand_mask(crop.image, crop.points)
        parts = hs.protrusions(mask, crop.points)
        unexplained = [p for p in parts if not p["digits"] and p["along_palm"] > 0.75]
        assert len(unexplained) == expected
    # every real digit of the normal hand has its own protrusion
    crop = crop_of(normal)
    parts = hs.protrusions(hs.hand_mask(crop.image, crop.points), crop.points)
    assert sorted(d for p in parts for d in p["digits"]) == [0, 1, 2, 3, 4]


def test_missing_finger_leaves_its_landmarks_over_background():
    hand = draw_hand(256, missing=2)  # landmarks still say five digits
    crop = crop_of(hand)
    mask = hs.hand_mask(crop.image, crop.points)
    coverage = hs.digit_coverage(mask, crop.points)
    assert coverage[2] < 0.3
    assert min(coverage[:2] + coverage[3:]) > 0.9


def test_fused_fingers_are_webbed_without_a_crease():
    for fused, expect_fused in ((None, False), (2, True)):
        hand = draw_hand(256, fused=fused)
        crop = crop_of(hand)
        mask = hs.hand_mask(crop.image, crop.points)
        gray = crop.image.mean(axis=2).astype(np.uint8)
        webs = {tuple(w["pair"]): w for w in hs.webbing(mask, gray, crop.points, (True,) * 5)}
        joined = webs[(2, 3)]["filled"] >= 0.9 and webs[(2, 3)]["crease"] < 0.6
        assert joined is expect_fused
        assert webs[(1, 2)]["filled"] < 0.5  # index and middle stay apart in both


def test_a_crease_between_touching_fingers_is_measured():
    hand = draw_hand(256, fused=2)
    img = hand.image.copy()
    # paint a dark line down the middle of the fused digit: fingers held together
    chain = (hand.points[9:13] + hand.points[13:17]) / 2
    import cv2

    for a, b in zip(chain[1:-1], chain[2:]):
        cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), (90, 50, 40), 2)
    crop = hs.crop_hand(img, hand.points)
    mask = hs.hand_mask(crop.image, crop.points)
    gray = crop.image.mean(axis=2).astype(np.uint8)
    webs = {tuple(w["pair"]): w for w in hs.webbing(mask, gray, crop.points, (True,) * 5)}
    assert webs[(2, 3)]["crease"] > 0.6


def test_tta_summary_counts_disagreement():
    runs = [{"aug": "mirror", "found": True, "count": 5, "handedness": "Right", "shift": 0.01},
            {"aug": "rotate+20", "found": True, "count": 4, "handedness": "Left", "shift": 0.02},
            {"aug": "rotate-20", "found": False},
            {"aug": "shrink", "found": True, "count": 5, "handedness": "Left", "shift": 0.03}]
    s = hs.tta_summary(runs, count=5, handedness="Left")
    assert s["tta_lost"] == 0.25
    assert s["tta_count_disagree"] == 0.25
    assert s["tta_handedness_disagree"] == 0.0  # the mirror is expected to flip it
    assert s["tta_shift"] == 0.02
    stable = hs.tta_summary([dict(runs[0], count=5)], count=5, handedness="Left")
    assert stable["tta_count_disagree"] == 0.0 and stable["tta_lost"] == 0.0


def _signals(hand) -> dict:
    crop = crop_of(hand)
    mask = hs.hand_mask(crop.image, crop.points)
    gray = crop.image.mean(axis=2).astype(np.uint8)
    parts = hs.protrusions(mask, crop.points)
    return {"digit_coverage": hs.digit_coverage(mask, crop.points), "protrusions": parts,
            "webbing": hs.webbing(mask, gray, crop.points, (True,) * 5), "mask_share": float(mask.mean())}


@pytest.mark.parametrize("kwargs,kind", [({"extra_finger": True}, "extra"), ({"missing": 3}, "missing"),
                                         ({"fused": 1}, "fused")])
def test_evidence_names_the_defect(kwargs, kind):
    ev = finger_count_evidence(_signals(draw_hand(256, **kwargs)), (True,) * 5)
    assert ev.kind == kind
    assert ev.confidence >= 0.5
    assert ev.reasons


def test_a_normal_drawn_hand_has_no_evidence():
    ev = finger_count_evidence(_signals(draw_hand(256)), (True,) * 5)
    assert ev.confidence < 0.2
    assert not ev.inconclusive


def test_an_unreadable_mask_is_inconclusive():
    ev = finger_count_evidence({"mask_share": 0.95, "protrusions": [], "webbing": []}, (True,) * 5)
    assert ev.inconclusive and ev.confidence == 0.0


def test_unstable_landmarks_strengthen_pixel_evidence():
    base = {"mask_share": 0.3, "digit_coverage": [1.0] * 5, "webbing": [],
            "protrusions": [{"length_fw": 2.4, "width_fw": 0.7, "digits": [], "along_palm": 1.4}]
            + [{"length_fw": 3.0, "width_fw": 0.7, "digits": [d], "along_palm": 1.4} for d in range(5)]}
    calm = finger_count_evidence({**base, "tta_count_disagree": 0.0, "tta_lost": 0.0}, (True,) * 5)
    shaky = finger_count_evidence({**base, "tta_count_disagree": 0.75, "tta_lost": 0.0}, (True,) * 5)
    assert shaky.extra > calm.extra > 0


def test_mask_does_not_depend_on_what_ran_before():
    import cv2

    hand = draw_hand(256, extra_finger=True)
    crop = crop_of(hand)
    first = hs.hand_mask(crop.image, crop.points)
    noise = np.zeros((64, 64), np.uint8)
    cv2.randu(noise, 0, 255)  # moves OpenCV's global random generator on
    second = hs.hand_mask(crop.image, crop.points)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("extra,missing,fused,expected", [
    (0.9, 0.0, 0.0, "6 fingers on the right hand"),
    (0.5, 0.0, 0.0, "possible extra finger on the right hand"),
    (0.0, 0.6, 0.1, "possible missing finger on the right hand"),
    (0.1, 0.0, 0.8, "fused fingers on the right hand"),
    (0.3, 0.6, 0.0, "finger count does not add up on the right hand (extra or missing finger)"),
])
def test_finding_message_names_the_strongest_evidence(extra, missing, fused, expected):
    from rules.hands import FingerEvidence, finger_message

    assert finger_message(FingerEvidence(extra, missing, fused, False, 5), "right") == expected
