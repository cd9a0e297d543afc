"""noticer: notice what careful viewers notice in AI-generated images."""
from __future__ import annotations

from .api import check
from .version import __version__

__all__ = ["__version__", "check"]
