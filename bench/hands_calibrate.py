"""Fit the hand-defect score and calibrate it: `python -m bench.hands_calibrate`.

Writes rules/hands/data/hand_score.json: the weights of the small logistic model that
weighs one hand's evidence terms (rules.hands.score.TERMS) into a score, and the scores of
normal hands at quantile levels, the calibration that turns a score into a confidence (the
share of normal hands scoring lower; profiles gate on it: lenient 0.97, strict 0.93).

What it learns from: every hand the benchmark collects (bench.hands.run, so the corpus at
../shared/corpus plus images generated at run time). Positives are the doctored copies of
real photos (extra, missing, fused finger) and the drawn malformed hands; negatives are the
hands of every normal image (real photos of each source, fine AI photo-style and
illustration hands, drawn normal hands, clean images). The real AI and illustration defects
(hands_ai_defect, hands_illust_defect) are never learned from: they are kept to measure.
Large sources weigh alike in the fit and in the calibration, a source of a few hands less
(rules.hands.score.SMALL_SOURCE_PRIOR). bench/hands.py refits all of
it without each source in turn (leave-one-source-out) to measure it.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAIN_POSITIVE_GROUPS = ("doctored:extra", "doctored:missing", "doctored:fused", "drawn_defect")
HELD_OUT_GROUPS = ("ai_defect", "illust_defect")
L2 = 0.01
# a source's hands of one class weigh n / (n + SMALL_SOURCE_PRIOR) in total (rules.hands.score,
# as in the calibration): a source of a few hands weighs less than one of hundreds, so that one
# odd hand of a tiny source does not steer the weights as much as a whole large source


def training_rows(outcomes) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(terms, label, weight, source) of every hand the model learns from: the main hand of a
    training positive (the doctored or drawn one) and every hand of a normal image. Each
    hand weighs 1 / (n + SMALL_SOURCE_PRIOR), n the hands of its source and class: a large
    source's positives or negatives weigh about 1 in total, a source of a few hands less."""
    from bench.hands import main_hand
    from rules.hands.score import SMALL_SOURCE_PRIOR, term_values

    rows = []
    for o in outcomes:
        if o.case.group in HELD_OUT_GROUPS:
            continue
        if o.case.positive:
            if o.case.group not in TRAIN_POSITIVE_GROUPS:
                continue
            hand = main_hand(o)
            if hand is not None:
                rows.append((term_values(hand.features), 1.0, o.case.source))
        else:
            for hand in o.hands:
                rows.append((term_values(hand.features), 0.0, o.case.source))
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    sources = [r[2] for r in rows]
    counts: dict = {}
    for s, label in zip(sources, y):
        counts[(s, label)] = counts.get((s, label), 0) + 1
    w = np.array([1.0 / (counts[(s, label)] + SMALL_SOURCE_PRIOR) for s, label in zip(sources, y)])
    for label in (0.0, 1.0):  # both classes weigh alike
        w[y == label] /= w[y == label].sum()
    return x, y, w, sources


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, steps: int = 3000, lr: float = 2.0):
    """Weighted logistic regression with weights kept >= 0 (projected gradient descent)."""
    n_terms = x.shape[1]
    coef = np.zeros(n_terms)
    bias = 0.0
    w = w / w.sum()
    for _ in range(steps):
        z = bias + x @ coef
        p = 1.0 / (1.0 + np.exp(-z))
        g = p - y
        coef -= lr * (x.T @ (w * g) + L2 * coef)
        bias -= lr * float(np.sum(w * g))
        coef = np.maximum(coef, 0.0)
    return coef, bias


def normal_hand_scores(outcomes, model) -> list[tuple[str, float]]:
    """(source, score) of every hand in a normal image that strict would judge."""
    return [(o.case.source, model.score(h.features)) for o in outcomes if not o.case.positive
            for h in o.hands if h.share >= 0.04 and h.detection_score >= 0.4 and h.size >= 24]


def fit_scoring(outcomes):
    """The model and its calibration from these outcomes."""
    from rules.hands.score import HandModel, HandScoring, calibrate

    x, y, w, _ = training_rows(outcomes)
    coef, bias = fit_logistic(x, y, w)
    model = HandModel(tuple(float(c) for c in coef), float(bias))
    return HandScoring(model, calibrate(normal_hand_scores(outcomes, model)))


class _OutcomeUnpickler(pickle.Unpickler):
    """Outcomes dumped by `python -m bench.hands` name their classes in __main__."""

    def find_class(self, module, name):
        if module in ("__main__", "__mp_main__"):
            module = "bench.hands"
        return super().find_class(module, name)


def load_outcomes(path: Path) -> list:
    with open(path, "rb") as fh:
        return _OutcomeUnpickler(fh).load()


def refresh_features(outcomes) -> None:
    """Recompute every hand's features from its signals with the current code (the signals
    are what the analysis measured; the features are how the score reads them)."""
    from rules.hands.score import hand_features

    for o in outcomes:
        for hand in o.hands:
            hand.features = hand_features(hand.signals, hand.extended)


def main(argv: list[str] | None = None) -> int:
    from bench.hands import DEFAULT_CORPUS, run
    from rules.hands.score import DATA, TERMS, scoring_to_dict

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--outcomes", type=Path, help="outcomes dumped by `python -m bench.hands --dump`")
    parser.add_argument("--cache", type=Path, help="as for bench.hands")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if args.outcomes:
        outcomes = load_outcomes(args.outcomes)
    else:
        with tempfile.TemporaryDirectory(prefix="noticer-hands-") as tmp:
            _, outcomes = run(args.corpus, Path(tmp), args.jobs, args.cache, doctored_variants=1)
    refresh_features(outcomes)
    scoring = fit_scoring(outcomes)
    x, y, w, sources = training_rows(outcomes)
    about = {"made_by": "python -m bench.hands_calibrate",
             "learned_from": {"positive_hands": int(y.sum()), "negative_hands": int(len(y) - y.sum()),
                              "sources": sorted(set(sources))},
             "calibrated_on_normal_hands": len(normal_hand_scores(outcomes, scoring.model)),
             "never_learned_from": list(HELD_OUT_GROUPS)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(scoring_to_dict(scoring, about), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for name, weight in zip(TERMS, scoring.model.weights):
        print(f"  {name:24s} {weight:7.3f}")
    print(f"  {'bias':24s} {scoring.model.bias:7.3f}")
    for level in (0.5, 0.9, 0.93, 0.95, 0.97, 0.99, 0.995):
        print(f"  normal hands' score at {level:.3f}: {scoring.calibration.threshold(level):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
