"""Hand rules: wrong number of fingers (HAND001) and anatomically implausible hands (HAND002).

One module per rule code (hand001, hand002); the analysis they share sits beside them:
analysis (MediaPipe detection), signals (pixel evidence), geometry (landmark geometry),
evidence (evidence with reasons), score (one calibrated hand-defect score per hand) and
judging (the judgement both rules read).
"""
from __future__ import annotations

from .evidence import (FingerEvidence, GeometryLimits, PlausibilityEvidence, finger_count_evidence,  # noqa: F401
                       finger_message, implausibility_evidence)
from .hand001 import HAND001, FingerCountSettings  # noqa: F401
from .hand002 import HAND002, PlausibilitySettings  # noqa: F401

RULES = (HAND001, HAND002)
