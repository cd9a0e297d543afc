"""RGB to Lab for the hand masks: the same values as OpenCV's conversion, whether the
tables were filled ahead in a thread or not."""
from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from rules.hands import lab


@pytest.fixture
def fresh(monkeypatch):
    """The module as in a new process: no table thread started yet."""
    monkeypatch.setattr(lab, "_filling", None)
    return lab


def picture(seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (37, 53, 3), dtype=np.uint8)


def test_conversion_is_opencvs_rgb_to_lab(fresh):
    rgb = picture()
    out = fresh.rgb_to_lab(rgb)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert np.array_equal(out, cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB))
    assert not np.array_equal(out, cv2.cvtColor(rgb, cv2.COLOR_BGR2LAB))  # the channel order matters


def test_tables_start_once_and_the_conversion_waits_for_them(fresh, monkeypatch):
    started = []
    real_start = threading.Thread.start

    def counted(self):
        started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", counted)
    fresh.start_tables()
    fresh.start_tables()
    assert started == ["noticer-lab-tables"]
    thread = fresh._filling
    rgb = picture(5)
    assert np.array_equal(fresh.rgb_to_lab(rgb), cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB))
    assert not thread.is_alive()


def test_no_thread_means_the_first_conversion_fills_them(fresh, monkeypatch):
    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    fresh.start_tables()
    assert fresh._filling is None
    rgb = picture(7)
    assert np.array_equal(fresh.rgb_to_lab(rgb), cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB))


def test_the_interpreter_waits_for_the_table_thread_before_it_exits(tmp_path):
    """A process that ends while the tables are being filled (`--jobs 0` over an image without
    hands: nothing waits for them) lets the thread finish first. A daemon thread was ended as
    it came back from OpenCV during the interpreter's finalization, and the process aborted;
    here the stand-in conversion writes a file after a pause, which a thread cut short never
    does."""
    import subprocess
    import sys
    from pathlib import Path

    marker = tmp_path / "filled"
    script = ("import sys, time\n"
              "from rules.hands import lab\n"
              "def slow(rgb):\n"
              "    time.sleep(0.3)\n"
              "    open(sys.argv[1], 'w').write('filled')\n"
              "lab._convert = slow\n"
              "lab.start_tables()\n")
    out = subprocess.run([sys.executable, "-c", script, str(marker)], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    assert marker.read_text() == "filled"
