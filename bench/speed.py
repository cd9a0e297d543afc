"""Throughput of the full default check on a folder that looks like real use.

    python -m bench.speed [--count 64] [--seed 19] [--repeat 1] [--json OUT] [-- noticer options]
    python -m bench.speed --folder DIR          # the same figures on any folder (read only)
    python -m bench.speed --synthetic --count 96 --size 1024   # the older drawn-only folder

The default folder (issue #19) mixes, with a fixed seed, real images read in place from
``../shared/corpus`` (photos of hands, AI hands, illustrations with hands, AI text, clean
images, seams, files with generation metadata) with generated cases written to a temporary
folder (tile seams from fixtures/align_gen.py, signs with and without typos from
fixtures/text_gen.py). Without the corpus, generated look-alikes stand in for it (and the
figures say so). Then it runs the real command line, as a user would, and prints:

* images per second, cold (no cache) with ``--jobs 2`` (``--jobs1`` adds a ``--jobs 1`` run),
  and the start-up every run pays once (a run over a single image: Python, the rules and the
  models that image needs; the target is judged on the folder's first image, a hand photo,
  and the same run over its first image with lettering, which also loads the OCR models and
  the word list, is printed beside it);
* the CPU time of the cold run (all its processes), per image: less disturbed than wall time
  when other jobs share the machine; and the machine's load average while measuring;
* the warm re-run (the same command again: nothing changed, so it replays the recorded output,
  checker/replay.py) as a share of the cold run, and whether its report equals the cold one;
  and a warm run that cannot replay (another environment variable), which takes every result
  from the result cache instead: what a re-run costs after any change;
* the peak resident memory of each worker process (VmHWM, sampled from /proc);
* CPU milliseconds per image for each rule and for loading (an in-process pass over the same
  folder; a shared analysis is charged to the first rule that asks for it);
* the time of the loop a user would otherwise script, ``tesseract IMAGE stdout`` over the
  same images in the same run, and the ratio noticer / tesseract (wall and CPU);
* the targets of issue #19 beside each figure: >= 20 images/s with --jobs 2, <= 0.3 of the
  tesseract loop's time, warm <= 2% of cold, <= 700 MiB per worker, start-up < 1 s;
* with ``--by-family``, what checking less costs: a cold ``--jobs 2`` run per selection of rule
  families (``--select HAND``, ``TEXT``, ``ALIGN``, ``HAND,ALIGN``, ``IMG,META``, or the ones
  given) over the same folder, beside the default check, in images/s, CPU per image, the ratio
  to the tesseract loop and the peak memory per worker.

Timings are medians of ``--repeat`` runs; other people's jobs share this machine. The runs
use a copy of checker/ and rules/ taken at the start (``--live-code`` to run the work tree).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
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

from bench import environment_before_limits

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("scene", "seam", "sign", "sign-typo", "clutter", "hand", "hand-six", "metadata")  # --synthetic
CORPUS = ROOT.parent / "shared" / "corpus"
# the default folder: how many images of each source per 64 (scaled to --count), by the
# corpus folder they are drawn from, or "gen-seam" / "gen-sign" for generated cases
MIX = (("hands_real", 10), ("hands_ai_defect", 4), ("hands_ai_ok", 3), ("hands_illust_defect", 2),
       ("hands_illust_ok", 5), ("text_ai", 14), ("clean", 6), ("seams", 2), ("metadata", 4),
       ("gen-seam", 6), ("gen-sign", 8))
TARGETS = {"images_per_s_jobs2": 20.0, "ratio_vs_tesseract": 0.3, "warm_share": 0.02, "peak_worker_mib": 700.0,
           "startup_s": 1.0}


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


def build_folder(folder: Path, count: int, size: int, kinds: tuple[str, ...] = KINDS, first: int = 100,
                 into: Path | None = None) -> list[Path]:
    """Write ``count`` images cycling through ``kinds``; scenes as JPEG, the rest as PNG.
    ``into``: the one file to write (a stand-in of the default folder), instead of numbered names."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for n in range(count):
        kind, seed = kinds[n % len(kinds)], first + n
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
        if into is not None:
            path = into
            picture.save(path, pnginfo=info)
        elif kind == "scene":
            path = folder / f"{n:03d}-{kind}.jpg"
            picture.save(path, quality=92)
        else:
            path = folder / f"{n:03d}-{kind}.png"
            picture.save(path, pnginfo=info)
        written.append(path)
    return written


def _mix_counts(count: int) -> list[tuple[str, int]]:
    """MIX scaled to ``count`` images (largest remainders first), every source kept when it fits."""
    total = sum(n for _, n in MIX)
    exact = [(source, n * count / total) for source, n in MIX]
    counts = {source: int(x) for source, x in exact}
    for source, x in sorted(exact, key=lambda sx: -(sx[1] - int(sx[1]))):
        if sum(counts.values()) >= count:
            break
        counts[source] += 1
    return [(source, counts[source]) for source, _ in MIX if counts[source]]


def _generated_seam(seed: int) -> np.ndarray:
    from fixtures.align_gen import drawn_scene, tile_shift

    rng = random.Random(seed)
    size = rng.choice((768, 1024))
    tile = rng.choice((256, size // 2))
    return tile_shift(drawn_scene(seed, (size, size)), tile, rng.choice((2, 3, 4)), seed)[0]


def _generated_sign(seed: int) -> np.ndarray:
    from fixtures.text_gen import STYLES, make_case

    rng = random.Random(seed)
    return make_case(seed, STYLES[seed % len(STYLES)], rng.random() < 0.5, width=rng.choice((768, 1024)),
                     height=rng.choice((512, 768, 1024))).image


def real_use_folder(folder: Path, count: int = 64, seed: int = 19, corpus: Path | None = CORPUS) -> list[Path]:
    """The issue #19 folder: ``count`` images mixed as MIX says, drawn with ``seed``. Corpus
    images are used in place (never copied: the list holds their paths); generated ones are
    written to ``folder``. A corpus folder that is missing or too small is made up with
    generated look-alikes (--synthetic kinds), named after the source they stand in for."""
    from PIL import Image

    from checker.inputs import IMAGE_SUFFIXES

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    chosen: list[Path] = []
    stand_in = {"hands_real": "hand", "hands_ai_defect": "hand-six", "hands_ai_ok": "hand",
                "hands_illust_defect": "hand-six", "hands_illust_ok": "hand", "text_ai": "sign-typo",
                "clean": "scene", "seams": "seam", "metadata": "metadata"}
    for source, n in _mix_counts(count):
        if source.startswith("gen-"):
            make = _generated_seam if source == "gen-seam" else _generated_sign
            for k in range(n):
                path = folder / f"{source}-{k:02d}.png"
                Image.fromarray(np.ascontiguousarray(make(seed * 1000 + len(chosen))[:, :, :3])).save(path)
                chosen.append(path)
            continue
        pool = sorted(p for p in (corpus / source).iterdir()
                      if p.suffix.lower() in IMAGE_SUFFIXES) if corpus and (corpus / source).is_dir() else []
        picked = rng.sample(pool, min(n, len(pool)))
        chosen += picked
        for k in range(n - len(picked)):  # look-alikes for what the corpus lacks
            path = folder / f"{source}-standin-{k:02d}.png"
            build_folder(folder, 1, 1024, kinds=(stand_in[source],), first=seed * 1000 + len(chosen),
                         into=path)
            chosen.append(path)
    return chosen


def source_of(path: str) -> str:
    """Which MIX source an image of the default folder came from (its corpus folder, or its
    generated kind), for the per-source figures."""
    p = Path(path)
    if p.name.startswith("gen-"):
        return p.name.split("-", 2)[0] + "-" + p.name.split("-", 2)[1]
    for source, _ in MIX:
        if p.name.startswith(f"{source}-standin") or p.parent.name == source:
            return source
    kind = p.stem.split("-", 1)[-1]
    return kind if kind in KINDS else "other"


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
    cpu_s: float = 0.0  # user + system time of the command and every process it waited for


def snapshot_code(destination: Path) -> Path:
    """Copy the engine and the rules as they are now, so every run measures the same code
    while people keep editing the work tree (an edit rightly invalidates the cache, which
    would make a warm run cold). The runs import from the copy through PYTHONPATH."""
    import compileall

    for package in ("checker", "rules"):
        shutil.copytree(ROOT / package, destination / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # compiled now, as an installed copy is: else the first run measured (the start-up) would
    # also pay for compiling every module
    compileall.compile_dir(str(destination), quiet=1)
    return destination


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _code_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    code = workdir / "code"
    if code.is_dir():
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _in_process_env(workdir: Path) -> dict[str, str]:
    """The environment of an in-process pass (rules checked in a process the bench starts):
    the measured code and this checkout's bench; the thread limits come with the environment
    (set by the bench package, see bench/__init__.py)."""
    env = _code_env(workdir)
    env["PYTHONPATH"] = os.pathsep.join([env.get("PYTHONPATH", ""), str(ROOT)]).strip(os.pathsep)
    return env


def run_noticer(targets: Path | list[Path], jobs: int, cache_dir: Path | None, extra: list[str],
                workdir: Path, env: dict[str, str] | None = None) -> Run:
    """``noticer check`` over a folder or a list of files, as a user runs it; its wall time,
    CPU time (every process of the run), report and memory peaks."""
    out = workdir / f"report-{time.monotonic_ns()}.json"
    paths = [str(t) for t in targets] if isinstance(targets, list) else [str(targets)]
    command = [sys.executable, "-m", "checker", "check", *paths, "--jobs", str(jobs), "--no-progress",
               "--format", "json", "--output", str(out), *extra]
    command += ["--cache-dir", str(cache_dir)] if cache_dir else ["--no-cache"]
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**_code_env(workdir), **(env or {})})
    watch = MemoryWatch(proc.pid)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    cpu = _children_cpu_s() - cpu_before
    watch.stop()
    thread.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"noticer failed ({proc.returncode}): {stderr[-3000:]}")
    report = json.loads(out.read_text())
    return Run(seconds, report, watch.worker_peaks_mib(), watch.helper_peaks_mib(),
               watch.peaks_kib.get(proc.pid, 0) / 1024, proc.returncode, cpu)


def tesseract_loop(images: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds of ``tesseract IMAGE stdout`` run once per image, one after another."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise SystemExit("tesseract is not installed (apt-get install tesseract-ocr)")
    env = environment_before_limits()  # as a user's own loop runs: tesseract's OpenMP threads as they come
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    for image in images:
        subprocess.run([binary, str(image), "stdout"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False, env=env)
    return time.perf_counter() - started, _children_cpu_s() - cpu_before


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
    """Median total ms per image for each kind of the synthetic folder (from the file name)."""
    by_kind: dict[str, list[float]] = {}
    for image in report["images"]:
        kind = Path(image["path"]).stem.split("-", 1)[-1]
        if kind in KINDS:
            by_kind.setdefault(kind, []).append(sum(image["timings_ms"].values()))
    return {kind: statistics.median(by_kind[kind]) for kind in KINDS if kind in by_kind}


def ocr_without_lines(report: dict) -> tuple[int, list[tuple[str, float]]]:
    """How many images passed the OCR stage's gates (its ``text`` observation says
    ``gate_passed``), and those of them where the detector and recogniser then read no line:
    (path, the text rules' wall ms): the OCR stage's work for nothing."""
    passed, empty = 0, []
    for image in report["images"]:
        text = (image.get("observations") or {}).get("text") or {}
        if not text.get("gate_passed"):
            continue
        passed += 1
        if not text.get("lines"):
            ms = sum(v for rule, v in image["timings_ms"].items() if rule.startswith("text."))
            empty.append((image["path"], ms))
    return passed, empty


# ----------------------------------------------------------------------------- CPU per rule

def _worker_like_plan(paths: list[str], extra: list[str]):
    """The plan ``noticer check PATHS EXTRA`` resolves, in a process set up as a worker is
    (one thread per library: the bench package limited the others when it was imported)."""
    import cv2

    from checker.allocator import keep_freed_memory

    cv2.setNumThreads(1)
    keep_freed_memory()
    from checker.session import build_plan

    # the `noticer check` options that change which rules run and how (others are ignored here)
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--profile")
    options.add_argument("--select", action="append", default=[])
    options.add_argument("--ignore", action="append", default=[])
    options.add_argument("--set", action="append", default=[])
    options.add_argument("--config")
    known, _ = options.parse_known_args(extra)

    def split(values: list[str]) -> list[str]:  # "A,B" as the command line takes it
        return [part.strip() for value in values for part in value.split(",") if part.strip()]

    plan, _ = build_plan(paths, config=known.config, profile=known.profile, select=split(known.select) or None,
                         ignore=split(known.ignore), settings=known.set)
    return plan


def rule_cpu_ms(paths: list[str], extra: list[str]) -> list[dict[str, float]]:
    """CPU milliseconds each rule (and loading: ``load``) takes on each image, checked in this
    process as a worker checks them (one thread per library). A shared analysis (OCR, hand
    landmarks) is charged to the first rule that asks for it; the models load on the first
    image, so its row is left out of means by the caller."""
    from checker.config import RulePlan
    from checker.runner import check_image

    plan = _worker_like_plan(paths, extra)
    from checker.job import build_job

    rows: list[dict[str, float]] = []
    for path in paths:
        spent: dict[str, float] = {}

        def timed(rule_plan: RulePlan) -> RulePlan:
            check = rule_plan.rule.check

            def measured(ctx, settings, _check=check, _name=rule_plan.rule.name):
                t0 = time.process_time()
                try:
                    return list(_check(ctx, settings) or ())
                finally:
                    spent[_name] = spent.get(_name, 0.0) + (time.process_time() - t0) * 1000.0

            from dataclasses import replace

            return replace(rule_plan, rule=replace(rule_plan.rule, check=measured)) if check else rule_plan

        job = build_job(path, plan)
        job = type(job)(**{**job.__dict__, "rules": tuple(timed(rp) for rp in job.rules)})
        t0 = time.process_time()
        check_image(job)
        total = (time.process_time() - t0) * 1000.0
        spent["load"] = total - sum(spent.values())
        rows.append(spent)
    return rows


def measure_rule_cpu(paths: list[Path], extra: list[str], workdir: Path) -> list[dict[str, float]]:
    """``rule_cpu_ms`` in a fresh process running the measured code."""
    out = workdir / "rule-cpu.json"
    code = (f"import json, sys; from bench.speed import rule_cpu_ms; "
            f"json.dump(rule_cpu_ms(json.loads(sys.argv[1]), json.loads(sys.argv[2])), open(sys.argv[3], 'w'))")
    env = _in_process_env(workdir)
    subprocess.run([sys.executable, "-c", code, json.dumps([str(p) for p in paths]), json.dumps(extra), str(out)],
                   cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


# where the time goes inside the rules: (label, how to find it in a profile). Built-in (C)
# functions are matched by a part of their name and counted by their own time; Python
# functions by (file ending, name) and counted with what they call. Stages absent from the
# code measured (an engine replaced) are left out of the table.
STAGES = (
    ("decode (load_image)", ("checker/imageio.py", "load_image")),
    ("text gate (text_presence)", ("rules/text/gate.py", "text_presence")),
    ("OCR stage (gate, detector, recogniser)", ("rules/text/ocr.py", "ocr_image")),
    ("  ONNX Runtime inference", "onnxruntime_pybind11_state.run"),
    ("Tesseract crop readings (scripts, misread check)", ("rules/text/scripts.py", "read_crop")),
    ("Tesseract line readings (second reader)", ("rules/text/tesseract.py", "tesseract_line")),
    ("MediaPipe hand landmarks", "mediapipe"),
    ("GrabCut (hand masks)", "grabCut"),
    ("ALIGN001 seam search", ("rules/align/seams.py", "find_seams")),
    ("ALIGN002 grid search", ("rules/align/grids.py", "find_grid_pattern")),
    ("ALIGN003 line detector (OpenCV FLD)", "FastLineDetector"),
)


def stage_cpu_ms(paths: list[str], extra: list[str]) -> dict[str, float]:
    """CPU milliseconds per image of each of STAGES, from a profiled pass over ``paths``
    (the first image, which loads the models, left out). Profiling slows Python code, not
    the libraries' C code these stages mostly are."""
    import cProfile
    import pstats

    from checker.job import build_job
    from checker.runner import check_image

    plan = _worker_like_plan(paths, extra)
    check_image(build_job(paths[0], plan))
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for path in paths[1:]:
        check_image(build_job(path, plan))
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, nc, tottime, cumtime, callers)
    n = max(1, len(paths) - 1)
    found: dict[str, float] = {}
    for label, where in STAGES:
        total, seen = 0.0, False
        for (filename, _line, name), (_cc, _nc, tottime, cumtime, _callers) in stats.items():
            if isinstance(where, str):
                if filename == "~" and where in name:
                    total, seen = total + tottime, True
            elif filename.replace("\\", "/").endswith(where[0]) and name == where[1]:
                total, seen = total + cumtime, True
        if seen:
            found[label] = 1000.0 * total / n
    return found


def measure_stages(paths: list[Path], extra: list[str], workdir: Path) -> dict[str, float]:
    """``stage_cpu_ms`` in a fresh process running the measured code."""
    out = workdir / "stages.json"
    code = ("import json, sys; from bench.speed import stage_cpu_ms; "
            "json.dump(stage_cpu_ms(json.loads(sys.argv[1]), json.loads(sys.argv[2])), open(sys.argv[3], 'w'))")
    env = _in_process_env(workdir)
    subprocess.run([sys.executable, "-c", code, json.dumps([str(p) for p in paths]), json.dumps(extra), str(out)],
                   cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def cpu_table(rows: list[dict[str, float]], paths: list[Path]) -> dict[str, dict[str, float]]:
    """Mean and max CPU ms per image for each rule, leaving out the first image (it loads the models)."""
    body = rows[1:] or rows
    names = sorted({name for row in body for name in row})
    return {name: {"mean": statistics.fmean(row.get(name, 0.0) for row in body),
                   "max": max(row.get(name, 0.0) for row in body),
                   "share": sum(row.get(name, 0.0) for row in body) / max(1e-9, sum(sum(r.values()) for r in body))}
            for name in names}


def per_source_cpu(rows: list[dict[str, float]], paths: list[Path]) -> dict[str, float]:
    by_source: dict[str, list[float]] = {}
    for row, path in list(zip(rows, paths))[1:]:
        by_source.setdefault(source_of(str(path)), []).append(sum(row.values()))
    return {source: statistics.fmean(v) for source, v in sorted(by_source.items())}


def throughput_ceilings(mean_ms: float, per_source_ms: dict[str, float], workers: int = 2) -> dict:
    """What the checking alone allows: the images/s ``workers`` cores kept busy would reach at
    the in-process CPU per image (no start-up, model loading, reporting or idle core), for the
    folder and for a folder of its cheapest source only; and the CPU per image the throughput
    target leaves."""
    cheapest = min(per_source_ms, key=per_source_ms.get) if per_source_ms else None
    return {"folder_images_per_s": workers * 1000.0 / mean_ms if mean_ms > 0 else None,
            "cheapest_source": cheapest,
            "cheapest_source_ms": per_source_ms[cheapest] if cheapest else None,
            "cheapest_source_images_per_s": workers * 1000.0 / per_source_ms[cheapest] if cheapest else None,
            "target_ms_per_image": workers * 1000.0 / TARGETS["images_per_s_jobs2"]}


# ----------------------------------------------------------------------------- runs

def source_digest(root: Path = ROOT) -> str:
    """The engine's and rules' sources: when they change mid-benchmark, the cache is rightly
    invalidated and a warm run is not warm."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*root.glob("checker/**/*.py"), *root.glob("rules/**/*.py")]):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def wait_until_settled(targets: Path | list[Path]) -> None:
    """Wait until the newest image is 3 s old: the replay of an unchanged run records nothing
    over files changed in the seconds before (checker.replay.SETTLED_NS), and the images
    generated for this folder were just written."""
    from checker.replay import SETTLED_NS

    files = [p for p in (targets if isinstance(targets, list) else targets.rglob("*")) if p.is_file()]
    newest = max((max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in files), default=0)
    time.sleep(max(0.0, (newest + SETTLED_NS - time.time_ns()) / 1e9 + 0.2))


def cold_and_warm(targets, cache_dir: Path, extra: list[str], workdir: Path,
                  tries: int = 3) -> tuple[Run, Run, Run]:
    """A cold --jobs 2 run filling a fresh cache, then the warm re-run, then a warm run that
    cannot replay the cold one (another environment: every result comes from the result
    cache); tried again when the sources changed in between (the warm runs would have been cold)."""
    wait_until_settled(targets)
    for attempt in range(tries):
        shutil.rmtree(cache_dir, ignore_errors=True)
        code = workdir / "code" if (workdir / "code").is_dir() else ROOT
        before = source_digest(code)
        cold = run_noticer(targets, 2, cache_dir, extra, workdir)
        warm = run_noticer(targets, 2, cache_dir, extra, workdir)
        full = run_noticer(targets, 2, cache_dir, extra, workdir, env={"NOTICER_BENCH_RUN": "not replayed"})
        if source_digest(code) == before:
            return cold, warm, full
        print(f"  (sources changed during the cold/warm runs, try {attempt + 1} of {tries}: measured again)")
    return cold, warm, full


def measure_startup(single: Path, extra: list[str], workdir: Path, repeat: int = 1) -> float:
    """Median seconds of a ``--jobs 1`` run over the one image in ``single``, after an untimed
    run: a first run reads the libraries from disk and, when the model cache has no entry for
    this code (rules/text/model.py keys it by the models' content and its own code), makes the
    rewritten OCR graphs, as a user's first run ever does; the start-up reported is that of
    every later run."""
    run_noticer(single, 1, None, extra, workdir)
    return statistics.median(run_noticer(single, 1, None, extra, workdir).seconds for _ in range(repeat))


LETTERING_SOURCES = ("text_ai", "gen-sign")  # the default folder's sources of images with lettering
LETTERING_KINDS = ("sign", "sign-typo")  # --synthetic


def first_with_lettering(images: list[Path]) -> Path | None:
    """The folder's first image with lettering (a text image of the corpus, a drawn sign),
    None when it has none."""
    for path in images:
        if source_of(str(path)) in (*LETTERING_SOURCES, *LETTERING_KINDS):
            return path
    return None


# the selections --by-family measures when given none: each family alone, the two image-only
# families together (illustrations without lettering), and the cheap checks only
FAMILY_SELECTIONS = ("HAND", "TEXT", "ALIGN", "HAND,ALIGN", "IMG,META")


def selection_figures(run: Run, n: int, tesseract_s: float) -> dict:
    """The figures of one cold run over ``n`` images, as the --by-family table shows them."""
    return {"seconds": run.seconds, "images_per_s": n / run.seconds, "cpu_ms_per_image": 1000 * run.cpu_s / n,
            "ratio_vs_tesseract": run.seconds / tesseract_s,
            "peak_worker_mib": max(run.worker_peaks_mib, default=0.0),
            "flagged": sum(image["verdict"] in ("warn", "fail") for image in run.report["images"])}


def selection_table(rows: dict[str, dict]) -> list[str]:
    """The --by-family table's lines, one row per selection in the order given."""
    lines = [f"  {'--select':14s} {'images/s':>9s} {'CPU ms/image':>13s} {'/ tesseract':>12s} "
             f"{'peak MiB':>9s} {'flagged':>8s}"]
    for selection, row in rows.items():
        lines.append(f"  {selection:14s} {row['images_per_s']:9.2f} {row['cpu_ms_per_image']:13.0f} "
                     f"{row['ratio_vs_tesseract']:12.2f} {row['peak_worker_mib']:9.0f} {row['flagged']:8d}")
    return lines


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def _load() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def _target(ok: bool) -> str:
    return "MET " if ok else "MISS"


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None,
                        help="images in the folder (default 64; --synthetic: 96, 12 of each kind)")
    parser.add_argument("--seed", type=int, default=19, help="which corpus images the default folder takes")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"the corpus (default {CORPUS})")
    parser.add_argument("--synthetic", action="store_true",
                        help="the older folder of drawn images only (scenes, seams, signs, hands, metadata)")
    parser.add_argument("--size", type=int, default=1024, help="--synthetic: side of the square images")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are shown")
    parser.add_argument("--keep", type=Path, help="write generated images here and keep them")
    parser.add_argument("--folder", type=Path,
                        help="measure an existing folder instead (read only), e.g. ../shared/corpus")
    parser.add_argument("--jobs1", action="store_true", help="also measure a cold --jobs 1 run")
    parser.add_argument("--no-rule-cpu", action="store_true", help="skip the in-process CPU pass per rule")
    parser.add_argument("--stages", action="store_true",
                        help="also a profiled pass: CPU per image of the dearest stages inside the rules")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--report", type=Path,
                        help="also write the cold --jobs 2 JSON report here (for bench.compare_reports)")
    parser.add_argument("--live-code", action="store_true",
                        help="run the work tree's code instead of a copy taken at the start")
    parser.add_argument("--by-family", nargs="*", metavar="SELECTION",
                        help="also a cold --jobs 2 run per selection of rules (default: "
                             + ", ".join(FAMILY_SELECTIONS) + "): what checking less costs")
    parser.add_argument("noticer_args", nargs="*", help="extra `noticer check` options, after --")
    args = parser.parse_args(argv)
    if args.by_family is not None and any(a.startswith(("--select", "--extend-select")) for a in args.noticer_args):
        parser.error("--by-family chooses the rules of its runs: give no --select after --")
    selections = tuple(args.by_family or FAMILY_SELECTIONS) if args.by_family is not None else ()

    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="noticer-speed-") as tmp:
        workdir = Path(tmp)
        folder = args.keep or workdir / "generated"
        if not args.live_code:
            snapshot_code(workdir / "code")
            print(f"code: checker/ and rules/ as they were at the start (source digest {source_digest()[:12]})")
        started = time.perf_counter()
        if args.folder:
            from checker.inputs import find_images

            targets = args.folder.resolve()
            images, _ = find_images([targets])
            images = [Path(p) for p in images]
            print(f"folder: {len(images)} images in {targets} (read only)")
        elif args.synthetic:
            images = build_folder(folder, args.count or 96, args.size)
            targets = folder
            print(f"folder: {len(images)} drawn images of {args.size}x{args.size} ({', '.join(KINDS)}) "
                  f"built in {time.perf_counter() - started:.1f} s")
        else:
            images = real_use_folder(folder, args.count or 64, args.seed, args.corpus)
            targets = images
            sources: dict[str, int] = {}
            for path in images:
                sources[source_of(str(path))] = sources.get(source_of(str(path)), 0) + 1
            in_corpus = sum(1 for p in images if args.corpus and args.corpus in p.parents)
            print(f"folder: {len(images)} images, seed {args.seed}: {in_corpus} read in place from {args.corpus}, "
                  f"{len(images) - in_corpus} generated ({time.perf_counter() - started:.1f} s); "
                  + ", ".join(f"{s} {n}" for s, n in sources.items()))
        n = len(images)
        extra = list(args.noticer_args)

        single = workdir / "single"
        single.mkdir()
        shutil.copy2(images[0], single / images[0].name)
        startup = measure_startup(single, extra, workdir, args.repeat)
        lettered = first_with_lettering(images)
        startup_lettering = None
        if lettered is not None and lettered != images[0]:
            single_lettering = workdir / "single-lettering"
            single_lettering.mkdir()
            shutil.copy2(lettered, single_lettering / lettered.name)
            startup_lettering = measure_startup(single_lettering, extra, workdir, args.repeat)
        cold1 = median_run([run_noticer(targets, 1, None, extra, workdir) for _ in range(args.repeat)]) \
            if args.jobs1 else None
        cold2_runs, warm_runs, full_runs = [], [], []
        for k in range(args.repeat):
            cold, warm_run, full_run = cold_and_warm(targets, workdir / f"cache-{k}", extra, workdir)
            cold2_runs.append(cold)
            warm_runs.append(warm_run)
            full_runs.append(full_run)
        cold2, warm, warm_full = median_run(cold2_runs), median_run(warm_runs), median_run(full_runs)
        tess_runs = [tesseract_loop(images) for _ in range(args.repeat)]
        tess, tess_cpu = sorted(tess_runs)[len(tess_runs) // 2]
        selection_runs = {selection: median_run([run_noticer(targets, 2, None, extra + ["--select", selection], workdir)
                                                 for _ in range(args.repeat)]) for selection in selections}
        cpu_rows = [] if args.no_rule_cpu else measure_rule_cpu(images, extra, workdir)
        stages = measure_stages(images, extra, workdir) if args.stages else {}
        if args.report:
            args.report.write_text(json.dumps(cold2.report, indent=2))
    load_after = _load()

    base = cold1 or cold2
    errors = [i["path"] for i in cold2.report["images"] if i["verdict"] == "error"]
    same_jobs = comparable(cold1.report) == comparable(cold2.report) if cold1 else None
    same_warm = comparable(cold2.report) == comparable(warm.report)
    same_warm_full = comparable(cold2.report) == comparable(warm_full.report)
    rules = per_rule_medians(base.report)
    gated, unread = ocr_without_lines(base.report)
    kinds = per_kind_medians(base.report)
    worker_peaks = (cold1.worker_peaks_mib if cold1 else []) + cold2.worker_peaks_mib
    peak = max(worker_peaks) if worker_peaks else 0.0
    helpers = (cold1.helper_peaks_mib if cold1 else []) + cold2.helper_peaks_mib
    cpu = cpu_table(cpu_rows, images) if cpu_rows else {}
    figures = {
        "images": n, "folder": "folder" if args.folder else "synthetic" if args.synthetic else "real-use",
        "seed": args.seed, "repeat": args.repeat, "startup_s": startup, "startup_image": images[0].name,
        "startup_lettering_s": startup_lettering, "startup_lettering_image": lettered.name if lettered else None,
        "load_average_before": load_before, "load_average_after": load_after,
        "cold_jobs2_s": cold2.seconds, "warm_jobs2_s": warm.seconds, "images_per_s_jobs2": n / cold2.seconds,
        "cold_jobs2_cpu_s": cold2.cpu_s, "cpu_ms_per_image_jobs2": 1000 * cold2.cpu_s / n,
        "warm_share": warm.seconds / cold2.seconds,
        "warm_not_replayed_s": warm_full.seconds, "warm_not_replayed_share": warm_full.seconds / cold2.seconds,
        "warm_not_replayed_report_equals_cold": same_warm_full,
        "tesseract_loop_s": tess, "tesseract_loop_cpu_s": tess_cpu, "tesseract_images_per_s": n / tess,
        "ratio_vs_tesseract": cold2.seconds / tess, "cpu_ratio_vs_tesseract": cold2.cpu_s / max(1e-9, tess_cpu),
        "peak_worker_mib": peak, "worker_peaks_mib": sorted(worker_peaks),
        "helper_process_peak_mib": max(helpers) if helpers else 0.0,
        "main_process_peak_mib": max(cold2.main_peak_mib, cold1.main_peak_mib if cold1 else 0.0),
        "per_rule_median_ms": rules, "per_kind_median_ms": kinds,
        "rule_cpu_ms": cpu, "stage_cpu_ms": stages, "per_source_cpu_ms": per_source_cpu(cpu_rows, images) if cpu_rows else {},
        "warm_report_equals_cold": same_warm, "errors": errors,
        "ocr_gate_passed": gated, "ocr_without_lines": [path for path, _ in unread],
        "verdicts": {v: sum(i["verdict"] == v for i in cold2.report["images"]) for v in ("pass", "warn", "fail", "error")},
    }
    if selections:
        figures["by_family"] = {"(none)": selection_figures(cold2, n, tess),
                                **{sel: selection_figures(run, n, tess) for sel, run in selection_runs.items()}}
    if cold1:
        figures.update(cold_jobs1_s=cold1.seconds, images_per_s_jobs1=n / cold1.seconds,
                       ratio_vs_tesseract_jobs1=cold1.seconds / tess, same_report_jobs1_jobs2=same_jobs)

    print(f"machine: {os.cpu_count()} cores; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
          "(other people's jobs share it: CPU figures are the steadier ones)")
    print(f"verdicts (jobs 2): {figures['verdicts']}; images with verdict error: {len(errors)}")
    print(f"start-up (a run over one image, --jobs 1): {startup:.2f} s   [target < {TARGETS['startup_s']:.1f} s] "
          f"({images[0].name}, {source_of(str(images[0]))})")
    if startup_lettering is not None:
        print(f"start-up over one image with lettering: {startup_lettering:.2f} s ({lettered.name}; "
              "its first look also loads the OCR models and the word list; not the target's run)")
    if cold1:
        print(f"cold --jobs 1: {cold1.seconds:7.2f} s  {figures['images_per_s_jobs1']:6.2f} images/s "
              f"(jobs 1 and 2 agree: {'yes' if same_jobs else 'NO'})")
    print(f"cold --jobs 2: {cold2.seconds:7.2f} s  {figures['images_per_s_jobs2']:6.2f} images/s   "
          f"[target >= {TARGETS['images_per_s_jobs2']:.0f}]; CPU {cold2.cpu_s:.1f} s = "
          f"{figures['cpu_ms_per_image_jobs2']:.0f} ms per image (all processes)")
    print(f"warm --jobs 2: {warm.seconds:7.2f} s  = {100 * figures['warm_share']:.1f}% of cold   "
          f"[target <= {100 * TARGETS['warm_share']:.0f}%] (same verdicts and findings as cold: "
          f"{'yes' if same_warm else 'NO'})")
    print(f"warm, not replayed: {warm_full.seconds:5.2f} s  = {100 * figures['warm_not_replayed_share']:.1f}% of cold "
          f"(another environment variable: every result read from the result cache; same verdicts and findings "
          f"as cold: {'yes' if same_warm_full else 'NO'})")
    print(f"tesseract IMAGE stdout loop: {tess:7.2f} s  {figures['tesseract_images_per_s']:6.2f} images/s, "
          f"CPU {tess_cpu:.1f} s")
    print(f"noticer --jobs 2 / tesseract loop: {figures['ratio_vs_tesseract']:.2f} wall   "
          f"[target <= {TARGETS['ratio_vs_tesseract']}], {figures['cpu_ratio_vs_tesseract']:.2f} CPU"
          + (f"; --jobs 1: {figures['ratio_vs_tesseract_jobs1']:.2f} wall" if cold1 else ""))
    print(f"peak memory per worker: {', '.join(f'{p:.0f}' for p in sorted(worker_peaks))} MiB "
          f"(max {peak:.0f} MiB)   [target <= {TARGETS['peak_worker_mib']:.0f}]; main process "
          f"{figures['main_process_peak_mib']:.0f} MiB; other child processes (library forks, tesseract): "
          f"{len(helpers)}, max {figures['helper_process_peak_mib']:.0f} MiB")
    if selections:
        print("cold --jobs 2 with fewer rules (--select; the same folder; flagged: images that warn or fail):")
        for line in selection_table(figures["by_family"]):
            print(line)
    if kinds:
        print("median ms per image by kind (wall, all rules + load): "
              + ", ".join(f"{kind} {ms:.0f}" for kind, ms in kinds.items()))
    if cpu:
        total = sum(v["mean"] for v in cpu.values())
        print(f"CPU ms per image (in-process pass, first image left out; mean {total:.0f} ms): mean, max, share")
        for rule, v in sorted(cpu.items(), key=lambda kv: -kv[1]["mean"]):
            print(f"  {rule:28s} {v['mean']:8.1f} {v['max']:8.1f} {100 * v['share']:5.1f}%")
        print("CPU ms per image by source: " + ", ".join(f"{s} {ms:.0f}" for s, ms in
                                                         figures["per_source_cpu_ms"].items()))
        ceiling = figures["ceilings"] = throughput_ceilings(total, figures["per_source_cpu_ms"])
        if ceiling["cheapest_source"]:
            print(f"ceiling on 2 busy cores from that CPU alone (no start-up, loading or idle core): "
                  f"{ceiling['folder_images_per_s']:.1f} images/s for this folder, "
                  f"{ceiling['cheapest_source_images_per_s']:.1f} for a folder of its cheapest source only "
                  f"({ceiling['cheapest_source']}, {ceiling['cheapest_source_ms']:.0f} ms); "
                  f"{TARGETS['images_per_s_jobs2']:.0f} images/s leaves {ceiling['target_ms_per_image']:.0f} ms per image")
    if stages:
        print("CPU ms per image by stage (profiled in-process pass; a stage includes what it calls):")
        for label, ms in stages.items():
            print(f"  {label:50s} {ms:8.1f}")
    if gated:
        print(f"OCR stage: {gated} images passed its gates; {len(unread)} of them gave no line "
              f"(text rules' wall ms on those: {sum(ms for _, ms in unread):.0f} in all"
              + (f", median {statistics.median(ms for _, ms in unread):.0f})" if unread else ")"))
    print("wall ms per rule (cold run's report): median, max")
    rule_max = {rule: max(i["timings_ms"].get(rule, 0.0) for i in base.report["images"]) for rule in rules}
    for rule, ms in sorted(rules.items(), key=lambda kv: -kv[1]):
        print(f"  {rule:28s} {ms:9.2f} {rule_max[rule]:9.2f}")
    checks = [
        (f">= {TARGETS['images_per_s_jobs2']:.0f} images/s with --jobs 2",
         figures["images_per_s_jobs2"] >= TARGETS["images_per_s_jobs2"]),
        (f"noticer (--jobs 2) <= {TARGETS['ratio_vs_tesseract']} of the tesseract loop",
         figures["ratio_vs_tesseract"] <= TARGETS["ratio_vs_tesseract"]),
        (f"warm re-run <= {100 * TARGETS['warm_share']:.0f}% of cold", figures["warm_share"] <= TARGETS["warm_share"]),
        (f"peak memory <= {TARGETS['peak_worker_mib']:.0f} MiB per worker", peak <= TARGETS["peak_worker_mib"]),
        (f"start-up < {TARGETS['startup_s']:.0f} s", startup < TARGETS["startup_s"]),
    ]
    print("targets:")
    for label, ok in checks:
        print(f"  {_target(ok)} {label}")
    figures["targets_met"] = {label: ok for label, ok in checks}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
