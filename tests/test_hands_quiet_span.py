"""MediaPipe opens its graph's calculators on its own threads after a model's constructor
returns, and TensorFlow Lite prints its XNNPACK line there. A gap between silencing the
constructor and silencing the first answer let that line reach stderr under load (seen once
in the fuzz test with --jobs 0). The model must be made and asked within one silenced span."""
from __future__ import annotations

import contextlib
import types

import numpy as np

from rules.hands import analysis


def recorder(monkeypatch):
    events: list[str] = []

    @contextlib.contextmanager
    def silenced():
        events.append("silence")
        try:
            yield
        finally:
            events.append("unsilence")

    def fake_model(*_args):
        events.append("model")
        empty = types.SimpleNamespace(multi_hand_landmarks=None, multi_hand_world_landmarks=None,
                                      multi_handedness=None, left_hand_landmarks=None,
                                      right_hand_landmarks=None)
        return types.SimpleNamespace(process=lambda _arr: events.append("process") or empty)

    monkeypatch.setattr(analysis, "native_stderr_silenced", silenced)
    monkeypatch.setattr(analysis, "_hands_model", fake_model)
    monkeypatch.setattr(analysis, "_holistic_model", fake_model)
    return events


def between_model_and_answer(events: list[str]) -> list[str]:
    return events[events.index("model"):events.index("process") + 1]


def test_hand_model_is_made_and_asked_in_one_silenced_span(monkeypatch):
    events = recorder(monkeypatch)
    assert analysis.detect_in(np.zeros((64, 64, 3), np.uint8)) == []
    assert events[0] == "silence" and events[-1] == "unsilence"
    assert "unsilence" not in between_model_and_answer(events), events


def test_pose_model_is_made_and_asked_in_one_silenced_span(monkeypatch):
    events = recorder(monkeypatch)
    assert analysis.pose_hand_boxes(np.zeros((64, 64, 3), np.uint8)) == []
    assert events[0] == "silence" and events[-1] == "unsilence"
    assert "unsilence" not in between_model_and_answer(events), events
