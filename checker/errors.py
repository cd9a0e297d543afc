"""The errors configuration and set-up raise: usage mistakes, exit code 2."""
from __future__ import annotations

import importlib
from types import ModuleType


class ConfigError(Exception):
    """A usage or configuration mistake (exit code 2)."""


class DaskSetupError(ConfigError):
    """The Dask executor (or reading a URL) cannot start: missing extra, no scheduler address,
    unreachable scheduler. A usage error (exit code 2), like a configuration mistake."""


DASK_EXTRA_HINT = "install it with: pip install 'noticer[dask]'"


def import_dask_extra(module: str, needed_for: str) -> ModuleType:
    """``module`` from the noticer[dask] extra, or a DaskSetupError that says what needs it
    and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DaskSetupError(f"{needed_for}, which comes with the noticer[dask] extra; "
                             f"{DASK_EXTRA_HINT} ({exc})") from None
