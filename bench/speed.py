"""Throughput of the full default check on a generated mixed folder of 1024x1024 images.

    python -m bench.speed [--count 96] [--size 1024] [--repeat 1] [--keep DIR] [--json OUT]
    python -m bench.speed --folder ../shared/corpus      # the same figures on real images

Builds a folder of drawn images (plain scenes, tile seams, signs with and without typos,
clutter without text, open hands with and without a sixth finger, a generation-metadata
leak), using the families' generators (fixtures/align_gen.py, bench/text_gen.py,
fixtures/hands_fixtures.py) and simple drawings of its own where one is missing. Then it
runs the real command line, as a user would, and prints:

* images per second, cold (no cache), with ``--jobs 1`` and ``--jobs 2``, and the start-up
  every run pays once (a run over a single image: Python, the rules, MediaPipe and the OCR
  models loading), so the rate can be read for other folder sizes;
* the warm re-run (every result in the cache) as a share of the cold ``--jobs 2`` run,
  and whether the warm report equals the cold one;
* the peak resident memory of each worker process (VmHWM, sampled from /proc);
* the median milliseconds per rule, per image and per kind of image (from the cold
  ``--jobs 1`` report), and
  each worker's first image against its median (models load once per worker);
* the time of the loop a user would otherwise script, ``tesseract IMAGE stdout`` over the
  same folder, and the ratio noticer / tesseract;
* the targets: ratio below 1.0, at least 10 images/s with --jobs 2, warm at most 5% of
  cold, peak memory under 1 GiB per worker.

Timings are medians of ``--repeat`` runs; other people's jobs share this machine. The runs
use a copy of checker/ and rules/ taken at the start (``--live-code`` to run the work tree).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("scene", "seam", "sign", "sign-typo", "clutter", "hand", "hand-six", "metadata")
TARGETS = {"ratio_vs_tesseract": 1.0, "images_per_s_jobs2": 10.0, "warm_share": 0.05, "peak_worker_mib": 1024.0}


# ----------------------------------------------------------------------------- the folder

def _fallback_scene(seed: int, size: int) -> np.ndarray:
    """A soft gradient with a horizon and a few boxes, for when align_gen is not there."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    top, bottom = rng.uniform(60, 220, 3), rng.uniform(60, 220, 3)
    img = top * (1 - y) + bottom * y + rng.normal(0, 3, (size, size, 1))
    for _ in range(4):
        x0, y0 = rng.integers(0, size - size // 4, 2)
        img[y0:y0 + size // 5, x0:x0 + size // 6] = rng.uniform(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _scene(seed: int, size: int) -> np.ndarray:
    try:
        from fixtures.align_gen import drawn_scene

        return drawn_scene(seed, (size, size))
    except ImportError:
        return _fallback_scene(seed, size)


def _seam(seed: int, size: int) -> np.ndarray:
    base = _scene(seed, size)
    try:
        from fixtures.align_gen import tile_shift

        return tile_shift(base, size // 2, 3, seed)[0]
    except ImportError:
        out = base.copy()
        out[:, size // 2:] = np.roll(base[:, size // 2:], 3, axis=0)
        return out


def _sign(seed: int, size: int, typo: bool) -> np.ndarray:
    try:
        from fixtures.text_gen import STYLES, make_case

        return make_case(seed, STYLES[seed % len(STYLES)], typo, width=size, height=size).image
    except ImportError:
        from PIL import Image, ImageDraw, ImageFont

        picture = Image.fromarray(_fallback_scene(seed, size))
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", size // 10)
        ImageDraw.Draw(picture).text((size // 10, size // 3), "BAKRY" if typo else "BAKERY", fill=(0, 0, 0),
                                     font=font)
        return np.asarray(picture)


def _clutter(seed: int, size: int) -> np.ndarray:
    try:
        from fixtures.text_gen import make_text_free

        return make_text_free(seed, width=size, height=size)
    except ImportError:
        return _fallback_scene(seed + 1000, size)


def _hand(seed: int, size: int, six: bool) -> np.ndarray:
    try:
        from fixtures.hands_fixtures import draw_hand

        # vary the drawing by seed: identical files would share one cache entry
        return draw_hand(size=size, extra_finger=six, finger_width=0.065 + 0.005 * (seed % 4),
                         soften=0.010 + 0.001 * (seed % 5)).image
    except ImportError:
        import cv2

        img = _fallback_scene(seed, size).copy()
        cx, cy = size // 2, int(size * 0.7)
        cv2.ellipse(img, (cx, cy), (size // 8, size // 7), 0, 0, 360, (236, 188, 160), -1)
        for k in range(6 if six else 5):
            angle = np.deg2rad(-150 + k * (120 / (5 if six else 4)))
            tip = (int(cx + np.cos(angle) * size * 0.3), int(cy + np.sin(angle) * size * 0.3))
            cv2.line(img, (cx, cy), tip, (236, 188, 160), size // 22)
        return img


def build_folder(folder: Path, count: int, size: int) -> list[Path]:
    """Write ``count`` images cycling through KINDS; scenes as JPEG, the rest as PNG."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for n in range(count):
        kind, seed = KINDS[n % len(KINDS)], 100 + n
        info = None
        if kind == "scene":
            rgb = _scene(seed, size)
        elif kind == "seam":
            rgb = _seam(seed, size)
        elif kind in ("sign", "sign-typo"):
            rgb = _sign(seed, size, kind == "sign-typo")
        elif kind == "clutter":
            rgb = _clutter(seed, size)
        elif kind in ("hand", "hand-six"):
            rgb = _hand(seed, size, kind == "hand-six")
        else:
            rgb = _scene(seed, size)
            info = PngInfo()
            info.add_text("parameters", "a quiet harbour at dawn\nNegative prompt: blurry\n"
                                        f"Steps: 30, Sampler: Euler a, CFG scale: 7, Seed: {seed}")
        picture = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]).astype(np.uint8), "RGB")
        if picture.size != (size, size):
            picture = picture.resize((size, size))
        if kind == "scene":
            path = folder / f"{n:03d}-{kind}.jpg"
            picture.save(path, quality=92)
        else:
            path = folder / f"{n:03d}-{kind}.png"
            picture.save(path, pnginfo=info)
        written.append(path)
    return written


# ----------------------------------------------------------------------------- measuring

def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _vm_hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class MemoryWatch:
    """Samples the peak resident memory (VmHWM) of a process and all its descendants."""

    root: int
    interval: float = 0.05
    peaks_kib: dict[int, int] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)  # pid -> "worker" or "helper"
    direct: set[int] = field(default_factory=set)  # the root's own children
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        children = _children_map()
        stack = [self.root]
        while stack:
            pid = stack.pop()
            peak = _vm_hwm_kib(pid)
            if peak is not None:
                self.peaks_kib[pid] = max(self.peaks_kib.get(pid, 0), peak)
            stack.extend(children.get(pid, ()))
        self.direct = set(children.get(self.root, ())) | self.direct
        self._sample_kinds()

    def run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()

    def _sample_kinds(self) -> None:
        # a spawned worker shows its parent's command line until it execs: look again until
        # it is known to be a worker (or gone)
        for pid in self.peaks_kib:
            if self.kinds.get(pid) not in ("worker", "gone"):
                # workers are the command's own children; their short-lived forks (a library
                # running `ldconfig`) share the command line but are not workers
                kind = _kind(pid) if pid in self.direct else "helper"
                if kind != "gone" or pid not in self.kinds:
                    self.kinds[pid] = kind

    def worker_peaks_mib(self) -> list[float]:
        """Worker processes: the spawned Python children of the command."""
        return [kib / 1024 for pid, kib in self.peaks_kib.items() if self.kinds.get(pid) == "worker"]

    def helper_peaks_mib(self) -> list[float]:
        """Other descendants (e.g. a `tesseract` a rule starts), not counted as workers."""
        return [kib / 1024 for pid, kib in self.peaks_kib.items()
                if pid != self.root and self.kinds.get(pid) != "worker"]


def _kind(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return "gone"
    if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
        return "worker"
    return "helper"


@dataclass
class Run:
    seconds: float
    report: dict
    worker_peaks_mib: list[float]
    helper_peaks_mib: list[float]
    main_peak_mib: float
    exit_code: int


def snapshot_code(destination: Path) -> Path:
    """Copy the engine and the rules as they are now, so every run measures the same code
    while people keep editing the work tree (an edit rightly invalidates the cache, which
    would make a warm run cold). The runs import from the copy through PYTHONPATH."""
    for package in ("checker", "rules"):
        shutil.copytree(ROOT / package, destination / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


def run_noticer(folder: Path, jobs: int, cache_dir: Path | None, extra: list[str], workdir: Path) -> Run:
    out = workdir / f"report-{time.monotonic_ns()}.json"
    command = [sys.executable, "-m", "checker.cli", "check", str(folder), "--jobs", str(jobs), "--no-progress",
               "--format", "json", "--output", str(out), *extra]
    command += ["--cache-dir", str(cache_dir)] if cache_dir else ["--no-cache"]
    started = time.perf_counter()
    env = dict(os.environ)
    code = workdir / "code"
    if code.is_dir():
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env)
    watch = MemoryWatch(proc.pid)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    watch.stop()
    thread.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"noticer failed ({proc.returncode}): {stderr[-3000:]}")
    report = json.loads(out.read_text())
    return Run(seconds, report, watch.worker_peaks_mib(), watch.helper_peaks_mib(),
               watch.peaks_kib.get(proc.pid, 0) / 1024,
               proc.returncode)


def tesseract_loop(images: list[Path]) -> float:
    binary = shutil.which("tesseract")
    if binary is None:
        raise SystemExit("tesseract is not installed (apt-get install tesseract-ocr)")
    started = time.perf_counter()
    for image in images:
        subprocess.run([binary, str(image), "stdout"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
    return time.perf_counter() - started


def comparable(report: dict) -> list[tuple]:
    """What a report decides, per image: verdict and findings (code, severity, region,
    message). Measurements are left out: some rules record their own timings there."""
    return [(image["path"], image["verdict"],
             [(f["code"], f["severity"], f["region"], f["message"]) for f in image["findings"]])
            for image in report["images"]]


def per_rule_medians(report: dict) -> dict[str, float]:
    by_rule: dict[str, list[float]] = {}
    for image in report["images"]:
        for rule, ms in image["timings_ms"].items():
            by_rule.setdefault(rule, []).append(ms)
    return {rule: statistics.median(values) for rule, values in sorted(by_rule.items())}


def per_kind_medians(report: dict) -> dict[str, float]:
    """Median total ms per image for each kind of the generated folder (from the file name)."""
    by_kind: dict[str, list[float]] = {}
    for image in report["images"]:
        kind = Path(image["path"]).stem.split("-", 1)[-1]
        if kind in KINDS:
            by_kind.setdefault(kind, []).append(sum(image["timings_ms"].values()))
    return {kind: statistics.median(by_kind[kind]) for kind in KINDS if kind in by_kind}


def source_digest(root: Path = ROOT) -> str:
    """The engine's and rules' sources: when they change mid-benchmark, the cache is rightly
    invalidated and a warm run is not warm."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*root.glob("checker/*.py"), *root.glob("rules/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def cold_and_warm(folder: Path, cache_dir: Path, extra: list[str], workdir: Path, tries: int = 3) -> tuple[Run, Run]:
    """A cold --jobs 2 run filling a fresh cache, then the warm re-run; tried again when the
    sources changed in between (the warm run would have been cold)."""
    for attempt in range(tries):
        shutil.rmtree(cache_dir, ignore_errors=True)
        code = workdir / "code" if (workdir / "code").is_dir() else ROOT
        before = source_digest(code)
        cold = run_noticer(folder, 2, cache_dir, extra, workdir)
        warm = run_noticer(folder, 2, cache_dir, extra, workdir)
        if source_digest(code) == before:
            return cold, warm
        print(f"  (sources changed during the cold/warm pair, try {attempt + 1} of {tries}: measured again)")
    return cold, warm


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=96,
                        help="images in the mixed folder (default 96, 12 of each kind)")
    parser.add_argument("--size", type=int, default=1024, help="side of the square images (default 1024)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are shown")
    parser.add_argument("--keep", type=Path, help="build the folder here and keep it (default: a temporary one)")
    parser.add_argument("--folder", type=Path,
                        help="measure an existing folder instead (read only), e.g. ../shared/corpus")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--live-code", action="store_true",
                        help="run the work tree's code instead of a copy taken at the start")
    parser.add_argument("noticer_args", nargs="*", help="extra `noticer check` options, after --")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="noticer-speed-") as tmp:
        workdir = Path(tmp)
        folder = args.keep or workdir / "mixed"
        if not args.live_code:
            snapshot_code(workdir / "code")
            print(f"code: checker/ and rules/ as they were at the start (source digest {source_digest()[:12]})")
        started = time.perf_counter()
        if args.folder:
            from checker.inputs import find_images

            folder = args.folder.resolve()
            images, _ = find_images([folder])
            print(f"folder: {len(images)} images in {folder} (read only)")
        else:
            images = build_folder(folder, args.count, args.size)
            print(f"folder: {len(images)} images of {args.size}x{args.size} ({', '.join(KINDS)}) "
                  f"built in {time.perf_counter() - started:.1f} s")
        n = len(images)
        extra = list(args.noticer_args)

        single = workdir / "single"
        single.mkdir()
        shutil.copy2(images[0], single / images[0].name)
        startup = statistics.median(run_noticer(single, 1, None, extra, workdir).seconds for _ in range(args.repeat))
        cold1 = median_run([run_noticer(folder, 1, None, extra, workdir) for _ in range(args.repeat)])
        cold2_runs, warm_runs = [], []
        for k in range(args.repeat):
            cold, warm_run = cold_and_warm(folder, workdir / f"cache-{k}", extra, workdir)
            cold2_runs.append(cold)
            warm_runs.append(warm_run)
        cold2, warm = median_run(cold2_runs), median_run(warm_runs)
        tess = statistics.median(tesseract_loop(images) for _ in range(args.repeat))

        errors = [i["path"] for i in cold1.report["images"] if i["verdict"] == "error"]
        same_jobs = comparable(cold1.report) == comparable(cold2.report)
        same_warm = comparable(cold2.report) == comparable(warm.report)
        rules = per_rule_medians(cold1.report)
        kinds = per_kind_medians(cold1.report)
        per_image = statistics.median(sum(i["timings_ms"].values()) for i in cold1.report["images"])
        worker_peaks = cold1.worker_peaks_mib + cold2.worker_peaks_mib
        peak = max(worker_peaks) if worker_peaks else 0.0
        helpers = cold1.helper_peaks_mib + cold2.helper_peaks_mib
        rule_max = {rule: max(i["timings_ms"].get(rule, 0.0) for i in cold1.report["images"]) for rule in rules}
        figures = {
            "images": n, "size": None if args.folder else args.size, "repeat": args.repeat,
            "startup_s": startup, "per_kind_median_ms": kinds,
            "cold_jobs1_s": cold1.seconds, "cold_jobs2_s": cold2.seconds, "warm_jobs2_s": warm.seconds,
            "images_per_s_jobs1": n / cold1.seconds, "images_per_s_jobs2": n / cold2.seconds,
            "warm_share": warm.seconds / cold2.seconds,
            "tesseract_loop_s": tess, "tesseract_images_per_s": n / tess,
            "ratio_vs_tesseract": cold2.seconds / tess, "ratio_vs_tesseract_jobs1": cold1.seconds / tess,
            "peak_worker_mib": peak, "worker_peaks_mib": sorted(worker_peaks),
            "helper_process_peak_mib": max(helpers) if helpers else 0.0, "main_process_peak_mib": max(cold1.main_peak_mib, cold2.main_peak_mib),
            "per_rule_median_ms": rules, "per_rule_max_ms": rule_max, "per_image_median_ms": per_image,
            "same_report_jobs1_jobs2": same_jobs, "warm_report_equals_cold": same_warm,
            "errors": errors,
            "verdicts": {v: sum(i["verdict"] == v for i in cold1.report["images"]) for v in ("pass", "warn", "fail", "error")},
        }

    print(f"verdicts (jobs 1): {figures['verdicts']}; images with verdict error: {len(errors)}")
    print(f"start-up (a run over one image, --jobs 1): {startup:.2f} s")
    print(f"cold --jobs 1: {cold1.seconds:7.2f} s  {figures['images_per_s_jobs1']:6.2f} images/s")
    print(f"cold --jobs 2: {cold2.seconds:7.2f} s  {figures['images_per_s_jobs2']:6.2f} images/s")
    print(f"warm --jobs 2: {warm.seconds:7.2f} s  = {100 * figures['warm_share']:.1f}% of cold "
          f"(same verdicts and findings as cold: {'yes' if same_warm else 'NO'}; jobs 1 and 2 agree: "
          f"{'yes' if same_jobs else 'NO'})")
    print(f"tesseract IMAGE stdout loop: {tess:7.2f} s  {figures['tesseract_images_per_s']:6.2f} images/s")
    print(f"noticer / tesseract: {figures['ratio_vs_tesseract']:.2f} (--jobs 2), "
          f"{figures['ratio_vs_tesseract_jobs1']:.2f} (--jobs 1)")
    print(f"peak memory per worker: {', '.join(f'{p:.0f}' for p in sorted(worker_peaks))} MiB "
          f"(max {peak:.0f} MiB); main process {figures['main_process_peak_mib']:.0f} MiB; "
          f"other child processes (library forks, tesseract): {len(helpers)}, max {figures['helper_process_peak_mib']:.0f} MiB")
    print(f"median per image (jobs 1, all rules + load): {per_image:.1f} ms")
    if kinds:
        print("median ms per image by kind (jobs 1, all rules + load): "
              + ", ".join(f"{kind} {ms:.0f}" for kind, ms in kinds.items()))
    print("ms per rule (jobs 1): median, and max (the first image of a worker also loads the models)")
    for rule, ms in sorted(rules.items(), key=lambda kv: -kv[1]):
        print(f"  {rule:28s} {ms:9.2f} {rule_max[rule]:9.2f}")
    checks = [
        ("noticer (--jobs 2) / tesseract loop < 1.0", figures["ratio_vs_tesseract"] < TARGETS["ratio_vs_tesseract"]),
        (">= 10 images/s with --jobs 2", figures["images_per_s_jobs2"] >= TARGETS["images_per_s_jobs2"]),
        ("warm re-run <= 5% of cold", figures["warm_share"] <= TARGETS["warm_share"]),
        ("peak memory < 1 GiB per worker", peak < TARGETS["peak_worker_mib"]),
    ]
    print("targets:")
    for label, ok in checks:
        print(f"  {'MET ' if ok else 'MISS'} {label}")
    figures["targets_met"] = {label: ok for label, ok in checks}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
