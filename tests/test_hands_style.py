"""The drawing-style measure (rules/hands/style.py)."""
from __future__ import annotations

import numpy as np
import pytest

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
