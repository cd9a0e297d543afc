"""checker/allocator.py: a process that checks images keeps the memory one image freed for the
next, instead of returning it to the kernel and faulting it in again (glibc's malloc)."""
from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from checker import headstart, launch, replay
from checker.executors import worker

ROOT = Path(__file__).resolve().parents[2]
GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# ten 3 MiB arrays held at once, then freed, as one image's buffers are: five times after a
# first round; prints the page faults those five rounds took. (3 MiB: NumPy asks for huge
# pages from 4 MiB up, which would hide most faults from the count, not their cost.)
_FAULTS_PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from checker.allocator import keep_freed_memory
    assert keep_freed_memory()
def one_image():
    buffers = [np.ones(3 << 20, np.uint8) for _ in range(10)]
    del buffers
one_image()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    one_image()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _FAULTS_PROBE, mode], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's; elsewhere keep_freed_memory changes nothing")
def test_freed_memory_is_reused_without_new_page_faults():
    pages = 5 * 10 * (3 << 20) // 4096
    default, kept = _faults("default"), _faults("keep")
    assert default > pages // 2, default  # by default the memory goes back and is faulted in again
    assert kept < default // 4, (default, kept)


def test_a_worker_keeps_freed_memory_before_its_first_image(monkeypatch):
    calls = []
    monkeypatch.setattr(worker, "keep_freed_memory", lambda: calls.append("kept"))

    class ClosedPipe:
        def recv(self):
            calls.append("recv")
            raise EOFError

    worker.worker_main(ClosedPipe())
    assert calls == ["kept", "recv"]


@pytest.mark.parametrize("args, kept", [
    (["check", "art", "--jobs", "0"], True),  # the command's own process checks the images
    (["check", "art"], False),  # its workers do, and they set it themselves
    (["rules"], False),
])
def test_the_command_keeps_freed_memory_only_when_it_checks_in_its_own_process(monkeypatch, args, kept):
    calls = []
    monkeypatch.setattr(launch, "keep_freed_memory", lambda: calls.append("kept"))
    monkeypatch.setattr(replay, "command_for", lambda argv: None)
    for name in ("begin", "cancel", "limit_threads"):
        monkeypatch.setattr(headstart, name, lambda: None)
    cli = type(sys)("checker.cli")
    cli.main = lambda prog_name: None
    monkeypatch.setitem(sys.modules, "checker.cli", cli)
    monkeypatch.setattr(sys, "argv", ["noticer", *args])
    monkeypatch.setattr(launch, "exit_now", lambda code: calls.append(("exit", code)))
    launch.main()
    calls.remove(("exit", 0))
    assert calls == (["kept"] if kept else [])
