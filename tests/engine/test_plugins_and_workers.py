"""Third-party rules through entry points, and isolation from rules that crash or hang."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import ROOT, run_cli, run_json, validate_report

PLUGIN_SOURCE = ROOT / "tests" / "plugin_pkg"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """Install the tiny plugin package with pip into a folder on PYTHONPATH (a real install:
    pip builds it and writes its entry points), so the CLI and its workers see it."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    src = build / "plugin_pkg"
    subprocess.run(["cp", "-r", str(PLUGIN_SOURCE), str(src)], check=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert list(target.glob("noticer_testplugin-*.dist-info"))
    return {"PYTHONPATH": f"{target}:{ROOT}"}


def _images(folder: Path, names):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((80, 96, 3), 40 + 20 * i, np.uint8)).save(folder / name)
    return folder


def test_plugin_rule_is_listed_and_runs(plugin_env, tmp_path):
    listed = run_cli("rules", env=plugin_env)
    assert "TPL001" in listed.stdout and "testplugin.marker" in listed.stdout
    folder = _images(tmp_path / "imgs", ["a.png"])
    proc, report = run_json(folder, "--select", "TPL001", "--profile", "strict", "--jobs", "1", "--no-cache",
                            env=plugin_env)
    (finding,) = report["images"][0]["findings"]
    assert finding["code"] == "TPL001" and finding["rule"] == "testplugin.marker"
    assert finding["message"] == "plugin saw 96x80 (strict-label)"
    assert report["profile"]["settings"]["testplugin.marker"] == {"label": "strict-label"}


def test_broken_plugin_warns_once_and_others_still_run(plugin_env, tmp_path):
    folder = _images(tmp_path / "imgs", ["a.png"])
    proc, report = run_json(folder, "--jobs", "0", "--no-cache", env=plugin_env)
    assert proc.stderr.count("brokenplugin") == 1
    assert "failed to load" in proc.stderr
    codes = {f["code"] for f in report["images"][0]["findings"]}
    assert "TPL001" in codes  # the healthy plugin in the same package still ran
    assert "image.too-small" in report["profile"]["settings"]  # and the built-in rules


def test_crashing_worker_loses_only_its_image(plugin_env, tmp_path):
    folder = _images(tmp_path / "imgs", ["a.png", "b_crashme.png", "c.png", "d.png"])
    # the test rules act on file names, which the content-keyed cache rightly ignores: no cache here
    proc, report = run_json(folder, "--jobs", "2", "--no-cache", "--select", "TPL", env=plugin_env)
    validate_report(report)
    assert proc.returncode == 1
    by_name = {Path(i["path"]).name: i for i in report["images"]}
    assert set(by_name) == {"a.png", "b_crashme.png", "c.png", "d.png"}
    crashed = by_name["b_crashme.png"]
    assert crashed["verdict"] == "error"
    assert crashed["findings"][0]["code"] == "IMG001" and "crashed" in crashed["findings"][0]["message"]
    for name in ("a.png", "c.png", "d.png"):
        assert by_name[name]["verdict"] != "error"
        assert any(f["code"] == "TPL001" for f in by_name[name]["findings"])


def test_image_past_the_time_limit_is_an_error_and_the_run_goes_on(plugin_env, tmp_path):
    folder = _images(tmp_path / "imgs", ["a.png", "b_slowpoke.png", "c.png"])
    proc, report = run_json(folder, "--jobs", "1", "--timeout", "2", "--no-cache", "--select", "TPL",
                            env=plugin_env, timeout=200)
    by_name = {Path(i["path"]).name: i for i in report["images"]}
    slow = by_name["b_slowpoke.png"]
    assert slow["verdict"] == "error" and "time limit" in slow["findings"][0]["message"]
    assert by_name["c.png"]["verdict"] != "error"


def test_rule_that_raises_is_reported_not_fatal(plugin_env, tmp_path):
    folder = _images(tmp_path / "imgs", ["a_raiseme.png", "b.png"])
    for jobs in ("0", "1"):
        proc, report = run_json(folder, "--jobs", jobs, "--no-cache", "--select", "TPL", env=plugin_env)
        by_name = {Path(i["path"]).name: i for i in report["images"]}
        broken = by_name["a_raiseme.png"]
        assert broken["verdict"] == "error"
        crash = [f for f in broken["findings"] if f["code"] == "IMG001"]
        assert crash and "testplugin.raise" in crash[0]["message"] and "this rule broke" in crash[0]["message"]
        assert any(f["code"] == "TPL001" for f in broken["findings"])  # other rules still ran on it
        assert by_name["b.png"]["verdict"] != "error"


def test_the_time_limit_holds_from_each_workers_first_image(plugin_env, tmp_path):
    """The worker loads its models before it takes an image, so `--timeout 5` stops a rule
    that hangs on the very first image after about 5 s (it used to get 60 s more)."""
    import time

    folder = _images(tmp_path / "imgs", ["a_slowpoke.png"])
    started = time.monotonic()
    proc, report = run_json(folder, "--jobs", "1", "--timeout", "5", "--no-cache", "--select", "TPL003",
                            env=plugin_env, timeout=200)
    elapsed = time.monotonic() - started
    (image,) = report["images"]
    assert image["verdict"] == "error" and "time limit (5 s)" in image["findings"][0]["message"]
    assert elapsed < 25, f"the run took {elapsed:.1f} s for a 5 s limit"


def test_model_loading_is_not_the_first_images_time(plugin_env, tmp_path):
    """With the model-loading rules on, a 5 s limit still holds for a hanging first image,
    and does not stop an ordinary image whose worker had to load MediaPipe and the OCR."""
    import time

    folder = _images(tmp_path / "imgs", ["a_slowpoke.png"])
    started = time.monotonic()
    proc, report = run_json(folder, "--jobs", "1", "--timeout", "5", "--no-cache",
                            "--select", "TPL003,HAND001,TEXT001", env=plugin_env, timeout=200)
    elapsed = time.monotonic() - started
    (image,) = report["images"]
    assert "time limit (5 s)" in image["findings"][0]["message"]
    assert elapsed < 45, f"the run took {elapsed:.1f} s for a 5 s limit"
    plain = _images(tmp_path / "plain", ["b.png", "c.png"])
    proc, report = run_json(plain, "--jobs", "2", "--timeout", "5", "--no-cache", "--select", "HAND001,TEXT001",
                            env=plugin_env, timeout=200)
    assert [i["verdict"] for i in report["images"]] == ["pass", "pass"], report["images"]


def test_the_python_api_isolates_a_crash_by_default(plugin_env, tmp_path):
    """checker.check() runs in worker processes unless told jobs=0: a rule that kills its
    process costs that image an IMG001, not the caller's interpreter."""
    folder = _images(tmp_path / "imgs", ["a.png", "b_crashme.png"])
    script = ("import sys; from checker import check\n"
              "report = check([sys.argv[1]], select=['TPL001', 'TPL002'], cache=False)\n"
              "print(sorted((i.path.rsplit('/', 1)[-1], i.verdict.value) for i in report.images))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(folder)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **plugin_env}, timeout=200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[('a.png', 'warn'), ('b_crashme.png', 'error')]"
