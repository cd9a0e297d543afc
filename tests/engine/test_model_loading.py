"""Model loading in a worker that checks a single image (checker/executors/local.py,
checker/loading.py): no warm-up picture, the image loads what it needs, and the loading is
not counted against the image's time limit, though it has a limit of its own."""
from __future__ import annotations

import time
from pathlib import Path

from checker.config import resolve
from checker.executors import local
from checker.job import build_job
from checker.loading import loading_models
from checker.rule import Rule
from fixtures.make_fixtures import save_png, scene


def check_hangs_on_the_warm_up(ctx, settings):
    """Test rule: hangs when given the warm-up picture, as a model that never loads would."""
    if ctx.path.name == local.WARMUP_NAME:
        time.sleep(600)
    return ()


def check_loads_slowly(ctx, settings):
    """Test rule: takes 4 s to 'load a model', then checks at once."""
    with loading_models():
        time.sleep(4)
    return ()


def check_never_finishes_loading(ctx, settings):
    with loading_models():
        time.sleep(600)
    return ()


WARM_UP_HANG = Rule(code="TEST941", name="test.warm-up-hang", summary="hangs on the warm-up",
                    check=check_hangs_on_the_warm_up)
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


def test_one_image_per_worker_is_checked_without_the_warm_up_picture(tmp_path):
    results, elapsed = run([WARM_UP_HANG], images(tmp_path, 2), workers=2, timeout=30)
    assert [r.verdict.value for r in results.values()] == ["pass", "pass"], results
    assert elapsed < 30


def test_more_images_than_workers_still_warm_up_first(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "MODEL_LOADING_LIMIT_S", 3.0)
    results, elapsed = run([WARM_UP_HANG], images(tmp_path, 2), workers=1, timeout=30)
    assert elapsed < 60
    for result in results.values():
        assert result.verdict.value == "error"
        assert "did not finish loading the models within 3 s" in result.findings[0].message


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
    assert elapsed < 25  # the loading limit (3 s), not the image's 30 s


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
