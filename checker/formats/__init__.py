"""Output formats: small classes, separate from checking and from the CLI.

A format follows :class:`Format`: a ``name``, an ``extension`` and ``render(report) -> str |
bytes``, built with ``Format(color=...)``. Built-in formats are declared under the
``noticer.formats`` entry-point group like plugins; one module per format."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..model import Report


@runtime_checkable
class Format(Protocol):
    name: str
    extension: str

    def render(self, report: Report) -> str | bytes:
        """The whole report in this format."""
