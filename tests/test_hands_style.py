"""The drawing-style measure (rules/hands/style.py) and the tile search it gates."""
from __future__ import annotations

import numpy as np
import pytest

from rules.hands import analysis as hand_analysis
from rules.hands.analysis import DetectedHand, DetectionPlan, detect_hands
from rules.hands.style import (FLAT_COLOUR_MIN, STEEP_EDGES_MIN, drawing_measures, edge_steepness,
                               flat_colour_share, looks_drawn)


def flat_scene(h: int = 400, w: int = 900) -> np.ndarray:
    """A drawing's make-up: regions of flat saturated colour meeting in one-pixel steps."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (120, 170, 230)  # sky
    img[h * 5 // 8:] = (70, 140, 60)  # grass
    for i in range(6):
        x = 40 + i * (w // 7)
        img[h * 3 // 8: h * 5 // 8, x: x + 60] = (200, 60 + 30 * i, 60)
        img[h // 2: h // 2 + 30, x + 10: x + 50] = (40, 40, 40)
    return img


def photographed(img: np.ndarray, seed: int = 0) -> np.ndarray:
    """The same scene as a camera gives it: edges blurred into ramps, sensor noise on every region."""
    import cv2

    rng = np.random.default_rng(seed)
    out = cv2.GaussianBlur(img, (0, 0), 1.5).astype(np.float32) + rng.normal(0, 6, img.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def test_flat_colour_with_step_edges_is_drawn():
    m = drawing_measures(flat_scene())
    # a one-pixel step is half the step per pixel on each side (0.5); the 512-pixel working
    # copy spreads some steps over two pixels
    assert m["edge_steepness"] >= 0.4
    assert m["flat_colour_share"] >= 0.8
    assert looks_drawn(flat_scene())


def test_the_same_scene_photographed_is_not():
    photo = photographed(flat_scene())
    assert edge_steepness(photo) < STEEP_EDGES_MIN
    assert flat_colour_share(photo) < FLAT_COLOUR_MIN
    assert not looks_drawn(photo)


def test_steep_edges_on_grey_are_not_enough():
    """A document or a grey studio shot: steps, flat regions, but no flat colour."""
    grey = flat_scene().mean(axis=2, keepdims=True).astype(np.uint8).repeat(3, axis=2)
    assert edge_steepness(grey) >= STEEP_EDGES_MIN
    assert flat_colour_share(grey) == 0.0
    assert not looks_drawn(grey)


def test_flat_colour_with_ramp_edges_is_not_enough():
    """A saturated backdrop blurred by the lens but not noisy: flat colour, ramp edges."""
    import cv2

    soft = cv2.GaussianBlur(flat_scene(), (0, 0), 3)
    assert flat_colour_share(soft) >= FLAT_COLOUR_MIN
    assert edge_steepness(soft) < STEEP_EDGES_MIN
    assert not looks_drawn(soft)


def test_a_blank_picture_is_not_drawn_and_bad_input_is_refused():
    assert edge_steepness(np.full((64, 64, 3), 200, np.uint8)) == 0.0
    assert not looks_drawn(np.full((64, 64, 3), 200, np.uint8))
    with pytest.raises(ValueError, match="HxWx3"):
        looks_drawn(np.zeros((64, 64), np.uint8))


def test_the_measure_does_not_change_the_image():
    img = flat_scene()
    before = img.copy()
    drawing_measures(img)
    assert np.array_equal(img, before)


# ---------------------------------------------------------------- the tile gate

def small_hand_detector(calls: list, hand_at: tuple[int, int]):
    """Stands in for MediaPipe's palm detector, which misses a hand too small in its 192-pixel
    view: it finds the hand at `hand_at` (full-image pixels) only in an upscaled tile that
    holds it."""
    def detect(rgb, max_hands=4, source="full", offset=(0.0, 0.0), scale=1.0):
        calls.append(source)
        x, y = hand_at
        h, w = rgb.shape[:2]
        if source != "tile" or not (offset[0] <= x < offset[0] + w / scale and offset[1] <= y < offset[1] + h / scale):
            return []
        pts = np.array([[x + i, y + 2 * i] for i in range(21)], float)
        return [DetectedHand(pts, np.zeros(21), np.zeros((21, 3)), "Left", 0.9, "tile")]
    return detect


def test_a_small_hand_in_a_drawing_is_found_in_tiles(monkeypatch):
    calls = []
    monkeypatch.setattr(hand_analysis, "detect_in", small_hand_detector(calls, (450, 330)))
    hands = detect_hands(flat_scene(), DetectionPlan())
    assert calls[0] == "full" and calls.count("tile") >= 3
    assert len(hands) == 1 and hands[0].source == "tile"


def test_a_photo_of_the_same_size_is_not_tiled(monkeypatch):
    calls = []
    monkeypatch.setattr(hand_analysis, "detect_in", small_hand_detector(calls, (450, 330)))
    assert detect_hands(photographed(flat_scene()), DetectionPlan()) == []
    assert calls == ["full"]


def test_a_drawing_is_not_tiled_where_the_full_view_finds_a_hand_or_tiles_are_off(monkeypatch):
    calls = []
    found = DetectedHand(np.array([[100.0 + i, 100.0 + i] for i in range(21)]), np.zeros(21), np.zeros((21, 3)),
                         "Left", 0.9, "full")
    monkeypatch.setattr(hand_analysis, "detect_in", lambda rgb, *a, **k: calls.append(k.get("source", "full")) or
                        ([found] if k.get("source", "full") == "full" else []))
    assert len(detect_hands(flat_scene(), DetectionPlan())) == 1
    assert calls == ["full"]
    calls.clear()
    monkeypatch.setattr(hand_analysis, "detect_in", small_hand_detector(calls, (450, 330)))
    assert detect_hands(flat_scene(), DetectionPlan(search_tiles=False)) == []
    assert calls == ["full"]


def test_a_tiny_drawing_is_not_tiled(monkeypatch):
    calls = []
    monkeypatch.setattr(hand_analysis, "detect_in", small_hand_detector(calls, (50, 50)))
    detect_hands(flat_scene(200, 300), DetectionPlan())
    assert calls == ["full"]
