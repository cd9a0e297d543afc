"""One hand-defect score per hand, from the evidence the analysis collected.

`hand_features` flattens one hand's signals (pixel evidence, test-time augmentation,
skeleton geometry) into plain numbers. `hand_score` weighs them into one number with a small
logistic model (`HandModel`, weights in data/hand_score.json, fitted by
bench/hands_calibrate.py); `Calibration` turns the score into a confidence that means
something: the share of normal hands (real photos of many people, fine AI and drawn hands,
large sources weighted alike, small ones less: SMALL_SOURCE_PRIOR) that score lower.
Profiles gate on that confidence. Everything here is a pure function of numbers, so the
benchmark recomputes every decision from collected evidence (leave-one-source-out).
"""
from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .evidence import PIXEL_TERMS

DATA = Path(__file__).parent / "data" / "hand_score.json"

# the terms of the score, each a number in 0..1 that grows with evidence of a defect


FINGER_TERMS = PIXEL_TERMS + ("mask_unreadable",)
# the landmark model losing the hand, changing its count or its handedness under augmentation
# are one piece of evidence (an unstable fit): one term, their sum capped at 1. As three terms
# their weights added up, a hand with no other evidence could reach lenient on instability
# alone, and so every hand needed augmentation (four more model runs) to be judged
STABILITY_TERMS = ("tta_unstable", "tta_shift")
GEOMETRY_TERMS = ("backward_bend", "lateral_bend", "long_bone", "short_bone", "thumb_side", "crossings")
TERMS = FINGER_TERMS + STABILITY_TERMS + GEOMETRY_TERMS


def hand_features(signals: dict, extended: tuple[bool, ...]) -> dict:
    """The numbers the score is made of, for one hand (augmentation terms are 0 and
    `tta_measured` False when augmentation did not run)."""
    from .evidence import pixel_terms

    pixel = pixel_terms(signals, extended)
    return {
        **{k: round(v, 4) for k, v in pixel.values.items()},
        "mask_ok": pixel.mask_ok,
        "mask_share": float(signals.get("mask_share", 0.0)),
        "n_extended": int(sum(extended)),
        "tta_measured": "tta_lost" in signals,
        "tta_lost": float(signals.get("tta_lost", 0.0)),
        "tta_count_disagree": float(signals.get("tta_count_disagree", 0.0)),
        "tta_handedness_disagree": float(signals.get("tta_handedness_disagree", 0.0)),
        "tta_shift": float(signals.get("tta_shift", 0.0)),
        "backward_bend": float(signals.get("max_backward_bend_deg", 0.0)),
        "lateral_bend": float(signals.get("max_lateral_bend_deg", 0.0)),
        "max_phalanx": float(signals.get("max_phalanx_ratio", 1.0)),
        "min_phalanx": float(signals.get("min_phalanx_ratio", 1.0)),
        "thumb_side": float(signals.get("thumb_side_ratio", 0.0)),
        "crossings": len(signals.get("crossing_pairs", [])),
    }


def _excess(value: float, start: float, scale: float) -> float:
    return min(max((value - start) / scale, 0.0), 1.0)


def term_values(features: dict) -> np.ndarray:
    """The score's terms in 0..1, in TERMS order: 0 where nothing is wrong."""
    f = features
    return np.array([f[name] for name in PIXEL_TERMS] + [
        0.0 if f["mask_ok"] else 1.0,
        min(f["tta_lost"] + f["tta_count_disagree"] + f["tta_handedness_disagree"], 1.0), _excess(f["tta_shift"], 0.03, 0.2),
        _excess(f["backward_bend"], 30.0, 60.0), _excess(f["lateral_bend"], 30.0, 60.0),
        _excess(f["max_phalanx"], 1.8, 2.0), _excess(0.4 - f["min_phalanx"], 0.0, 0.4),
        _excess(f["thumb_side"], 0.8, 1.5), min(f["crossings"], 2) / 2.0,
    ], dtype=float)


@dataclass(frozen=True)
class HandModel:
    """Logistic model on the terms: score = sigmoid(bias + weights . terms). Weights are
    kept at or above 0 (every term is evidence of a defect, never of a normal hand), so the
    score can only grow with evidence and augmentation bounds are exact."""
    weights: tuple[float, ...]
    bias: float

    def score(self, features: dict) -> float:
        return score_terms(self, term_values(features))

    def contributions(self, features: dict) -> dict[str, float]:
        t = term_values(features)
        return {name: float(w * v) for name, w, v in zip(TERMS, self.weights, t)}


def score_terms(model: HandModel, terms: np.ndarray) -> float:
    z = model.bias + float(np.dot(model.weights, terms))
    return float(1.0 / (1.0 + np.exp(-z)))


def score_bounds_without_augmentation(model: HandModel, features: dict) -> tuple[float, float]:
    """The lowest and highest score the hand can reach once augmentation is measured, from
    its pixel and skeleton terms alone (augmentation terms at 0 and at 1): where both sides
    of a threshold are out of reach, augmentation cannot change the decision."""
    t = term_values(features)
    idx = [TERMS.index(name) for name in STABILITY_TERMS]
    scores = []
    for corner in itertools.product((0.0, 1.0), repeat=len(idx)):
        t2 = t.copy()
        t2[idx] = corner
        scores.append(score_terms(model, t2))
    return min(scores), max(scores)


@dataclass(frozen=True)
class Calibration:
    """Scores of normal hands at quantile `levels` (weighted so each source counts alike)."""
    levels: tuple[float, ...]
    scores: tuple[float, ...]

    def share_below(self, score: float) -> float:
        """Share of normal hands scoring below `score`: the finding's confidence."""
        i = int(np.searchsorted(np.asarray(self.scores), score, side="right"))
        return float(self.levels[i - 1]) if i > 0 else 0.0

    def threshold(self, level: float) -> float:
        """The lowest score whose confidence reaches `level`."""
        for lv, s in zip(self.levels, self.scores):
            if lv >= level:
                return float(s)
        return float(self.scores[-1])


QUANTILE_LEVELS = tuple(sorted(set(np.round(np.concatenate([np.linspace(0, 0.9, 91), np.linspace(0.9, 1.0, 201)]),
                                           4).tolist())))


def weighted_quantiles(values: list[float], weights: list[float], levels=QUANTILE_LEVELS) -> tuple[float, ...]:
    """Value at each level of the weighted distribution. The score at level q is the smallest
    value with at least share q of the weight at or below it... nudged just above it, so a
    hand scoring exactly like a normal hand gets that hand's level, not more."""
    order = np.argsort(values)
    v = np.asarray(values, float)[order]
    w = np.asarray(weights, float)[order]
    cum = np.cumsum(w) / w.sum()
    out = []
    for q in levels:
        i = int(np.searchsorted(cum, q - 1e-12, side="left"))
        out.append(float(v[min(i, len(v) - 1)]) + 1e-9)
    out[0] = min(out[0], float(v[0]))
    return tuple(float(x) for x in np.maximum.accumulate(out))


# a source of n hands weighs n / (n + SMALL_SOURCE_PRIOR) in total, in the calibration and in
# the fit (bench/hands_calibrate.py): large sources weigh alike (about 1), however many hands
# they have, and a source of a few hands less, so that one odd hand of a 5-photo source does not
# set the 97th percentile (each of its hands would otherwise weigh as much as 36 photos of a
# source of 180)
SMALL_SOURCE_PRIOR = 7.0


def calibrate(normal_scores: list[tuple[str, float]], source_weight: str = "equal") -> Calibration:
    """Calibration from (source, score) of normal hands: each hand weighs
    1 / (n + SMALL_SOURCE_PRIOR), n the hands of its source (large sources weigh alike)."""
    counts: dict[str, int] = {}
    for source, _ in normal_scores:
        counts[source] = counts.get(source, 0) + 1
    values = [s for _, s in normal_scores]
    weights = [1.0 / (counts[src] + SMALL_SOURCE_PRIOR) for src, _ in normal_scores]
    return Calibration(QUANTILE_LEVELS, weighted_quantiles(values, weights))


@dataclass(frozen=True)
class HandScoring:
    model: HandModel
    calibration: Calibration


@functools.lru_cache(maxsize=1)
def shipped_scoring() -> HandScoring:
    """The model and calibration shipped in data/hand_score.json."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    return scoring_from_dict(data)


def scoring_from_dict(data: dict) -> HandScoring:
    if tuple(data["terms"]) != TERMS:
        raise ValueError(f"{DATA.name} was fitted on other terms: run bench/hands_calibrate.py")
    model = HandModel(tuple(float(w) for w in data["weights"]), float(data["bias"]))
    cal = Calibration(tuple(data["calibration"]["levels"]), tuple(data["calibration"]["scores"]))
    return HandScoring(model, cal)


def scoring_to_dict(scoring: HandScoring, about: dict) -> dict:
    return {"terms": list(TERMS), "weights": [round(w, 6) for w in scoring.model.weights],
            "bias": round(scoring.model.bias, 6),
            "calibration": {"levels": list(scoring.calibration.levels),
                            "scores": [round(s, 9) for s in scoring.calibration.scores]},
            "about": about}


def defect_family(model: HandModel, features: dict) -> str:
    """'count' when finger-count and stability terms weigh most in the score, 'anatomy' when
    the skeleton's geometry does: which rule reports the hand."""
    c = model.contributions(features)
    count = sum(c[n] for n in FINGER_TERMS + STABILITY_TERMS)
    anatomy = sum(c[n] for n in GEOMETRY_TERMS)
    return "anatomy" if anatomy > count else "count"


@dataclass(frozen=True)
class HandGate:
    """Which hands a profile judges."""
    min_hand_share: float
    min_hand_pixels: float
    min_detection_score: float
    sources: tuple[str, ...]  # full / tile / pose

    def admits(self, share: float, size: float, detection_score: float, found_in: str) -> bool:
        return (share >= self.min_hand_share and size >= self.min_hand_pixels
                and detection_score >= self.min_detection_score and found_in in self.sources)


def without_augmentation(features: dict) -> dict:
    """The features as they are before augmentation runs (its terms at 0)."""
    return {**features, "tta_measured": False, "tta_lost": 0.0, "tta_count_disagree": 0.0,
            "tta_handedness_disagree": 0.0, "tta_shift": 0.0}


@dataclass(frozen=True)
class Judgement:
    features: dict
    score: float
    confidence: float  # share of normal hands scoring lower
    family: str  # 'count' (HAND001) or 'anatomy' (HAND002)
    augmented: bool  # augmentation was measured

    def reports(self, family: str, min_confidence: float) -> bool:
        return self.family == family and self.confidence >= min_confidence


def judge(scoring: HandScoring, first_look: dict, augmented_look, min_confidence: float,
          augment: bool = True) -> Judgement:
    """Judge one hand: `first_look` are its features without augmentation; `augmented_look()`
    measures them with it (several more landmark-model runs), called only where the first
    look is uncertain, i.e. where augmentation could move the confidence across
    `min_confidence` one way or the other."""
    model, cal = scoring.model, scoring.calibration
    features = first_look
    if augment and not first_look.get("tta_measured"):
        low, high = score_bounds_without_augmentation(model, first_look)
        if cal.share_below(low) < min_confidence <= cal.share_below(high):
            features = augmented_look()
    score = model.score(features)
    return Judgement(features, score, cal.share_below(score), defect_family(model, features),
                     bool(features.get("tta_measured")))
