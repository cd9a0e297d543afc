"""Skeleton geometry of HAND001/HAND002 on hand-made 3D skeletons (no MediaPipe)."""
from __future__ import annotations

import numpy as np
import pytest

from rules.hands import geometry as geo


def skeleton(curled: tuple[int, ...] = (), backward: int | None = None, thumb_on_pinky_side: bool = False,
             long_bone: int | None = None) -> np.ndarray:
    """A flat open right hand in metres: palm in the x/y plane, fingers pointing to -y, the
    palm facing +z. `curled` digits bend 80 degrees per joint towards +z (the palm side);
    `backward` bends that finger 70 degrees at PIP and DIP the other way."""
    w = np.zeros((21, 3))
    w[0] = (0.0, 0.0, 0.0)
    knuckles_x = (-0.03, -0.01, 0.01, 0.03)
    lengths = {1: (0.045, 0.025, 0.02), 2: (0.05, 0.03, 0.021), 3: (0.046, 0.029, 0.021), 4: (0.037, 0.021, 0.019)}
    for k, x in enumerate(knuckles_x):
        digit = k + 1
        base = 1 + 4 * digit
        w[base] = (x, -0.09, 0.0)
        direction = np.array([0.0, -1.0, 0.0])
        p = w[base].copy()
        for j, length in enumerate(lengths[digit]):
            if digit in curled:
                a = np.radians(80.0 * (j + 1) / 1.0) if j < 2 else np.radians(200.0)
                direction = np.array([0.0, -np.cos(a), np.sin(a)])
            elif backward == digit and j >= 1:
                a = np.radians(-70.0 * j)
                direction = np.array([0.0, -np.cos(a), np.sin(a)])
            scale = 3.0 if long_bone == digit and j == 0 else 1.0
            p = p + direction * length * scale
            w[base + 1 + j] = p
    # thumb from the index side, pointing out and up
    side = 1.0 if thumb_on_pinky_side else -1.0
    w[1] = (side * 0.025, -0.025, 0.0)
    w[2] = (side * 0.05, -0.045, 0.0)
    w[3] = (side * 0.07, -0.065, 0.0)
    w[4] = (side * 0.085, -0.085, 0.0)
    if 0 in curled:
        w[3] = (side * 0.03, -0.06, 0.02)
        w[4] = (side * 0.005, -0.06, 0.03)
    return w


def test_open_hand_holds_out_all_five():
    assert geo.extended_digits(skeleton()) == (True,) * 5


def test_curled_fingers_are_not_held_out():
    ext = geo.extended_digits(skeleton(curled=(0, 2, 3, 4)))
    assert ext == (False, True, False, False, False)
    assert sum(ext) == 1


def test_straight_hand_bends_nothing():
    bends = [geo.digit_bend_deg(skeleton(), d) for d in range(1, 5)]
    assert max(max(b[1:]) for b in bends) < 1.0  # PIP and DIP straight
    curled = geo.digit_bend_deg(skeleton(curled=(2,)), 2)
    assert min(curled) >= 40 and sum(curled) > 180


def test_finger_bent_backwards_has_negative_flexion():
    flex = geo.signed_flexion_deg(skeleton(curled=(4,), backward=2))
    assert flex[2, 1:].min() < -60  # middle PIP/DIP bent against the palm side
    assert flex[4, :].min() >= 0  # the curled pinky bends towards the palm: positive


def test_curling_defines_the_palm_side():
    flex = geo.signed_flexion_deg(skeleton(curled=(3, 4)))
    assert flex[3].sum() > 100 and flex[4].sum() > 100


def test_typical_proportions_are_near_one_and_a_long_bone_stands_out():
    ratios = geo.phalanx_ratios(skeleton())
    assert 0.5 < np.median(ratios[1:]) < 1.5
    long = geo.phalanx_ratios(skeleton(long_bone=3))
    assert long[3, 0] > 2.5 * ratios[3, 0]


def test_thumb_side():
    assert geo.thumb_side_ratio(skeleton()[:, :2]) < 1.0
    assert geo.thumb_side_ratio(skeleton(thumb_on_pinky_side=True)[:, :2]) > 1.5


def test_lateral_bend_of_a_straight_hand_is_small():
    assert geo.lateral_bend_deg(skeleton()).max() < 1.0


def test_crossing_digits_in_the_same_depth_are_found():
    w = skeleton()
    # swing the index tip over the middle finger, in the palm plane
    w[7] = (0.0, -0.15, 0.0)
    w[8] = (0.025, -0.165, 0.0)
    pts = w[:, :2].copy()
    assert (1, 2) in geo.crossing_digit_pairs(pts, w)
    # the same picture with the index well in front of the middle finger is a real crossing
    w2 = w.copy()
    w2[6:9, 2] = 0.05
    assert (1, 2) not in geo.crossing_digit_pairs(pts, w2)


@pytest.mark.parametrize("curled", [(), (0,), (1, 2), (0, 3, 4), (0, 1, 2, 3, 4)])
def test_count_matches_the_skeleton(curled):
    assert sum(geo.extended_digits(skeleton(curled=curled))) == 5 - len(curled)
