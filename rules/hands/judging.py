"""The judgement both hand rules share: every hand a profile admits, scored once.

HAND001 reports a hand whose score is dominated by finger-count evidence, HAND002 one whose
score is dominated by the skeleton's anatomy; both read `judged_hands` so augmentation runs
at most once per hand (through ``ctx.shared``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .analysis import DetectionPlan, HandReport, analyse_hands, augment_hand
from .geometry import DIGIT_NAMES
from .score import HandGate, Judgement, hand_features, judge, shipped_scoring


@dataclass(frozen=True)
class JudgedHand:
    index: int
    report: HandReport
    judgement: Judgement
    signals: dict


def detection_plan(settings) -> DetectionPlan:
    """The analysis both hand rules share: the same plan for both, so it runs once."""
    return DetectionPlan(search_with_pose=settings.search_with_pose, search_tiles=settings.search_tiles)


def gate(settings) -> HandGate:
    sources = ("full",) + (("tile",) if settings.search_tiles else ()) + (("pose",) if settings.search_with_pose else ())
    return HandGate(settings.min_hand_share, settings.min_hand_pixels, settings.min_detection_score, sources)


def judged_hands(ctx, settings) -> Iterator[JudgedHand]:
    """Every hand the settings admit, with its judgement (augmented where uncertain)."""
    plan = detection_plan(settings)
    admits = gate(settings)
    scoring = shipped_scoring()
    analysis = ctx.shared(analyse_hands, plan)
    for index, report in enumerate(analysis.hands):
        if not admits.admits(report.share_of_image, report.hand.size, report.hand.score, report.hand.source):
            continue
        signals = dict(report.signals)

        def augmented_look(index=index, report=report):
            signals.update(ctx.shared(augment_hand, plan, index))
            return hand_features(signals, report.extended)

        judgement = judge(scoring, hand_features(report.signals, report.extended), augmented_look,
                          settings.min_confidence, settings.augment)
        yield JudgedHand(index, report, judgement, signals)


def hand_measurements(hand: JudgedHand, analysis_measurements: dict) -> dict:
    report, j = hand.report, hand.judgement
    return {
        "handedness": report.hand.side,
        "detection_score": round(report.hand.score, 3),
        "detected_in": report.hand.source,
        "extended_fingers": report.extended_count,
        "extended": [DIGIT_NAMES[d] for d in range(5) if report.extended[d]],
        "hand_share": report.signals.get("hand_share"),
        "score": round(j.score, 4),
        "share_of_normal_hands_below": round(j.confidence, 4),
        "augmented": j.augmented,
        "terms": {k: round(v, 3) for k, v in shipped_scoring().model.contributions(j.features).items() if v},
        **analysis_measurements,
    }
