"""Rule selectors (``select``, ``ignore``, ``per-file-ignores``): which rules a name picks."""
from __future__ import annotations

from typing import Iterable, Sequence

from ..errors import ConfigError
from ..rule import Rule


def matches(rule: Rule, selector: str) -> bool:
    """A selector is ALL, a code (HAND001), a code prefix (HAND), a name (hands.finger-count)
    or a name prefix ending at a dot (hands)."""
    s = selector.strip()
    if s.upper() == "ALL":
        return True
    if rule.code == s.upper() or rule.name == s:
        return True
    if s.isalnum() and s.upper() == s and rule.code.startswith(s):
        return True
    return rule.name.startswith(s + ".")


ENGINE_CODE_ALWAYS = ("{code} {name} is reported by noticer itself and cannot be switched off or ignored: a file "
                       "that cannot be read or checked is never passed. Leave files out with exclude instead")


def refuse_hiding_engine_codes(selectors: Iterable[str], rules: Sequence[Rule], where: str) -> None:
    """Naming an engine-raised code (IMG001) in ignore: accepted, it did nothing; now said."""
    for s in selectors:
        for rule in rules:
            if rule.check is None and s in (rule.code, rule.name):
                raise ConfigError(f"{where}: " + ENGINE_CODE_ALWAYS.format(code=rule.code, name=rule.name))


def check_selectors(selectors: Iterable[str], rules: Sequence[Rule], where: str) -> None:
    for s in selectors:
        if not any(matches(r, s) for r in rules):
            valid = ", ".join(f"{r.code} ({r.name})" for r in rules)
            raise ConfigError(f"{where}: unknown rule selector {s!r}; valid codes and names: {valid}")


