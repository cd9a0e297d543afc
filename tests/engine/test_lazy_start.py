"""What a run pays before it checks anything (issue #19): commands that check nothing import
none of the heavy libraries, and a warm re-run (every result in the cache) makes no worker
pool and loads no model (the worker the `noticer` command starts ahead is stopped:
tests/engine/test_headstart.py). Checked through sys.modules in fresh processes, never by timing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("mediapipe", "onnxruntime", "onnx", "cv2", "scipy", "tesserocr", "pytesseract", "dask", "PIL")

# runs the command line in this process, then prints the heavy modules it imported and
# whether a worker pool was made
PROBE = """
import json, sys
import checker.executors.local as local
started = []
real_pool = local.WorkerPool
class CountingPool(real_pool):
    def __init__(self, *args, **kwargs):
        started.append(args)
        super().__init__(*args, **kwargs)
local.WorkerPool = CountingPool
from checker.cli import main
code = 0
try:
    main(sys.argv[2:], prog_name="noticer")
except SystemExit as stop:
    code = stop.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[1])))
formats = sorted(m for m in sys.modules if m.startswith("checker.formats."))
print("PROBE " + json.dumps({"heavy": heavy, "pools": len(started), "code": code, "formats": formats}))
"""


def probe(*args: str, cwd: Path = ROOT) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY), *args], cwd=cwd, capture_output=True,
                         text=True, env=_env())
    lines = [line for line in out.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, out.stderr[-2000:]
    return json.loads(lines[-1][len("PROBE "):])


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_commands_that_check_nothing_import_no_heavy_library():
    for args in (["--help"], ["rules"], ["explain", "TEXT001"], ["check", "--help"]):
        seen = probe(*args)
        assert seen["code"] in (0, None), args
        assert seen["heavy"] == [], (args, seen["heavy"])


def test_a_warm_rerun_starts_no_worker_and_loads_no_model(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(4)
    folder = tmp_path / "images"
    folder.mkdir()
    for k in range(3):
        picture = np.clip(rng.normal(120 + 20 * k, 30, (96, 128, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(picture).save(folder / f"picture-{k}.png")
    cache = tmp_path / "cache"
    common = ["check", str(folder), "--jobs", "2", "--cache-dir", str(cache), "--no-progress",
              "--format", "json", "--output"]
    cold = probe(*common, str(tmp_path / "cold.json"))
    assert cold["pools"] == 1 and "onnxruntime" not in cold["heavy"]  # the models load in the workers
    warm = probe(*common, str(tmp_path / "warm.json"))
    assert warm["pools"] == 0
    assert warm["heavy"] == []
    assert warm["formats"] == ["checker.formats.json_format"]  # only the report's format is loaded
    assert warm["code"] == cold["code"]
    strip = lambda report: [{k: v for k, v in image.items() if k != "timings_ms"}  # noqa: E731
                            for image in json.loads(report.read_text())["images"]]
    assert strip(tmp_path / "warm.json") == strip(tmp_path / "cold.json")
