"""Benchmark of the hand rules on the evaluation corpus: `python -m bench.hands`.

Every figure is reported per source: real photos by the repository they come from
(finger-counting, sign-language digits, hagrid, mmpose, hamer, mediapipe-samples), AI
photo-style hands (fine / malformed), illustrations (fine / malformed), clean images,
doctored copies of the real photos (extra, missing, fused finger; made at run time into a
temporary folder by bench/doctor_hands.py and deleted afterwards) and drawn hands
(fixtures/hands_fixtures.py). For each: hand detection rate, extended-finger count accuracy,
HAND001/HAND002 false-alarm rate (negatives) or recall (positives) per profile, as the
rules run.

Then the leave-one-source-out section: the hand-defect score of every detected hand is
recomputed from the collected evidence, the profile thresholds are chosen as quantiles of
the normal hands' scores WITHOUT one source (rules.hands.calibration), and the rates are
measured on that source. These are the figures to quote: no threshold saw the images it
is measured on. Negatives are also grouped by pose (fist, pointing, OK sign, fingers held
together, holding an object, two hands touching).

Median CPU ms per image and per detected hand close the report, and CPU ms per image of
photos and drawings apart.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import pickle
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
PROFILES = ("lenient", "strict")
CODES = ("HAND001", "HAND002")

# short names of the real-photo sources (MANIFEST source_repo)
SOURCE_NAMES = {
    "EPSRC-NUMBERS/Human-Robot_Finger-Counting_Dataset": "fingercount",
    "ardamavi/Sign-Language-Digits-Dataset": "signdigits",
    "hukenovs/hagrid": "hagrid",
    "open-mmlab/mmpose": "mmpose",
    "geopavlakos/hamer": "hamer",
    "google-ai-edge/mediapipe-samples": "mediapipe",
}
# groups of negatives (normal hands) and positives, in report order
NEGATIVE_GROUPS = ("fingercount", "signdigits", "hagrid", "mmpose", "hamer", "mediapipe", "ai_ok", "illust_ok",
                   "drawn_ok", "clean")
POSITIVE_GROUPS = ("ai_defect", "illust_defect", "doctored:extra", "doctored:missing", "doctored:fused",
                   "drawn_defect")
POSES = ("fist", "pointing", "OK sign", "fingers together", "holding an object", "two hands touching")


@dataclass(frozen=True)
class Case:
    path: Path
    group: str  # reporting group (see NEGATIVE_GROUPS / POSITIVE_GROUPS)
    source: str  # the source left out together in leave-one-source-out (doctored: the photo's)
    positive: bool  # has a malformed hand
    has_hand: bool | None  # a hand is known to be in the image (None: unknown)
    extended: int | None = None  # labelled extended-finger count of the main hand
    kind: str = ""  # doctoring method, drawn variant, category
    poses: tuple[str, ...] = ()  # labelled poses (negatives)
    style: str = "photo"  # photo / illustration


def poses_from_label(label: str, source: str) -> tuple[str, ...]:
    """Poses a label names (MANIFEST label text), plus the finger-counting folders: 1 finger
    is pointing with the index. 'fingers together' is also measured on the skeleton (see
    fingers_together)."""
    low = label.lower()
    poses = []
    if "fist" in low or "extended_fingers=0;" in low and "o-shape" not in low:
        poses.append("fist")
    if (source == "fingercount" and "extended_fingers=1;" in low) or "(index)" in low or "pointing" in low \
            or "finger at lips" in low:
        poses.append("pointing")
    if "gesture=ok" in low or "thumb-index circle" in low or "thumb touches index" in low or "o-shape" in low \
            or "ok sign" in low:
        poses.append("OK sign")
    if "together" in low or "flat" in low:
        poses.append("fingers together")
    if any(w in low for w in ("holding", "grasp", "gripping", "sandwich", "bread", "apple", "berries", "pizza",
                              "shears", "spoon")):
        poses.append("holding an object")
    if any(w in low for w in ("two hands", "clasped", "interlaced", "interleaved", "palm to palm", "interlocked",
                              "both hands")):
        poses.append("two hands touching")
    return tuple(poses)


def load_cases(corpus: Path) -> list[Case]:
    cases = []
    with open(corpus / "MANIFEST.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            cat, label, path = row["category"], row["label"], corpus / row["file"]
            m = re.search(r"extended_fingers=(\d)", label)
            extended = int(m.group(1)) if m else None
            if cat == "hands_real":
                source = SOURCE_NAMES.get(row["source_repo"], row["source_repo"])
                cases.append(Case(path, source, source, False, True, extended, cat, poses_from_label(label, source)))
            elif cat in ("hands_ai_defect", "hands_ai_ok"):
                group = "ai_defect" if cat == "hands_ai_defect" else "ai_ok"
                cases.append(Case(path, group, group, cat == "hands_ai_defect", True, None, cat,
                                  poses_from_label(label, group)))
            elif cat in ("hands_illust_defect", "hands_illust_ok"):
                group = "illust_defect" if cat == "hands_illust_defect" else "illust_ok"
                cases.append(Case(path, group, group, cat == "hands_illust_defect", True, None, cat,
                                  poses_from_label(label, group), "illustration"))
            elif cat == "clean":
                cases.append(Case(path, "clean", "clean", False, ("fingers=5" in label) or None, None, cat))
    return cases


def drawn_cases(folder: Path) -> list[Case]:
    """Drawn hands (fixtures/hands_fixtures.py) written to `folder`: normal ones at several
    sizes, angles and finger spreads, and ones with a sixth, a missing or two fused fingers."""
    from PIL import Image

    from fixtures.hands_fixtures import drawn_variants

    cases = []
    for name, positive, image in drawn_variants():
        path = folder / f"drawn_{name}.png"
        Image.fromarray(image).save(path)
        group = "drawn_defect" if positive else "drawn_ok"
        cases.append(Case(path, group, "drawn", positive, True, None, name, (), "illustration"))
    return cases


# ---------------------------------------------------------------- one image

@dataclass
class HandRecord:
    """A detected hand and everything the score is computed from."""
    features: dict  # rules.hands.score.hand_features(...) of the hand, TTA included
    signals: dict
    extended: tuple[bool, ...]
    size: float
    share: float
    detection_score: float
    found_in: str  # full / tile / pose
    together: bool  # four fingers held out side by side, touching
    points: np.ndarray | None = None  # 21x2 landmarks in image pixels


@dataclass
class Outcome:
    case: Case
    hands: list[HandRecord]
    flagged: dict  # (profile, code) -> any finding
    cpu_ms: dict  # profile -> CPU ms of both rules (their analysis included)
    regions_on_hand: bool = True  # every finding's region overlaps a detected hand
    extended_observed: list = field(default_factory=list)


def fingers_together(points: np.ndarray, extended: tuple[bool, ...]) -> bool:
    """Index to pinky all held out with neighbouring tips closer than a finger width."""
    from rules.hands.signals import finger_width_px

    if not all(extended[1:]):
        return False
    fw = finger_width_px(points)
    tips = points[[8, 12, 16, 20]]
    gaps = np.linalg.norm(np.diff(tips, axis=0), axis=1)
    return bool(np.max(gaps) < 1.4 * fw)


def evaluate(case: Case) -> Outcome:
    """Both rules in each profile on a fresh context (the image decoded once), timed per
    profile by CPU time; then every hand of the widest search (full view, tiles, pose) with
    all its evidence, augmentation included, for the leave-one-source-out section."""
    from checker.context import ImageContext
    from checker.imageio import load_image
    from checker.testing import run_rule
    from rules.hands import HAND001, HAND002
    from rules.hands.analysis import DetectionPlan

    loaded = load_image(case.path)
    flagged, cpu = {}, {}
    on_hand = True
    observed = []
    for profile in PROFILES:
        ctx = ImageContext(case.path, loaded)
        cpu_start = time.process_time()
        for rule in (HAND001, HAND002):
            findings = run_rule(rule, ctx, profile=profile)
            flagged[(profile, rule.code)] = bool(findings)
            for f in findings:
                hands_seen = ctx.observations.get("hands", [])
                if f.region is not None and not any(_overlaps(f.region.to_dict(), h["region"]) for h in hands_seen):
                    on_hand = False
        cpu[profile] = (time.process_time() - cpu_start) * 1000
        observed = [h["extended_fingers"] for h in ctx.observations.get("hands", [])]
    # strict's context: its analysis (same plan) and augmented hands are reused
    hands = hand_records(ctx, DetectionPlan(search_with_pose=True))
    return Outcome(case, hands, flagged, cpu, on_hand, observed)


def hand_records(ctx, plan) -> list[HandRecord]:
    """Every hand of the analysis with `plan`, augmentation measured, as the score sees it."""
    from rules.hands.analysis import analyse_hands, augment_hand
    from rules.hands.score import hand_features

    hands = []
    for i, report in enumerate(ctx.shared(analyse_hands, plan).hands):
        signals = {**report.signals, **ctx.shared(augment_hand, plan, i)}
        hands.append(HandRecord(hand_features(signals, report.extended), signals, report.extended,
                                float(report.hand.size), float(report.share_of_image), float(report.hand.score),
                                report.hand.source, fingers_together(report.hand.points, report.extended),
                                report.hand.points))
    return hands


def collect_hands(case: Case) -> Outcome:
    """Only the hands and their evidence (no rule runs, no timing): what the score and the
    leave-one-source-out figures are computed from; `decisions` gives what the rules decide."""
    from checker.context import ImageContext
    from checker.imageio import load_image
    from rules.hands.analysis import DetectionPlan

    ctx = ImageContext(case.path, load_image(case.path))
    hands = hand_records(ctx, DetectionPlan(search_with_pose=True))
    return Outcome(case, hands, {}, {})


def _overlaps(a: dict, b: dict) -> bool:
    return (min(a["x"] + a["width"], b["x"] + b["width"]) > max(a["x"], b["x"])
            and min(a["y"] + a["height"], b["y"] + b["height"]) > max(a["y"], b["y"]))


def _evaluate_cached(args: tuple[Case, str | None]) -> Outcome:
    case, cache_dir = args
    if cache_dir is None:
        return evaluate(case)
    key = hashlib.sha1(f"{case.path.name}:{case.path.stat().st_size}:{code_fingerprint()}".encode()).hexdigest()
    path = Path(cache_dir) / f"{key}.pkl"
    if path.is_file():
        outcome = pickle.loads(path.read_bytes())
        outcome.case = case
        return outcome
    outcome = evaluate(case)
    path.write_bytes(pickle.dumps(outcome))
    return outcome


def code_fingerprint() -> str:
    """The hand rules' code and data: a cached outcome is reused only while they are unchanged."""
    h = hashlib.sha1()
    for p in sorted((ROOT / "rules" / "hands").rglob("*")):
        if p.is_file() and p.suffix in (".py", ".json"):
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- figures

def rate(num: int, den: int) -> float | None:
    return num / den if den else None


def main_hand(o: Outcome) -> HandRecord | None:
    full = [h for h in o.hands if h.found_in != "pose"] or o.hands
    return max(full, key=lambda h: h.size) if full else None


def group_figures(outcomes: list[Outcome]) -> dict:
    """Per reporting group: images, detection, count accuracy, and per profile and code the
    share of images flagged (false alarms on negatives, recall on positives)."""
    figures = {}
    for group in NEGATIVE_GROUPS + POSITIVE_GROUPS:
        os_ = [o for o in outcomes if o.case.group == group]
        if not os_:
            continue
        with_hand = [o for o in os_ if o.case.has_hand]
        counted = [o for o in os_ if o.case.extended is not None and main_hand(o)]
        f = {"images": len(os_), "positive": os_[0].case.positive,
             "detection_rate": rate(sum(1 for o in with_hand if any(h.found_in != "pose" for h in o.hands)),
                                    len(with_hand)),
             "detection_rate_with_pose": rate(sum(1 for o in with_hand if o.hands), len(with_hand)),
             "count_accuracy": rate(sum(1 for o in counted if sum(main_hand(o).extended) == o.case.extended),
                                    len(counted))}
        for profile in PROFILES:
            for code in CODES:
                f[(profile, code)] = rate(sum(1 for o in os_ if o.flagged[(profile, code)]), len(os_))
            f[(profile, "any")] = rate(sum(1 for o in os_ if o.flagged[(profile, "HAND001")]
                                           or o.flagged[(profile, "HAND002")]), len(os_))
        figures[group] = f
    return figures


def pose_figures(outcomes: list[Outcome]) -> dict:
    """Negatives by pose: labelled poses, plus 'fingers together' measured on the skeleton."""
    out = {}
    for pose in POSES:
        os_ = [o for o in outcomes if not o.case.positive and o.case.has_hand and (
            pose in o.case.poses or (pose == "fingers together" and any(h.together for h in o.hands)))]
        out[pose] = {"images": len(os_), **{(p, "any"): rate(sum(1 for o in os_ if o.flagged[(p, "HAND001")]
                                                                 or o.flagged[(p, "HAND002")]), len(os_))
                                            for p in PROFILES}}
    return out


def timing_figures(outcomes: list[Outcome]) -> dict:
    out = {}
    for profile in PROFILES:
        per_image = [o.cpu_ms[profile] for o in outcomes]
        per_hand = [o.cpu_ms[profile] / len([h for h in o.hands if h.found_in != "pose"])
                    for o in outcomes if any(h.found_in != "pose" for h in o.hands)]
        out[profile] = (statistics.median(per_image), statistics.median(per_hand) if per_hand else None)
    return out


def timing_by_style(outcomes: list[Outcome]) -> dict:
    """Median and mean CPU ms per image of photos and of drawings apart, per profile: strict's
    tile search of drawings where the full view finds no hand is to cost photos nothing."""
    out = {}
    for style in sorted({o.case.style for o in outcomes}):
        cpu = [o.cpu_ms for o in outcomes if o.case.style == style]
        out[style] = {p: (statistics.median(c[p] for c in cpu), statistics.mean(c[p] for c in cpu), len(cpu))
                      for p in PROFILES}
    return out


def profile_gate_and_level(profile: str):
    """Which hands a profile judges and the confidence it asks for, from HAND001's profile
    settings (both hand rules share them)."""
    from rules.hands import HAND001, FingerCountSettings
    from rules.hands.judging import gate

    settings = FingerCountSettings(**HAND001.profiles[profile])
    return gate(settings), settings.min_confidence


def decisions(scoring, o: Outcome) -> dict:
    """What each profile's rules decide on one image's collected hands with `scoring`,
    exactly as rules.hands.judging does (augmentation only where the first look is uncertain)."""
    from rules.hands.score import judge, without_augmentation

    flags = {}
    for profile in PROFILES:
        gate, level = profile_gate_and_level(profile)
        found = set()
        for h in o.hands:
            if not gate.admits(h.share, h.size, h.detection_score, h.found_in):
                continue
            j = judge(scoring, without_augmentation(h.features), lambda h=h: h.features, level)
            if j.confidence >= level:
                found.add("HAND001" if j.family == "count" else "HAND002")
        for code in CODES:
            flags[(profile, code)] = code in found
    return flags


def loso_figures(outcomes: list[Outcome]) -> dict:
    """Leave one source out: for each source, the score's model and its calibration
    (thresholds as quantiles of normal hands' scores) are made from every other source
    (bench.hands_calibrate.fit_scoring), and the decision of each profile is applied to that
    source's hands. Doctored photos leave with the photos they were made from; the real AI and
    illustration defects are never learned from."""
    from bench.hands_calibrate import fit_scoring

    sources = sorted({o.case.source for o in outcomes})
    out = {}
    for left_out in sources:
        scoring = fit_scoring([o for o in outcomes if o.case.source != left_out])
        for o in outcomes:
            if o.case.source == left_out:
                out[o.case.path] = decisions(scoring, o)
    figures = {}
    for group in NEGATIVE_GROUPS + POSITIVE_GROUPS:
        os_ = [o for o in outcomes if o.case.group == group]
        if not os_:
            continue
        f = {"images": len(os_)}
        for profile in PROFILES:
            for code in CODES:
                f[(profile, code)] = rate(sum(1 for o in os_ if out[o.case.path][(profile, code)]), len(os_))
            f[(profile, "any")] = rate(sum(1 for o in os_ if out[o.case.path][(profile, "HAND001")]
                                           or out[o.case.path][(profile, "HAND002")]), len(os_))
        figures[group] = f
    return figures


def run(corpus: Path, workdir: Path, jobs: int = 1, cache_dir: Path | None = None,
        doctored_variants: int = 1, groups: tuple[str, ...] | None = None) -> tuple[dict, list[Outcome]]:
    from bench.doctor_hands import make_doctored_set

    cases = load_cases(corpus)
    photos = [c for c in cases if c.group in SOURCE_NAMES.values()]
    by_path = {c.path: c for c in photos}
    if doctored_variants:
        for path, doc, original in make_doctored_set([c.path for c in photos], workdir, variants=doctored_variants):
            cases.append(Case(path, f"doctored:{doc.kind}", by_path[original].source, True, True, None,
                              f"{doc.kind}:{doc.method}"))
    cases += drawn_cases(workdir)
    if groups:
        cases = [c for c in cases if c.group in groups or c.source in groups]
    work = [(c, str(cache_dir) if cache_dir else None) for c in cases]
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            outcomes = pool.map(_evaluate_cached, work, chunksize=4)
    else:
        outcomes = [_evaluate_cached(w) for w in work]
    figures = {"groups": group_figures(outcomes), "poses": pose_figures(outcomes), "timing": timing_figures(outcomes),
               "timing_by_style": timing_by_style(outcomes),
               "regions_on_hand": all(o.regions_on_hand for o in outcomes)}
    try:
        figures["loso"] = loso_figures(outcomes)
    except ImportError:  # code without a calibrated score (the baseline)
        figures["loso"] = None
    return figures, outcomes


def _fmt(x) -> str:
    return "  n/a" if x is None else f"{x:5.2f}"


def _rates_table(lines: list[str], figures: dict, title: str) -> None:
    lines.append(title)
    lines.append(f"  {'group':17s} {'imgs':>4s} | {'lenient H1':>10s} {'H2':>5s} {'any':>5s} | "
                 f"{'strict H1':>9s} {'H2':>5s} {'any':>5s}")
    for kind, groups in (("negatives: false-alarm rate", NEGATIVE_GROUPS), ("positives: recall", POSITIVE_GROUPS)):
        lines.append(f"  {kind}")
        for group in groups:
            f = figures.get(group)
            if not f:
                continue
            lines.append(f"  {group:17s} {f['images']:4d} | {_fmt(f[('lenient', 'HAND001')]):>10s} "
                         f"{_fmt(f[('lenient', 'HAND002')])} {_fmt(f[('lenient', 'any')])} | "
                         f"{_fmt(f[('strict', 'HAND001')]):>9s} {_fmt(f[('strict', 'HAND002')])} "
                         f"{_fmt(f[('strict', 'any')])}")


def report(figures: dict) -> str:
    lines = ["hand benchmark (noticer HAND001/HAND002)", ""]
    lines.append("detect = images with a hand in which one is found (full view and tiles; +pose = also at the")
    lines.append("pose's wrists); count = extended-finger count of the largest hand equals the label")
    lines.append(f"  {'group':17s} {'imgs':>4s} {'detect':>6s} {'+pose':>6s} {'count':>6s}")
    for group in NEGATIVE_GROUPS + POSITIVE_GROUPS:
        f = figures["groups"].get(group)
        if f:
            lines.append(f"  {group:17s} {f['images']:4d} {_fmt(f['detection_rate']):>6s} "
                         f"{_fmt(f['detection_rate_with_pose']):>6s} {_fmt(f['count_accuracy']):>6s}")
    lines.append("")
    _rates_table(lines, figures["groups"], "AS THE RULES RUN (shipped thresholds; the normal hands of every source "
                                           "helped choose them: not a fair figure)")
    lines.append("")
    if figures.get("loso"):
        _rates_table(lines, figures["loso"], "LEAVE-ONE-SOURCE-OUT (thresholds chosen without the source measured; "
                                             "the figures to quote)")
    else:
        lines.append("LEAVE-ONE-SOURCE-OUT: not available (this code has no calibrated score)")
    lines.append("")
    lines.append("negatives by pose, as the rules run: share of images flagged by either rule")
    for pose, f in figures["poses"].items():
        if f["images"]:
            lines.append(f"  {pose:20s} {f['images']:4d} images  lenient {_fmt(f[('lenient', 'any')])}  "
                         f"strict {_fmt(f[('strict', 'any')])}")
        else:
            lines.append(f"  {pose:20s}    0 images  (no example in the corpus)")
    lines.append(f"every finding's region overlaps a detected hand: {figures['regions_on_hand']}")
    lines.append("")
    lines.append("CPU ms of both rules (analysis included), median per image / per detected hand:")
    for profile, (per_image, per_hand) in figures["timing"].items():
        lines.append(f"  {profile:8s} {per_image:6.0f} / {_fmt(per_hand) if per_hand is None else f'{per_hand:.0f}'}")
    lines.append("CPU ms per image by picture style, median / mean:")
    for style, by_profile in figures.get("timing_by_style", {}).items():
        n = next(iter(by_profile.values()))[2]
        lines.append(f"  {style:12s} {n:4d} images  " + "  ".join(
            f"{p} {med:4.0f} / {mean:4.0f}" for p, (med, mean, _) in by_profile.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (CPU ms are per process)")
    parser.add_argument("--cache", type=Path, help="keep each image's outcome here (reused while rules/hands "
                                                   "is unchanged); outside the repo")
    parser.add_argument("--variants", type=int, default=1, help="doctored copies of each kind per photo")
    parser.add_argument("--per-image", action="store_true", help="also list every image's outcome")
    parser.add_argument("--dump", type=Path, help="write the outcomes (pickle) here, for bench/hands_calibrate.py")
    parser.add_argument("--workdir", type=Path, help="keep the generated images (doctored, drawn) in this folder "
                                                     "instead of a temporary one (outside the repo), so their "
                                                     "signals can be measured again without the corpus run")
    args = parser.parse_args(argv)
    if not (args.corpus / "MANIFEST.tsv").is_file():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="noticer-hands-") as tmp:
        workdir = args.workdir or Path(tmp)
        figures, outcomes = run(args.corpus, workdir, args.jobs, args.cache, args.variants)
        if args.per_image:
            for o in outcomes:
                flags = " ".join(f"{p[0]}:{c[-1]}" for (p, c), v in o.flagged.items() if v)
                print(f"{o.case.group:17s} {'POS' if o.case.positive else 'neg'} {o.case.path.name[:60]:60s} "
                      f"hands={len(o.hands)} ext={[int(sum(h.extended)) for h in o.hands]} want={o.case.extended} "
                      f"{flags} {o.cpu_ms['lenient']:.0f}/{o.cpu_ms['strict']:.0f} ms CPU")
    if args.dump:
        for o in outcomes:
            o.case = Case(o.case.path if args.workdir else Path(o.case.path.name), o.case.group, o.case.source, o.case.positive, o.case.has_hand,
                          o.case.extended, o.case.kind, o.case.poses, o.case.style)
        args.dump.write_bytes(pickle.dumps(outcomes))
    print(report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
