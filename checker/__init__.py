"""noticer: notice what careful viewers notice in AI-generated images."""
from __future__ import annotations

from .version import __version__

__all__ = ["__version__", "check"]


def __getattr__(name: str):
    # `checker.check` is imported when first used: importing the package (as every worker
    # and the `noticer` command's head start do) must not import the whole engine
    if name == "check":
        from .api import check

        return check
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
