"""Pixel misalignment (ALIGN001-ALIGN004): the traces of tiled upscaling, outpainting,
inpainting and upsampling that a careful viewer notices as "a few pixels off".

One module per rule code (align001 ... align004: settings, profiles, the words of a finding)
and one per analysis (seams, grids, lines, offsets: pure numpy, tested on synthetic images).
"""
from __future__ import annotations

from .align001 import ALIGN001, SeamSettings
from .align002 import ALIGN002, GridSettings
from .align003 import ALIGN003, BrokenLineSettings
from .align004 import ALIGN004, ReferenceSettings

RULES = (ALIGN001, ALIGN002, ALIGN003, ALIGN004)

__all__ = ["ALIGN001", "ALIGN002", "ALIGN003", "ALIGN004", "RULES", "SeamSettings", "GridSettings",
           "BrokenLineSettings", "ReferenceSettings"]
