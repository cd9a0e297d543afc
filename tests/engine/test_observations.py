"""Image-level observations: what an analysis saw even when nothing is wrong."""
from __future__ import annotations

import shutil

import numpy as np

from checker.context import ImageContext
from checker.testing import context_from_array
from tests.helpers import ROOT, run_json, validate_report, without_timings

GALLERY = ROOT / "fixtures" / "gallery"


def test_context_records_observations():
    ctx = context_from_array(np.zeros((70, 70, 3), np.uint8))
    assert isinstance(ctx, ImageContext) and ctx.observations == {}
    ctx.observe("thing", [1, 2])
    assert ctx.observations == {"thing": [1, 2]}


def test_every_hand_is_reported_with_its_finger_count_even_on_a_pass(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("hand_ok.png", "hand_six_fingers.png", "landscape_clean.png"):
        shutil.copy(GALLERY / name, folder / name)
    _, cold = run_json(folder, "--select", "HAND", "--jobs", "0", "--cache-dir", tmp_path / "cache")
    validate_report(cold)
    images = {i["path"].rsplit("/", 1)[1]: i for i in cold["images"]}
    ok = images["hand_ok.png"]
    assert ok["verdict"] == "pass" and not ok["findings"]
    (hand,) = ok["observations"]["hands"]
    assert hand["extended_fingers"] == 5 and hand["region"]["width"] > 100
    assert images["landscape_clean.png"]["observations"] == {"hands": []}
    assert images["hand_six_fingers.png"]["observations"]["hands"]
    # the cache keeps them: a warm run gives the same report
    _, warm = run_json(folder, "--select", "HAND", "--jobs", "0", "--cache-dir", tmp_path / "cache")
    assert without_timings(warm) == without_timings(cold)


def test_rules_without_observations_leave_the_key_out(tmp_path):
    _, report = run_json(GALLERY / "icon_too_small.png", "--select", "IMG", "--jobs", "0", "--no-cache")
    assert "observations" not in report["images"][0]
