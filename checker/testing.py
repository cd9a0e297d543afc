"""Helpers for testing rules on synthetic arrays and files (used by tests and plugins)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .config import resolve
from .context import ImageContext, load_image
from .model import Finding
from .rule import Rule
from .runner import stamp


def context_from_array(rgb: np.ndarray, name: str = "synthetic.png", info: Mapping[str, Any] | None = None,
                       **ctx_kwargs: Any) -> ImageContext:
    """An ImageContext for an RGB (or gray) uint8 array, encoded and decoded like a real PNG."""
    from PIL import Image

    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    buf = io.BytesIO()
    pnginfo = None
    if info:
        from PIL.PngImagePlugin import PngInfo

        pnginfo = PngInfo()
        for k, v in info.items():
            pnginfo.add_text(k, v)
    Image.fromarray(arr.astype(np.uint8)).save(buf, format="PNG", pnginfo=pnginfo)
    image = load_image(Path(name), data=buf.getvalue())
    return ImageContext(Path(name), image, **ctx_kwargs)


def context_from_path(path: str | Path, **ctx_kwargs: Any) -> ImageContext:
    return ImageContext(Path(path), load_image(Path(path)), **ctx_kwargs)


def run_rule(rule: Rule, image: np.ndarray | str | Path | ImageContext, profile: str = "lenient",
             settings: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None,
             all_rules: Sequence[Rule] | None = None) -> list[Finding]:
    """Run one rule on one image with the profile's settings plus ``settings`` overrides,
    and return the stamped findings (as the runner would)."""
    rules = list(all_rules or [rule])
    sets = [(rule.name, k, v) for k, v in (settings or {}).items()]
    plan = resolve(rules, config or {}, profile=profile, select=[rule.code], sets=sets)
    (rp,) = [p for p in plan.rules if p.rule.code == rule.code]
    if isinstance(image, ImageContext):
        ctx = image
    elif isinstance(image, (str, Path)):
        ctx = context_from_path(image)
    else:
        ctx = context_from_array(image)
    return [stamp(rp, issue, ctx.width, ctx.height) for issue in (rule.check(ctx, rp.settings) or ())]
