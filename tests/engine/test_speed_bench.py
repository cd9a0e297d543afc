"""The throughput benchmark: its folder, its measurements, and that it runs end to end.

Speed itself is not asserted here (the machine is shared); `python -m bench.speed` prints it."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import speed


def test_mixed_folder_has_every_kind_at_the_asked_size(tmp_path):
    images = speed.build_folder(tmp_path, 2 * len(speed.KINDS), 96)
    assert len(images) == 2 * len(speed.KINDS)
    kinds = [p.stem.split("-", 1)[1] for p in images]
    assert set(kinds) == set(speed.KINDS)
    for path in images:
        with Image.open(path) as picture:
            assert picture.size == (96, 96)
    leak = next(p for p in images if "metadata" in p.name)
    with Image.open(leak) as picture:
        assert "parameters" in picture.info
    digests = {p.read_bytes() for p in images}
    assert len(digests) == len(images), "no two images alike (they would share a cache entry)"
    signs = [np.asarray(Image.open(p)) for p in images if p.stem.endswith("-sign")]
    assert signs and signs[0].std() > 5, "drawn content, not a blank canvas"


def test_per_rule_medians_and_comparable_reports():
    report = {"images": [
        {"path": "a", "verdict": "pass", "findings": [], "timings_ms": {"load": 1.0, "r": 10.0}},
        {"path": "b", "verdict": "warn", "findings": [], "timings_ms": {"load": 3.0, "r": 30.0}},
        {"path": "c", "verdict": "pass", "findings": [], "timings_ms": {"load": 2.0, "r": 20.0}},
    ]}
    assert speed.per_rule_medians(report) == {"load": 2.0, "r": 20.0}
    report["images"][1]["findings"] = [{"code": "X001", "severity": "warning", "region": None, "message": "m",
                                        "confidence": 1.0, "measurements": {"analysis_ms": 12.5}}]
    assert speed.comparable(report) == [("a", "pass", []), ("b", "warn", [("X001", "warning", None, "m")]),
                                        ("c", "pass", [])]


def test_memory_watch_sees_a_child_process_peak():
    code = "import numpy as np, time; a = np.ones(300 * 2**20 // 8); time.sleep(1.5)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    watch = speed.MemoryWatch(proc.pid, interval=0.05)
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        watch._sample()
        time.sleep(0.05)
    proc.wait()
    assert watch.peaks_kib[proc.pid] / 1024 >= 300


@pytest.mark.slow
def test_benchmark_runs_end_to_end_and_prints_every_figure(tmp_path, capsys):
    figures = tmp_path / "figures.json"
    assert speed.main(["--synthetic", "--jobs1", "--count", "8", "--size", "128", "--json", str(figures),
                       "--", "--select", "META001,IMG"]) == 0
    out = capsys.readouterr().out
    for fragment in ("start-up (a run over one image", "median ms per image by kind", "cold --jobs 1:",
                     "cold --jobs 2:", "warm --jobs 2:", "warm, not replayed:", "tesseract IMAGE stdout loop:", "CPU ms per image",
                     "noticer --jobs 2 / tesseract loop:", "peak memory per worker:", "ms per rule", "targets:",
                     "load average"):
        assert fragment in out
    import json

    data = json.loads(figures.read_text())
    assert data["images"] == 8 and data["warm_report_equals_cold"] is True
    assert data["warm_not_replayed_report_equals_cold"] is True
    assert data["verdicts"]["warn"] == 1, "the metadata image is flagged (lenient: warning)"
    assert len(data["worker_peaks_mib"]) >= 3, "one worker for --jobs 1, two for --jobs 2"
    assert set(data["per_rule_median_ms"]) == {"load", "metadata.generation-info", "image.too-small"}
    assert set(data["per_kind_median_ms"]) == set(speed.KINDS), "8 images: one of each kind"
    assert data["startup_s"] > 0
    assert data["startup_lettering_s"] > 0 and data["startup_lettering_image"].endswith(("-sign.png", "-sign-typo.png"))
    assert "start-up over one image with lettering:" in out
    assert data["cold_jobs2_cpu_s"] > 0 and data["tesseract_loop_cpu_s"] > 0
    assert set(data["rule_cpu_ms"]) == {"load", "metadata.generation-info", "image.too-small"}
    assert len(data["targets_met"]) == 5
    assert "ceiling on 2 busy cores" in out
    assert data["ceilings"]["cheapest_source"] in data["per_source_cpu_ms"]


def _fake_corpus(root, per_folder: int):
    for source, _ in speed.MIX:
        if source.startswith("gen-"):
            continue
        (root / source).mkdir(parents=True)
        for k in range(per_folder):
            Image.new("RGB", (32, 32), (k, 40, 80)).save(root / source / f"{k}.png")
        (root / source / "notes.txt").write_text("not an image")
    return root


def test_mix_scales_to_any_count_and_keeps_the_total():
    for count in (1, 10, 64, 100):
        counts = speed._mix_counts(count)
        assert sum(n for _, n in counts) == count
    assert dict(speed._mix_counts(64)) == dict(speed.MIX), "64 is the mix as written"


@pytest.mark.slow
def test_real_use_folder_reads_the_corpus_in_place_and_generates_the_rest(tmp_path):
    corpus = _fake_corpus(tmp_path / "corpus", 20)
    images = speed.real_use_folder(tmp_path / "gen", 64, seed=19, corpus=corpus)
    assert len(images) == 64 and len(set(images)) == 64
    in_corpus = [p for p in images if corpus in p.parents]
    generated = [p for p in images if corpus not in p.parents]
    assert len(in_corpus) == 50 and all(p.suffix == ".png" for p in in_corpus), "no .txt taken for an image"
    assert len(generated) == 14 and all(p.parent == tmp_path / "gen" for p in generated)
    assert {speed.source_of(str(p)) for p in generated} == {"gen-seam", "gen-sign"}
    assert sorted(speed.source_of(str(p)) for p in images).count("text_ai") == 14
    again = speed.real_use_folder(tmp_path / "gen2", 64, seed=19, corpus=corpus)
    assert [p for p in again if corpus in p.parents] == in_corpus, "a fixed seed picks the same images"
    other = speed.real_use_folder(tmp_path / "gen3", 64, seed=20, corpus=corpus)
    assert [p for p in other if corpus in p.parents] != in_corpus


def test_real_use_folder_stands_in_for_a_missing_corpus(tmp_path):
    images = speed.real_use_folder(tmp_path / "gen", 3, seed=1, corpus=tmp_path / "nowhere")
    assert len(images) == 3 and all(p.is_file() and p.parent == tmp_path / "gen" for p in images)
    assert all("standin" in p.name or p.name.startswith("gen-") for p in images)


def test_cpu_table_leaves_out_the_first_image_and_shares_add_up():
    rows = [{"load": 500.0, "r": 900.0}, {"load": 10.0, "r": 30.0}, {"load": 20.0, "r": 40.0}]
    table = speed.cpu_table(rows, [])
    assert table["load"]["mean"] == 15.0 and table["r"]["max"] == 40.0
    assert abs(sum(v["share"] for v in table.values()) - 1.0) < 1e-9


def test_snapshot_is_compiled_so_the_start_up_pays_no_compiling(tmp_path):
    code = speed.snapshot_code(tmp_path / "code")
    sources = list((code / "checker").glob("*.py"))
    assert sources
    for source in sources:
        cached = list((source.parent / "__pycache__").glob(f"{source.stem}.*.pyc"))
        assert cached, f"{source.name} not compiled"


def test_stage_pass_finds_the_stages_of_the_rules_that_ran(tmp_path):
    images = speed.build_folder(tmp_path, 3, 256, kinds=("seam",))
    stages = speed.stage_cpu_ms([str(p) for p in images], ["--select", "ALIGN001,ALIGN002"])
    assert {"decode (load_image)", "ALIGN001 seam search", "ALIGN002 grid search"} <= set(stages)
    assert not any(label.startswith("OCR") or "MediaPipe" in label for label in stages), "text and hands did not run"
    assert all(ms >= 0 for ms in stages.values()) and stages["ALIGN001 seam search"] > 0


def test_the_lettering_start_up_takes_the_first_text_image():
    images = [Path("/c/hands_real/a.jpg"), Path("/c/clean/b.jpg"), Path("/c/text_ai/c.png"), Path("/w/gen-sign-0.png")]
    assert speed.first_with_lettering(images) == images[2]
    assert speed.first_with_lettering(images[3:]) == images[3]
    assert speed.first_with_lettering([Path("/w/0001-scene.png"), Path("/w/0002-sign-typo.png")]) == Path("/w/0002-sign-typo.png")
    assert speed.first_with_lettering(images[:2]) is None


def test_start_up_is_timed_after_an_untimed_first_run(monkeypatch, tmp_path):
    """The first run of the benchmark's code copy also makes the copy's rewritten OCR graphs;
    the start-up figure is that of the runs after it."""
    seconds = iter([9.0, 2.0, 3.0, 2.5])
    calls = []

    def fake_run(targets, jobs, cache_dir, extra, workdir):
        calls.append((targets, jobs, cache_dir))
        return speed.Run(next(seconds), {}, [], [], 0.0, 0, 0.0)

    monkeypatch.setattr(speed, "run_noticer", fake_run)
    assert speed.measure_startup(tmp_path, [], tmp_path, repeat=3) == 2.5
    assert calls == [(tmp_path, 1, None)] * 4


def test_ocr_without_lines_counts_the_images_read_for_nothing():
    def image(path, gate_passed, lines, ms):
        text = {"engine": "rapidocr", "gate_passed": gate_passed, "lines": lines}
        return {"path": path, "observations": {"text": text} if gate_passed is not None else {},
                "timings_ms": {"text.misspelled": ms, "text.garbled": 1.0, "align.seam": 50.0}}

    report = {"images": [image("a.png", True, [{"text": "OPEN"}], 90.0), image("b.png", True, [], 120.0),
                         image("c.png", False, [], 4.0), image("d.png", None, [], 0.0),
                         image("e.png", True, [], 30.0)]}
    assert speed.ocr_without_lines(report) == (3, [("b.png", 121.0), ("e.png", 31.0)])


def _report(paths, verdict):
    return {"images": [{"path": str(p), "verdict": verdict, "findings": [], "timings_ms": {"load": 1.0},
                        "observations": {}} for p in paths]}


def test_by_family_runs_each_selection_cold_and_prints_it_beside_the_default(monkeypatch, tmp_path, capsys):
    """Wiring of --by-family, with the command line and the tesseract loop stood in for: each
    selection gets its own cold --jobs 2 run without a cache, and its figures come from that run."""
    calls = []
    costs = {None: (4.0, 8.0, "warn"), "HAND": (1.0, 1.5, "fail"), "IMG,META": (0.5, 0.6, "pass")}

    def fake_run(targets, jobs, cache_dir, extra, workdir, env=None):
        selection = extra[extra.index("--select") + 1] if "--select" in extra else None
        calls.append((jobs, cache_dir, selection, tuple(extra)))
        seconds, cpu, verdict = costs[selection]
        paths = targets if isinstance(targets, list) else sorted(Path(targets).iterdir())
        peaks = [100.0 * seconds, 50.0]
        return speed.Run(seconds, _report(paths, verdict), peaks, [], 40.0, 0, cpu)

    monkeypatch.setattr(speed, "run_noticer", fake_run)
    monkeypatch.setattr(speed, "tesseract_loop", lambda images: (10.0, 9.0))
    figures = tmp_path / "figures.json"
    assert speed.main(["--synthetic", "--count", "4", "--size", "64", "--no-rule-cpu", "--live-code",
                       "--json", str(figures), "--by-family", "HAND", "IMG,META", "--", "--profile", "strict"]) == 0
    out = capsys.readouterr().out
    selected = [c for c in calls if c[2] is not None]
    assert [(jobs, cache, sel) for jobs, cache, sel, _ in selected] == [(2, None, "HAND"), (2, None, "IMG,META")]
    assert all(extra[:2] == ("--profile", "strict") for *_, extra in selected), "the user's other options are kept"
    import json

    rows = json.loads(figures.read_text())["by_family"]
    assert list(rows) == ["(none)", "HAND", "IMG,META"]
    assert rows["HAND"]["images_per_s"] == 4.0 and rows["HAND"]["cpu_ms_per_image"] == 375.0
    assert rows["HAND"]["ratio_vs_tesseract"] == 0.1 and rows["HAND"]["peak_worker_mib"] == 100.0
    assert rows["HAND"]["flagged"] == 4 and rows["IMG,META"]["flagged"] == 0 and rows["(none)"]["flagged"] == 4
    assert rows["(none)"]["images_per_s"] == 1.0
    assert "cold --jobs 2 with fewer rules" in out
    table = out.split("cold --jobs 2 with fewer rules", 1)[1].splitlines()
    assert table[2].split() == ["(none)", "1.00", "2000", "0.40", "400", "4"]
    assert table[3].split() == ["HAND", "4.00", "375", "0.10", "100", "4"]


def test_by_family_defaults_to_every_family_and_refuses_a_select_of_its_own(monkeypatch, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        speed.main(["--synthetic", "--by-family", "--", "--select", "HAND"])
    assert stop.value.code == 2 and "--by-family chooses the rules" in capsys.readouterr().err
    assert speed.FAMILY_SELECTIONS == ("HAND", "TEXT", "ALIGN", "HAND,ALIGN", "IMG,META")
    seen = []

    def fake_run(targets, jobs, cache_dir, extra, workdir, env=None):
        seen.append(extra[extra.index("--select") + 1] if "--select" in extra else None)
        paths = targets if isinstance(targets, list) else sorted(Path(targets).iterdir())
        return speed.Run(1.0, _report(paths, "pass"), [10.0], [], 1.0, 0, 1.0)

    monkeypatch.setattr(speed, "run_noticer", fake_run)
    monkeypatch.setattr(speed, "tesseract_loop", lambda images: (1.0, 1.0))
    assert speed.main(["--synthetic", "--count", "2", "--size", "64", "--no-rule-cpu", "--live-code", "--by-family"]) == 0
    assert [s for s in seen if s is not None] == list(speed.FAMILY_SELECTIONS)


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _without_thread_limits(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    env["PYTHONPATH"] = str(speed.ROOT)
    return {**env, **extra}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2,
                    reason="counts threads in /proc; with one core OpenBLAS starts no extra thread anyway")
def test_benchmarks_start_no_blas_threads_beside_the_rules():
    """A benchmark times the rules in its own process, after importing NumPy; importing the
    bench package first limits the threads as in a worker, or OpenBLAS's idle threads spin
    beside the rules and inflate the CPU figures."""
    probe = "import os, numpy; numpy.ones((64, 64)) @ numpy.ones((64, 64)); print(len(os.listdir('/proc/self/task')))"
    limited = subprocess.run([sys.executable, "-c", "import bench; " + probe], env=_without_thread_limits(),
                             capture_output=True, text=True, check=True)
    assert int(limited.stdout) == 1
    unlimited = subprocess.run([sys.executable, "-c", probe], env=_without_thread_limits(),
                               capture_output=True, text=True, check=True)
    assert int(unlimited.stdout) > 1, "the probe sees OpenBLAS's threads when nothing limits them"


def test_the_tesseract_loop_runs_with_the_users_environment(monkeypatch, tmp_path):
    """The limits are the bench's, not the user's: the plain tesseract loop (the baseline) runs
    without those the bench added, and keeps the user's own."""
    probe = ("import os, bench; before = bench.environment_before_limits(); "
             "print(os.environ['OMP_NUM_THREADS'], before.get('OMP_NUM_THREADS'), before['OPENBLAS_NUM_THREADS'])")
    out = subprocess.run([sys.executable, "-c", probe], env=_without_thread_limits(OPENBLAS_NUM_THREADS="2"),
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "None", "2"]
    seen = []
    monkeypatch.setattr(speed.subprocess, "run", lambda command, **kw: seen.append(kw.get("env")))
    monkeypatch.setattr(speed.shutil, "which", lambda name: "/usr/bin/tesseract")
    monkeypatch.setattr(speed, "environment_before_limits", lambda: {"MARK": "user"})
    speed.tesseract_loop([tmp_path / "a.png", tmp_path / "b.png"])
    assert seen == [{"MARK": "user"}] * 2


def test_ceilings_are_what_two_busy_cores_reach_at_the_measured_cpu():
    ceiling = speed.throughput_ceilings(400.0, {"clean": 250.0, "seams": 125.0, "text_ai": 650.0})
    assert ceiling["folder_images_per_s"] == pytest.approx(5.0)
    assert ceiling["cheapest_source"] == "seams"
    assert ceiling["cheapest_source_images_per_s"] == pytest.approx(16.0)
    assert ceiling["target_ms_per_image"] == pytest.approx(2 * 1000.0 / speed.TARGETS["images_per_s_jobs2"])
    assert speed.throughput_ceilings(400.0, {})["cheapest_source"] is None
