"""HAND002: an anatomically implausible hand (joint angles, proportions, thumb side)."""
from __future__ import annotations

from dataclasses import dataclass

from checker.model import Issue, Severity
from checker.rule import Rule

from .evidence import implausibility_evidence
from .profiles import HAND_PROFILES


@dataclass(frozen=True)
class PlausibilitySettings:
    min_hand_share: float = 0.12
    min_hand_pixels: int = 24  # smaller hands (longer side, pixels) are not judged
    min_detection_score: float = 0.6
    min_confidence: float = 0.97  # share of normal hands that must score lower than a hand reported
    search_with_pose: bool = False  # also look for hands at the wrists of a detected pose
    search_tiles: bool = True  # also search upscaled tiles of large images and of drawings for small hands
    augment: bool = True  # test-time augmentation where the first look is uncertain

    def __post_init__(self) -> None:
        if not 0 <= self.min_confidence <= 1:
            raise ValueError("min_confidence must be between 0 and 1")


def check_implausible_hand(ctx, settings: PlausibilitySettings):
    """
    What it detects
        Hands whose fitted skeleton is anatomically impossible: held-out fingers bent
        backwards or sideways at hinge joints beyond human range, finger bones far from human
        proportions, the thumb attached on the pinky side, digits passing through each other.
        Measured on MediaPipe's 3D world landmarks of each detected hand. These measures
        enter the same hand-defect score as HAND001's finger evidence (one score per hand,
        calibrated on normal hands: the confidence is the share of normal hands scoring
        lower); HAND002 reports a hand whose score is dominated by the skeleton's anatomy.

    Why people notice
        A finger bent the wrong way or a thumb on the wrong side reads as broken or alien even
        to viewers who cannot say what is wrong.

    Settings
        min_confidence: share of normal hands that must score lower than a hand reported
            (lenient 0.97, strict 0.93).
        min_hand_share, min_hand_pixels, min_detection_score: which hands are judged (as for
            HAND001).
        search_with_pose, search_tiles, augment: as for HAND001 (both rules share one
            analysis per image and one judgement per hand).

    Known limits
        The shipped model learned no weight for the anatomy measures: it learns from doctored
        photos and drawn hands, whose skeletons stay human, so nothing taught it what an
        implausible skeleton adds, and HAND002 reports nothing until it learns from hands with
        anatomical defects (`python -m bench.hands_calibrate` refits it). Weak in any case: the landmark model is trained on real hands and bends its skeleton towards
        human shapes, so it rarely reproduces the defect it is fitted to; HAND001 looks at
        the pixels and catches far more. Joint angles of curled fingers and of hands seen
        edge-on are unreliable, so angles are judged only on held-out fingers. Illustration
        hands with stylised proportions can trip the bone-length measure.
    """
    from .analysis import analyse_hands
    from .judging import detection_plan, hand_measurements, judged_hands

    for hand in judged_hands(ctx, settings):
        if not hand.judgement.reports("anatomy", settings.min_confidence):
            continue
        ev = implausibility_evidence(hand.signals)
        what = ev.findings[0] if ev.findings else "its skeleton is far from human proportions"
        measurements = hand_measurements(hand, ctx.shared(analyse_hands, detection_plan(settings)).measurements())
        yield Issue(message=f"implausible {hand.report.hand.side} hand: {what}", region=hand.report.box,
                    confidence=round(hand.judgement.confidence, 4),
                    measurements={**measurements, "findings": list(ev.findings),
                                  "signals": {k: hand.signals.get(k) for k in (
                                      "max_backward_bend_deg", "max_lateral_bend_deg", "max_phalanx_ratio",
                                      "min_phalanx_ratio", "thumb_side_ratio", "crossing_pairs")}})


HAND002 = Rule(
    code="HAND002",
    name="hands.implausible",
    summary="Anatomically implausible hand (joint angles, proportions, thumb side)",
    check=check_implausible_hand,
    severity=Severity.WARNING,
    settings=PlausibilitySettings,
    profiles=HAND_PROFILES,
    stability="preview",
)
