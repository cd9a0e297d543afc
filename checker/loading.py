"""Model-loading spans: time a worker spends loading models is not an image's time.

Rules wrap what loads a model (importing MediaPipe, opening an ONNX network, starting a
Tesseract engine) in :func:`loading_models`. Outside a worker process nobody listens and the
span costs nothing. A worker of the local pool (``checker.executors.local``), which loads each
model when an image first needs it, listens: it tells its pool when a span opens and closes,
and the pool gives the image's time limit the time the loading took, under the separate
loading limit.
Spans nest (a model made inside another's span): only the outermost one is told."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

Listener = Callable[[bool], None]  # True when loading starts, False when it ends

_listener: Listener | None = None
_depth = 0


def listen(listener: Listener | None) -> None:
    """Send this process's loading spans to ``listener`` (None: to nobody)."""
    global _listener
    _listener = listener


def _tell(started: bool) -> None:
    if _listener is not None:
        try:
            _listener(started)
        except Exception:  # noqa: BLE001 - the pool is gone or busy: the rule's work goes on
            pass


@contextlib.contextmanager
def loading_models() -> Iterator[None]:
    global _depth
    _depth += 1
    if _depth == 1:
        _tell(True)
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            _tell(False)
