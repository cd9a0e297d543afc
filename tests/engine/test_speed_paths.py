"""Work the engine does once per image, not twice (issue #19), checked by counting calls."""
from __future__ import annotations

import hashlib

import numpy as np

from checker import imageio, runner
from checker.config import resolve
from checker.job import build_job
from checker.model import Issue
from checker.rule import Rule


def _noop(ctx, settings):
    return [Issue("seen", 0.5)] if ctx.width > 0 else []


def test_an_image_is_hashed_once_per_check(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "picture.png"
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(path)
    calls = []

    def counting(data: bytes) -> str:
        calls.append(len(data))
        return hashlib.sha256(data).hexdigest()

    monkeypatch.setattr(runner, "sha256_of", counting)
    monkeypatch.setattr(imageio, "sha256_of", counting)
    rule = Rule(code="XSP001", name="speed.noop", summary="noop", check=_noop)
    result = runner.check_image(build_job(str(path), resolve([rule], {}, cache=False)))
    assert len(calls) == 1
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [f.code for f in result.findings] == ["XSP001"]
