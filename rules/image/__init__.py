"""Image-level rules: files that cannot be judged (IMG001) or are too small (IMG002)."""
from __future__ import annotations

from dataclasses import dataclass

from checker.model import Issue, Severity
from checker.rule import Rule

IMG001_DOC = """
What it detects
    Files noticer could not judge: empty, truncated or corrupt files, files that are not
    images, images declaring more pixels than `max-pixels` (decompression bombs), unreadable
    files, and images whose check crashed a rule or a worker or ran past the `timeout`.

Why people notice
    A broken file publishes as a broken thumbnail or not at all; a check that did not run
    must not look like a pass.

Settings
    None of its own. The engine settings `max-pixels` (default 100000000) and `timeout`
    (seconds per image, default 120) decide what is too big or too slow.

Known limits
    Raised by the engine, not by a check function, and always severity error. Animated
    GIF/WebP are not errors: their first frame is checked and findings say so.
"""

IMG001 = Rule(
    code="IMG001",
    name="image.unreadable",
    summary="Unreadable, corrupt or unjudgeable image",
    check=None,
    severity=Severity.ERROR,
    doc_text=IMG001_DOC,
)


@dataclass(frozen=True)
class TooSmallSettings:
    min_side: int = 64  # pixels: below this on the shorter side, nothing can be judged

    def __post_init__(self) -> None:
        if self.min_side < 1:
            raise ValueError("min_side must be at least 1")


def check_too_small(ctx, settings: TooSmallSettings):
    """
    What it detects
        Images whose shorter side is below `min_side` pixels.

    Why people notice
        Thumbnails and icons are too small for hands, text or seams to be judged; a pass
        on them would mean nothing.

    Settings
        min_side: shortest side in pixels that can be judged (lenient 64, strict 32).

    Known limits
        Only the size is checked; a large but blurry image is not reported.
    """
    short = min(ctx.width, ctx.height)
    if short < settings.min_side:
        yield Issue(
            message=f"image is {ctx.width}x{ctx.height}: too small to judge (shorter side < {settings.min_side} px)",
            confidence=1.0,
            measurements={"width": ctx.width, "height": ctx.height, "min_side": settings.min_side},
        )


IMG002 = Rule(
    code="IMG002",
    name="image.too-small",
    summary="Image too small to judge",
    check=check_too_small,
    severity=Severity.WARNING,
    settings=TooSmallSettings,
    profiles={"lenient": {"min_side": 64}, "strict": {"min_side": 32}},
)

RULES = (IMG001, IMG002)
