"""Hand rules: wrong number of fingers (HAND001) and anatomically implausible hands (HAND002).

Both read one shared analysis per image (`rules.hands.analysis.analyse_hands` through
``ctx.shared``): MediaPipe Hands landmarks plus pixel evidence from `rules.hands.signals`.
The decisions are small pure functions on that analysis (`finger_count_evidence`,
`implausibility_evidence`) so they can be tested without MediaPipe.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from checker.model import Issue, Severity
from checker.rule import Rule

from .geometry import DIGIT_NAMES

# ---------------------------------------------------------------- HAND001 evidence

FINGER_REGION_ALONG_PALM = 0.75  # protrusions beyond this share of the palm axis are fingers
MIN_FINGER_LENGTH_FW = 1.8  # a protrusion this many finger widths long counts as a digit
FINGER_WIDTH_FW = 0.8  # a single finger's mask width, in expected finger widths
SINGLE_DIGIT_MAX_WIDTH_FW = 1.05  # widest single held-out finger on real photos was 0.95


@dataclass(frozen=True)
class FingerEvidence:
    extra: float  # 0..1 strength of evidence for an extra digit
    missing: float  # ... for a missing digit
    fused: float  # ... for fused digits
    inconclusive: bool  # the pixels could not be read (mask failed, hand lost under augmentation)
    mask_fingers: int  # digits the mask shows (protrusions, wide ones counted as several)
    reasons: tuple[str, ...] = ()

    @property
    def confidence(self) -> float:
        p = 1.0
        for s in (self.extra, self.missing, self.fused):
            p *= 1.0 - min(max(s, 0.0), 1.0)
        return 1.0 - p

    @property
    def kind(self) -> str:
        best = max(("extra", self.extra), ("missing", self.missing), ("fused", self.fused), key=lambda kv: kv[1])
        return best[0]


def _clip01(x: float) -> float:
    return min(max(float(x), 0.0), 1.0)


def finger_count_evidence(signals: dict, extended: tuple[bool, ...]) -> FingerEvidence:
    """Weigh the signals of one hand into evidence for an extra, missing or fused digit.

    - an unexplained finger-length protrusion beyond the knuckles: extra digit;
    - more digits in the mask than the skeleton holds out: extra; fewer: missing;
    - a held-out digit whose outer half lies off the mask: missing;
    - neighbouring held-out digits joined by mask with no crease between them: fused;
    - the landmark model changing its count or losing the hand under augmentation: supports
      whichever of the above is strongest (it does not say which defect)."""
    reasons: list[str] = []
    share = float(signals.get("mask_share", 0.0))
    mask_ok = 0.02 < share < 0.6
    parts = [p for p in signals.get("protrusions", [])
             if p["along_palm"] >= FINGER_REGION_ALONG_PALM and p["length_fw"] >= MIN_FINGER_LENGTH_FW]
    # parts holding a folded digit are knuckles of a fist, not held-out fingers
    held_parts = [p for p in parts if all(extended[d] for d in p["digits"])]
    mask_fingers = sum(max(1, round(p["width_fw"] / FINGER_WIDTH_FW)) for p in held_parts)
    n_ext = int(sum(extended))
    extra = missing = fused = 0.0
    if mask_ok:
        for p in parts:
            if not p["digits"]:
                s = _clip01((p["length_fw"] - 1.5) / 1.5)
                if s > extra:
                    extra = s
                    reasons.append(f"unexplained finger-like part {p['length_fw']:.1f} finger widths long")
        for p in held_parts:
            if len(p["digits"]) == 1 and p["width_fw"] > SINGLE_DIGIT_MAX_WIDTH_FW:
                # one landmark digit inside a part wider than any single finger: a second
                # finger drawn against it that the skeleton does not account for
                s = _clip01((p["width_fw"] - SINGLE_DIGIT_MAX_WIDTH_FW) / 0.35)
                if s > extra:
                    extra = s
                    reasons.append(f"{DIGIT_NAMES[p['digits'][0]]} is {p['width_fw']:.1f} finger widths wide")
        excess = mask_fingers - n_ext
        if excess >= 1 and n_ext >= 1:
            extra = max(extra, 0.3 * excess)
            reasons.append(f"mask shows {mask_fingers} digits, skeleton holds out {n_ext}")
        coverage = signals.get("digit_coverage", [1.0] * 5)
        for d in range(5):
            if extended[d] and coverage[d] < 0.5:
                missing = max(missing, _clip01((0.5 - coverage[d]) / 0.35) * 0.8)
                reasons.append(f"{DIGIT_NAMES[d]} lies over background ({coverage[d]:.0%} on the hand)")
        for d, strength in ((2, 0.5), (3, 0.65)):
            if extended[d - 1] and extended[d + 1] and not extended[d]:
                # one finger folded away between two held out is rare in real hands (the
                # flexor tendons of middle, ring and pinky are linked, the ring's most); it is
                # how the landmark model often explains a hand that shows one finger fewer
                missing = max(missing, strength)
                reasons.append(f"{DIGIT_NAMES[d]} folded away between two held-out fingers")
        if n_ext - mask_fingers >= 2 and held_parts:
            missing = max(missing, 0.2 * (n_ext - mask_fingers))
            reasons.append(f"skeleton holds out {n_ext} digits, mask shows {mask_fingers}")
        for web in signals.get("webbing", []):
            if web["filled"] >= 0.9 and web["crease"] < 0.6:
                s = _clip01((0.6 - web["crease"]) / 0.4)
                if s > fused:
                    fused = s
                    a, b = web["pair"]
                    reasons.append(f"{DIGIT_NAMES[a]} and {DIGIT_NAMES[b]} joined without a crease")
    tta = _clip01(float(signals.get("tta_count_disagree", 0.0)) - 0.25) + 0.5 * _clip01(float(signals.get("tta_lost", 0.0)) - 0.5)
    if tta > 0:
        reasons.append(f"landmark model unstable under augmentation (count changes {signals.get('tta_count_disagree')}, "
                       f"lost {signals.get('tta_lost')})")
        # instability supports the strongest pixel evidence; alone it only makes a weak extra/missing case
        if max(extra, missing, fused) > 0:
            if extra >= missing and extra >= fused:
                extra = _clip01(extra + 0.4 * tta)
            elif missing >= fused:
                missing = _clip01(missing + 0.4 * tta)
            else:
                fused = _clip01(fused + 0.4 * tta)
        else:
            missing = 0.3 * tta
    # the pixels cannot be read, or the landmark model cannot find the hand again in any
    # augmented view of its own crop
    inconclusive = (not mask_ok) or float(signals.get("tta_lost", 0.0)) >= 1.0
    return FingerEvidence(extra, missing, fused, inconclusive, mask_fingers, tuple(reasons))


def finger_message(ev: FingerEvidence, side: str) -> str:
    """What the finding says: the defect with the strongest evidence, or that the count does
    not add up when evidence for an extra and a missing finger are both present."""
    if min(ev.extra, ev.missing) >= 0.2 and ev.kind in ("extra", "missing"):
        return f"finger count does not add up on the {side} hand (extra or missing finger)"
    if ev.kind == "extra":
        return f"6 fingers on the {side} hand" if ev.extra >= 0.7 else f"possible extra finger on the {side} hand"
    if ev.kind == "missing":
        return f"possible missing finger on the {side} hand"
    return f"fused fingers on the {side} hand"


@dataclass(frozen=True)
class FingerCountSettings:
    min_hand_share: float = 0.12  # smallest hand judged, as its size over the image's shorter side
    min_hand_pixels: int = 24  # and in pixels (longer side of the landmark box): smaller hands cannot be judged
    min_confidence: float = 0.6  # evidence needed to report
    min_detection_score: float = 0.6  # MediaPipe score below which a hand is not judged
    report_inconclusive: bool = False  # report hands whose pixels could not be read
    search_with_pose: bool = False  # also look for hands at the wrists of a detected pose
    search_tiles: bool = True  # also search upscaled tiles of large images for small hands
    augment: bool = True  # test-time augmentation where it can change the outcome

    def __post_init__(self) -> None:
        if not 0 <= self.min_hand_share <= 1:
            raise ValueError("min_hand_share must be between 0 and 1")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError("min_confidence must be between 0 and 1")


def detection_plan(settings) -> "DetectionPlan":
    """The analysis both hand rules share: the same plan for both, so it runs once."""
    from .analysis import DetectionPlan

    return DetectionPlan(search_with_pose=settings.search_with_pose, search_tiles=settings.search_tiles)


@functools.lru_cache(maxsize=1)
def augmentation_alone_max() -> float:
    """The most evidence test-time augmentation gives on its own, when the pixels show
    nothing: finger_count_evidence over every outcome of the augmented runs (each lost the
    hand, changed its count, or agreed). About 0.23: below any useful min_confidence."""
    from .signals import AUGMENTATIONS

    n = len(AUGMENTATIONS)
    best = 0.0
    for lost in range(n + 1):
        for changed in range(n - lost + 1):
            signals = {"mask_share": 0.0, "tta_lost": lost / n, "tta_count_disagree": changed / n}
            ev = finger_count_evidence(signals, (True,) * 5)
            best = max(best, ev.confidence)
    return best


def augmentation_can_matter(pixel_evidence: FingerEvidence, settings) -> bool:
    """Whether test-time augmentation could change what HAND001 reports for a hand: it only
    strengthens pixel evidence that exists, and alone it reaches augmentation_alone_max();
    it also decides inconclusive hands, which only matter when they are reported."""
    if settings.report_inconclusive:
        return True
    if max(pixel_evidence.extra, pixel_evidence.missing, pixel_evidence.fused) > 0:
        return True
    return augmentation_alone_max() >= settings.min_confidence


def _hand_measurements(report) -> dict:
    s = report.signals
    return {
        "handedness": report.hand.side,
        "detection_score": round(report.hand.score, 3),
        "detected_in": report.hand.source,
        "extended_fingers": report.extended_count,
        "extended": [DIGIT_NAMES[d] for d in range(5) if report.extended[d]],
        "hand_share": s.get("hand_share"),
    }


def check_finger_count(ctx, settings: FingerCountSettings):
    """
    What it detects
        Hands showing a wrong number of fingers: an extra digit, a missing one, or two fused
        into one. MediaPipe Hands always fits a five-digit skeleton, so the rule looks for
        independent evidence in the pixels: a hand mask segmented from colours sampled
        along the landmark bones (refined by GrabCut); finger-like parts of that mask that no
        landmark digit explains (extra finger); more or fewer digits in the mask than the
        skeleton holds out; held-out digits lying over background (missing finger);
        neighbouring digits joined by hand-coloured webbing without a crease (fused fingers);
        and the landmark model changing its finger count or losing the hand when the crop is
        mirrored, rotated or shrunk. Each signal is in the measurements; every detected hand
        reports its extended-finger count, also when nothing is wrong.

    Why people notice
        Viewers count fingers without meaning to; a sixth finger or a fused pair is the best
        known tell of a generated image and spoils it at first look.

    Settings
        min_hand_share: smallest hand judged, as hand size over the image's shorter side
            (lenient 0.12, strict 0.04).
        min_hand_pixels: smallest hand judged in pixels (default 24): below that nobody can
            count fingers.
        min_confidence: evidence needed to report (lenient 0.6, strict 0.35).
        min_detection_score: MediaPipe hand score below which a hand is not judged
            (lenient 0.6, strict 0.4).
        report_inconclusive: also report hands whose pixels could not be read (strict only),
            as a hand to look at.
        search_with_pose: also look for hands at the wrists of a person's pose found by
            MediaPipe Holistic (off in both profiles: on the corpus it found no hand the palm
            detector with tiles missed, and costs ~15 ms CPU per image, ~50 ms per hand).
        search_tiles: also search large images in 2x2 overlapping tiles, upscaled, for hands
            too small for MediaPipe's 192 px palm detector at full view (strict only: lenient
            judges hands of 12% of the image and more, which the full view finds; on the
            corpus and doctored set lenient's findings were the same without tiles, at about
            45 ms less CPU per 1024x1024 image).
        augment: test-time augmentation, the mirror, rotated and shrunk crop of each hand
            run through the landmark model again (about 90 ms CPU per hand; without it
            lenient found 3 of 5 real AI defects instead of 4). It runs only where it can
            change the outcome: alone it is weak evidence (at most about 0.23), so lenient runs it
            only on hands where the pixels already show something.
        search_with_pose and search_tiles are family settings (`rules.hands.<setting>`):
            both hand rules read one analysis per image.

    Known limits
        Measured by `python -m bench.hands` on ../shared/corpus (small: 41 real photos, 5
        real AI photo-style defects, 5 illustrations) and on doctored copies of the photos.
        Thresholds were chosen on these same images, so expect somewhat worse elsewhere.
        Detection: MediaPipe finds a hand in 39 of 41 real photos; the extended-finger count
        of the skeleton is exact on 36 of 39 (the errors are thumbs). Only found hands are
        judged; strict also searches large images in upscaled tiles for small hands.
        Photos: lenient flagged 1 of 41 normal real hands and found 56% of the doctored
        extra/missing/fused fingers and 4 of 5 real AI defects; strict found 80% of both and
        flagged 4 of 41 normal hands. A missing finger is the hardest: the landmark model
        explains it as a folded finger (lenient finds ~2 in 5).
        Illustration and anime: MediaPipe found 8 of the ~11 hands drawn in the 5 corpus
        illustrations (every image had at least one); small, mitten-like or heavily stylised
        hands are missed or get a skeleton that does not fit. On illustrations lenient
        reported nothing (0 of 2 defect images, 0 of 3 good ones); strict found 1 of 2 defect
        images but also flagged 2 of 3 good ones, mostly through fingers hidden behind an
        object or drawn thicker than photo proportions. Treat strict findings on
        illustrations as hands to look at, not verdicts. The optional pose search
        (search_with_pose) re-crops hands from the wrists of a Holistic pose; on this corpus
        it added no hand.
        Fingers held together, sleeves and skin-coloured backgrounds can look like fused or
        extra digits; a sixth finger that the landmark model absorbs into its five is often
        missed. Every hand's extended-finger count is in the shared analysis; findings carry
        the counts of all hands in the image (`extended_fingers_per_hand`).
    """
    from .analysis import analyse_hands, augment_hand

    plan = detection_plan(settings)
    analysis = ctx.shared(analyse_hands, plan)
    for index, report in enumerate(analysis.hands):
        if (report.share_of_image < settings.min_hand_share or report.hand.size < settings.min_hand_pixels
                or report.hand.score < settings.min_detection_score):
            continue
        signals = report.signals
        ev = finger_count_evidence(signals, report.extended)
        if settings.augment and augmentation_can_matter(ev, settings):
            signals = {**signals, **ctx.shared(augment_hand, plan, index)}
            ev = finger_count_evidence(signals, report.extended)
        base = _hand_measurements(report)
        measurements = {**base, "evidence_extra": round(ev.extra, 3), "evidence_missing": round(ev.missing, 3),
                        "evidence_fused": round(ev.fused, 3), "mask_fingers": ev.mask_fingers,
                        "inconclusive": ev.inconclusive, "reasons": list(ev.reasons),
                        "signals": signals, **analysis.measurements()}
        side = report.hand.side
        if ev.confidence >= settings.min_confidence:
            yield Issue(message=finger_message(ev, side), region=report.box, confidence=round(ev.confidence, 3), measurements=measurements)
        elif settings.report_inconclusive and ev.inconclusive:
            yield Issue(message=f"{side} hand could not be checked: look at its fingers", region=report.box,
                        confidence=0.2, measurements=measurements)


# ---------------------------------------------------------------- HAND002

@dataclass(frozen=True)
class PlausibilitySettings:
    min_hand_share: float = 0.12
    min_hand_pixels: int = 24  # smaller hands (longer side, pixels) are not judged
    min_detection_score: float = 0.6
    max_backward_bend_deg: float = 60.0  # a held-out finger bent backwards at PIP/DIP beyond this
    max_lateral_bend_deg: float = 60.0  # sideways bend at a hinge joint of a held-out finger
    max_phalanx_ratio: float = 3.2  # a bone this many times its typical length
    min_phalanx_ratio: float = 0.12  # ... or this small a share of it
    max_thumb_side_ratio: float = 2.0  # thumb base this much nearer the pinky than the index
    min_confidence: float = 0.6
    search_with_pose: bool = False  # also look for hands at the wrists of a detected pose
    search_tiles: bool = True  # also search upscaled tiles of large images for small hands


@dataclass(frozen=True)
class PlausibilityEvidence:
    confidence: float
    findings: tuple[str, ...] = field(default_factory=tuple)


def implausibility_evidence(signals: dict, settings: PlausibilitySettings) -> PlausibilityEvidence:
    """Each out-of-range measure of the skeleton adds evidence in proportion to how far it is
    beyond its limit (at twice the margin it is certain)."""
    found: list[tuple[float, str]] = []

    def beyond(value: float, limit: float, margin: float, text: str) -> None:
        if value > limit:
            found.append((_clip01(0.6 + 0.4 * (value - limit) / margin), text))

    beyond(float(signals.get("max_backward_bend_deg", 0.0)), settings.max_backward_bend_deg, 30.0,
           f"finger bent backwards by {signals.get('max_backward_bend_deg')} degrees")
    beyond(float(signals.get("max_lateral_bend_deg", 0.0)), settings.max_lateral_bend_deg, 30.0,
           f"finger joint bent sideways by {signals.get('max_lateral_bend_deg')} degrees")
    beyond(float(signals.get("max_phalanx_ratio", 1.0)), settings.max_phalanx_ratio, 1.5,
           f"a finger bone {signals.get('max_phalanx_ratio')} times its usual length")
    shortest = float(signals.get("min_phalanx_ratio", 1.0))
    if shortest < settings.min_phalanx_ratio:
        found.append((_clip01(0.6 + 0.4 * (settings.min_phalanx_ratio - shortest) / settings.min_phalanx_ratio),
                      f"a finger bone only {shortest} of its usual length"))
    beyond(float(signals.get("thumb_side_ratio", 0.0)), settings.max_thumb_side_ratio, 1.0,
           "thumb on the pinky side of the hand")
    for pair in signals.get("crossing_pairs", []):
        found.append((0.8, f"{DIGIT_NAMES[pair[0]]} and {DIGIT_NAMES[pair[1]]} pass through each other"))
    if not found:
        return PlausibilityEvidence(0.0)
    p = 1.0
    for s, _ in found:
        p *= 1.0 - s
    return PlausibilityEvidence(1.0 - p, tuple(t for _, t in sorted(found, reverse=True)))


def check_implausible_hand(ctx, settings: PlausibilitySettings):
    """
    What it detects
        Hands whose fitted skeleton is anatomically impossible: held-out fingers bent
        backwards or sideways at hinge joints beyond human range, finger bones far from human
        proportions, the thumb attached on the pinky side, digits passing through each other.
        Measured on MediaPipe's 3D world landmarks of each detected hand.

    Why people notice
        A finger bent the wrong way or a thumb on the wrong side reads as broken or alien even
        to viewers who cannot say what is wrong.

    Settings
        min_hand_share, min_hand_pixels, min_detection_score: which hands are judged (as for HAND001).
        max_backward_bend_deg, max_lateral_bend_deg: joint limits in degrees (lenient 60/60,
            strict 45/45).
        max_phalanx_ratio, min_phalanx_ratio: bone length against the typical length for that
            bone, with the palm as the unit.
        max_thumb_side_ratio: thumb base distance to the index knuckle over its distance to the
            pinky knuckle.
        min_confidence: evidence needed to report.
        search_with_pose, search_tiles: as for HAND001 (both rules share one analysis per
            image).

    Known limits
        Weak, and measured so (`python -m bench.hands`): the landmark model is trained on
        real hands and bends its skeleton towards human shapes, so it rarely reproduces the
        defect it is fitted to. On the corpus it found 1 of 2 malformed illustration hands
        (a thumb fitted on the pinky side of a mitten hand), none of the 5 real AI defects and
        2-3% of doctored photos; it flagged no normal real photo in lenient and 2 of 41 in
        strict, and 1 of 3 good illustrations (a painterly hand whose fitted fingers bend far
        backwards). HAND001 looks at the pixels and catches far more.
        Joint angles of curled fingers and of hands seen edge-on are unreliable, so angles are
        judged only on held-out fingers. Illustration hands with stylised proportions can trip
        the bone-length check.
    """
    from .analysis import analyse_hands

    analysis = ctx.shared(analyse_hands, detection_plan(settings))
    for report in analysis.hands:
        if (report.share_of_image < settings.min_hand_share or report.hand.size < settings.min_hand_pixels
                or report.hand.score < settings.min_detection_score):
            continue
        ev = implausibility_evidence(report.signals, settings)
        if ev.confidence >= settings.min_confidence:
            yield Issue(message=f"implausible {report.hand.side} hand: {ev.findings[0]}", region=report.box,
                        confidence=round(ev.confidence, 3),
                        measurements={**_hand_measurements(report), "findings": list(ev.findings),
                                      "signals": {k: report.signals.get(k) for k in (
                                          "max_backward_bend_deg", "max_lateral_bend_deg", "max_phalanx_ratio",
                                          "min_phalanx_ratio", "thumb_side_ratio", "crossing_pairs")}})


HAND001 = Rule(
    code="HAND001",
    name="hands.finger-count",
    summary="Hand with a wrong number of fingers (extra, missing or fused)",
    check=check_finger_count,
    severity=Severity.ERROR,
    settings=FingerCountSettings,
    profiles={
        "lenient": {"min_hand_share": 0.12, "min_confidence": 0.6, "min_detection_score": 0.6,
                    "report_inconclusive": False, "search_tiles": False},
        "strict": {"min_hand_share": 0.04, "min_confidence": 0.35, "min_detection_score": 0.4,
                   "report_inconclusive": True},
    },
    stability="preview",
)

HAND002 = Rule(
    code="HAND002",
    name="hands.implausible",
    summary="Anatomically implausible hand (joint angles, proportions, thumb side)",
    check=check_implausible_hand,
    severity=Severity.WARNING,
    settings=PlausibilitySettings,
    profiles={
        "lenient": {"min_hand_share": 0.12, "min_detection_score": 0.6, "min_confidence": 0.6,
                    "search_tiles": False},
        "strict": {"min_hand_share": 0.04, "min_detection_score": 0.4, "max_backward_bend_deg": 45.0,
                   "max_lateral_bend_deg": 45.0, "min_confidence": 0.5},
    },
    stability="preview",
)

RULES = (HAND001, HAND002)
