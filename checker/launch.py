"""The ``noticer`` command's entry point. For ``noticer check`` it first replays the recorded
output of the same command when nothing it depended on has changed (:mod:`checker.replay`),
else limits numerical libraries to one thread each and starts the first worker process before
importing anything heavy (:mod:`checker.headstart`), then runs the command line
(:mod:`checker.cli`)."""
from __future__ import annotations

import sys

from . import replay
from .allocator import keep_freed_memory

NO_CHECK_FLAGS = frozenset({"-h", "--help", "--version"})


def checks_images(argv: list[str]) -> bool:
    """Whether these arguments are a ``check`` that checks images (not its ``--help``)."""
    return argv[:1] == ["check"] and not NO_CHECK_FLAGS.intersection(argv)


def wants_head_start(argv: list[str]) -> bool:
    """Whether these arguments are a ``check`` that may need a worker: ``--help`` checks
    nothing, and ``--jobs 0`` checks in the command's own process."""
    if not checks_images(argv):
        return False
    rest = argv[1:]
    for i, arg in enumerate(rest):
        if arg in ("--jobs", "-j") and rest[i + 1:i + 2] == ["0"]:
            return False
        if arg in ("--jobs=0", "-j0"):
            return False
    return True


def main() -> None:
    argv = sys.argv[1:]
    if checks_images(argv):
        command = replay.command_for(argv)
        if command is not None:
            replayed = replay.replay(command)
            if replayed is not None:
                sys.exit(replayed)
            replay.arm(command)  # the run may be recorded for the next time
    from .headstart import begin, cancel, limit_threads  # not before: a replay needs no worker (~25 ms of imports)

    if checks_images(argv):
        # before NumPy loads, for the workers and for `--jobs 0`, which checks in this process:
        # OpenBLAS's idle thread took a core beside it (64 images: 31.2 s of CPU, not 26.5-27.1 s)
        limit_threads()
    if wants_head_start(argv):
        begin()
    elif checks_images(argv):  # --jobs 0: this process checks the images, as a worker would
        keep_freed_memory()
    try:
        from .cli import main as command_line

        command_line(prog_name="noticer")
    finally:
        cancel()
