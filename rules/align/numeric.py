"""The few array operations the ALIGN analyses took from SciPy, in numpy, giving the same
numbers to the last bit (tests/test_align_numeric.py compares them with SciPy's).

Importing ``scipy.ndimage`` cost each worker process about 0.25 s of CPU and
``scipy.sparse.csgraph`` another 0.05 s (issue #19), for one moving average, one maximum
filter, bilinear sampling and the connected pieces of a small graph.
"""
from __future__ import annotations

import numpy as np


def moving_average_reflect(x: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d(x, size, mode="reflect")`` of a 1-D float64 array:
    the edge mirrored (``d c b a | a b c d``), the window's sum kept as a running total
    (first window summed in order, then one entering and one leaving value per step) and
    divided by ``size``: the order of SciPy's additions, so the same rounding."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or size < 1 or x.size < size:
        from scipy.ndimage import uniform_filter1d  # shapes the analyses never pass

        return uniform_filter1d(x, size, mode="reflect")
    before = size // 2
    padded = np.pad(x, (before, size - 1 - before), mode="symmetric")
    first = np.cumsum(padded[:size])[-1]
    steps = padded[size:] - padded[:-size]
    return np.cumsum(np.concatenate([[first], steps])) / size


def maximum_around_rows(a: np.ndarray, near: int, far: int) -> np.ndarray:
    """Per element, the maximum of the elements ``near`` to ``far`` rows above and below
    it (rows nearer than ``near`` left out), the edges mirrored: SciPy's ``maximum_filter``
    with a (2 far + 1) x 1 footprint whose middle 2 near - 1 rows are False,
    ``mode="reflect"``. A maximum has no rounding: the values are the same."""
    a = np.asarray(a)
    rows = a.shape[0]
    if rows < far or not 1 <= near <= far:
        from scipy.ndimage import maximum_filter  # shorter than the mirrored margin

        footprint = np.ones((2 * far + 1,) + (1,) * (a.ndim - 1), bool)
        footprint[far - near + 1:far + near] = False
        return maximum_filter(a, footprint=footprint, mode="reflect")
    padded = np.pad(a, ((far, far),) + ((0, 0),) * (a.ndim - 1), mode="symmetric")
    out = None
    for shift in (*range(-far, -near + 1), *range(near, far + 1)):
        rows_there = padded[far + shift:far + shift + rows]
        out = rows_there.copy() if out is None else np.maximum(out, rows_there)
    return out


def bilinear_nearest(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.map_coordinates(image, [ys, xs], order=1, mode="nearest")`` of a 2-D
    float image: points outside are moved to the nearest edge, each value is the weighted sum
    of its four neighbours, added in SciPy's order, in float64, returned in the image's type.
    A uint8 image is read as its float32 copy would be (SciPy would round to integers), and
    the values are float32: the ALIGN rules sample the uint8 gray image without copying it."""
    image = np.asarray(image)
    if image.ndim != 2 or not (image.dtype.kind == "f" or image.dtype == np.uint8) or image.size == 0:
        from scipy.ndimage import map_coordinates  # what the analyses never pass

        return map_coordinates(image, [ys, xs], order=1, mode="nearest")
    h, w = image.shape
    ys = np.clip(np.asarray(ys, dtype=np.float64), 0, h - 1)
    xs = np.clip(np.asarray(xs, dtype=np.float64), 0, w - 1)
    y0, x0 = np.floor(ys), np.floor(xs)
    ty, tx = ys - y0, xs - x0
    y0, x0 = y0.astype(np.intp), x0.astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    value = image[y0, x0].astype(np.float64) * (1.0 - ty) * (1.0 - tx)
    value = value + image[y0, x1].astype(np.float64) * (1.0 - ty) * tx
    value = value + image[y1, x0].astype(np.float64) * ty * (1.0 - tx)
    value = value + image[y1, x1].astype(np.float64) * ty * tx
    return value.astype(image.dtype if image.dtype.kind == "f" else np.float32)


def connected_labels(n: int, rows: np.ndarray, cols: np.ndarray) -> tuple[int, np.ndarray]:
    """The connected pieces of the undirected graph on ``n`` nodes with edges
    ``rows[k] -- cols[k]``: (how many, each node's label), labels numbered by each piece's
    lowest node, as ``scipy.sparse.csgraph.connected_components(..., directed=False)``
    numbers them."""
    rows = np.asarray(rows, dtype=np.intp)
    cols = np.asarray(cols, dtype=np.intp)
    lowest = np.arange(n, dtype=np.intp)
    while True:  # every node takes the lowest node it is linked to, then its pointer's pointer
        linked = np.minimum(lowest[rows], lowest[cols])
        moved = lowest.copy()
        np.minimum.at(moved, rows, linked)
        np.minimum.at(moved, cols, linked)
        moved = moved[moved]
        if np.array_equal(moved, lowest):
            break
        lowest = moved
    roots, labels = np.unique(lowest, return_inverse=True)
    return len(roots), labels.reshape(-1)
