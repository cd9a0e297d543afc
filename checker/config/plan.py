"""The resolved plan of a run: the rules that run with their typed settings, and the engine
options (declared in :mod:`checker.config.options`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..inputs import glob_matches
from ..model import Severity
from ..rule import Rule
from .options import default_of
from .selection import matches


@dataclass(frozen=True)
class RulePlan:
    rule: Rule
    severity: Severity
    settings: Any

    @property
    def settings_dict(self) -> dict[str, Any]:
        return {k: jsonable(v) for k, v in dataclasses.asdict(self.settings).items()}


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, resolved before any rule runs."""

    profile: str
    rules: tuple[RulePlan, ...]
    fail_on: Severity = Severity.ERROR
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    expected_text: tuple[tuple[str, tuple[str, ...]], ...] = ()
    config_path: str | None = None
    # the engine options: their defaults are declared once, in the options table
    exclude: tuple[str, ...] = default_of("exclude")
    max_pixels: int = default_of("max_pixels")
    timeout: float = default_of("timeout")
    jobs: int | None = default_of("jobs")
    reference: str | None = default_of("reference")
    cache: bool = default_of("cache")
    cache_dir: str | None = default_of("cache_dir")
    executor: str = default_of("executor")
    scheduler: str | None = default_of("scheduler")
    batch_size: int = default_of("batch_size")
    all_rules: tuple[Rule, ...] = field(default=(), compare=False)

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        return {rp.rule.name: rp.settings_dict for rp in self.rules}

    def _matches(self, path: str, pattern: str) -> bool:
        return glob_matches(path, pattern, Path(self.config_path).parent if self.config_path else None)

    def rules_for(self, path: str) -> tuple[RulePlan, ...]:
        ignored: list[str] = []
        for pattern, selectors in self.per_file_ignores:
            if self._matches(path, pattern):
                ignored.extend(selectors)
        if not ignored:
            return self.rules
        return tuple(rp for rp in self.rules if not any(matches(rp.rule, s) for s in ignored))

    def expected_text_for(self, path: str) -> tuple[str, ...]:
        out: list[str] = []
        for pattern, texts in self.expected_text:
            if self._matches(path, pattern):
                out.extend(texts)
        return tuple(out)


def jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Severity):
        return value.value
    return value


