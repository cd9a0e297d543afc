"""Resolving config and command-line options into a :class:`~checker.config.plan.Plan`, once.

Resolution order of rule settings, later wins:
1. each rule's settings dataclass defaults;
2. the built-in profile's overrides declared by the rule (``strict`` / ``lenient``);
3. a custom profile's ``rules.<name>`` overrides (its ``extends`` chain applied first);
4. ``rules.<name>.<setting>`` in the config file;
5. ``--set name.setting=value`` on the command line (and keyword overrides in the API).

``select`` / ``ignore`` (and ``--select`` / ``--ignore``) then pick which enabled rules run.
Engine options (timeout, max-pixels, ...) come from the options table
(:mod:`checker.config.options`). Unknown keys, settings, profiles and codes are errors that
name the valid ones.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ConfigError
from ..model import Severity
from ..rule import Rule
from .options import ENGINE_OPTIONS, OPTIONS_BY_FIELD, resolve_options
from .plan import Plan, RulePlan
from .selection import check_selectors, matches, refuse_hiding_engine_codes
from .settings import (DEFAULT_PROFILE, check_shared_settings, custom_profiles, profile_chain, profile_fail_on,
                       rule_settings)

TOP_LEVEL_KEYS = {
    "profile": "profile to use (lenient, strict or a custom one)",
    "select": "codes, prefixes or names of the rules to run",
    "ignore": "codes, prefixes or names of rules not to run",
    "extend-select": "rules to run in addition to the profile's",
    "per-file-ignores": "mapping of glob to codes ignored for matching files",
    "fail-on": "lowest severity that fails an image: error, warning or info",
    "rules": "per-rule settings: rules.<name>.<setting>",
    "profiles": "custom profiles: profiles.<name> with extends and rules",
    "expected-text": "mapping of glob to the text images matching it must show (TEXT003)",
    **{option.key: option.about for option in ENGINE_OPTIONS},
}


def resolve(rules: Sequence[Rule], config: Mapping[str, Any] | None = None, *, profile: str | None = None,
            select: Sequence[str] | None = None, ignore: Sequence[str] = (),
            sets: Sequence[tuple[str, str, Any]] = (), fail_on: str | None = None,
            config_path: str | None = None, flag_prefix: str = "", **options: Any) -> Plan:
    """Resolve config and command-line options into a :class:`Plan`. ``options`` are engine
    options by Plan field (``max_pixels=...``; None: not given), winning over the config's."""
    config = dict(config or {})
    unknown = set(config) - set(TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(f"{config_path or 'config'}: unknown key(s) {', '.join(sorted(unknown))}; valid keys: "
                          f"{', '.join(TOP_LEVEL_KEYS)}")
    not_options = set(options) - set(OPTIONS_BY_FIELD)
    if not_options:
        raise TypeError(f"unknown engine option(s) {', '.join(sorted(not_options))}; "
                        f"valid: {', '.join(OPTIONS_BY_FIELD)}")
    profile_name = profile or config.get("profile") or DEFAULT_PROFILE
    chain = profile_chain(profile_name, custom_profiles(config))
    # relative file settings are taken from the config file's folder
    config_base = Path(config_path).parent if config_path else Path.cwd()
    resolved = rule_settings(rules, config, chain, sets, config_base)
    chosen = _selected(rules, resolved, config, select, ignore)
    check_shared_settings([(p.rule, p.settings) for p in chosen])  # among the rules that run

    fail_on_value = fail_on or config.get("fail-on") or profile_fail_on(chain) or "error"
    try:
        fail_on_severity = Severity.parse(fail_on_value)
    except ValueError as exc:
        raise ConfigError(f"fail-on: {exc}") from None

    per_file = [(pattern, tuple(selectors)) for pattern, selectors in
                _glob_table(config, "per-file-ignores", "codes, prefixes or names of rules", '["TEXT002"]')]
    for pattern, selectors in per_file:
        check_selectors(selectors, rules, f"per-file-ignores[{pattern!r}]")
        refuse_hiding_engine_codes(selectors, rules, f"per-file-ignores[{pattern!r}]")
    expected = [(pattern, tuple(texts)) for pattern, texts in
                _glob_table(config, "expected-text", "the text the images must show", '["OPEN"]')]
    return Plan(profile=profile_name, rules=tuple(chosen), fail_on=fail_on_severity,
                per_file_ignores=tuple(per_file), expected_text=tuple(expected), config_path=config_path,
                all_rules=tuple(rules), **resolve_options(config, options, flag_prefix))


def _selected(rules: Sequence[Rule], resolved: list[tuple[Rule, bool, Severity, Any]], config: Mapping[str, Any],
              select: Sequence[str] | None, ignore: Sequence[str]) -> list[RulePlan]:
    """The rules that run: ``select`` (else the enabled ones plus ``extend-select``) minus ``ignore``."""
    selected_by_config = _string_list(config, "select", '["HAND", "TEXT"]')
    select_list = list(select) if select else (selected_by_config or None)
    ignore_list = [*_string_list(config, "ignore", '["TEXT004"]'), *ignore]
    extend = _string_list(config, "extend-select", '["ALIGN004"]')
    for where, selectors in (("select", select_list or []), ("ignore", ignore_list), ("extend-select", extend)):
        check_selectors(selectors, rules, where)
    refuse_hiding_engine_codes(ignore_list, rules, "ignore")
    chosen = []
    for rule, enabled, severity, settings in resolved:
        if select_list is not None:
            run = any(matches(rule, s) for s in select_list)
        else:
            run = enabled or any(matches(rule, s) for s in extend)
        if any(matches(rule, s) for s in ignore_list):
            run = False
        if run:
            chosen.append(RulePlan(rule, severity, settings))
    return chosen


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


