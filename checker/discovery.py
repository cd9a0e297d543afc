"""Finding rules and output formats through entry points.

Built-in rules are listed in this project's own ``pyproject.toml`` under the same
``noticer.rules`` group third-party plugins use. An entry point names a ``Rule`` or a
sequence of them (a module's ``RULES``). A plugin that fails to load produces one
warning and the other rules still run.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Iterable

from .rule import Rule

RULES_GROUP = "noticer.rules"
FORMATS_GROUP = "noticer.formats"


@dataclass(frozen=True)
class Discovered:
    rules: tuple[Rule, ...]
    warnings: tuple[str, ...]


def _as_rules(obj: Any) -> list[Rule]:
    if isinstance(obj, Rule):
        return [obj]
    if isinstance(obj, (list, tuple)) and all(isinstance(r, Rule) for r in obj):
        return list(obj)
    raise TypeError(f"expected a Rule or a sequence of Rules, got {type(obj).__name__}")


def discover_rules(eps: Iterable[Any] | None = None) -> Discovered:
    if eps is None:
        eps = entry_points(group=RULES_GROUP)
    rules: dict[str, Rule] = {}
    names: dict[str, str] = {}
    warnings: list[str] = []
    for ep in sorted(eps, key=lambda e: e.name):
        try:
            loaded = _as_rules(ep.load())
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take others down
            warnings.append(f"rule plugin {ep.name!r} ({ep.value}) failed to load and is skipped: "
                            f"{type(exc).__name__}: {exc}")
            continue
        for rule in loaded:
            if rule.code in rules or rule.name in names:
                warnings.append(f"rule plugin {ep.name!r}: {rule.code} {rule.name} clashes with an "
                                f"already loaded rule and is skipped")
                continue
            rules[rule.code] = rule
            names[rule.name] = rule.code
    ordered = tuple(sorted(rules.values(), key=lambda r: r.code))
    return Discovered(ordered, tuple(warnings))


def load_format(name: str) -> tuple[Any | None, list[str], list[str]]:
    """(the format class named ``name`` or None, warnings, every format's name), loading only
    that format's module: a run writes one report, and importing all five formats cost a
    warm run ~11 ms."""
    eps = list(entry_points(group=FORMATS_GROUP))
    names = sorted({ep.name for ep in eps})
    for ep in eps:
        if ep.name == name:
            try:
                return ep.load(), [], names
            except Exception as exc:  # noqa: BLE001
                return None, [f"output format {ep.name!r} failed to load: {type(exc).__name__}: {exc}"], names
    return None, [], names


def discover_formats() -> tuple[dict[str, Any], list[str]]:
    formats: dict[str, Any] = {}
    warnings: list[str] = []
    for ep in entry_points(group=FORMATS_GROUP):
        try:
            formats[ep.name] = ep.load()
        except Exception as exc:  # noqa: BLE001
            warnings.append(f"output format {ep.name!r} failed to load: {type(exc).__name__}: {exc}")
    return formats, warnings
