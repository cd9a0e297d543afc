"""How a rule is declared.

A rule is a plain function ``check(ctx, settings) -> Iterable[Issue]`` plus metadata,
bundled once in a frozen :class:`Rule`. Modules expose a ``RULES`` tuple and are found
through the ``noticer.rules`` entry-point group (built-in rules included), so nothing
registers itself at import time.

Docstrings of check functions carry fixed sections that ``noticer explain`` prints::

    What it detects
    Why people notice
    Settings
    Known limits
"""
from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .model import Issue, Severity

DOC_SECTIONS = ("What it detects", "Why people notice", "Settings", "Known limits")
CODE_PATTERN = re.compile(r"^[A-Z]{2,8}[0-9]{3}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$")
PROFILE_KEYS = ("enabled", "severity")  # allowed in profile overrides besides setting fields


@dataclass(frozen=True)
class NoSettings:
    """For rules without settings."""


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    # None for codes the engine itself raises (IMG001: the file could not be judged)
    check: Callable[[Any, Any], Iterable[Issue]] | None
    severity: Severity = Severity.WARNING
    settings: type = NoSettings
    # profile name -> overrides of setting fields, plus "enabled" and "severity"
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    stability: str = "stable"  # or "preview"
    enabled_by_default: bool = True
    # settings of one analysis the rule's family shares (the TEXT rules' OCR engine): every
    # rule of the family that runs must have the same value, set for the family
    shared_settings: tuple[str, ...] = ()
    # what the rule needs besides Python packages, checked once before a run with its
    # resolved settings: returns what is missing and how to get it, or None
    preflight: Callable[[Any], str | None] | None = None

    def __post_init__(self) -> None:
        if not CODE_PATTERN.match(self.code):
            raise ValueError(f"rule code {self.code!r} must look like ABC123")
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"rule name {self.name!r} must be dotted lower-case, e.g. hands.finger-count")
        if not dataclasses.is_dataclass(self.settings):
            raise TypeError(f"{self.code}: settings must be a dataclass type")
        if self.stability not in ("stable", "preview"):
            raise ValueError(f"{self.code}: stability must be 'stable' or 'preview'")
        fields = setting_fields(self.settings)
        for profile, overrides in self.profiles.items():
            for key in overrides:
                if key not in fields and key not in PROFILE_KEYS:
                    raise ValueError(f"{self.code}: profile {profile!r} sets unknown setting {key!r}")

    doc_text: str = ""  # docs for rules without a check function

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.doc_text or (self.check.__doc__ if self.check else "") or "")

    def doc_sections(self) -> dict[str, str]:
        return split_doc_sections(self.doc)


def setting_fields(settings_type: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(settings_type)}


def split_doc_sections(doc: str) -> dict[str, str]:
    """Split a docstring into its fixed sections (a heading line followed by text)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        heading = line.strip().rstrip(":")
        if heading in DOC_SECTIONS:
            current = heading
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items()}
