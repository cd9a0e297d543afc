"""Silence what native libraries print straight to the stderr file descriptor.

MediaPipe (TensorFlow Lite, absl) writes INFO and warning lines to fd 2 from C++ before its
logging is initialised, so neither Python's logging nor GLOG environment variables stop them.
Users want noticer's own messages, not these; wrap the native calls that print."""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield  # no real fd 2 (embedded interpreter, captured stderr): nothing to silence
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
