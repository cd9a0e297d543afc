"""RGB to CIE Lab for the hand mask, with OpenCV's one-time set-up started ahead.

OpenCV fills its tables for 8-bit RGB to Lab (gamma curve, cube-root spline, a 3D lookup
table) the first time a process converts: ~110 ms, against ~0.5 ms for each later
conversion of a hand crop. A worker paid that inside its first hand, after importing
MediaPipe and running its first graph, all on the path of a one-image run's start-up.

:func:`start_tables` lets the hand analysis begin that set-up in a background thread when it
starts on an image: OpenCV releases the GIL while it computes, so the tables are filled on
the second core while this thread imports MediaPipe (~150 ms of Python). :func:`rgb_to_lab`
waits for that thread before converting, so two conversions never run at once, and the
interpreter waits for it before exiting (a few milliseconds at most: it is quick, and started
well before a run ends)."""
from __future__ import annotations

import threading

import numpy as np

_lock = threading.Lock()
_filling: threading.Thread | None = None  # the thread started by start_tables, once per process


def _convert(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)


def _fill_tables() -> None:
    try:
        _convert(np.zeros((1, 1, 3), dtype=np.uint8))
    except Exception:  # noqa: BLE001 - the first real conversion fills them then, and says what is wrong
        pass


def start_tables() -> None:
    """Start filling OpenCV's RGB to Lab tables in a background thread, once per process.
    Without a thread (none could start) the first conversion fills them, as before."""
    global _filling
    with _lock:
        if _filling is not None:
            return
        # not a daemon: the interpreter waits for it before it finalizes. A daemon thread still
        # inside OpenCV then (a `--jobs 0` run over an image without hands, on a busy machine)
        # was ended by Python as it came back for the GIL, through OpenCV's C++ frames, and the
        # process aborted ("terminate called without an active exception") after its report
        thread = threading.Thread(target=_fill_tables, name="noticer-lab-tables", daemon=False)
        try:
            thread.start()
        except RuntimeError:  # no thread can start now
            return
        _filling = thread


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """8-bit RGB to 8-bit Lab, as ``cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)``; after the table
    thread, if one was started, has finished."""
    thread = _filling
    if thread is not None:
        thread.join()
    return _convert(rgb)
