"""A worker process of the local pool (:mod:`checker.executors.local`): what runs in it,
from its first message to its last.

It is started by :mod:`checker.headstart` (``spawn``), imports the engine, and waits for
``("start", warmup)``: the warm-up job to check on a small drawn picture before it reports
ready, or None to load models on the images while telling the pool when it does
(:mod:`checker.loading`). Then it checks image jobs, one at a time, until None."""
from __future__ import annotations

import functools
import io
import os
import sys
import time

from .. import loading
from ..runner import check_image, error_result


@functools.lru_cache(maxsize=1)
def warmup_picture() -> bytes:
    """A small PNG drawn here that makes the rules load their models: dark lettering on a
    light sign (the text gate passes it on to OCR) and a skin-toned open hand."""
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", (320, 240), (214, 206, 190))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((16, 16, 304, 92), fill=(246, 244, 238))
    try:
        font = ImageFont.load_default(size=34)
    except TypeError:  # Pillow before 10.1: a fixed bitmap font
        font = ImageFont.load_default()
    draw.text((30, 32), "OPEN DAILY", fill=(24, 24, 28), font=font)
    skin = (224, 172, 140)
    draw.ellipse((120, 150, 200, 230), fill=skin)  # palm
    for i, x in enumerate((118, 140, 160, 180)):  # fingers
        draw.rounded_rectangle((x, 104 + 4 * abs(i - 1.5), x + 16, 170), radius=8, fill=skin)
    draw.rounded_rectangle((186, 170, 236, 186), radius=8, fill=skin)  # thumb
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def worker_main(conn) -> None:
    """A worker process: import, then take ``("start", warmup)`` (the warm-up job, or None
    to load models on the images), then image jobs until None. Its numerical libraries use
    one thread each: the environment saying so was set before the process started."""
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001 - only a speed setting
        pass
    try:
        first = conn.recv()
    except (EOFError, OSError, KeyboardInterrupt):
        return
    if not (isinstance(first, tuple) and first[:1] == ("start",)):
        return
    warmup = first[1]
    if warmup is not None:
        started = time.monotonic()
        try:
            check_image(warmup, data=warmup_picture())
        except Exception:  # noqa: BLE001 - a rule that fails here fails on the images too, and says so there
            pass
        try:
            conn.send(("ready", time.monotonic() - started))
        except (OSError, EOFError):
            return
    else:  # models load on the images: the pool hears of it, so that it is not their time
        loading.listen(lambda started: conn.send(("loading",) if started else ("loaded",)))
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            _leave()
        try:
            result = check_image(job)
        except BaseException as exc:  # noqa: BLE001
            result = error_result(job.path, f"internal error while checking: {type(exc).__name__}: {exc}")
        conn.send(result)


def _leave() -> None:
    """End a worker at once: the pool has every result and waits for this process to end.
    Tearing down the interpreter with its models loaded (~60 ms) would keep nothing: a
    worker writes no file and holds nothing that needs closing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)
