"""Model loading in a worker (checker/executors/local.py, checker/loading.py): each image
loads what it needs, the loading is not counted against the image's time limit though it
has a limit of its own, and a worker that cannot load its models is replaced a few times,
then the images left are reported, never a hang."""
from __future__ import annotations

import os
import time
from pathlib import Path

from checker.config import resolve
from checker.executors import local
from checker.job import build_job
from checker.loading import loading_models
from checker.rule import Rule
from fixtures.make_fixtures import save_png, scene

_loaded = False  # in a worker process: whether check_loads_once loaded its 'model'


def check_loads_once(ctx, settings):
    """Test rule: its first image in a process 'loads a model' for 3 s; later ones do not."""
    global _loaded
    if not _loaded:
        with loading_models():
            time.sleep(3)
        _loaded = True
    return ()


def check_crashes_loading(ctx, settings):
    """Test rule: the process dies while loading, as a broken native library would."""
    with loading_models():
        os._exit(3)


def check_loads_slowly(ctx, settings):
    """Test rule: takes 4 s to 'load a model', then checks at once."""
    with loading_models():
        time.sleep(4)
    return ()


def check_never_finishes_loading(ctx, settings):
    with loading_models():
        time.sleep(600)
    return ()


LOADS_ONCE = Rule(code="TEST941", name="test.loads-once", summary="loads for 3 s once", check=check_loads_once)
CRASHES_LOADING = Rule(code="TEST944", name="test.crashes-loading", summary="dies loading",
                       check=check_crashes_loading)
SLOW_LOAD = Rule(code="TEST942", name="test.slow-load", summary="loads for 4 s", check=check_loads_slowly)
STUCK_LOAD = Rule(code="TEST943", name="test.stuck-load", summary="never loads", check=check_never_finishes_loading)


def run(rules, paths, workers, timeout):
    plan = resolve(rules, {}, cache=False)
    results = []
    started = time.monotonic()
    local.run_local([build_job(str(p), plan) for p in paths], workers, timeout, results.append)
    return {Path(r.path).name: r for r in results}, time.monotonic() - started


def images(tmp_path, count):
    return [save_png(tmp_path / f"{i}.png", scene(40, 30, seed=i)) for i in range(count)]


def test_a_worker_loads_once_on_its_first_image_not_before(tmp_path):
    """Four images, one worker, a 2 s limit and a model that loads for 3 s: the first image
    loads it (its time is not the image's), the others find it loaded; all pass."""
    results, elapsed = run([LOADS_ONCE], images(tmp_path, 4), workers=1, timeout=2)
    assert [r.verdict.value for r in results.values()] == ["pass"] * 4, results
    assert 3 <= elapsed < 3 * 4  # loaded once, not once per image


def test_a_worker_that_dies_loading_is_replaced_then_the_run_reports_the_rest(tmp_path):
    """One worker: loading does not depend on the image, so after the first crash the image
    goes to a fresh worker; the second crash leaves none, and every image is reported at
    once, saying why."""
    results, elapsed = run([CRASHES_LOADING], images(tmp_path, 4), workers=1, timeout=30)
    assert sorted(results) == ["0.png", "1.png", "2.png", "3.png"]
    for result in results.values():
        assert result.verdict.value == "error"
        assert result.findings[0].message == ("not checked: a worker process crashed while loading the models "
                                              "(exit code 3); no worker could start")
    assert elapsed < 25


def test_loading_on_the_image_is_not_the_images_time(tmp_path):
    """A 2 s limit, and a model that takes 4 s to load: the image is checked, not stopped."""
    results, elapsed = run([SLOW_LOAD], images(tmp_path, 1), workers=1, timeout=2)
    (result,) = results.values()
    assert result.verdict.value == "pass", result.findings
    assert elapsed >= 4


def test_loading_that_never_ends_has_its_own_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "MODEL_LOADING_LIMIT_S", 3.0)
    results, elapsed = run([STUCK_LOAD], images(tmp_path, 1), workers=1, timeout=30)
    (result,) = results.values()
    assert result.verdict.value == "error"
    assert "did not finish loading the models within 3 s" in result.findings[0].message
    assert "no worker could start" in result.findings[0].message  # a fresh worker failed too
    assert elapsed < 25  # the loading limit (3 s, twice), not the image's 30 s


def test_spans_nest_and_only_the_outermost_is_told():
    from checker import loading

    heard = []
    loading.listen(heard.append)
    try:
        with loading_models():
            with loading_models():
                pass
            assert heard == [True]
        assert heard == [True, False]
    finally:
        loading.listen(None)


def test_a_worker_that_cannot_take_an_image_is_replaced_and_the_rest_are_checked(tmp_path, monkeypatch):
    """Sending the first image fails (the worker died before it): that image is reported,
    a fresh worker checks the others."""
    real_send = local._Worker.send
    calls = []

    def send(self, job, timeout):
        calls.append(job.path)
        if len(calls) == 1:
            self.task = job
            raise BrokenPipeError("gone")
        real_send(self, job, timeout)

    monkeypatch.setattr(local._Worker, "send", send)
    results, _ = run([LOADS_ONCE], images(tmp_path, 3), workers=1, timeout=30)
    assert sorted(results) == ["0.png", "1.png", "2.png"]
    assert results["0.png"].verdict.value == "error"
    assert "could not take the image" in results["0.png"].findings[0].message
    assert [results[n].verdict.value for n in ("1.png", "2.png")] == ["pass", "pass"]
