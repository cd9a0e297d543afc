"""One hand-defect score per hand, from the evidence the analysis collected.

`hand_features` flattens one hand's signals (pixel evidence, test-time augmentation,
skeleton geometry) into plain numbers; the score and the decision of each profile are pure
functions of them, so the benchmark can recompute every decision from collected evidence.
"""
from __future__ import annotations


def hand_features(signals: dict, extended: tuple[bool, ...]) -> dict:
    """The numbers the score is made of, for one hand."""
    from . import finger_count_evidence

    pixel_only = {k: v for k, v in signals.items() if not k.startswith("tta_")}
    ev = finger_count_evidence(pixel_only, extended)
    return {
        "extra": round(ev.extra, 4),
        "missing": round(ev.missing, 4),
        "fused": round(ev.fused, 4),
        "mask_ok": not ev.inconclusive,
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
