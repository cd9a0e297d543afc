"""Reading values written by people: TOML and ``--set`` values into a settings field's type."""
from __future__ import annotations

import types
import tomllib
import typing
from typing import Any, Sequence

from ..errors import ConfigError
from ..model import Severity


def _number(value: Any, kind: type, described: str, where: str) -> int | float:
    """``value`` as an int or float: numbers and numeric strings; never a bool (TOML's
    ``true`` is not 1), and for int only floats without a fraction."""
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    elif not isinstance(value, bool):
        if kind is int and isinstance(value, int):
            return value
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if kind is float and isinstance(value, (int, float)):
            return float(value)
    raise ConfigError(f"{where}: expected {described}, got {value!r}")


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Turn a config value into the settings field's type, or raise ConfigError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
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
        return _number(value, int, "a whole number", where)
    if annotation is float:
        return _number(value, float, "a number", where)
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


