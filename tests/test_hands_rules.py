"""HAND001/HAND002 end to end on drawn hands (MediaPipe runs), plus the rule declarations."""
from __future__ import annotations

import numpy as np
import pytest

from checker.rule import DOC_SECTIONS
from checker.testing import context_from_array, run_rule
from fixtures.hands_fixtures import draw_hand, make_gallery_images
from rules.hands.analysis import analyse_hands, merge_hands, tile_boxes
from rules.hands import HAND001, HAND002, GeometryLimits, implausibility_evidence


@pytest.mark.parametrize("rule", [HAND001, HAND002])
def test_docs_have_every_section(rule):
    sections = rule.doc_sections()
    assert set(sections) == set(DOC_SECTIONS)
    assert all(sections[s] for s in DOC_SECTIONS)


def test_an_image_without_hands_has_no_findings():
    img = np.full((256, 256, 3), 128, np.uint8)
    for rule in (HAND001, HAND002):
        for profile in ("lenient", "strict"):
            assert run_rule(rule, img, profile=profile) == []


def test_a_drawn_hand_is_found_with_five_fingers_held_out():
    ctx = context_from_array(draw_hand(512).image)
    analysis = ctx.shared(analyse_hands)
    assert len(analysis.hands) == 1
    hand = analysis.hands[0]
    assert hand.extended_count == 5
    assert analysis.measurements()["extended_fingers_per_hand"] == [5]
    # the box holds the drawn hand
    assert hand.box.width > 200 and hand.box.height > 200
    # the analysis runs once per image for both rules
    assert ctx.shared(analyse_hands) is analysis


@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_a_normal_drawn_hand_passes(profile):
    img = draw_hand(512).image
    assert run_rule(HAND001, img, profile=profile) == []
    assert run_rule(HAND002, img, profile=profile) == []


@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_a_six_finger_hand_shows_its_extra_finger_and_is_reported(profile):
    """The drawn sixth finger is a full-strength extra-finger term; with the fit weighing a
    source of a few hands less (bench.hands_calibrate.SMALL_SOURCE_PRIOR) it scores above
    97% of normal hands, so both profiles report it at their default levels."""
    from rules.hands.evidence import pixel_terms

    image = draw_hand(512, extra_finger=True).image
    (hand,) = context_from_array(image).shared(analyse_hands).hands
    assert pixel_terms(hand.signals, hand.extended).values["extra_unexplained_part"] >= 0.7
    findings = run_rule(HAND001, image, profile=profile)
    assert len(findings) == 1
    f = findings[0]
    assert f.message.startswith("6 fingers on the")
    assert f.region is not None and f.region.width > 150
    assert f.measurements["extended_fingers"] == 5
    assert 0.97 <= f.confidence == f.measurements["share_of_normal_hands_below"]
    assert f.measurements["terms"]["extra_unexplained_part"] > 0


@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_fused_fingers_are_reported(profile):
    findings = run_rule(HAND001, draw_hand(512, fused=2).image, profile=profile)
    assert [f.message.split(" on ")[0] for f in findings] == ["fused fingers"]
    assert findings[0].confidence >= 0.97


def test_a_missing_finger_is_weaker_evidence_strict_reports_and_lenient_does_not():
    img = draw_hand(512, missing=2).image
    assert run_rule(HAND001, img, profile="lenient") == []
    strict = run_rule(HAND001, img, profile="strict")
    assert strict and "missing finger" in strict[0].message


def test_small_hands_are_left_to_strict():
    # a drawn six-finger hand at 1/8 of a large image: below lenient's min_hand_share
    hand = draw_hand(160, extra_finger=True).image
    canvas = np.zeros((1400, 1400, 3), np.uint8)
    canvas[:] = hand[0, 0]
    canvas[600:760, 600:760] = hand
    assert run_rule(HAND001, canvas, profile="lenient", settings={"min_hand_share": 0.5}) == []


def test_a_hand_the_profile_does_not_judge_costs_no_mask():
    """A hand's signals (its GrabCut mask, ~75 ms) are computed only for hands a rule judges."""
    from rules.hands.analysis import DetectionPlan
    from rules.hands.signals import hand_signals

    image = draw_hand(512).image
    lenient_plan = DetectionPlan(search_tiles=False)  # the plan of lenient's hand settings
    skipped = context_from_array(image)
    assert run_rule(HAND001, skipped, settings={"min_hand_share": 0.99}) == []
    (hand,) = skipped.shared(analyse_hands, lenient_plan).hands
    assert "signals" not in vars(hand)
    judged = context_from_array(image)
    assert run_rule(HAND001, judged) == []
    (hand,) = judged.shared(analyse_hands, lenient_plan).hands
    assert "signals" in vars(hand)
    # read late, they are what the analysis would have measured at once
    assert hand.signals == {**hand_signals(image, hand.hand, hand.extended),
                            "hand_share": hand.share_of_image, "other_hand_overlap": hand.other_hand_overlap}


def test_implausibility_evidence_grows_with_the_excess():
    settings = GeometryLimits()
    calm = {"max_backward_bend_deg": 10.0, "max_lateral_bend_deg": 10.0, "max_phalanx_ratio": 1.4,
            "min_phalanx_ratio": 0.6, "thumb_side_ratio": 0.5, "crossing_pairs": []}
    assert implausibility_evidence(calm, settings).confidence == 0.0
    bent = implausibility_evidence({**calm, "max_backward_bend_deg": 75.0}, settings)
    very_bent = implausibility_evidence({**calm, "max_backward_bend_deg": 120.0}, settings)
    assert 0.6 <= bent.confidence < very_bent.confidence
    assert "backwards" in bent.findings[0]
    thumb = implausibility_evidence({**calm, "thumb_side_ratio": 3.0}, settings)
    assert thumb.confidence >= 0.6 and "pinky side" in thumb.findings[0]
    crossed = implausibility_evidence({**calm, "crossing_pairs": [[1, 2]]}, settings)
    assert "index and middle" in crossed.findings[0]


def test_tiles_cover_the_image_with_overlap():
    boxes = tile_boxes(1000, 700, 400)
    covered = np.zeros((700, 1000), bool)
    for x0, y0, x1, y1 in boxes:
        assert x1 - x0 <= 400 and y1 - y0 <= 400
        covered[y0:y1, x0:x1] = True
    assert covered.all()


def test_merge_keeps_one_of_two_overlapping_hands():
    from rules.hands.analysis import DetectedHand

    pts = np.array([[10.0 + i, 20.0 + 2 * i] for i in range(21)])
    a = DetectedHand(pts, np.zeros(21), np.zeros((21, 3)), "Left", 0.9, "full")
    b = DetectedHand(pts + 1, np.zeros(21), np.zeros((21, 3)), "Left", 0.95, "tile")
    c = DetectedHand(pts + 200, np.zeros(21), np.zeros((21, 3)), "Right", 0.8, "tile")
    kept = merge_hands([b, a, c])
    assert len(kept) == 2 and kept[0] is a  # the full-image view wins


def test_gallery_images_are_written_and_judged(tmp_path):
    paths = make_gallery_images(tmp_path)
    assert {p.name for p in paths} == {"hand_six_fingers.png", "hand_ok.png"}
    six = next(p for p in paths if p.name == "hand_six_fingers.png")
    ok = next(p for p in paths if p.name == "hand_ok.png")
    assert run_rule(HAND001, six, profile="strict", settings={"min_confidence": 0.85})
    assert not run_rule(HAND001, ok, profile="strict", settings={"min_confidence": 0.85})


def test_pose_search_adds_nothing_without_a_person_and_keeps_known_hands():
    from rules.hands.analysis import DetectionPlan, analyse_rgb, pose_hand_boxes

    assert pose_hand_boxes(np.full((256, 256, 3), 90, np.uint8)) == []
    analysis = analyse_rgb(draw_hand(512).image, DetectionPlan(search_with_pose=True))
    assert len(analysis.hands) == 1


@pytest.mark.parametrize(("profile", "calls"), [("lenient", 1), ("strict", 5)])
def test_only_strict_searches_tiles_for_small_hands(monkeypatch, profile, calls):
    """Lenient judges hands of 12% of the image and more, which the full view finds: it runs
    the detector once; strict adds 2x2 upscaled tiles. Both hand rules share that one search."""
    from rules.hands import analysis as hand_analysis

    seen = []
    real = hand_analysis.detect_in
    monkeypatch.setattr(hand_analysis, "detect_in", lambda rgb, *a, **k: seen.append(rgb.shape) or real(rgb, *a, **k))
    ctx = context_from_array(np.full((1024, 1024, 3), 90, np.uint8))
    for rule in (HAND001, HAND002):
        assert run_rule(rule, ctx, profile=profile) == []
    assert len(seen) == calls


def test_a_normal_hand_in_lenient_costs_one_detector_run(monkeypatch):
    """No tiles, and no augmentation where the pixels show nothing wrong; strict searches
    tiles, and augments only hands whose first look leaves the decision open (instability is
    one score term: alone it cannot carry a normal hand to strict's level either)."""
    from rules.hands import analysis as hand_analysis

    calls = []
    real = hand_analysis.detect_in
    monkeypatch.setattr(hand_analysis, "detect_in", lambda rgb, *a, **k: calls.append(1) or real(rgb, *a, **k))
    image = draw_hand(1024).image
    assert run_rule(HAND001, image, profile="lenient") == []
    assert len(calls) == 1
    calls.clear()
    run_rule(HAND001, image, profile="strict")
    assert len(calls) == 1 + 4  # full view, 2x2 tiles


def test_mediapipe_loads_without_matplotlib_and_its_drawing_helpers_still_import():
    """A fresh interpreter: the hands model loads without pulling in matplotlib, the Tasks
    API's audio and vision packages, the model downloader's urllib.request nor the solutions
    noticer does not use (face detection, objectron), and code that uses MediaPipe's drawing
    helpers, those packages or those solutions afterwards, as an attribute or by an import,
    gets the real ones; Holistic's graph, which needs the face mesh's options, still opens;
    Holistic and Pose, which kept the downloader's stand-in, reach the real downloader
    through it."""
    import subprocess
    import sys
    from pathlib import Path

    script = ("import sys\n"
              "from rules.hands.analysis import _hands_model\n"
              "_hands_model(1)\n"
              "print('matplotlib' in sys.modules, 'mediapipe.tasks.python.audio' in sys.modules,\n"
              "      'urllib.request' in sys.modules, 'mediapipe.python.solutions.objectron' in sys.modules,\n"
              "      'mediapipe.python.solutions.face_detection' in sys.modules)\n"
              "import numpy\n"
              "from rules.hands.analysis import pose_hand_boxes\n"
              "print(pose_hand_boxes(numpy.zeros((64, 64, 3), numpy.uint8)) == [])  # Holistic's graph opens\n"
              "import mediapipe as mp\n"
              "print(callable(mp.solutions.drawing_utils.draw_landmarks))\n"
              "print(callable(mp.solutions.drawing_styles.get_default_hand_landmarks_style))\n"
              "from mediapipe.python.solutions import drawing_utils\n"
              "print(drawing_utils is mp.solutions.drawing_utils)\n"
              "from mediapipe.tasks.python import vision\n"
              "print(callable(vision.HandLandmarker.create_from_options))\n"
              "tasks = sys.modules['mediapipe.tasks.python']\n"
              "print(callable(tasks.audio.AudioClassifier.create_from_options))\n"
              "from mediapipe.python.solutions import download_utils, holistic, pose\n"
              "print(holistic.download_utils.download_oss_model is download_utils.download_oss_model,\n"
              "      pose.download_utils.download_oss_model is download_utils.download_oss_model)\n"
              "print('urllib.request' in sys.modules)\n"
              "print(callable(mp.solutions.face_mesh.FaceMesh), callable(mp.solutions.objectron.Objectron))\n"
              "from mediapipe.python.solutions import face_detection, selfie_segmentation\n"
              "print(face_detection is mp.solutions.face_detection,\n"
              "      callable(selfie_segmentation.SelfieSegmentation))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out == ["False"] * 5 + ["True"] * 13
