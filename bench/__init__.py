"""Benchmarks of noticer's accuracy and speed (``python -m bench.<name>``).

They time the rules in their own process, as noticer's workers run them: with one thread per
numerical library. The limits are set here, before any benchmark imports NumPy (they only
count before a library starts). Without them OpenBLAS started a thread per core, and its idle
thread kept a core busy beside the rules: the hand rule's CPU per image read 174-181 ms
instead of 101 ms on the same images. The processes a benchmark starts inherit the limits
(a ``noticer`` command sets the same ones anyway); bench.speed's plain tesseract loop, the
baseline a user would script, runs with the environment as it was before
(``environment_before_limits``).
"""
from __future__ import annotations

import os

from checker.headstart import THREAD_VARIABLES, limit_threads

_USER_THREAD_SETTINGS = {variable: os.environ.get(variable) for variable in THREAD_VARIABLES}
limit_threads()


def environment_before_limits() -> dict[str, str]:
    """``os.environ`` without the thread limits this package added (a user's own stay)."""
    env = dict(os.environ)
    for variable, value in _USER_THREAD_SETTINGS.items():
        if value is None:
            env.pop(variable, None)
    return env
