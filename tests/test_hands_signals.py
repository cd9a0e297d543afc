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


def _runs(hand, extended=(True,) * 5):
    crop = crop_of(hand)
    return hs.runs_across_fingers(hs.hand_mask(crop.image, crop.points), crop.points, extended)


@pytest.mark.parametrize("size", [192, 256, 448])
@pytest.mark.parametrize("outline", [True, False])
def test_runs_across_fingers_count_a_sixth_finger_the_skeleton_does_not_hold(size, outline):
    normal = _runs(draw_hand(size, outline=outline))
    six = _runs(draw_hand(size, outline=outline, extra_finger=True))
    assert normal["lines"] == six["lines"] == len(hs.RUN_LEVELS)
    assert normal["runs"] == [4] * normal["lines"] and normal["free"] == [0] * normal["lines"]
    # the drawn hand's skeleton has five digits: the sixth finger is a run none of them crosses
    assert six["runs"] == [5] * six["lines"] and six["free"] == [1] * six["lines"]


def test_runs_across_fingers_find_a_digit_over_background():
    runs = _runs(draw_hand(256, missing=3))
    assert runs["bare"] == [1] * runs["lines"]
    assert runs["free"] == [0] * runs["lines"]


def test_runs_across_fingers_need_two_held_out_fingers():
    runs = _runs(draw_hand(256), extended=(True, True, False, False, False))
    assert runs["lines"] == 0 and runs["free"] == []


def test_runs_across_fingers_do_not_count_the_thumb():
    hand = draw_hand(256)
    crop = crop_of(hand)
    mask = hs.hand_mask(crop.image, crop.points)
    runs = hs.runs_across_fingers(mask, crop.points, (True,) * 5)
    assert max(runs["runs"]) == 4  # index to pinky; the thumb beside the index is left out


def test_runs_across_fingers_leave_out_a_folded_finger():
    # a finger the skeleton folds (here the drawn pinky, read as folded) lies beside the
    # held-out ones: its run is that finger, not a sixth one no digit holds
    hand = draw_hand(256)
    crop = crop_of(hand)
    mask = hs.hand_mask(crop.image, crop.points)
    runs = hs.runs_across_fingers(mask, crop.points, (True, True, True, True, False))
    assert runs["lines"] == len(hs.RUN_LEVELS)
    assert runs["free"] == [0] * runs["lines"]
    assert runs["runs"] == [4] * runs["lines"]  # the pinky's run is still seen


def test_a_free_run_on_most_lines_is_extra_finger_evidence():
    from rules.hands.evidence import pixel_terms

    base = {"mask_share": 0.3}
    lines = len(hs.RUN_LEVELS)
    six = pixel_terms({**base, "finger_runs": {"lines": lines, "free": [1] * lines, "wide": [0.6] * lines,
                                               "bare": [0] * lines, "runs": [5] * lines}}, (True,) * 5)
    one_line = pixel_terms({**base, "finger_runs": {"lines": lines, "free": [1] + [0] * (lines - 1),
                                                    "wide": [0.6] * lines, "bare": [0] * lines,
                                                    "runs": [4] * lines}}, (True,) * 5)
    wide = pixel_terms({**base, "finger_runs": {"lines": lines, "free": [0] * lines, "wide": [1.9] * lines,
                                                "bare": [0] * lines, "runs": [4] * lines}}, (True,) * 5)
    assert six.values["extra_free_run"] == 1.0
    assert one_line.values["extra_free_run"] == 0.0  # one odd scan line is noise
    assert wide.values["extra_wide_run"] == 1.0 and wide.values["extra_free_run"] == 0.0


def test_a_wide_run_on_half_the_lines_is_not_extra_finger_evidence():
    # sign digits 7 and 8: a finger folded beside a held-out one widens the lines near the
    # knuckles only; a second finger drawn against one runs along it, on most lines
    from rules.hands.evidence import pixel_terms

    base = {"mask_share": 0.3}
    lines = len(hs.RUN_LEVELS)
    half = lines // 2
    runs = {"lines": lines, "free": [0] * lines, "bare": [0] * lines, "runs": [3] * lines}
    knuckles = pixel_terms({**base, "finger_runs": {**runs, "wide": [2.1] * half + [0.9] * (lines - half)}},
                           (False, True, True, False, True))
    most = pixel_terms({**base, "finger_runs": {**runs, "wide": [2.1] * (half + 1) + [0.9] * (lines - half - 1)}},
                       (False, True, True, False, True))
    assert knuckles.values["extra_wide_run"] == 0.0
    assert most.values["extra_wide_run"] == 1.0


def test_mask_leak_measures_a_skin_coloured_background_not_a_sixth_finger():
    import cv2

    from rules.hands.evidence import LEAK_FROM_FW2

    def leak(image, points):
        crop = hs.crop_hand(cv2.GaussianBlur(image, (0, 0), 3), points)
        return hs.mask_leak(hs.hand_mask(crop.image, crop.points), crop.points)

    normal = draw_hand(256, outline=False, soften=0)
    six = draw_hand(256, outline=False, soften=0, extra_finger=True)
    # a face-like skin-coloured ellipse behind the fingertips: the mask runs into it
    behind = normal.image.copy()
    centre = normal.points[12] + [0, -25]
    cv2.ellipse(behind, (int(centre[0]), int(centre[1])), (100, 35), 0, 0, 360, SKIN, -1)
    assert leak(normal.image, normal.points) < 1.0
    assert leak(six.image, six.points) < LEAK_FROM_FW2 / 2  # one finger beyond the outline is not a leak
    assert leak(behind, normal.points) > LEAK_FROM_FW2


def test_a_leaking_mask_voids_its_evidence():
    from rules.hands.evidence import LEAK_VOID_FW2, pixel_terms

    signals = {"mask_share": 0.3, "webbing": [{"pair": [2, 3], "filled": 1.0, "crease": 0.1, "crease_near": 0.2,
                                               "gap_fw": 1.0}]}
    assert pixel_terms(signals, (True,) * 5).values["fused_no_crease"] > 0.9
    leaked = pixel_terms({**signals, "mask_leak_fw2": LEAK_VOID_FW2 + 1}, (True,) * 5)
    assert leaked.values["fused_no_crease"] == 0.0 and any("beyond the hand" in r for r in leaked.reasons)


def test_a_crease_beside_the_landmarks_midline_is_fingers_held_together():
    """The landmarks sit a few pixels off the real crease: a crease a sixth of a finger width
    beside their midline still shows the fingers are two, held together."""
    import cv2

    from rules.hands.evidence import pixel_terms

    hand = draw_hand(256, fused=2)
    img = hand.image.copy()
    fw = hs.finger_width_px(hand.points)
    side = hand.points[14] - hand.points[10]
    side = side / np.linalg.norm(side)
    chain = (hand.points[9:13] + hand.points[13:17]) / 2 + side * fw * 0.17
    for a, b in zip(chain[1:-1], chain[2:]):
        cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), (90, 50, 40), 2)
    crop = hs.crop_hand(img, hand.points)
    mask = hs.hand_mask(crop.image, crop.points)
    gray = crop.image.mean(axis=2).astype(np.uint8)
    web = {tuple(w["pair"]): w for w in hs.webbing(mask, gray, crop.points, (True,) * 5)}[(2, 3)]
    assert web["crease_near"] > web["crease"]
    assert pixel_terms({"mask_share": 0.3, "webbing": [web]}, (True,) * 5).values["fused_no_crease"] == 0.0
    # without the crease the same pair is fused
    crop = hs.crop_hand(hand.image, hand.points)
    mask = hs.hand_mask(crop.image, crop.points)
    gray = crop.image.mean(axis=2).astype(np.uint8)
    fused = {tuple(w["pair"]): w for w in hs.webbing(mask, gray, crop.points, (True,) * 5)}[(2, 3)]
    assert pixel_terms({"mask_share": 0.3, "webbing": [fused]}, (True,) * 5).values["fused_no_crease"] > 0.5


def _shaded_fingers(count: int, width: float = 20.0, step: float = 0.5, highlight: float = 0.0):
    """Grey profile across `count` fingers held together, each shaded as a cylinder (bright
    along its middle, dark where it meets the next), with an optional narrow highlight."""
    arc = np.arange(0.0, count * width, step)
    phase = (arc % width) / width
    profile = 120.0 + 60.0 * np.sin(np.pi * phase) + highlight * np.exp(-0.5 * ((phase - 0.4) / 0.03) ** 2)
    return profile, arc


@pytest.mark.parametrize("count", [1, 2, 4, 5])
def test_creases_count_fingers_held_together(count):
    profile, arc = _shaded_fingers(count)
    assert hs.creases_in_run(profile, arc, 20.0, depth=9.0) == count - 1


def test_a_highlight_on_one_finger_is_no_crease():
    # a narrow highlight beside the middle of a finger leaves a dip less than half a finger
    # from it: one finger, not two
    profile, arc = _shaded_fingers(1, highlight=40.0)
    assert hs.creases_in_run(profile, arc, 20.0, depth=9.0) == 0


def test_faint_shading_is_no_crease():
    profile, arc = _shaded_fingers(3)
    flat = 120.0 + (profile - 120.0) * 0.1  # 6 grey levels deep: noise, not a crease
    assert hs.creases_in_run(flat, arc, 20.0, depth=9.0) == 0


def test_runs_across_fingers_count_the_fingers_the_shading_shows():
    normal, six = draw_hand(256), draw_hand(256, extra_finger=True)
    for hand, more in ((normal, 0), (six, 1)):
        crop = crop_of(hand)
        mask = hs.hand_mask(crop.image, crop.points)
        gray = crop.image.mean(axis=2).astype(np.uint8)
        runs = hs.runs_across_fingers(mask, crop.points, (True,) * 5, gray=gray)
        assert runs["seen_minus_held"] == [more] * runs["lines"]
    # without the image's grey levels nothing is counted by shading
    assert "seen_minus_held" not in _runs(normal)


def test_more_fingers_in_the_shading_on_most_lines_is_extra_finger_evidence():
    from rules.hands.evidence import pixel_terms

    lines = len(hs.RUN_LEVELS)
    base = {"mask_share": 0.3, "finger_runs": {"lines": lines, "free": [0] * lines, "wide": [0.6] * lines,
                                               "bare": [0] * lines, "runs": [4] * lines}}

    def creases(seen):
        return pixel_terms({**base, "finger_runs": {**base["finger_runs"], "seen_minus_held": seen}}, (True,) * 5)

    assert creases([1] * lines).values["extra_creases"] == 1.0
    assert creases([1] * (lines // 2) + [0] * (lines - lines // 2)).values["extra_creases"] == 0.0  # half: noise
    # fewer fingers in the shading is no evidence (flat-coloured or blurred fingers show no crease)
    assert all(v == 0.0 for v in creases([-1] * lines).values.values())


def test_a_leaking_mask_does_not_void_the_crease_count():
    # the creases are read inside the runs holding the digits, not from the mask's outline
    from rules.hands.evidence import LEAK_VOID_FW2, pixel_terms

    lines = len(hs.RUN_LEVELS)
    signals = {"mask_share": 0.3, "mask_leak_fw2": LEAK_VOID_FW2 + 1,
               "finger_runs": {"lines": lines, "free": [1] * lines, "wide": [0.6] * lines, "bare": [0] * lines,
                               "runs": [5] * lines, "seen_minus_held": [1] * lines}}
    leaked = pixel_terms(signals, (True,) * 5).values
    assert leaked["extra_creases"] == 1.0 and leaked["extra_free_run"] == 0.0


def test_a_finger_closing_a_ring_with_the_thumb_is_not_a_missing_finger():
    # the OK sign: the index's tip touches the thumb's, the ring they close is no finger-like
    # part of the mask; only the three other held-out fingers are compared with the mask
    from rules.hands.evidence import pixel_terms

    hand = draw_hand(256)
    points = hand.points.copy()
    fw = hs.finger_width_px(points)
    points[8] = points[4] + [0.5 * fw, 0.0]  # the index's tip on the thumb's
    extended = (True, True, True, True, True)
    assert hs.thumb_ring_digits(points, extended) == [0, 1]
    assert hs.thumb_ring_digits(hand.points, extended) == []
    assert hs.thumb_ring_digits(points, (True, False, True, True, True)) == []  # a folded index closes no ring
    # the mask shows the middle, ring and pinky as parts; thumb and index are the ring
    parts = [{"length_fw": 3.0, "width_fw": 0.8, "digits": [d], "along_palm": 1.5, "area": 400} for d in (2, 3, 4)]
    signals = {"mask_share": 0.3, "protrusions": parts}
    assert pixel_terms(signals, extended).values["missing_mask_count"] > 0  # 5 held out, 3 seen
    ok_sign = pixel_terms({**signals, "thumb_ring_digits": [0, 1]}, extended)
    assert ok_sign.values["missing_mask_count"] == 0.0
