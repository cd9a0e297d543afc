"""noticer: notice what careful viewers notice in AI-generated images."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "check"]


def check(*args, **kwargs):
    """See :func:`checker.api.check`."""
    from .api import check as _check

    return _check(*args, **kwargs)
