"""Configuration: find it, validate it, and resolve it into a typed :class:`Plan` once.

* :mod:`.options`: the engine options table (one declaration: TOML key, CLI option, Plan field);
* :mod:`.settings`: rule settings through profiles, the config file and ``--set``;
* :mod:`.selection`: rule selectors (select, ignore, per-file-ignores);
* :mod:`.files`: finding and reading noticer.toml / pyproject.toml;
* :mod:`.resolve`: all of it into a :class:`Plan`.
"""
from __future__ import annotations

from ..errors import ConfigError
from .files import find_config, load_config, read_config
from .options import ENGINE_OPTIONS, EngineOption
from .plan import Plan, RulePlan
from .resolve import TOP_LEVEL_KEYS, resolve
from .selection import check_selectors, matches
from .settings import BUILTIN_PROFILES, DEFAULT_PROFILE, family_of
from .values import coerce, parse_cli_value, parse_set_option

__all__ = ["BUILTIN_PROFILES", "DEFAULT_PROFILE", "ENGINE_OPTIONS", "TOP_LEVEL_KEYS", "ConfigError", "EngineOption",
           "Plan", "RulePlan", "check_selectors", "coerce", "family_of", "find_config", "load_config", "matches",
           "parse_cli_value", "parse_set_option", "read_config", "resolve"]
