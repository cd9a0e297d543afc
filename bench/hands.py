"""Benchmark of the hand rules on the evaluation corpus: `python -m bench.hands`.

Prints, per profile and per image set (real photos, doctored photos, real AI photo-style,
illustration, clean), the hand detection rate, the extended-finger count accuracy, and
HAND001/HAND002 precision, recall and false-alarm rate per image, plus median milliseconds
per image and per detected hand. Doctored positives are generated into a temporary folder
at run time (bench/doctor_hands.py) and deleted afterwards.
"""
from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
PROFILES = ("lenient", "strict")
SETS = ("real_photos", "doctored", "ai_photo", "illustration", "clean")


@dataclass(frozen=True)
class Case:
    path: Path
    set_name: str
    positive: bool  # has a malformed hand
    has_hand: bool | None  # a hand is known to be in the image (None: unknown)
    extended: int | None = None  # labelled extended-finger count (real photos)
    kind: str = ""  # doctoring kind / category


def load_cases(corpus: Path) -> list[Case]:
    cases = []
    with open(corpus / "MANIFEST.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            cat, label, path = row["category"], row["label"], corpus / row["file"]
            if cat == "hands_real":
                m = re.search(r"extended_fingers=(\d)", label)
                cases.append(Case(path, "real_photos", False, True, int(m.group(1)) if m else None, cat))
            elif cat in ("hands_ai_defect", "hands_ai_ok"):
                cases.append(Case(path, "ai_photo", cat == "hands_ai_defect", True, None, cat))
            elif cat in ("hands_illust_defect", "hands_illust_ok"):
                cases.append(Case(path, "illustration", cat == "hands_illust_defect", True, None, cat))
            elif cat == "clean":
                has_hand = "fingers=5" in label
                cases.append(Case(path, "clean", False, has_hand or None, None, cat))
    return cases


@dataclass
class Outcome:
    case: Case
    hands: int
    extended: list[int]
    flagged: dict[tuple[str, str], bool]  # (profile, code) -> any finding
    rules_ms: dict[str, float]  # profile -> wall clock of both rules (their analysis included)
    rules_cpu_ms: dict[str, float]  # ... CPU time of this process: robust to other jobs
    hands_with_pose: int  # hands found when also searching at the pose's wrists (0: not measured)
    pose_cpu_ms: float  # CPU time of the analysis with the pose search


def evaluate(case: Case, with_pose: bool = True) -> Outcome:
    """Both rules in each profile on a fresh context (the image decoded once), timed per
    profile: what the rules cost there, including only the analysis that profile asks for."""
    from checker.context import ImageContext
    from checker.imageio import load_image
    from rules.hands.analysis import DetectionPlan, analyse_hands
    from rules.hands import HAND001, HAND002
    from checker.testing import run_rule

    loaded = load_image(case.path)
    flagged, wall, cpu = {}, {}, {}
    contexts = {}
    for profile in PROFILES:
        ctx = contexts[profile] = ImageContext(case.path, loaded)
        start, cpu_start = time.perf_counter(), time.process_time()
        for rule in (HAND001, HAND002):
            flagged[(profile, rule.code)] = bool(run_rule(rule, ctx, profile=profile))
        wall[profile] = (time.perf_counter() - start) * 1000
        cpu[profile] = (time.process_time() - cpu_start) * 1000
    # detection and counts from the widest search (full view and tiles, as strict does)
    analysis = contexts["strict"].shared(analyse_hands, DetectionPlan())
    pose_hands, pose_cpu_ms = 0, 0.0
    if with_pose:  # measure what the optional pose search (search_with_pose) would add
        cpu_start = time.process_time()
        pose_hands = len(contexts["strict"].shared(analyse_hands, DetectionPlan(search_with_pose=True)).hands)
        pose_cpu_ms = (time.process_time() - cpu_start) * 1000
    # the largest hand is the one a label counts
    hands = sorted(analysis.hands, key=lambda h: -h.hand.size)
    return Outcome(case, len(hands), [h.extended_count for h in hands], flagged, wall, cpu,
                   pose_hands, pose_cpu_ms)


def rate(num: int, den: int) -> float | None:
    return num / den if den else None


def summarise(outcomes: list[Outcome]) -> dict:
    """Figures per set and profile, as plain numbers (None where undefined)."""
    figures: dict = {}
    for set_name in SETS:
        group = [o for o in outcomes if o.case.set_name == set_name]
        if not group:
            continue
        with_hand = [o for o in group if o.case.has_hand]
        counted = [o for o in group if o.case.extended is not None and o.hands]
        f = {
            "images": len(group),
            "positives": sum(o.case.positive for o in group),
            "detection_rate": rate(sum(1 for o in with_hand if o.hands), len(with_hand)),
            "detection_rate_with_pose": rate(sum(1 for o in with_hand if o.hands_with_pose), len(with_hand)),
            "hands": sum(o.hands for o in group),
            "hands_with_pose": sum(o.hands_with_pose for o in group),
            "count_accuracy": rate(sum(1 for o in counted if o.extended[0] == o.case.extended), len(counted)),
        }
        for profile in PROFILES:
            for code in ("HAND001", "HAND002"):
                tp = sum(1 for o in group if o.case.positive and o.flagged[(profile, code)])
                fp = sum(1 for o in group if not o.case.positive and o.flagged[(profile, code)])
                pos = sum(1 for o in group if o.case.positive)
                neg = len(group) - pos
                f[(profile, code)] = {"precision": rate(tp, tp + fp), "recall": rate(tp, pos),
                                      "false_alarm_rate": rate(fp, neg)}
            tp = sum(1 for o in group if o.case.positive and (o.flagged[(profile, "HAND001")] or o.flagged[(profile, "HAND002")]))
            f[(profile, "any")] = {"recall": rate(tp, f["positives"])}
        figures[set_name] = f
    for profile in PROFILES:
        for clock, attr in (("ms", "rules_ms"), ("cpu_ms", "rules_cpu_ms")):
            with_hands = [getattr(o, attr)[profile] / o.hands for o in outcomes if o.hands]
            figures[f"{profile}_{clock}_per_hand_median"] = statistics.median(with_hands) if with_hands else None
            figures[f"{profile}_{clock}_per_image_median"] = statistics.median(getattr(o, attr)[profile] for o in outcomes)
    with_hands = [o.pose_cpu_ms / o.hands_with_pose for o in outcomes if o.hands_with_pose]
    figures["pose_cpu_ms_per_hand_median"] = statistics.median(with_hands) if with_hands else 0.0
    figures["pose_cpu_ms_per_image_median"] = statistics.median(o.pose_cpu_ms for o in outcomes)
    return figures


def time_empty_1024(corpus: Path, repeats: int = 3) -> dict[str, float] | None:
    """Median CPU ms of the analysis on clean images without hands, resized to 1024x1024, as
    each profile searches (lenient: full view; strict: also 2x2 tiles) and with the pose search."""
    from PIL import Image

    from rules.hands.analysis import DetectionPlan, analyse_rgb

    plans = {"lenient": DetectionPlan(search_tiles=False), "strict": DetectionPlan(),
             "strict+pose": DetectionPlan(search_with_pose=True)}
    cpu: dict[str, list[float]] = {name: [] for name in plans}
    for path in sorted((corpus / "clean").glob("*")):
        rgb = np.asarray(Image.open(path).convert("RGB").resize((1024, 1024)))
        for _ in range(repeats):
            for name, plan in plans.items():
                c = time.process_time()
                if not analyse_rgb(rgb, plan).hands:
                    cpu[name].append((time.process_time() - c) * 1000)
    if not all(cpu.values()):
        return None
    return {name: statistics.median(values) for name, values in cpu.items()}


def run(corpus: Path, workdir: Path, doctored_limit: int | None = None,
        with_pose: bool = True) -> tuple[dict, list[Outcome]]:
    from bench.doctor_hands import make_doctored_set

    cases = load_cases(corpus)
    photos = [c.path for c in cases if c.set_name == "real_photos"]
    for path, doc, _original in make_doctored_set(photos, workdir)[:doctored_limit]:
        cases.append(Case(path, "doctored", True, True, None, f"{doc.kind}:{doc.method}"))
    outcomes = [evaluate(c, with_pose) for c in cases]
    figures = summarise(outcomes)
    figures["doctored_by_kind"] = {}
    for kind in ("extra", "missing", "fused"):
        group = [o for o in outcomes if o.case.set_name == "doctored" and o.case.kind.startswith(kind)]
        figures["doctored_by_kind"][kind] = {
            p: rate(sum(1 for o in group if o.flagged[(p, "HAND001")]), len(group)) for p in PROFILES}
        figures["doctored_by_kind"][kind]["n"] = len(group)
    return figures, outcomes


def _fmt(x) -> str:
    return "  n/a" if x is None else f"{x:5.2f}"


def report(figures: dict, empty_ms: dict[str, float] | None) -> str:
    lines = ["hand benchmark (noticer HAND001/HAND002)", ""]
    lines.append("detect = share of images with a hand in which one is found; count = extended-finger count")
    lines.append("exact on the largest hand; +pose = also searching at the pose's wrists (search_with_pose)")
    lines.append(f"{'set':13s} {'imgs':>4s} {'pos':>4s} {'hands':>5s} {'detect':>6s} {'count':>6s} "
                 f"{'hands+pose':>10s} {'detect+pose':>11s}")
    for set_name in SETS:
        f = figures.get(set_name)
        if f:
            lines.append(f"{set_name:13s} {f['images']:4d} {f['positives']:4d} {f['hands']:5d} "
                         f"{_fmt(f['detection_rate']):>6s} {_fmt(f['count_accuracy']):>6s} "
                         f"{f['hands_with_pose']:10d} {_fmt(f['detection_rate_with_pose']):>11s}")
    lines.append("")
    lines.append("per image: P = precision, R = recall, FA = false-alarm rate (share of negatives flagged)")
    for profile in PROFILES:
        lines.append(f"profile {profile}")
        lines.append(f"  {'set':13s} | {'HAND001  P     R    FA':24s} | {'HAND002  P     R    FA':24s} | any R")
        for set_name in SETS:
            f = figures.get(set_name)
            if not f:
                continue
            a, b = f[(profile, "HAND001")], f[(profile, "HAND002")]
            lines.append(f"  {set_name:13s} |  {_fmt(a['precision'])} {_fmt(a['recall'])} {_fmt(a['false_alarm_rate'])}    "
                         f"|  {_fmt(b['precision'])} {_fmt(b['recall'])} {_fmt(b['false_alarm_rate'])}    "
                         f"| {_fmt(f[(profile, 'any')]['recall'])}")
    lines.append("")
    kinds = figures.get("doctored_by_kind", {})
    lines.append("doctored HAND001 recall by kind: " + ", ".join(
        f"{k} (n={v['n']}) lenient {_fmt(v['lenient']).strip()} strict {_fmt(v['strict']).strip()}" for k, v in kinds.items()))
    lines.append("timings: wall clock / CPU time of this process (CPU is robust to other jobs on the machine)")
    for profile in PROFILES:
        lines.append(f"{profile}, both rules: median ms per image (all sets) "
                     f"{figures[f'{profile}_ms_per_image_median']:.0f} / {figures[f'{profile}_cpu_ms_per_image_median']:.0f}, "
                     f"per detected hand {figures[f'{profile}_ms_per_hand_median']:.0f} / "
                     f"{figures[f'{profile}_cpu_ms_per_hand_median']:.0f}")
    lines.append(f"with the optional pose search, CPU ms per image / per hand: "
                 f"{figures['pose_cpu_ms_per_image_median']:.0f} / {figures['pose_cpu_ms_per_hand_median']:.0f}")
    if empty_ms is not None:
        lines.append("median CPU ms per 1024x1024 image without hands: "
                     + ", ".join(f"{name} {ms:.0f}" for name, ms in empty_ms.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--per-image", action="store_true", help="also list every image's outcome")
    args = parser.parse_args(argv)
    if not (args.corpus / "MANIFEST.tsv").is_file():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="noticer-hands-") as tmp:
        figures, outcomes = run(args.corpus, Path(tmp))
        if args.per_image:
            for o in outcomes:
                flags = " ".join(f"{p[0]}:{c[-1]}" for (p, c), v in o.flagged.items() if v)
                print(f"{o.case.set_name:12s} {'POS' if o.case.positive else 'neg'} {o.case.path.name[:60]:60s} "
                      f"hands={o.hands} ext={o.extended} want={o.case.extended} {flags} "
                      f"{o.rules_cpu_ms['lenient']:.0f}/{o.rules_cpu_ms['strict']:.0f} ms CPU")
    print(report(figures, time_empty_1024(args.corpus)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
