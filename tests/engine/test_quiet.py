"""Native libraries' stderr chatter is silenced around their calls, and stderr comes back."""
import subprocess
import sys

SCRIPT = """
import os, sys
from checker.quiet import native_stderr_silenced
with native_stderr_silenced():
    os.write(2, b"native chatter\\n")
os.write(2, b"after\\n")
print("stdout still works")
"""


def test_native_writes_to_fd2_are_silenced_and_stderr_restored():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "native chatter" not in proc.stderr
    assert "after" in proc.stderr
    assert "stdout still works" in proc.stdout


def test_mediapipe_model_start_prints_nothing(tmp_path):
    from tests.helpers import run_cli
    from fixtures.make_fixtures import save_png, scene

    save_png(tmp_path / "a.png", scene(seed=5))
    proc = run_cli("check", tmp_path, "--select", "HAND", "--jobs", "0", "--no-cache")
    assert proc.returncode in (0, 1)
    assert "XNNPACK" not in proc.stderr and "W0000" not in proc.stderr, proc.stderr
