"""Benchmark of the ALIGN rules: `python -m bench.align [--quick] [--json FILE]`.

Prints, per rule and profile, recall by defect size on generated cases, false alarms per clean
image (generated negatives and the real corpus in ../shared/corpus when present), position
error in pixels, and median milliseconds per 1024x1024 image.

Generated positives come from `fixtures.align_gen`: drawn scenes, and the corpus's clean images
damaged in memory (reference files go to a temporary folder that is deleted afterwards).
Nothing derived from the corpus is written into the project.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from fixtures import align_gen as gen
from checker.testing import context_from_array, context_from_path, run_rule
from rules.align import ALIGN001, ALIGN002, ALIGN003, ALIGN004

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PROFILES = ("lenient", "strict")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def corpus_files(category: str | None = None, exclude: tuple[str, ...] = ()) -> list[Path]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    files = []
    for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]:
        name, cat = line.split("\t")[:2]
        if (category is None or cat == category) and cat not in exclude:
            files.append(CORPUS / name)
    return [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]


class CorpusImage:
    """A corpus file with its context loaded once (shared analyses are memoised on it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ctx = context_from_path(path)

    def relative_to(self, root: Path) -> Path:
        return self.path.relative_to(root)


def _run(rule, image, profile):
    target = image.ctx if isinstance(image, CorpusImage) else image
    return run_rule(rule, target, profile)


def clean_bases(n_scenes: int) -> list[tuple[str, np.ndarray]]:
    """Drawn scenes plus the corpus's clean images large enough to carry tiles."""
    bases = [(f"scene{seed}", gen.drawn_scene(seed)) for seed in range(n_scenes)]
    for path in corpus_files("clean"):
        rgb = context_from_path(path).rgb
        if min(rgb.shape[:2]) >= 384:
            bases.append((f"corpus:{path.name}", rgb))
    return bases


def _tile_for(rgb: np.ndarray) -> int:
    return 256 if min(rgb.shape[:2]) >= 768 else 128


# ----------------------------------------------------------------------------------------------
# ALIGN001
# ----------------------------------------------------------------------------------------------


def seam_cases(bases):
    for k, (name, rgb) in enumerate(bases):
        tile = _tile_for(rgb)
        h, w = rgb.shape[:2]
        for s in (1, 2, 3, 4):
            img, truth = gen.tile_shift(rgb, tile, s, seed=k)
            yield f"shift {s} px", name, img, truth
        for step in (2, 4, 8, 12):
            img, truth = gen.tile_brightness(rgb, tile, step)
            yield f"step {step} levels", name, img, truth
        img, truth = gen.bad_overlap(rgb, int(w * 0.55), 32, 2, 4, axis="vertical")
        yield "bad overlap (2 px, 4 levels)", name, img, truth
        img, truth = gen.outpaint_band(rgb, int(h * 0.62), 3, 2, axis="horizontal")
        yield "outpaint band (2 px, 3 levels)", name, img, truth


def seam_positions(finding) -> list[tuple[str, int]]:
    m = finding.measurements
    if "positions" in m:
        return [(a, int(p)) for a, p in m["positions"]]
    return [(m["axis"], int(m["position"]))]


def eval_seams(bases, negatives, corpus_neg, corpus_pos, tolerance: int = 2):
    out = {}
    cases = [(kind, context_from_array(img), truth) for kind, _name, img, truth in seam_cases(bases)]
    for profile in PROFILES:
        rec = defaultdict(lambda: [0, 0])
        lines_found = defaultdict(lambda: [0, 0])
        errors = []
        stray = 0
        n_pos = 0
        for kind, img, truth in cases:
            findings = run_rule(ALIGN001, img, profile)
            found = [p for f in findings for p in seam_positions(f)]
            hit_lines = 0
            for t in truth:
                d = [abs(p - t.position) for a, p in found if a == t.axis]
                if d and min(d) <= tolerance:
                    hit_lines += 1
                    errors.append(min(d))
            stray += sum(1 for a, p in found
                         if all(abs(p - t.position) > tolerance or a != t.axis for t in truth))
            n_pos += 1
            rec[kind][0] += int(hit_lines > 0)
            rec[kind][1] += 1
            lines_found[kind][0] += hit_lines
            lines_found[kind][1] += len(truth)
        neg_flags = {k: sum(bool(run_rule(ALIGN001, img, profile)) for img in imgs) / max(1, len(imgs))
                     for k, imgs in negatives.items()}
        corpus_flags = [p.relative_to(CORPUS).as_posix() for p in corpus_neg
                        if _run(ALIGN001, p, profile)]
        corpus_hits = {p.relative_to(CORPUS).as_posix(): [f.message for f in _run(ALIGN001, p, profile)]
                       for p in corpus_pos}
        target = {"shifts >= 2 px": [k for k in rec if k.startswith("shift") and int(k.split()[1]) >= 2],
                  "steps >= 4 levels": [k for k in rec if k.startswith("step") and int(k.split()[1]) >= 4]}
        out[profile] = {
            "recall_target": {name: sum(rec[k][0] for k in keys) / max(1, sum(rec[k][1] for k in keys))
                              for name, keys in target.items()},
            "recall_by_defect": {k: v[0] / v[1] for k, v in rec.items()},
            "line_recall_by_defect": {k: v[0] / v[1] for k, v in lines_found.items()},
            "position_error_median": statistics.median(errors) if errors else None,
            "position_error_max": max(errors) if errors else None,
            "stray_lines_per_positive": stray / max(1, n_pos),
            "false_alarm_rate_generated": neg_flags,
            "false_alarm_rate_corpus": len(corpus_flags) / max(1, len(corpus_neg)),
            "corpus_flagged": corpus_flags,
            "corpus_positives": corpus_hits,
        }
    return out


# ----------------------------------------------------------------------------------------------
# ALIGN002
# ----------------------------------------------------------------------------------------------


def grid_cases(bases):
    for name, rgb in bases:
        for period in (2, 4):
            for amp in (1, 2, 3, 4, 6):
                img, _box = gen.checkerboard(rgb, amp, period)
                yield f"period {period}, {amp} levels", name, img, period
        img, _box = gen.checkerboard(rgb, 4, 2, area=0.3)
        yield "period 2, 4 levels, 30% area", name, img, 2
        img, _box = gen.checkerboard(rgb, 3, 3)
        yield "period 3, 3 levels", name, img, 3


def eval_grid(bases, negatives, corpus_neg, corpus_pos):
    out = {}
    cases = [(kind, context_from_array(img), period) for kind, _name, img, period in grid_cases(bases)]
    for profile in PROFILES:
        rec = defaultdict(lambda: [0, 0])
        period_ok = [0, 0]
        for kind, img, period in cases:
            findings = run_rule(ALIGN002, img, profile)
            rec[kind][0] += int(bool(findings))
            rec[kind][1] += 1
            if findings:
                period_ok[1] += 1
                period_ok[0] += int(findings[0].measurements["period"] == period)
        neg_flags = {k: sum(bool(run_rule(ALIGN002, img, profile)) for img in imgs) / max(1, len(imgs))
                     for k, imgs in negatives.items()}
        corpus_flags = [p.relative_to(CORPUS).as_posix() for p in corpus_neg if _run(ALIGN002, p, profile)]
        corpus_hits = {p.relative_to(CORPUS).as_posix(): [f.message for f in _run(ALIGN002, p, profile)]
                       for p in corpus_pos}
        out[profile] = {
            "recall_by_defect": {k: v[0] / v[1] for k, v in rec.items()},
            "period_correct": period_ok[0] / max(1, period_ok[1]),
            "false_alarm_rate_generated": neg_flags,
            "false_alarm_rate_corpus": len(corpus_flags) / max(1, len(corpus_neg)),
            "corpus_flagged": corpus_flags,
            "corpus_positives": corpus_hits,
        }
    return out


# ----------------------------------------------------------------------------------------------
# ALIGN003
# ----------------------------------------------------------------------------------------------


def eval_broken(n_seeds: int, negatives, corpus_neg):
    out = {}
    cases = []
    for seed in range(n_seeds):
        for offset in (1, 2, 3, 5):
            for occluder in (False, True):
                img, at = gen.broken_line_art(seed, offset, occluder=occluder)
                cases.append((f"offset {offset} px" + (" behind occluder" if occluder else " at a gap"),
                              context_from_array(img), at, offset))
    clean_art = [context_from_array(gen.broken_line_art(seed, 0.0)[0]) for seed in range(n_seeds)]
    for profile in PROFILES:
        rec = defaultdict(lambda: [0, 0])
        offset_err = []
        for kind, img, at, offset in cases:
            findings = run_rule(ALIGN003, img, profile)
            near = [f for f in findings if f.region.x - 10 <= at[0] <= f.region.x + f.region.width + 10
                    and f.region.y - 10 <= at[1] <= f.region.y + f.region.height + 10]
            rec[kind][0] += int(bool(near))
            rec[kind][1] += 1
            if near:
                offset_err.append(min(abs(f.measurements["offset_px"] - offset) for f in near))
        neg = {"clean line art": clean_art, **negatives}
        neg_flags = {k: sum(bool(run_rule(ALIGN003, img, profile)) for img in imgs) / max(1, len(imgs))
                     for k, imgs in neg.items()}
        corpus_flags = [p.relative_to(CORPUS).as_posix() for p in corpus_neg if _run(ALIGN003, p, profile)]
        two_plus = [v for k, v in rec.items() if int(k.split()[1]) >= 2]
        out[profile] = {
            "recall_offsets_2px_plus": sum(v[0] for v in two_plus) / max(1, sum(v[1] for v in two_plus)),
            "recall_by_defect": {k: v[0] / v[1] for k, v in sorted(rec.items())},
            "offset_error_median": statistics.median(offset_err) if offset_err else None,
            "false_alarm_rate_generated": neg_flags,
            "false_alarm_rate_corpus": len(corpus_flags) / max(1, len(corpus_neg)),
            "corpus_flagged": corpus_flags,
        }
    return out


# ----------------------------------------------------------------------------------------------
# ALIGN004
# ----------------------------------------------------------------------------------------------

SHIFTS = ((0.0, 0.0), (0.1, 0.0), (0.3, -0.2), (0.5, 0.5), (1.2, 0.0), (0.0, -2.7), (5.5, 3.25), (-10.0, 7.0))


def eval_reference(bases):
    import cv2

    out = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="noticer-align-") as tmp:
        for k, (name, rgb) in enumerate(bases):
            ref = Path(tmp) / f"ref{k}.png"
            cv2.imwrite(str(ref), np.ascontiguousarray(rgb[:, :, ::-1]))
            for dx, dy in SHIFTS:
                img = gen.shifted_copy(rgb, dx, dy)
                rows.append(("translation", (dx, dy, 0.0, 1.0), img, ref))
            for angle, scale in ((0.5, 1.0), (0.0, 1.01), (1.0, 0.98)):
                img = gen.shifted_copy(rgb, 0.0, 0.0, angle, scale)
                rows.append(("rotation/scale", (0.0, 0.0, angle, scale), img, ref))
        from rules.align import offsets

        t_err, r_err, s_err = [], [], []
        contexts = []
        for kind, (dx, dy, angle, scale), img, ref in rows:
            ctx = context_from_array(img, reference_path=ref)
            contexts.append(ctx)
            est = offsets.estimate_alignment(ctx.gray.astype(np.float32),
                                         cv2.cvtColor(cv2.imread(str(ref)), cv2.COLOR_BGR2GRAY).astype(np.float32))
            if kind == "translation":
                t_err.append(float(np.hypot(est.dx - dx, est.dy - dy)))
            else:
                r_err.append(abs(est.rotation - angle))
                s_err.append(abs(est.scale - scale))
        out["translation_error_px"] = {"median": statistics.median(t_err), "p90": float(np.percentile(t_err, 90)),
                                       "max": max(t_err)}
        out["rotation_error_deg_max"] = max(r_err)
        out["scale_error_max"] = max(s_err)
        for profile in PROFILES:
            flagged = defaultdict(lambda: [0, 0])
            for (kind, (dx, dy, angle, scale), _img, _ref), ctx in zip(rows, contexts):
                findings = run_rule(ALIGN004, ctx, profile)
                size = np.hypot(dx, dy)
                if kind == "translation":
                    label = ("none" if size == 0 else "<0.25 px" if size < 0.25 else "0.25-1 px" if size <= 1
                             else "1-3 px" if size <= 3 else "3-13 px")
                else:
                    label = f"rotate {angle} deg, scale {scale}"
                flagged[label][0] += int(bool(findings))
                flagged[label][1] += 1
            out[profile] = {"flag_rate_by_shift": {k: v[0] / v[1] for k, v in flagged.items()}}
    return out



# ----------------------------------------------------------------------------------------------
# issue #20: kinds made by other methods (fixtures.align_gen, second half), per kind
# ----------------------------------------------------------------------------------------------

# thresholds changed for these kinds were chosen on seeds TUNING_SEEDS.start and up (--tune);
# the figures printed by default come from seeds 0.. (held out: never looked at while tuning)
TUNING_SEEDS = range(1000, 1100)


def issue20_cases(seeds):
    """(rule code, kind, context, truth) for every generated case of the #20 kinds; truth is
    a list of SeamTruth (ALIGN001), the pattern period (ALIGN002) or the break point (ALIGN003)."""
    for seed in seeds:
        bases = (("photo", gen.photo_like(seed)), ("scene", gen.drawn_scene(seed, (768, 768))))
        for k, (base_name, base) in enumerate(bases):
            tile = (128, 192, 256)[(seed + k) % 3]
            for step in (2, 3, 4):
                img, truth = gen.tone_texture_seams(base, tile, step, 0, seed=seed)
                yield "ALIGN001", f"tone/texture step {step} levels", context_from_array(img), truth
            for step, shift in ((2, 1), (3, 2), (4, 1)):
                img, truth = gen.tone_texture_seams(base, tile, step, shift, seed=seed)
                yield "ALIGN001", f"tone/texture step {step} + shift {shift} px", context_from_array(img), truth
        img, truth = gen.tiled_diffusion_photo(seed, tile=(160, 192, 256)[seed % 3])
        yield "ALIGN001", "naive tiled diffusion (photo)", context_from_array(img), truth
        for k, (base_name, base) in enumerate(bases):
            for stride in (2, 3, 4):
                for amp in (1.5, 2.5):
                    img, _box = gen.transposed_conv_grid(base, stride, amp, area=0.25 + 0.1 * ((seed + k) % 4),
                                                         seed=seed)
                    yield "ALIGN002", f"transposed conv stride {stride}, {amp} RMS, part", context_from_array(img), stride
            period = (4, 5, 6)[(seed + k) % 3]
            img, _box = gen.halftone_grid(base, period, 0.12, area=1.0 if k == 0 else 0.5, seed=seed)
            yield "ALIGN002", "halftone screen 4-6 px", context_from_array(img), period
        for offset in (1.5, 2.0, 3.0, 4.0):
            img, at = gen.occluded_line_art(seed, offset)
            yield "ALIGN003", f"line art behind occluder, {offset} px", context_from_array(img), at


def issue20_negatives(seeds):
    """Clean counterparts made by the same methods: photos, tiles sharing one noise field and
    exposure, line art with occluders and no break."""
    out = []
    for seed in seeds:
        out.append(("photo-like", context_from_array(gen.photo_like(seed))))
        out.append(("tiled photo, one noise field", context_from_array(gen.tiled_diffusion_photo(seed, independent=False)[0])))
        out.append(("occluded line art, unbroken", context_from_array(gen.occluded_line_art(seed, 0.0)[0])))
    return out


RULES_BY_CODE = {r.code: r for r in (ALIGN001, ALIGN002, ALIGN003)}


def _hit(code, findings, truth, tolerance: int = 2) -> bool:
    if code == "ALIGN001":
        found = [p for f in findings for p in seam_positions(f)]
        return any(a == t.axis and abs(p - t.position) <= tolerance for t in truth for a, p in found)
    if code == "ALIGN002":
        return bool(findings)
    at = truth
    return any(f.region.x - 10 <= at[0] <= f.region.x + f.region.width + 10
               and f.region.y - 10 <= at[1] <= f.region.y + f.region.height + 10 for f in findings)


def eval_issue20(seeds, corpus_pos, corpus_clean, corpus_other):
    cases = list(issue20_cases(seeds))
    negatives = issue20_negatives(seeds)
    out = {"cases": len(cases), "seeds": f"{seeds.start}-{seeds.stop - 1}"}
    for profile in PROFILES:
        rec = defaultdict(lambda: [0, 0])
        periods = [0, 0]
        for code, kind, ctx, truth in cases:
            findings = run_rule(RULES_BY_CODE[code], ctx, profile)
            hit = _hit(code, findings, truth)
            rec[(code, kind)][0] += int(hit)
            rec[(code, kind)][1] += 1
            if code == "ALIGN002" and findings:
                periods[1] += 1
                periods[0] += int(findings[0].measurements["period"] == truth)
        per_code = defaultdict(lambda: [0, 0])
        for (code, _kind), (h, n) in rec.items():
            per_code[code][0] += h
            per_code[code][1] += n
        neg = defaultdict(lambda: [0, 0])
        for kind, ctx in negatives:
            for code, rule in RULES_BY_CODE.items():
                neg[(code, kind)][0] += int(bool(run_rule(rule, ctx, profile)))
                neg[(code, kind)][1] += 1
        flagged_any = defaultdict(lambda: [0, 0])
        for kind, ctx in negatives:
            flagged_any[kind][0] += int(any(run_rule(rule, ctx, profile) for rule in RULES_BY_CODE.values()))
            flagged_any[kind][1] += 1
        real_pos = {}
        for img in corpus_pos:
            codes = [c for c, rule in RULES_BY_CODE.items() if c != "ALIGN003" and _run(rule, img, profile)]
            real_pos[img.relative_to(CORPUS).as_posix()] = codes
        real_clean = {}
        for label, images in (("corpus clean/", corpus_clean), ("corpus, all but seams/ and clean/", corpus_other)):
            flagged = []
            for img in images:
                codes = [c for c, rule in RULES_BY_CODE.items() if _run(rule, img, profile)]
                if codes:
                    flagged.append(f"{img.relative_to(CORPUS).as_posix()} ({','.join(codes)})")
            real_clean[label] = (len(flagged), len(images), flagged)
        total_hit = sum(v[0] for v in rec.values())
        total = sum(v[1] for v in rec.values())
        out[profile] = {
            "recall_by_kind": {f"{code} {kind}": v[0] / v[1] for (code, kind), v in rec.items()},
            "recall_by_rule": {code: v[0] / v[1] for code, v in sorted(per_code.items())},
            "recall_all_generated": total_hit / max(1, total),
            "grid_period_correct": periods[0] / max(1, periods[1]),
            "false_alarms_generated_by_rule_and_kind": {f"{code} {kind}": v[0] / v[1] for (code, kind), v in neg.items()},
            "false_alarms_generated_any_rule": {k: v[0] / v[1] for k, v in flagged_any.items()},
            "real_seams_grids_found": real_pos,
            "real_seams_grids_recall": sum(bool(v) for v in real_pos.values()) / max(1, len(real_pos)),
            "real_false_alarms_any_rule": {k: f"{n_f}/{n} = {n_f / max(1, n):.3f} {fl}" for k, (n_f, n, fl) in real_clean.items()},
        }
    return out


# ----------------------------------------------------------------------------------------------
# speed
# ----------------------------------------------------------------------------------------------


def eval_speed(repeats: int = 5):
    """Median milliseconds per 1024x1024 image, OpenCV held to one thread (workers run one per core).

    CPU time of this process, not wall time: other jobs on the machine do not inflate it."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return _speed(repeats)
    finally:
        cv2.setNumThreads(threads)


def _speed(repeats: int):
    import cv2

    images = [gen.drawn_scene(100 + k) for k in range(3)]
    for path in corpus_files("clean")[:3]:
        images.append(cv2.resize(context_from_path(path).rgb, (1024, 1024), interpolation=cv2.INTER_AREA))
    per_rule = defaultdict(list)
    family = []
    with tempfile.TemporaryDirectory(prefix="noticer-align-") as tmp:
        ref = Path(tmp) / "ref.png"
        for img in images:
            cv2.imwrite(str(ref), np.ascontiguousarray(img[:, :, ::-1]))
            moved = gen.shifted_copy(img, 1.5, -0.5)
            for _ in range(repeats):
                ctx = context_from_array(moved, reference_path=ref)
                total = 0.0
                for rule in (ALIGN001, ALIGN002, ALIGN003):
                    t0 = time.process_time()
                    list(rule.check(ctx, rule.settings()))
                    dt = (time.process_time() - t0) * 1000
                    per_rule[rule.code].append(dt)
                    total += dt
                family.append(total)
                t0 = time.process_time()
                list(ALIGN004.check(ctx, ALIGN004.settings()))
                per_rule["ALIGN004"].append((time.process_time() - t0) * 1000)
    return {"median_ms": {k: statistics.median(v) for k, v in per_rule.items()},
            "family_001_003_median_ms": statistics.median(family)}


# ----------------------------------------------------------------------------------------------


def _jpeg_context(rgb: np.ndarray, quality: int):
    """A context for the image saved as JPEG, so the rules see format "JPEG" as for a real file."""
    import cv2

    from checker.context import ImageContext
    from checker.imageio import load_image

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    name = Path(f"generated_q{quality}.jpg")
    return ImageContext(name, load_image(name, data=buf.tobytes()))


def negatives_generated(n: int):
    scenes = [gen.drawn_scene(50 + k) for k in range(n)]
    return {
        "drawn scenes": [context_from_array(s) for s in scenes],
        "drawn scenes as JPEG q75/q90": [_jpeg_context(s, q) for s in scenes[:max(1, n // 2)] for q in (75, 90)],
        "flat panels and gradients": [context_from_array(gen.flat_and_gradient(60 + k)) for k in range(max(2, n // 2))],
    }


def run(quick: bool = False, tune: bool = False, only_issue20: bool = False) -> dict:
    n = 3 if quick else 6
    n20 = 4 if quick else 10
    seeds = range(TUNING_SEEDS.start, TUNING_SEEDS.start + n20) if tune else range(n20)
    if only_issue20:
        return {"issue20": eval_issue20(seeds, [CorpusImage(p) for p in corpus_files("seams")],
                                        [CorpusImage(p) for p in corpus_files("clean")],
                                        [CorpusImage(p) for p in corpus_files(exclude=("seams", "clean"))])}
    bases = clean_bases(n)
    negatives = negatives_generated(n)
    corpus_neg = [CorpusImage(p) for p in corpus_files(exclude=("seams",))]
    corpus_pos = [CorpusImage(p) for p in corpus_files("seams")]
    results = {
        "bases": [name for name, _ in bases],
        "corpus_negatives": len(corpus_neg),
        "ALIGN001": eval_seams(bases, negatives, corpus_neg, corpus_pos),
        "ALIGN002": eval_grid(bases, negatives, corpus_neg, corpus_pos),
        "ALIGN003": eval_broken(10 if quick else 20, negatives, corpus_neg),
        "ALIGN004": eval_reference(bases[: 4 if quick else len(bases)]),
        "issue20": eval_issue20(seeds, corpus_pos, [c for c in corpus_neg if c.path.parent.name == "clean"],
                                [c for c in corpus_neg if c.path.parent.name != "clean"]),
        "speed": eval_speed(3 if quick else 5),
    }
    return results


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_profile_figures(figures: dict, name_width: int) -> None:
    """One profile's figures: a line each, a dict of figures as an indented table."""
    for key, value in figures.items():
        if isinstance(value, dict):
            print(f"    {key}:")
            for k, v in value.items():
                print(f"      {k:<{name_width}} {_fmt(v)}")
        else:
            print(f"    {key}: {_fmt(value)}")


def print_issue20(res: dict) -> None:
    print(f"\n== issue #20 kinds: {res['cases']} generated cases, seeds {res['seeds']}")
    for profile in PROFILES:
        print(f"  [{profile}]")
        print_profile_figures(res[profile], 58)


def print_report(results: dict) -> None:
    if set(results) == {"issue20"}:
        print_issue20(results["issue20"])
        return
    print(f"bases for generated positives: {', '.join(results['bases'])}")
    print(f"real corpus negatives (all folders but seams/): {results['corpus_negatives']}")
    for code in ("ALIGN001", "ALIGN002", "ALIGN003", "ALIGN004"):
        print(f"\n== {code}")
        res = results[code]
        for key, value in res.items():
            if key in PROFILES:
                continue
            print(f"  {key}: {value if not isinstance(value, dict) else {k: _fmt(v) for k, v in value.items()}}")
        for profile in PROFILES:
            if profile not in res:
                continue
            print(f"  [{profile}]")
            print_profile_figures(res[profile], 40)
    print_issue20(results["issue20"])
    print("\n== speed (one core, 1024x1024)")
    for k, v in results["speed"]["median_ms"].items():
        print(f"  {k} median ms: {v:.1f}")
    print(f"  ALIGN001-003 together median ms: {results['speed']['family_001_003_median_ms']:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer generated cases")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--speed", action="store_true", help="only the speed figures")
    parser.add_argument("--issue20", action="store_true", help="only the kinds of issue #20")
    parser.add_argument("--tune", action="store_true",
                        help=f"the #20 kinds on the tuning seeds ({TUNING_SEEDS.start} and up), not the reported ones")
    args = parser.parse_args(argv)
    if args.speed:
        speed = eval_speed()
        for k, v in speed["median_ms"].items():
            print(f"  {k} median ms: {v:.1f}")
        print(f"  ALIGN001-003 together median ms: {speed['family_001_003_median_ms']:.1f}")
        return 0
    results = run(quick=args.quick, tune=args.tune, only_issue20=args.issue20)
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
