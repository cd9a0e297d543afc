"""The ``noticer`` command's entry point. For ``noticer check`` it first replays the recorded
output of the same command when nothing it depended on has changed (:mod:`checker.replay`),
else limits numerical libraries to one thread each and starts the first worker process before
importing anything heavy (:mod:`checker.headstart`), then runs the command line
(:mod:`checker.cli`). It ends without tearing the interpreter down (:func:`exit_now`)."""
from __future__ import annotations

import atexit
import os
import sys
import threading

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


def exit_now(code: object) -> None:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown.

    After the command is done, Python would still free every module and object it holds
    (NumPy, OpenCV, the rules, click; with ``--jobs 0`` the models too): ~55 ms of a run
    over one photo (ten alternated runs: 1.09 s median with the teardown, 1.03 s without),
    where issue #19's target is under 1 s. What a user can see of an ending is kept, in
    Python's order: threads that are not daemons are waited for, the ``atexit`` handlers run
    (multiprocessing's, logging's, temporary folders'), standard output and error are
    flushed (exit status 120 when that fails, as Python's), and the status is the same: 0 for
    None, the number, or 1 with a message printed for anything else. Every file noticer
    writes is closed before it is renamed into place, so no buffer is left to the teardown."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is None:  # not CPython: leave the ending to the interpreter
        sys.exit(status)
    run_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            status = 120
    os._exit(status & 0xFF)


def main() -> None:
    """The ``noticer`` command."""
    try:
        run(sys.argv[1:])
    except SystemExit as ended:
        exit_now(ended.code)
    exit_now(0)


def run(argv: list[str]) -> None:
    """Everything the command does; it ends by raising SystemExit (click, a replay)."""
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
