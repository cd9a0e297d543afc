"""The errors configuration and set-up raise: usage mistakes, exit code 2."""
from __future__ import annotations


class ConfigError(Exception):
    """A usage or configuration mistake (exit code 2)."""


class DaskSetupError(ConfigError):
    """The Dask executor (or reading a URL) cannot start: missing extra, no scheduler address,
    unreachable scheduler. A usage error (exit code 2), like a configuration mistake."""
