"""Rule settings: each rule's typed settings from its defaults, its profile's overrides, the
config file's ``rules`` table and ``--set``, in that order (later wins)."""
from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ConfigError
from ..model import Severity
from ..rule import PROFILE_KEYS, Rule, setting_fields
from .selection import ENGINE_CODE_ALWAYS
from .values import coerce

BUILTIN_PROFILES = ("lenient", "strict")
DEFAULT_PROFILE = "lenient"
PROFILE_SECTION_KEYS = ("extends", "description", "rules", "fail-on")


def _norm(key: str) -> str:
    return key.replace("-", "_")


def _find_rule(rules: Sequence[Rule], key: str, where: str) -> Rule:
    for r in rules:
        if key in (r.name, r.code):
            return r
    valid = ", ".join(r.name for r in rules)
    raise ConfigError(f"{where}: unknown rule {key!r}; valid rule names: {valid}")


def family_of(rule: Rule) -> str:
    return rule.name.split(".", 1)[0]


def check_key(rules: Sequence[Rule], key: str, overrides: Any, where: str) -> None:
    """A settings section names a rule (name or code) or a whole family (``text``: every
    ``text.*`` rule that has the setting); a family setting no rule of it has is an error."""
    family = [r for r in rules if family_of(r) == key]
    if not family:
        _find_rule(rules, key, where)
        return
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}.{key}: expected a table of settings, got {overrides!r}")
    for raw in overrides:
        setting = _norm(raw)
        if setting not in PROFILE_KEYS and not any(setting in setting_fields(r.settings) for r in family):
            valid = sorted({f for r in family for f in setting_fields(r.settings)} | set(PROFILE_KEYS))
            raise ConfigError(f"{where}.{key}: no {key}.* rule has a setting {raw!r}; "
                              f"valid settings: {', '.join(valid)}")


def _sections_for(rule: Rule, sections: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The sections that apply to a rule, family first so the rule's own section wins; a
    family section contributes only the settings this rule has."""
    out = []
    fields = setting_fields(rule.settings)
    for key, overrides in sections.items():
        if key == family_of(rule) and key not in (rule.name, rule.code):
            out.insert(0, (key, {k: v for k, v in overrides.items() if _norm(k) in fields or _norm(k) in PROFILE_KEYS}))
    for key, overrides in sections.items():
        if key in (rule.name, rule.code):
            out.append((key, overrides))
    return out


def _anchored(value: Any, base: Path | None) -> Any:
    """A relative path of a ``*_file`` setting, taken from ``base`` (the config file's
    folder for values written there, the current folder for ``--set``) and made absolute,
    so it names the same file wherever noticer is started (a hook, a CI job)."""
    if not isinstance(value, str) or not value or base is None:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).absolute())


def _apply(values: dict[str, Any], rule: Rule, overrides: Mapping[str, Any], where: str,
           base: Path | None = None) -> None:
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: expected a table of settings, got {overrides!r}")
    fields = setting_fields(rule.settings)
    hints = typing.get_type_hints(rule.settings)
    for raw_key, raw_value in overrides.items():
        key = _norm(raw_key)
        if key == "enabled":
            values["enabled"] = coerce(raw_value, bool, f"{where}.enabled")
        elif key == "severity":
            values["severity"] = coerce(raw_value, Severity, f"{where}.severity")
        elif key in fields:
            values[key] = coerce(raw_value, hints[key], f"{where}.{raw_key}")
            if key.endswith("_file"):
                values[key] = _anchored(values[key], base)
        else:
            valid = ", ".join([*fields, *PROFILE_KEYS]) or "(this rule has no settings)"
            raise ConfigError(f"{where}: unknown setting {raw_key!r} for {rule.code} {rule.name}; "
                              f"valid settings: {valid}")


def profile_chain(name: str, custom: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """[(builtin, {}), (custom_parent, section), ..., (name, section)] from base to leaf."""
    chain: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    current = name
    while current not in BUILTIN_PROFILES:
        if current in seen:
            raise ConfigError(f"profile {name!r}: 'extends' loops back to {current!r}")
        seen.add(current)
        section = custom.get(current)
        if section is None:
            valid = ", ".join([*BUILTIN_PROFILES, *custom])
            raise ConfigError(f"unknown profile {current!r}; valid profiles: {valid}")
        if not isinstance(section, Mapping):
            raise ConfigError(f"profiles.{current} must be a table")
        unknown = set(section) - set(PROFILE_SECTION_KEYS)
        if unknown:
            raise ConfigError(f"profiles.{current}: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"valid keys: {', '.join(PROFILE_SECTION_KEYS)}")
        chain.append((current, section))
        current = section.get("extends", DEFAULT_PROFILE)
        if not isinstance(current, str):
            raise ConfigError(f"profiles.{chain[-1][0]}.extends must be a profile name")
    chain.append((current, {}))
    return list(reversed(chain))


def check_shared_settings(resolved: Sequence[tuple[Rule, Any]]) -> None:
    """A setting the rules of a family share (``Rule.shared_settings``: the TEXT rules'
    engine, which they run once per image) set differently for one rule would run the
    shared analysis twice, or give the rules different readings of one image."""
    seen: dict[tuple[str, str], dict[Any, list[str]]] = {}
    for rule, settings in resolved:
        for name in rule.shared_settings:
            value = getattr(settings, name)
            seen.setdefault((family_of(rule), name), {}).setdefault(value, []).append(rule.code)
    for (family, name), values in seen.items():
        if len(values) > 1:
            found = "; ".join(f"{', '.join(codes)}: {value!r}" for value, codes in values.items())
            raise ConfigError(f"{name} is shared by the {family} rules (one analysis per image); set it once "
                              f"for the family, rules.{family}.{name} or --set {family}.{name}=..., "
                              f"not per rule ({found})")


def profile_fail_on(chain: list[tuple[str, Mapping[str, Any]]]) -> str | None:
    value = None
    for _, section in chain:
        value = section.get("fail-on", value)
    return value




def custom_profiles(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The config's ``profiles`` table, checked: built-in names cannot be redefined."""
    custom = config.get("profiles", {}) or {}
    if not isinstance(custom, Mapping):
        raise ConfigError("profiles must be a table of profile tables")
    for name in custom:
        if name in BUILTIN_PROFILES:
            raise ConfigError(f"profiles.{name}: built-in profiles cannot be redefined; "
                              f"make a new one with extends = {name!r}")
    return custom


def rule_settings(rules: Sequence[Rule], config: Mapping[str, Any], chain: list[tuple[str, Mapping[str, Any]]],
                  sets: Sequence[tuple[str, str, Any]], config_base: Path) -> list[tuple[Rule, bool, Severity, Any]]:
    """(rule, enabled, severity, typed settings) of every rule: defaults, the built-in
    profile at the root of ``chain``, the custom profiles of the chain, the config's
    ``rules`` table, then ``sets`` (``--set``), each checked against the rule's settings."""
    config_rules = config.get("rules", {}) or {}
    if not isinstance(config_rules, Mapping):
        raise ConfigError("rules must be a table: rules.<name>.<setting> = value")
    for key, overrides in config_rules.items():
        check_key(rules, key, overrides, "rules")
    custom_rule_sections = []
    for name, section in chain[1:]:
        section_rules = section.get("rules", {}) or {}
        for key, overrides in section_rules.items():
            check_key(rules, key, overrides, f"profiles.{name}.rules")
        custom_rule_sections.append((name, section_rules))
    cli_sets: dict[str, dict[str, Any]] = {}
    for rule_key, setting, value in sets:
        check_key(rules, rule_key, {setting: value}, "--set")
        cli_sets.setdefault(rule_key, {})[setting] = value

    builtin = chain[0][0]
    resolved = []
    for rule in rules:
        values: dict[str, Any] = {"enabled": rule.enabled_by_default, "severity": rule.severity}
        _apply(values, rule, rule.profiles.get(builtin, {}), f"profile {builtin}")
        for name, section_rules in custom_rule_sections:
            for key, overrides in _sections_for(rule, section_rules):
                _apply(values, rule, overrides, f"profiles.{name}.rules.{key}", config_base)
        for key, overrides in _sections_for(rule, config_rules):
            _apply(values, rule, overrides, f"rules.{key}", config_base)
        for key, overrides in _sections_for(rule, cli_sets):
            # relative file settings given with --set are taken from the current folder
            _apply(values, rule, overrides, f"--set {key}", Path.cwd())
        enabled = values.pop("enabled")
        severity = values.pop("severity")
        if rule.check is None and not enabled:
            raise ConfigError(ENGINE_CODE_ALWAYS.format(code=rule.code, name=rule.name))
        try:
            settings = rule.settings(**values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{rule.code} {rule.name}: invalid settings: {exc}") from None
        resolved.append((rule, enabled, severity, settings))
    return resolved
