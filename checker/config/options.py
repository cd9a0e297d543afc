"""The engine options, each declared once.

An :class:`EngineOption` gives everything about one option: its key in ``[tool.noticer]``
(``max-pixels``), the :class:`~checker.config.plan.Plan` field it fills (``max_pixels``),
its command-line option (``--max-pixels``, built by ``checker.cli`` from this table), its
type, default and what values are allowed. Config loading, the CLI and the Python API all
read this table, so a new engine option is one new entry here plus a Plan field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..imageio import DEFAULT_MAX_PIXELS
from ..errors import ConfigError
from .values import coerce


@dataclass(frozen=True)
class EngineOption:
    key: str  # the TOML key, and the CLI option --<key>
    kind: type  # int, float, str, bool, or tuple (a list of strings)
    default: Any
    about: str  # what the TOML key does (listed with the valid keys)
    cli_help: str | None = None  # None: a config-only option
    short: str | None = None  # a short CLI flag, e.g. -j
    minimum_exclusive: float | None = None  # a value must be more than this
    allowed: str = ""  # says what is allowed when the minimum is broken
    choices: tuple[str, ...] = ()
    folder: bool = False  # the value names a folder (the CLI checks it is not a file)
    switch: bool = False  # a bool spelled --key/--no-key on the command line

    @property
    def field(self) -> str:
        """The Plan field and the keyword of the Python API."""
        return self.key.replace("-", "_")

    @property
    def cli_flag(self) -> str:
        return f"--{self.key}"

    def value(self, raw: Any, where: str) -> Any:
        """``raw`` (from TOML, the CLI or the API) as this option's type, checked."""
        if raw is None:
            return None
        if self.kind is tuple:
            if isinstance(raw, str) or not isinstance(raw, (list, tuple)) \
                    or not all(isinstance(v, str) for v in raw):
                raise ConfigError(f"{self.key} must be a list of strings, e.g. {self.key} = [\"drafts/*\"]; "
                                  f"got {raw!r}")
            return tuple(raw)
        value = coerce(raw, self.kind, self.key)
        if self.choices and value not in self.choices:
            raise ConfigError(f"{self.key}: unknown {self.key} {value!r}; valid: {', '.join(self.choices)}")
        if self.minimum_exclusive is not None and value <= self.minimum_exclusive:
            raise ConfigError(f"{where} must be {self.allowed}, not {value!r}")
        return value


ENGINE_OPTIONS: tuple[EngineOption, ...] = (
    EngineOption("exclude", tuple, (), "globs of files and folders not to check",
                 cli_help="Glob of files or folders to skip (repeatable)."),
    EngineOption("reference", str, None, "folder of reference images for ALIGN004",
                 cli_help="Folder of reference images (ALIGN004).", folder=True),
    EngineOption("timeout", float, 120.0, "seconds one image may take before it is reported as IMG001",
                 cli_help="Seconds one image may take (default 120).",
                 minimum_exclusive=0.0, allowed="more than 0 seconds"),
    EngineOption("max-pixels", int, DEFAULT_MAX_PIXELS,
                 "largest image (width x height) that is decoded; bigger ones are IMG001",
                 cli_help=f"Largest image decoded, in pixels (default {DEFAULT_MAX_PIXELS}).",
                 minimum_exclusive=0, allowed="more than 0"),
    EngineOption("jobs", int, None, "worker processes (0 runs in-process)",
                 cli_help="Worker processes (default: one per core, fewer when memory is short; 0 = in this process).",
                 short="-j",
                 minimum_exclusive=-1, allowed="0 (in this process) or more"),
    EngineOption("executor", str, "local", "where the work runs: local or dask",
                 cli_help="Where to run: local processes (default) or a Dask cluster.", choices=("local", "dask")),
    EngineOption("scheduler", str, None, "address of a Dask scheduler (executor = dask)",
                 cli_help="Dask scheduler address, e.g. tcp://host:8786 (with --executor dask)."),
    EngineOption("batch-size", int, 16, "images per task sent to a Dask cluster",
                 minimum_exclusive=0, allowed="more than 0"),
    EngineOption("cache", bool, True, "whether the result cache is used",
                 cli_help="Reuse results of unchanged images from the result cache (default: on).", switch=True),
    EngineOption("cache-dir", str, None, "where the result cache lives",
                 cli_help="Result cache folder (default: .noticer_cache beside the config file, or here).",
                 folder=True),
)
OPTIONS_BY_KEY: dict[str, EngineOption] = {o.key: o for o in ENGINE_OPTIONS}
OPTIONS_BY_FIELD: dict[str, EngineOption] = {o.field: o for o in ENGINE_OPTIONS}


def default_of(field: str) -> Any:
    """The declared default of the option filling Plan field ``field``."""
    return OPTIONS_BY_FIELD[field].default


def resolve_options(config: Mapping[str, Any], overrides: Mapping[str, Any], flag_prefix: str = "") -> dict[str, Any]:
    """Every engine option's value as Plan fields: ``overrides`` (CLI or API keywords, by
    field name; None means not given) win over ``config`` (TOML keys), which win over the
    defaults. ``exclude`` adds up: the config's globs, then the overrides'. ``flag_prefix``
    ("--" for the CLI) spells the option in messages as its user wrote it."""
    values: dict[str, Any] = {}
    for option in ENGINE_OPTIONS:
        given = overrides.get(option.field)
        from_config = option.value(config.get(option.key), option.key)
        if option.kind is tuple:
            values[option.field] = (from_config or ()) + tuple(given or ())
            continue
        if given is not None:
            value = option.value(given, f"{flag_prefix}{option.key}")
        else:
            value = from_config
        values[option.field] = option.default if value is None else value
    return values
