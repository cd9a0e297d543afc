"""Configuration: find it, validate it, and resolve it into typed settings once.

Resolution order, later wins:
1. each rule's settings dataclass defaults;
2. the built-in profile's overrides declared by the rule (``strict`` / ``lenient``);
3. a custom profile's ``rules.<name>`` overrides (its ``extends`` chain applied first);
4. ``rules.<name>.<setting>`` in the config file;
5. ``--set name.setting=value`` on the command line (and keyword overrides in the API).

``select`` / ``ignore`` (and ``--select`` / ``--ignore``) then pick which enabled rules run.
Unknown keys, settings, profiles and codes are errors that name the valid ones.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import os
import sys
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .model import Severity
from .rule import PROFILE_KEYS, Rule, setting_fields

BUILTIN_PROFILES = ("lenient", "strict")
DEFAULT_PROFILE = "lenient"
TOP_LEVEL_KEYS = {
    "profile": "profile to use (lenient, strict or a custom one)",
    "select": "codes, prefixes or names of the rules to run",
    "ignore": "codes, prefixes or names of rules not to run",
    "extend-select": "rules to run in addition to the profile's",
    "per-file-ignores": "mapping of glob to codes ignored for matching files",
    "exclude": "globs of files and folders not to check",
    "fail-on": "lowest severity that fails an image: error, warning or info",
    "rules": "per-rule settings: rules.<name>.<setting>",
    "profiles": "custom profiles: profiles.<name> with extends and rules",
    "max-pixels": "largest image (width x height) that is decoded; bigger ones are IMG001",
    "timeout": "seconds one image may take before it is reported as IMG001",
    "jobs": "worker processes (0 runs in-process)",
    "reference": "folder of reference images for ALIGN004",
    "expected-text": "mapping of glob to the text images matching it must show (TEXT003)",
    "cache-dir": "where the result cache lives",
    "cache": "whether the result cache is used",
    "executor": "where the work runs: local or dask",
    "scheduler": "address of a Dask scheduler (executor = dask)",
    "batch-size": "images per task sent to a Dask cluster",
}
PROFILE_SECTION_KEYS = ("extends", "description", "rules", "fail-on")


class ConfigError(Exception):
    """A usage or configuration mistake (exit code 2)."""


@dataclass(frozen=True)
class RulePlan:
    rule: Rule
    severity: Severity
    settings: Any

    @property
    def settings_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in dataclasses.asdict(self.settings).items()}


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, resolved before any rule runs."""

    profile: str
    rules: tuple[RulePlan, ...]
    fail_on: Severity = Severity.ERROR
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    max_pixels: int = 100_000_000
    timeout: float = 120.0
    jobs: int | None = None
    reference: str | None = None
    expected_text: tuple[tuple[str, tuple[str, ...]], ...] = ()
    config_path: str | None = None
    cache: bool = True
    cache_dir: str | None = None
    executor: str = "local"
    scheduler: str | None = None
    batch_size: int = 16
    all_rules: tuple[Rule, ...] = field(default=(), compare=False)

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        return {rp.rule.name: rp.settings_dict for rp in self.rules}

    def _matches(self, path: str, pattern: str) -> bool:
        return path_matches(path, pattern, Path(self.config_path).parent if self.config_path else None)

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


def path_matches(path: str, pattern: str, base: Path | None = None) -> bool:
    """Whether a per-file glob (``per-file-ignores``, ``expected-text``) matches ``path``: as
    given, as its end (``posters/*.png`` matches ``site/posters/a.png``), by file name, or,
    with ``base`` (the config file's folder), relative to it, so that the config's globs
    mean the same files wherever noticer is started."""
    posix = Path(path).as_posix()
    candidates = [posix]
    if base is not None:
        try:
            candidates.append(Path(os.path.abspath(path)).relative_to(os.path.abspath(base)).as_posix())
        except ValueError:
            pass  # outside the config's folder
    return (any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, f"*/{pattern}") for c in candidates)
            or fnmatch.fnmatch(Path(path).name, pattern))


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Severity):
        return value.value
    return value


# ----------------------------------------------------------------------------- finding files

def find_config(start: Path) -> Path | None:
    """The nearest noticer.toml, or pyproject.toml with [tool.noticer], walking up from start."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        own = candidate / "noticer.toml"
        if own.is_file():
            return own
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            try:
                text = pyproject.read_text(encoding="utf-8")
            except OSError:
                continue
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                # someone else's broken file is not ours to judge; one with a noticer table
                # is: using the defaults instead would quietly turn strict into lenient
                if "tool.noticer" in text:
                    raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from None
                continue
            if "noticer" in data.get("tool", {}):
                return pyproject
    return None


def read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("noticer", {})
    return data


# ----------------------------------------------------------------------------- selectors

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


_ENGINE_CODE_ALWAYS = ("{code} {name} is reported by noticer itself and cannot be switched off or ignored: a file "
                       "that cannot be read or checked is never passed. Leave files out with exclude instead")


def _refuse_hiding_engine_codes(selectors: Iterable[str], rules: Sequence[Rule], where: str) -> None:
    """Naming an engine-raised code (IMG001) in ignore: accepted, it did nothing; now said."""
    for s in selectors:
        for rule in rules:
            if rule.check is None and s in (rule.code, rule.name):
                raise ConfigError(f"{where}: " + _ENGINE_CODE_ALWAYS.format(code=rule.code, name=rule.name))


def check_selectors(selectors: Iterable[str], rules: Sequence[Rule], where: str) -> None:
    for s in selectors:
        if not any(matches(r, s) for r in rules):
            valid = ", ".join(f"{r.code} ({r.name})" for r in rules)
            raise ConfigError(f"{where}: unknown rule selector {s!r}; valid codes and names: {valid}")


# ----------------------------------------------------------------------------- values

def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Turn a config value into the settings field's type, or raise ConfigError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin in (tuple, list, Sequence, typing.Sequence):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return tuple(coerce(v, inner, where) for v in value)
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if annotation is Severity:
        try:
            return Severity.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return value


def parse_cli_value(text: str) -> Any:
    """`--set` values are TOML values (0.8, true, "x", [1, 2]); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_set_option(item: str) -> tuple[str, str, Any]:
    """'hands.finger-count.min_confidence=0.8' -> ('hands.finger-count', 'min_confidence', 0.8)."""
    key, sep, value = item.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set expects RULE.SETTING=VALUE, got {item!r}")
    rule_name, _, setting = key.strip().rpartition(".")
    return rule_name, setting.strip(), parse_cli_value(value.strip())


# ----------------------------------------------------------------------------- resolution

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


def _check_key(rules: Sequence[Rule], key: str, overrides: Any, where: str) -> None:
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


def _profile_chain(name: str, custom: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
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


def resolve(rules: Sequence[Rule], config: Mapping[str, Any] | None = None, *, profile: str | None = None,
            select: Sequence[str] | None = None, ignore: Sequence[str] = (),
            sets: Sequence[tuple[str, str, Any]] = (), fail_on: str | None = None,
            config_path: str | None = None, **options: Any) -> Plan:
    """Resolve config and command-line options into a :class:`Plan`."""
    config = dict(config or {})
    unknown = set(config) - set(TOP_LEVEL_KEYS)
    if unknown:
        where = config_path or "config"
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; valid keys: "
                          f"{', '.join(TOP_LEVEL_KEYS)}")
    custom_profiles = config.get("profiles", {}) or {}
    if not isinstance(custom_profiles, Mapping):
        raise ConfigError("profiles must be a table of profile tables")
    for name in custom_profiles:
        if name in BUILTIN_PROFILES:
            raise ConfigError(f"profiles.{name}: built-in profiles cannot be redefined; "
                              f"make a new one with extends = {name!r}")
    profile_name = profile or config.get("profile") or DEFAULT_PROFILE
    chain = _profile_chain(profile_name, custom_profiles)
    builtin = chain[0][0]

    config_rules = config.get("rules", {}) or {}
    if not isinstance(config_rules, Mapping):
        raise ConfigError("rules must be a table: rules.<name>.<setting> = value")
    for key, overrides in config_rules.items():
        _check_key(rules, key, overrides, "rules")
    custom_rule_sections = []
    for name, section in chain[1:]:
        section_rules = section.get("rules", {}) or {}
        for key, overrides in section_rules.items():
            _check_key(rules, key, overrides, f"profiles.{name}.rules")
        custom_rule_sections.append((name, section_rules))
    cli_sets: dict[str, dict[str, Any]] = {}
    for rule_key, setting, value in sets:
        _check_key(rules, rule_key, {setting: value}, "--set")
        cli_sets.setdefault(rule_key, {})[setting] = value

    # relative file settings: from the config file's folder, or the current one for --set
    config_base = Path(config_path).parent if config_path else Path.cwd()
    plans = []
    for rule in rules:
        values: dict[str, Any] = {"enabled": rule.enabled_by_default, "severity": rule.severity}
        _apply(values, rule, rule.profiles.get(builtin, {}), f"profile {builtin}")
        for name, section_rules in custom_rule_sections:
            for key, overrides in _sections_for(rule, section_rules):
                _apply(values, rule, overrides, f"profiles.{name}.rules.{key}", config_base)
        for key, overrides in _sections_for(rule, config_rules):
            _apply(values, rule, overrides, f"rules.{key}", config_base)
        for key, overrides in _sections_for(rule, cli_sets):
            _apply(values, rule, overrides, f"--set {key}", Path.cwd())
        enabled = values.pop("enabled")
        severity = values.pop("severity")
        if rule.check is None and not enabled:
            raise ConfigError(_ENGINE_CODE_ALWAYS.format(code=rule.code, name=rule.name))
        try:
            settings = rule.settings(**values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{rule.code} {rule.name}: invalid settings: {exc}") from None
        plans.append((rule, enabled, severity, settings))

    selected_by_config = _string_list(config, "select", '["HAND", "TEXT"]')
    select_list = list(select) if select else (selected_by_config or None)
    ignore_list = [*_string_list(config, "ignore", '["TEXT004"]'), *ignore]
    extend = _string_list(config, "extend-select", '["ALIGN004"]')
    for where, sel in (("select", select_list or []), ("ignore", ignore_list), ("extend-select", extend)):
        check_selectors(sel, rules, where)
    _refuse_hiding_engine_codes(ignore_list, rules, "ignore")
    chosen = []
    for rule, enabled, severity, settings in plans:
        if select_list is not None:
            run = any(matches(rule, s) for s in select_list)
        else:
            run = enabled or any(matches(rule, s) for s in extend)
        if any(matches(rule, s) for s in ignore_list):
            run = False
        if run:
            chosen.append(RulePlan(rule, severity, settings))
    _check_shared_settings([(p.rule, p.settings) for p in chosen])  # among the rules that run

    fail_on_value = fail_on or config.get("fail-on") or _profile_fail_on(chain) or "error"
    try:
        fail_on_sev = Severity.parse(fail_on_value)
    except ValueError as exc:
        raise ConfigError(f"fail-on: {exc}") from None

    per_file = [(pattern, tuple(selectors)) for pattern, selectors in
                _glob_table(config, "per-file-ignores", "codes, prefixes or names of rules", '["TEXT002"]')]
    for pattern, selectors in per_file:
        check_selectors(selectors, rules, f"per-file-ignores[{pattern!r}]")
        _refuse_hiding_engine_codes(selectors, rules, f"per-file-ignores[{pattern!r}]")
    expected = [(pattern, tuple(texts)) for pattern, texts in
                _glob_table(config, "expected-text", "the text the images must show", '["OPEN"]')]

    def opt(key: str, default: Any, kind: Any) -> Any:
        value = options.get(key.replace("-", "_"))
        if value is None:
            value = config.get(key, default)
        return None if value is None else coerce(value, kind, key)

    exclude = tuple(_string_list(config, "exclude", '["drafts/*"]')) + tuple(options.get("exclude") or ())
    executor = opt("executor", "local", str)
    if executor not in ("local", "dask"):
        raise ConfigError(f"executor: unknown executor {executor!r}; valid: local, dask")
    limits = {"timeout": (opt("timeout", 120.0, float), 0.0, "more than 0 seconds"),
              "jobs": (opt("jobs", None, int), -1, "0 (in this process) or more"),
              "max-pixels": (opt("max-pixels", 100_000_000, int), 0, "more than 0"),
              "batch-size": (opt("batch-size", 16, int), 0, "more than 0")}
    for key, (value, floor, allowed) in limits.items():
        if value is not None and value <= floor:
            raise ConfigError(f"{key} must be {allowed}, not {value!r}")
    return Plan(
        profile=profile_name,
        rules=tuple(chosen),
        fail_on=fail_on_sev,
        per_file_ignores=tuple(per_file),
        exclude=exclude,
        max_pixels=opt("max-pixels", 100_000_000, int),
        timeout=opt("timeout", 120.0, float),
        jobs=opt("jobs", None, int),
        reference=opt("reference", None, str),
        expected_text=tuple(expected),
        config_path=config_path,
        cache=opt("cache", True, bool),
        cache_dir=opt("cache-dir", None, str),
        executor=executor,
        scheduler=opt("scheduler", None, str),
        batch_size=opt("batch-size", 16, int),
        all_rules=tuple(rules),
    )


def _check_shared_settings(resolved: Sequence[tuple[Rule, Any]]) -> None:
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


def _string_list(config: Mapping[str, Any], key: str, example: str) -> list[str]:
    """A config value that must be a list of strings: a lone string is an error, not a list
    of its characters (`exclude = "drafts/*"` excluded every file through its '*')."""
    value = config.get(key) or []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of strings, e.g. {key} = {example}; got {value!r}")
    return list(value)


def _glob_table(config: Mapping[str, Any], key: str, what: str, example: str) -> list[tuple[str, list[str]]]:
    """A config table mapping globs to a string or a list of strings, checked."""
    table = config.get(key, {}) or {}
    if not isinstance(table, Mapping):
        raise ConfigError(f"{key} must be a table mapping globs to {what}, e.g. \"posters/*.png\" = {example}")
    out = []
    for pattern, values in table.items():
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"{key}[{pattern!r}]: expected a string or a list of strings ({what}), "
                              f"got {values!r}")
        out.append((pattern, list(values)))
    return out


def _profile_fail_on(chain: list[tuple[str, Mapping[str, Any]]]) -> str | None:
    value = None
    for _, section in chain:
        value = section.get("fail-on", value)
    return value


def load_config(paths: Sequence[str | os.PathLike], explicit: str | None = None) -> tuple[dict[str, Any], Path | None]:
    if explicit:
        path = Path(explicit)
        return read_config(path), path
    start = Path(paths[0]) if paths else Path.cwd()
    if not start.exists():
        start = Path.cwd()
    found = find_config(start)
    if found is None:
        return {}, None
    return read_config(found), found
