"""The first worker's head start (checker/headstart.py, checker/launch.py): the `noticer`
command starts a worker before its own imports, the pool checks the images with that very
process, and a run that needs no worker stops it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from checker import headstart
from checker.config import resolve
from checker.executors import local
from checker.job import build_job
from checker.launch import wants_head_start
from checker.rule import Rule
from fixtures.make_fixtures import save_png, scene

ROOT = Path(__file__).resolve().parents[2]


def check_notes_its_process(ctx, settings):
    """Test rule: writes the id of the process that checks the image beside the image."""
    Path(ctx.path).with_suffix(".pid").write_text(str(os.getpid()))
    return ()


NOTES_PROCESS = Rule(code="TEST951", name="test.notes-process", summary="notes the worker's pid",
                     check=check_notes_its_process)


@pytest.fixture
def spawned(monkeypatch):
    """The pids of the worker processes started during a test."""
    pids: list[int] = []
    real = headstart.spawn_worker

    def counting():
        started = real()
        pids.append(started.process.pid)
        return started

    monkeypatch.setattr(headstart, "spawn_worker", counting)
    yield pids
    headstart.cancel()


def check_one(tmp_path, workers=1):
    image = save_png(tmp_path / "one.png", scene(40, 30, seed=1))
    plan = resolve([NOTES_PROCESS], {}, cache=False)
    results = []
    local.run_local([build_job(str(image), plan)], workers, 60, results.append)
    return results, image.with_suffix(".pid")


@pytest.mark.parametrize("argv, expected", [
    (["check", "art"], True),
    (["check"], True),
    (["check", "art", "--jobs", "2"], True),
    (["check", "art", "--jobs", "0"], False),
    (["check", "art", "-j", "0"], False),
    (["check", "art", "--jobs=0"], False),
    (["check", "--help"], False),
    (["rules"], False),
    (["explain", "TEXT001"], False),
    ([], False),
])
def test_only_a_check_that_may_need_a_worker_gets_a_head_start(argv, expected):
    assert wants_head_start(argv) is expected


def test_the_pool_checks_with_the_worker_started_ahead(tmp_path, spawned):
    headstart.begin()
    assert len(spawned) == 1
    results, pid_file = check_one(tmp_path)
    assert [r.verdict.value for r in results] == ["pass"], results
    assert int(pid_file.read_text()) == spawned[0]
    assert len(spawned) == 1  # no second process was started
    assert headstart.take() is None  # it was taken once, by the pool


def test_without_a_head_start_the_pool_starts_its_own_worker(tmp_path, spawned):
    results, pid_file = check_one(tmp_path)
    assert [r.verdict.value for r in results] == ["pass"], results
    assert len(spawned) == 1 and int(pid_file.read_text()) == spawned[0]


def test_a_worker_started_ahead_that_died_is_replaced(tmp_path, spawned):
    headstart.begin()
    ahead = spawned[0]
    os.kill(ahead, 9)
    headstart._ahead.process.join(10)  # dead, as when its imports crashed
    results, pid_file = check_one(tmp_path)
    assert [r.verdict.value for r in results] == ["pass"], results
    assert len(spawned) == 2 and int(pid_file.read_text()) == spawned[1] != ahead


def test_a_run_with_nothing_to_check_stops_the_worker_started_ahead(spawned):
    headstart.begin()
    process = headstart._ahead.process
    local.run_local([], 2, 60, lambda result: None)
    process.join(5)
    assert not process.is_alive()
    assert headstart.take() is None


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds processes through Linux's /proc")
@pytest.mark.parametrize("args", [["--fail-on", "nonsense"], ["--jobs", "2"]])
def test_the_command_leaves_no_worker_behind(tmp_path, args):
    """A usage error (exit code 2) and a folder without images (nothing to check): the
    process started ahead is stopped, not left running once the command has ended."""
    marker = f"NOTICER_TEST_MARK=head-start-{os.getpid()}-{len(args[0])}"
    name, value = marker.split("=")
    out = subprocess.run([sys.executable, "-m", "checker", "check", ".", *args], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), name: value})
    assert out.returncode == (2 if "nonsense" in args else 0), out.stderr[-2000:]
    assert _processes_with(marker) == []


_THREAD_LIMITS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
# the command line stood in for: it loads NumPy, runs a product and prints how many threads
# the process has then (OpenBLAS starts its own when nothing limits it)
_THREADS_PROBE = """
import os, sys, types
def command_line(**kw):
    import numpy
    numpy.ones((64, 64)) @ numpy.ones((64, 64))
    print(len(os.listdir('/proc/self/task')))
sys.modules['checker.cli'] = types.ModuleType('checker.cli')
sys.modules['checker.cli'].main = command_line
sys.argv = ['noticer'] + sys.argv[1:]
from checker.launch import main
main()
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2,
                    reason="counts threads through Linux's /proc; OpenBLAS starts one thread per core")
@pytest.mark.parametrize("args, limited", [
    (["check", "art", "--jobs", "0"], True),  # checks in the command's own process
    (["check", "art"], True),
    (["rules"], False),  # checks nothing: the user's environment as it is
])
def test_a_check_limits_numerical_threads_before_numpy_loads(args, limited):
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_LIMITS}
    out = subprocess.run([sys.executable, "-c", _THREADS_PROBE, *args], env={**env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    threads = int(out.stdout.split()[-1])
    assert (threads == 1) if limited else (threads > 1), (args, threads)
