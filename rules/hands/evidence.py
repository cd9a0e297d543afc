"""Evidence about one hand, as plain numbers with reasons: the finger-count evidence from the
pixels and the landmark model's stability (`finger_count_evidence`), and the skeleton's
anatomy (`implausibility_evidence`). Pure functions on the signals of rules.hands.signals;
rules.hands.score weighs them into one hand-defect score.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .geometry import DIGIT_NAMES


FINGER_REGION_ALONG_PALM = 0.75  # protrusions beyond this share of the palm axis are fingers
MIN_FINGER_LENGTH_FW = 1.8  # a protrusion this many finger widths long counts as a digit
FINGER_WIDTH_FW = 0.8  # a single finger's mask width, in expected finger widths
SINGLE_DIGIT_MAX_WIDTH_FW = 1.05  # widest single held-out finger on real photos was 0.95
THUMB_HOLDS_FOLDED_FW = 1.5  # a thumb tip this near a folded finger's tip holds it down (ASL 7, 8)
FUSED_MAX_GAP_FW = 2.5  # neighbouring digits farther apart than this (finger widths) are not fused
MIN_READABLE_FINGER_PX = 3.0  # pixel evidence needs fingers at least this wide (image pixels)
OTHER_HAND_DISCOUNT_AT = 0.5  # another hand covering this share of a hand's box voids its mask evidence
CREASE_NEAR_HELD_TOGETHER = 1.0  # an edge this strong near the midline is the crease of fingers held together
LEAK_FROM_FW2 = 8.0  # mask beyond the hand's outline up to this area (square finger widths) is a finger or noise
LEAK_VOID_FW2 = 24.0  # ... from this area on the mask holds background, and its evidence counts nothing


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


PIXEL_TERMS = ("extra_unexplained_part", "extra_wide_digit", "extra_mask_count", "extra_free_run", "extra_wide_run",
               "extra_creases", "missing_off_hand", "missing_folded_between", "missing_mask_count", "fused_no_crease")
FREE_RUN_FROM = 0.25  # a free run on this share of the scan lines or fewer is noise
WIDE_RUN_FROM_FW = 1.15  # a single digit's run wider than this (finger widths) holds a second finger
CREASE_LINES_FROM = 0.5  # more fingers in the shading on this share of the scan lines or fewer is noise
LEAK_PROOF_TERMS = ("extra_creases",)  # terms a mask that ran into the background does not void


@dataclass(frozen=True)
class PixelTerms:
    """The separate pieces of pixel evidence of one hand, each 0..1 (0: nothing seen)."""
    values: dict  # PIXEL_TERMS -> strength
    mask_ok: bool
    mask_fingers: int
    reasons: tuple[str, ...]


def pixel_terms(signals: dict, extended: tuple[bool, ...]) -> PixelTerms:
    """Each piece of pixel evidence for an extra, missing or fused digit, kept apart:

    - an unexplained finger-length protrusion beyond the knuckles (extra_unexplained_part);
    - one landmark digit inside a part wider than any single finger (extra_wide_digit);
    - more digits in the mask than the skeleton holds out (extra_mask_count), fewer
      (missing_mask_count; a finger closing a ring with the thumb, as in the OK sign, and the
      thumb are left out of that comparison: attached at both ends, they are no finger-like part);
    - on scan lines across the held-out fingers, a finger-like run of mask that no digit
      crosses (extra_free_run), or a single digit's run as wide as two fingers
      (extra_wide_run), on most lines;
    - on the same lines, more fingers in the shading (a crease between two fingers held
      together counts one more) than the skeleton holds out, on most lines (extra_creases);
    - a held-out digit whose outer half lies off the mask (missing_off_hand);
    - one finger folded away between two held out (missing_folded_between);
    - neighbouring held-out digits joined by mask with no crease between them (fused_no_crease)."""
    reasons: list[str] = []
    values = dict.fromkeys(PIXEL_TERMS, 0.0)
    share = float(signals.get("mask_share", 0.0))
    # fingers a few pixels wide cannot be told apart in the pixels
    readable = float(signals.get("finger_width_px", MIN_READABLE_FINGER_PX)) >= MIN_READABLE_FINGER_PX
    mask_ok = 0.02 < share < 0.6 and readable
    parts = [p for p in signals.get("protrusions", [])
             if p["along_palm"] >= FINGER_REGION_ALONG_PALM and p["length_fw"] >= MIN_FINGER_LENGTH_FW]
    # parts holding a folded digit are knuckles of a fist, not held-out fingers
    held_parts = [p for p in parts if all(extended[d] for d in p["digits"])]
    mask_fingers = sum(max(1, round(p["width_fw"] / FINGER_WIDTH_FW)) for p in held_parts)
    n_ext = int(sum(extended))

    def raise_to(term: str, strength: float, reason: str) -> None:
        if strength > values[term]:
            values[term] = _clip01(strength)
            reasons.append(reason)

    if mask_ok:
        for p in parts:
            if not p["digits"]:
                raise_to("extra_unexplained_part", (p["length_fw"] - 1.5) / 1.5,
                         f"unexplained finger-like part {p['length_fw']:.1f} finger widths long")
        for p in held_parts:
            if len(p["digits"]) == 1 and p["width_fw"] > SINGLE_DIGIT_MAX_WIDTH_FW:
                # a second finger drawn against it that the skeleton does not account for
                raise_to("extra_wide_digit", (p["width_fw"] - SINGLE_DIGIT_MAX_WIDTH_FW) / 0.35,
                         f"{DIGIT_NAMES[p['digits'][0]]} is {p['width_fw']:.1f} finger widths wide")
        runs = signals.get("finger_runs") or {}
        lines = int(runs.get("lines", 0))
        if lines >= 2:
            free_share = sum(1 for n in runs["free"] if n > 0) / lines
            if free_share > FREE_RUN_FROM:
                raise_to("extra_free_run", (free_share - FREE_RUN_FROM) / (1.0 - FREE_RUN_FROM),
                         f"a finger no landmark digit holds on {free_share:.0%} of the lines across the fingers")
            # the lower median line: a wide run on half the lines or fewer is not enough (a finger
            # folded beside a held-out one widens the lines near the knuckles: sign digits 7, 8)
            wide = sorted(runs["wide"])[(lines - 1) // 2]
            if wide > WIDE_RUN_FROM_FW:
                raise_to("extra_wide_run", (wide - WIDE_RUN_FROM_FW) / 0.6,
                         f"a single finger {wide:.1f} finger widths wide across the fingers")
        seen = runs.get("seen_minus_held") or []
        if len(seen) >= 3:
            # more fingers in the shading across the held-out ones (creases between fingers
            # held together counted) than the skeleton holds out, on most lines. Fewer is no
            # evidence: flat-coloured and blurred fingers show no crease between them
            # (illustrations, fingers pressed together), measured as normal hands' false alarms
            more = sum(1 for n in seen if n > 0) / len(seen)
            if more > CREASE_LINES_FROM:
                raise_to("extra_creases", (more - CREASE_LINES_FROM) / (1.0 - CREASE_LINES_FROM),
                         f"the shading shows more fingers than the skeleton holds out on {more:.0%} of the lines")
        excess = mask_fingers - n_ext
        if excess >= 1 and n_ext >= 1:
            raise_to("extra_mask_count", 0.3 * excess, f"mask shows {mask_fingers} digits, skeleton holds out {n_ext}")
        coverage = signals.get("digit_coverage", [1.0] * 5)
        for d in range(5):
            if extended[d] and coverage[d] < 0.5:
                raise_to("missing_off_hand", _clip01((0.5 - coverage[d]) / 0.35) * 0.8,
                         f"{DIGIT_NAMES[d]} lies over background ({coverage[d]:.0%} on the hand)")
        thumb_gaps = signals.get("thumb_to_folded_tip_fw") or [None] * 5
        for d, strength in ((2, 0.5), (3, 0.65)):
            held_by_thumb = thumb_gaps[d] is not None and thumb_gaps[d] < THUMB_HOLDS_FOLDED_FW
            if extended[d - 1] and extended[d + 1] and not extended[d] and not held_by_thumb:
                # rare in real hands (the flexor tendons of middle, ring and pinky are linked);
                # it is how the landmark model often explains a hand with one finger fewer
                raise_to("missing_folded_between", strength, f"{DIGIT_NAMES[d]} folded away between two held-out fingers")
        # a finger closing a ring with the thumb (the OK sign) is attached at both ends: no
        # finger-like part of the mask, so it and the thumb are left out of the comparison
        ring = set(signals.get("thumb_ring_digits") or [])  # see signals.thumb_ring_digits
        ring_parts = [p for p in held_parts if p["digits"] and set(p["digits"]) <= ring]
        free_ext = n_ext - sum(1 for d in ring if extended[d])
        free_mask = mask_fingers - sum(max(1, round(p["width_fw"] / FINGER_WIDTH_FW)) for p in ring_parts)
        if free_ext - free_mask >= 2 and held_parts:
            raise_to("missing_mask_count", 0.2 * (free_ext - free_mask),
                     f"skeleton holds out {n_ext} digits, mask shows {mask_fingers}")
        for web in signals.get("webbing", []):
            # digits held far apart cannot be one fused digit: what fills the gap between them
            # is skin-coloured background (a face behind spread fingers)
            # the crease is looked for on the landmarks' midline and, as they sit a few pixels
            # off, beside it (crease_near): fingers held together show one there
            near = web.get("crease_near", web["crease"])
            if web["filled"] >= 0.9 and web["crease"] < 0.6 and near < CREASE_NEAR_HELD_TOGETHER \
                    and web.get("gap_fw", 0.0) <= FUSED_MAX_GAP_FW:
                a, b = web["pair"]
                raise_to("fused_no_crease", min((0.6 - web["crease"]) / 0.4, (CREASE_NEAR_HELD_TOGETHER - near) / 0.5),
                         f"{DIGIT_NAMES[a]} and {DIGIT_NAMES[b]} joined without a crease")
    leak = float(signals.get("mask_leak_fw2", 0.0))
    if leak > LEAK_FROM_FW2:
        # the mask ran into a skin-coloured background (a face behind the fingers, another
        # hand, an arm): the parts it shows beyond the hand are not the hand's
        keep = _clip01(1.0 - (leak - LEAK_FROM_FW2) / (LEAK_VOID_FW2 - LEAK_FROM_FW2))
        # ... except the creases: they are read inside the runs that hold the held-out digits,
        # not from the mask's outline, where the background it ran into lies
        values = {k: v if k in LEAK_PROOF_TERMS else v * keep for k, v in values.items()}
        reasons.append(f"the hand's mask runs {leak:.0f} square finger widths beyond the hand: "
                       f"its evidence counts {keep:.0%}")
    overlap = float(signals.get("other_hand_overlap", 0.0))
    if overlap > 0:
        # another hand covers part of this one (hands touching, clasped, interlaced): the mask
        # holds parts of both, so what it shows is discounted, to nothing at half covered
        keep = _clip01(1.0 - overlap / OTHER_HAND_DISCOUNT_AT)
        values = {k: v * keep for k, v in values.items()}
        if keep < 1:
            reasons.append(f"another hand covers {overlap:.0%} of this one: its mask evidence counts {keep:.0%}")
    return PixelTerms(values, mask_ok, mask_fingers, tuple(reasons))


def finger_count_evidence(signals: dict, extended: tuple[bool, ...]) -> FingerEvidence:
    """Weigh the signals of one hand into evidence for an extra, missing or fused digit
    (the strongest pixel term of each kind, see pixel_terms); the landmark model changing its
    count or losing the hand under augmentation supports whichever is strongest (it does not
    say which defect)."""
    terms = pixel_terms(signals, extended)
    v = terms.values
    reasons = list(terms.reasons)
    mask_ok, mask_fingers = terms.mask_ok, terms.mask_fingers
    extra = max(v["extra_unexplained_part"], v["extra_wide_digit"], v["extra_mask_count"], v["extra_creases"])
    missing = max(v["missing_off_hand"], v["missing_folded_between"], v["missing_mask_count"])
    fused = v["fused_no_crease"]
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


# ---------------------------------------------------------------- anatomy

@dataclass(frozen=True)
class GeometryLimits:
    """Where each skeleton measure starts to count as implausible (for the reasons HAND002
    gives; the decision is the hand-defect score's)."""
    max_backward_bend_deg: float = 60.0  # a held-out finger bent backwards at PIP/DIP beyond this
    max_lateral_bend_deg: float = 60.0  # sideways bend at a hinge joint of a held-out finger
    max_phalanx_ratio: float = 3.2  # a bone this many times its typical length
    min_phalanx_ratio: float = 0.12  # ... or this small a share of it
    max_thumb_side_ratio: float = 2.0  # thumb base this much nearer the pinky than the index


@dataclass(frozen=True)
class PlausibilityEvidence:
    confidence: float
    findings: tuple[str, ...] = field(default_factory=tuple)


def implausibility_evidence(signals: dict, settings: "GeometryLimits" = None) -> PlausibilityEvidence:
    """Each out-of-range measure of the skeleton adds evidence in proportion to how far it is
    beyond its limit (at twice the margin it is certain)."""
    settings = settings or GeometryLimits()
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


