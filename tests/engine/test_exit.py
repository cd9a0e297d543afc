"""How the `noticer` command ends (checker/launch.py, exit_now): as `sys.exit` would for
everything a user sees (status, output, atexit handlers, threads), without the interpreter's
teardown, which cost ~50-70 ms of a one-image run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# the real entry point, with a stand-in command line that leaves work for the ending
_PROBE = """
import atexit, sys, threading, time, types

class TornDown:
    def __del__(self):
        sys.__stdout__.write("torn down\\n")
        sys.__stdout__.flush()

kept = TornDown()  # a module global: the interpreter's teardown would delete it

def late():
    time.sleep(0.3)
    sys.stdout.write("thread finished ")

def command_line(prog_name):
    atexit.register(lambda: sys.stdout.write("handler ran "))
    threading.Thread(target=late).start()  # not a daemon: Python waits for it
    sys.stdout.write("unflushed output ")  # no newline: still in the buffer
    code = sys.argv[-1]
    raise SystemExit(None if code == "none" else int(code) if code.lstrip("-").isdigit() else code)

sys.modules["checker.cli"] = types.ModuleType("checker.cli")
sys.modules["checker.cli"].main = command_line
sys.argv = ["noticer", "rules", *sys.argv[1:]]
from checker.launch import main
main()
"""


def _end(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROBE, code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("code, status", [("0", 0), ("1", 1), ("2", 2), ("none", 0), ("-1", 255)])
def test_the_command_ends_with_its_status_output_handlers_and_threads_but_no_teardown(code, status):
    out = _end(code)
    assert out.returncode == status, out.stderr[-2000:]
    assert out.stdout.startswith("unflushed output ")
    assert "thread finished" in out.stdout and "handler ran" in out.stdout
    assert out.stdout.index("thread finished") < out.stdout.index("handler ran")  # Python's order
    assert "torn down" not in out.stdout


def test_a_message_as_exit_code_is_printed_and_ends_with_status_1():
    out = _end("stopped: no images")
    assert out.returncode == 1
    assert "stopped: no images" in out.stderr
    assert "handler ran" in out.stdout


def test_without_exit_now_the_same_probe_is_torn_down():
    """The probe tells the difference: ended by Python itself, its global is deleted."""
    probe = _PROBE.replace("from checker.launch import main\nmain()",
                           "from checker.launch import run\ntry:\n    run(sys.argv[1:])\nexcept SystemExit as e:\n"
                           "    sys.exit(e.code)")
    out = subprocess.run([sys.executable, "-c", probe, "0"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torn down" in out.stdout
