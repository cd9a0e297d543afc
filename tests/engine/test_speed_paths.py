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


def _job(path):
    rule = Rule(code="XSP001", name="speed.noop", summary="noop", check=_noop)
    return build_job(str(path), resolve([rule], {}, cache=False))


def test_workers_take_the_largest_files_first_and_unknown_sizes_last(tmp_path, monkeypatch):
    from checker.executors import local

    sizes = {"a.png": 10, "b.png": 3000, "c.png": 200, "d.png": 3000}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
    jobs = [_job(tmp_path / name) for name in sizes] + [_job("https://example.invalid/e.png")]
    assert [job.path.rsplit("/", 1)[-1] for job in local.largest_first(jobs)] == \
        ["b.png", "d.png", "c.png", "a.png", "e.png"]  # equal sizes and unknown ones keep their order

    taken = []

    class RecordingPool:
        def __init__(self, workers, timeout):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def run(self, pending, collect):
            taken.extend(job.path.rsplit("/", 1)[-1] for job in pending)

    monkeypatch.setattr(local, "WorkerPool", RecordingPool)
    local.run_local(jobs, 2, 10.0, lambda result: None)
    assert taken == ["b.png", "d.png", "c.png", "a.png", "e.png"]
    taken.clear()
    local.run_local(jobs, 1, 10.0, lambda result: None)  # one worker: the order makes no difference
    assert taken == ["a.png", "b.png", "c.png", "d.png", "e.png"]


def test_a_run_over_two_workers_reports_in_path_order_whatever_the_checking_order(tmp_path):
    from PIL import Image

    from checker.session import run_paths

    paths = []
    for k, side in enumerate((20, 200, 60)):  # the largest file is not the first path
        path = tmp_path / f"{k}.png"
        Image.fromarray(np.random.default_rng(k).integers(0, 255, (side, side, 3), np.uint8)).save(path)
        paths.append(str(path))
    rule = Rule(code="XSP001", name="speed.noop", summary="noop", check=_noop)
    results = run_paths(paths, resolve([rule], {}, cache=False), jobs=2)
    assert [r.path for r in results] == paths
    assert all([f.code for f in r.findings] == ["XSP001"] for r in results)
