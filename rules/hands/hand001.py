"""HAND001: a hand with a wrong number of fingers (extra, missing or fused)."""
from __future__ import annotations

from dataclasses import dataclass

from checker.model import Issue, Severity
from checker.rule import Rule

from .evidence import finger_count_evidence, finger_message
from .profiles import HAND_PROFILES


@dataclass(frozen=True)
class FingerCountSettings:
    min_hand_share: float = 0.12  # smallest hand judged, as its size over the image's shorter side
    min_hand_pixels: int = 24  # and in pixels (longer side of the landmark box): smaller hands cannot be judged
    min_confidence: float = 0.97  # share of normal hands that must score lower than a hand reported
    min_detection_score: float = 0.6  # MediaPipe score below which a hand is not judged
    report_inconclusive: bool = False  # report hands whose pixels could not be read
    search_with_pose: bool = False  # also look for hands at the wrists of a detected pose
    search_tiles: bool = True  # also search upscaled tiles of large images and of drawings for small hands
    augment: bool = True  # test-time augmentation where the first look is uncertain

    def __post_init__(self) -> None:
        if not 0 <= self.min_hand_share <= 1:
            raise ValueError("min_hand_share must be between 0 and 1")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError("min_confidence must be between 0 and 1")


def check_finger_count(ctx, settings: FingerCountSettings):
    """
    What it detects
        Hands showing a wrong number of fingers: an extra digit, a missing one, or two fused
        into one. MediaPipe Hands always fits a five-digit skeleton, so the evidence comes
        from elsewhere: a hand mask segmented from colours sampled along the landmark bones
        (refined by GrabCut); finger-like parts of that mask that no landmark digit explains
        (extra finger); on scan lines across the held-out fingers, finger-like runs of
        the mask that no landmark digit crosses, or one digit's run as wide as two fingers
        (extra finger, counted apart from the five digits MediaPipe always fits); on the same
        lines, more fingers in the shading than the skeleton holds out (a crease between
        two fingers held together counts one more: a sixth finger pressed against the
        others); more or fewer digits in the mask than the skeleton holds out (a finger
        closing a ring with the thumb, as in the OK sign, and the thumb left out: attached
        at both ends, they show no finger-like part);
        held-out digits lying over background (missing finger); neighbouring digits joined
        by hand-coloured webbing without a crease (fused fingers); and the landmark model
        changing its finger count or losing the hand when the crop is mirrored, rotated or
        shrunk. These terms and the skeleton's anatomy (see HAND002) are weighed into one
        hand-defect score per hand by a small logistic model, and the score is calibrated
        against normal hands: the finding's confidence is the share of normal hands (real
        photos of many people, poses and backgrounds, fine AI-generated and drawn hands, each
        source weighted alike) that score lower. HAND001 reports a hand whose score is
        dominated by finger-count evidence; the finding's region is the hand. Every
        detected hand's extended-finger count is in the report's observations
        (`"hands"`), also when nothing is wrong.

    Why people notice
        Viewers count fingers without meaning to; a sixth finger or a fused pair is the best
        known tell of a generated image and spoils it at first look.

    Settings
        min_confidence: share of normal hands that must score lower than a hand reported
            (lenient 0.97: about 3 normal hands in 100 score as high; strict 0.93).
        min_hand_share: smallest hand judged, as hand size over the image's shorter side
            (lenient 0.12, strict 0.04).
        min_hand_pixels: smallest hand judged in pixels (default 24): below that nobody can
            count fingers.
        min_detection_score: MediaPipe hand score below which a hand is not judged
            (lenient 0.6, strict 0.4).
        report_inconclusive: also report hands whose pixels could not be read, as a hand to
            look at (off in both profiles).
        search_with_pose: also look for hands at the wrists of a person's pose found by
            MediaPipe Holistic (off in both profiles: on the benchmark's illustrations it
            found only more normal hands, one of them a false alarm, and no malformed one,
            for extra CPU per image; `python -m bench.hands` reports what it adds, "+pose").
        search_tiles: also search large images in 2x2 overlapping tiles, upscaled, for hands
            too small for MediaPipe's 192 px palm detector at full view, and drawings of any
            size (steep edges and flat saturated colour beyond 80% of photos:
            rules/hands/style.py) where the full view finds no hand (strict).
        augment: test-time augmentation (the mirror, rotated and shrunk crop of the hand run
            through the landmark model again, four more runs). It runs only where the first
            look is uncertain: where the augmentation terms could move the hand's confidence
            across min_confidence.
        search_with_pose and search_tiles are family settings (`rules.hands.<setting>`):
            both hand rules read one analysis per image.
        The model and calibration are data (rules/hands/data/hand_score.json), made by
        `python -m bench.hands_calibrate`; thresholds are not typed by hand.

    Known limits
        A clean sixth finger beside the pinky is a free run across the fingers; the model
        weighs it moderately (doctored extra fingers mostly touch their neighbour and show as
        a wide run instead): a drawn six-finger hand is reported in strict, not in lenient.
        Where the mask runs into a skin-coloured background (a face behind the fingers,
        another hand, an arm) beyond the hand's outline, its pixel evidence is discounted,
        and with it the evidence of a defect on such hands (not the count of creases, read
        inside the runs that hold the digits). Fewer fingers in the shading than the
        skeleton holds out is no evidence: flat-coloured and blurred fingers show no crease,
        so fingers melted together in an illustration are mostly missed. Fingers held together read as
        fused only when no crease shows near the landmarks' midline; a face between spread
        fingers is not counted as webbing only when the fingers are far apart.
        Only hands MediaPipe finds are judged; small, mitten-like and heavily stylised drawn
        hands are often missed or get a skeleton that does not fit. A sixth finger the
        landmark model absorbs into its five, and a missing finger it explains as folded,
        are the defects most often missed. Skin-coloured backgrounds and sleeves can look
        like extra digits. The model learned what a defect looks like from doctored photos
        and drawn hands (few real AI defects exist to learn from): `python -m bench.hands`
        reports its figures per source and leave-one-source-out.
    """
    from .judging import hand_measurements, judged_hands

    analysis_measurements = None
    for hand in judged_hands(ctx, settings):
        j = hand.judgement
        if analysis_measurements is None:
            from .analysis import analyse_hands
            from .judging import detection_plan

            analysis_measurements = ctx.shared(analyse_hands, detection_plan(settings)).measurements()
        side = hand.report.hand.side
        ev = finger_count_evidence(hand.signals, hand.report.extended)
        if j.reports("count", settings.min_confidence):
            if max(ev.extra, ev.missing, ev.fused) > 0:
                message = finger_message(ev, side)
            else:
                message = f"finger count unclear on the {side} hand: the landmark model changes it when the view changes"
            yield Issue(message=message, region=hand.report.box, confidence=round(j.confidence, 4),
                        measurements={**hand_measurements(hand, analysis_measurements), "reasons": list(ev.reasons),
                                      "mask_fingers": ev.mask_fingers, "signals": hand.signals})
        elif settings.report_inconclusive and ev.inconclusive and j.confidence < settings.min_confidence:
            yield Issue(message=f"{side} hand could not be checked: look at its fingers", region=hand.report.box,
                        confidence=0.2, measurements=hand_measurements(hand, analysis_measurements))


HAND001 = Rule(
    code="HAND001",
    name="hands.finger-count",
    summary="Hand with a wrong number of fingers (extra, missing or fused)",
    check=check_finger_count,
    severity=Severity.ERROR,
    settings=FingerCountSettings,
    profiles=HAND_PROFILES,
    stability="preview",
)
