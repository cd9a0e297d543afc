"""The gray image the ALIGN rules measure, computed once per image and shared between them."""
from __future__ import annotations

import numpy as np


def gray32(ctx) -> np.ndarray:
    """The image in gray as float32, shared by the ALIGN rules of one image (``ctx.shared``)."""
    return ctx.gray.astype(np.float32)
