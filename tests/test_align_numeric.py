"""rules/align/numeric.py gives SciPy's numbers to the last bit, and the ALIGN rules no
longer import SciPy (issue #19: ~0.3 s of CPU in every worker)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rules.align.numeric import bilinear_nearest, connected_labels, maximum_around_rows, moving_average_reflect

ROOT = Path(__file__).resolve().parents[1]


def test_moving_average_is_scipys_to_the_bit():
    from scipy.ndimage import uniform_filter1d

    rng = np.random.default_rng(2)
    for trial in range(120):
        n = int(rng.integers(20, 3000))
        half = int(rng.integers(3, min(64, n // 4) + 1))
        x = rng.normal(100, 30, n).cumsum() if trial % 2 else rng.uniform(0, 255, n)
        assert np.array_equal(moving_average_reflect(x, 2 * half + 1), uniform_filter1d(x, 2 * half + 1, mode="reflect"))
    short = rng.uniform(0, 1, 5)  # shorter than the window: SciPy's own answer
    assert np.array_equal(moving_average_reflect(short, 9), uniform_filter1d(short, 9, mode="reflect"))


@pytest.mark.parametrize("rows", [3, 8, 9, 17, 400])
def test_maximum_around_rows_is_scipys(rows):
    from scipy.ndimage import maximum_filter

    footprint = np.ones((17, 1), bool)
    footprint[7:10, 0] = False
    rng = np.random.default_rng(rows)
    for _ in range(20):
        a = rng.uniform(0, 10, (rows, int(rng.integers(1, 40))))
        assert np.array_equal(maximum_around_rows(a, 2, 8), maximum_filter(a, footprint=footprint, mode="reflect"))


def test_bilinear_sampling_is_scipys_to_the_bit_inside_and_outside():
    from scipy.ndimage import map_coordinates

    rng = np.random.default_rng(1)
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(2, 300, 2))
        image = rng.uniform(0, 255, (h, w)).astype(np.float32)
        if trial % 3 == 0:
            image = np.round(image)
        ys, xs = rng.uniform(-20, h + 20, 3000), rng.uniform(-20, w + 20, 3000)
        ys[:100], xs[:100] = np.round(ys[:100]), np.round(xs[:100])  # whole pixels too
        ours = bilinear_nearest(image, ys, xs)
        assert ours.dtype == np.float32
        assert np.array_equal(ours, map_coordinates(image, [ys, xs], order=1, mode="nearest"))


def test_bilinear_sampling_of_a_uint8_image_is_that_of_its_float32_copy():
    # the ALIGN rules sample the uint8 gray image itself: the values must be those the float32
    # copy they used to sample gave, not SciPy's rounded integers
    rng = np.random.default_rng(2)
    for trial in range(20):
        h, w = (int(v) for v in rng.integers(2, 300, 2))
        image = rng.integers(0, 256, (h, w), dtype=np.uint8)
        ys, xs = rng.uniform(-20, h + 20, 2000), rng.uniform(-20, w + 20, 2000)
        ours = bilinear_nearest(image, ys, xs)
        assert ours.dtype == np.float32
        assert np.array_equal(ours, bilinear_nearest(image.astype(np.float32), ys, xs))
        assert not np.array_equal(ours, np.round(ours))  # not rounded to whole levels


def test_connected_labels_are_scipys():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(5)
    for trial in range(60):
        n = int(rng.integers(2, 300))
        links = int(rng.integers(1, 2 * n))
        rows, cols = rng.integers(0, n, links), rng.integers(0, n, links)
        count, labels = connected_labels(n, rows, cols)
        expected = connected_components(coo_matrix((np.ones(links), (rows, cols)), shape=(n, n)), directed=False)
        assert count == expected[0]
        assert np.array_equal(labels, expected[1])


def test_the_align_rules_import_no_scipy(tmp_path):
    """A worker checking an image with ALIGN001-003 loads no SciPy module (checked in a
    fresh process through sys.modules)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    picture = np.clip(rng.normal(128, 40, (256, 256, 3)), 0, 255).astype(np.uint8)
    picture[:, 128:] = np.roll(picture[:, 128:], 3, axis=0)  # a tile seam for ALIGN001 to look at
    path = tmp_path / "seam.png"
    Image.fromarray(picture).save(path)
    code = (
        "import json, sys\n"
        "from checker.session import build_plan\n"
        "from checker.job import build_job\n"
        "from checker.runner import check_image\n"
        "plan, _ = build_plan([sys.argv[1]], select=['ALIGN'], cache=False)\n"
        "result = check_image(build_job(sys.argv[1], plan))\n"
        "print(json.dumps({'rules': sorted(result.timings_ms), 'verdict': result.verdict.value,\n"
        "                  'scipy': sorted(m for m in sys.modules if m.split('.')[0] == 'scipy')}))\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"align.seam", "align.grid", "align.broken-line"} <= set(seen["rules"])
    assert seen["verdict"] != "error"
    assert seen["scipy"] == []
