"""Shared test helpers: run the real CLI in a subprocess and read its JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTICER = [sys.executable, "-m", "checker"]  # the `noticer` command (checker.launch)
SCHEMA_PATH = ROOT / "checker" / "schemas" / "report.schema.json"


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*NOTICER, *map(str, args)], cwd=cwd or ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def run_json(*args: str, **kwargs):
    proc = run_cli("check", "--format", "json", "--no-progress", *args, **kwargs)
    assert proc.returncode in (0, 1), proc.stderr
    return proc, json.loads(proc.stdout)


def validate_report(report: dict) -> None:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(report)


def without_timings(report: dict) -> dict:
    clone = json.loads(json.dumps(report))
    for image in clone["images"]:
        image["timings_ms"] = {k: 0 for k in image["timings_ms"]}
    return clone


def recording_detector(monkeypatch) -> list[tuple[int, int]]:
    """Make the OCR engine's text detector record the shape (height, width) of every copy it
    is given, in call order, while it goes on detecting; returns that growing list."""
    from rules.text.rapid import rapidocr_engine

    engine = rapidocr_engine()
    real = engine.text_det
    shapes: list[tuple[int, int]] = []

    class Recording:
        def __getattr__(self, name):
            return getattr(real, name)

        def __setattr__(self, name, value):
            setattr(real, name, value)

        def __call__(self, bgr):
            shapes.append(bgr.shape[:2])
            return real(bgr)

    monkeypatch.setattr(engine, "text_det", Recording())
    return shapes
