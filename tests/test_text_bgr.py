"""The PP-OCR models take BGR: rapid._to_rgb_bgr's OpenCV channel swap must give the very
bytes the plain numpy reversal gives, for whole pictures, crops (strided views) and the odd
shapes that fall back to numpy."""
from __future__ import annotations

import numpy as np
import pytest

from rules.text.rapid import _to_rgb_bgr

RNG = np.random.default_rng(18)
PICTURE = RNG.integers(0, 256, (97, 131, 3), dtype=np.uint8)


@pytest.mark.parametrize("rgb", [PICTURE, PICTURE[10:60, 7:120], PICTURE[:1, :1], PICTURE[::2, ::3]],
                         ids=["whole", "crop", "one-pixel", "stepped-view"])
def test_bgr_copy_is_the_reversed_channels(rgb):
    bgr = _to_rgb_bgr(rgb)
    assert bgr.flags["C_CONTIGUOUS"] and bgr.dtype == np.uint8
    assert np.array_equal(bgr, rgb[:, :, ::-1])
    assert not np.shares_memory(bgr, rgb)


@pytest.mark.parametrize("rgb", [PICTURE.astype(np.float32), np.dstack([PICTURE, PICTURE[:, :, :1]]),
                                 PICTURE[:0]], ids=["float", "four-channels", "empty"])
def test_other_arrays_are_reversed_by_numpy(rgb):
    assert np.array_equal(_to_rgb_bgr(rgb), rgb[:, :, ::-1])
