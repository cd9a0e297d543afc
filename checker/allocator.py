"""Keep the memory a checked image freed for the next one, instead of handing it back to the
kernel and faulting it in again.

A check allocates the same large buffers image after image: the text detector's feature maps
(tens of MiB each at 736x736), decoded pixels, float copies for the ALIGN rules. By default
glibc's malloc serves blocks above a threshold (128 KiB, raised as such blocks are freed, up
to 32 MiB) with their own ``mmap`` and gives them back on ``free``, and it returns free memory
at the top of its heap beyond twice that threshold. Every returned page costs a page fault
(the kernel zeroes it) when it is used again. On this machine, one detector run at 736x736
took 17,600 page faults and ~30 ms of system time, 265 ms in all; with the thresholds below,
2,400 faults and 233 ms. Over the issue #19 folder (three alternated cold ``--jobs 2`` runs
each, thresholds set through glibc's environment variables): 16.0-16.2 s and 30.3-30.6 s of
CPU before, 15.4-15.8 s and 29.2-29.9 s after, the same reports.

The price is memory a worker keeps after its largest image: it was using that much at its
peak anyway, and the peak per worker is what ``python -m bench.speed`` reports.

glibc only: elsewhere (macOS, musl, Windows) nothing changes."""
from __future__ import annotations

import sys

# mallopt's parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# blocks up to this size come from the heap and are reused there; larger ones still get
# their own mapping (a 100-megapixel image's buffers are not kept once it is done)
MMAP_THRESHOLD_BYTES = 256 << 20
# free memory at the top of the heap kept for reuse, up to this much
TRIM_THRESHOLD_BYTES = 256 << 20


def keep_freed_memory() -> bool:
    """Set this process's malloc thresholds as above; True when glibc took them. Call it once,
    early, in a process that checks images (a worker, or the command with ``--jobs 0``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library to ask, or one without mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # glibc returns 1 on success; musl's mallopt does nothing and returns 0
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                  TRIM_THRESHOLD_BYTES))
