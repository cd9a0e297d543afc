"""The generator of doctored hands edits only around the chosen digit, in varied ways."""
from __future__ import annotations

import random

import numpy as np
import pytest

from bench.doctor_hands import KINDS, add_finger, doctor, fuse_fingers, remove_finger
from fixtures.hands_fixtures import draw_hand


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 30


@pytest.mark.parametrize("edit", [add_finger, remove_finger])
def test_edits_stay_near_the_digit(edit):
    hand = draw_hand(256)
    out, method = edit(hand.image, hand.points, 4, random.Random(3))
    diff = changed(hand.image, out)
    assert diff.sum() > 200, method  # something visible happened
    ys, xs = np.nonzero(diff)
    # nothing changes on the thumb side of the image
    assert xs.min() > hand.points[5, 0] - 10, method


def test_fusing_fills_the_gap_between_two_fingers():
    hand = draw_hand(256)
    out, method = fuse_fingers(hand.image, hand.points, 2, random.Random(1))
    gap = np.round((hand.points[11] + hand.points[15]) / 2).astype(int)  # between middle and ring DIPs
    assert changed(hand.image, out)[gap[1], gap[0]], method


def test_methods_vary_with_the_seed():
    hand = draw_hand(256)
    methods = {kind: {doctor(hand.image, hand.points, (True,) * 5, kind, seed).method for seed in range(12)}
               for kind in KINDS}
    assert all(len(m) >= 2 for m in methods.values()), methods


def test_hands_that_do_not_allow_an_edit_are_skipped():
    hand = draw_hand(256)
    fist = (False,) * 5
    assert doctor(hand.image, hand.points, fist, "missing", 0) is None
    # a finger is only removed between two held-out neighbours (else it just looks folded)
    assert doctor(hand.image, hand.points, (True, True, True, False, False), "missing", 0) is None
    assert doctor(hand.image, hand.points, (False, True, True, True, False), "missing", 0).digit == 2
    assert doctor(hand.image, hand.points, fist, "fused", 0) is None
    with pytest.raises(ValueError):
        doctor(hand.image, hand.points, (True,) * 5, "twisted", 0)
