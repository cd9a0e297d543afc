"""The engine options table: one declaration per option gives its TOML key, its CLI option
and its Plan field, used by config loading, the CLI and the API alike."""
from __future__ import annotations

import dataclasses
import re

import pytest

from checker.cli import check_command
from checker.config import ENGINE_OPTIONS, TOP_LEVEL_KEYS, ConfigError, Plan, resolve
from checker.config.options import OPTIONS_BY_KEY
from tests.helpers import ROOT


def test_every_option_is_a_toml_key_a_plan_field_and_its_cli_option():
    plan_fields = {f.name: f for f in dataclasses.fields(Plan)}
    cli = {param.name: param for param in check_command.params}
    for option in ENGINE_OPTIONS:
        assert option.key in TOP_LEVEL_KEYS, option.key
        assert option.field in plan_fields and plan_fields[option.field].default == option.default, option.key
        if option.cli_help is None:
            assert option.field not in cli, f"{option.key} is config-only"
            continue
        assert option.cli_flag in cli[option.field].opts, option.key
    assert OPTIONS_BY_KEY["batch-size"].cli_help is None  # config only, as before


def test_the_max_pixels_default_is_written_once_in_the_engine():
    literal = re.compile(r"100_?000_?000")
    found = [str(p.relative_to(ROOT)) for p in (ROOT / "checker").rglob("*.py") if literal.search(p.read_text())]
    assert found == ["checker/imageio.py"]
    assert resolve([], {}).max_pixels == OPTIONS_BY_KEY["max-pixels"].default == 10 ** 8


@pytest.mark.parametrize("where,kwargs,message", [
    ("config", {"config": {"max-pixels": 0}}, "max-pixels must be more than 0, not 0"),
    ("cli", {"max_pixels": 0, "flag_prefix": "--"}, "--max-pixels must be more than 0, not 0"),
    ("api", {"batch_size": 0}, "batch-size must be more than 0, not 0"),
    ("config", {"config": {"executor": "cloud"}}, "unknown executor 'cloud'; valid: local, dask"),
])
def test_one_validation_whichever_way_the_value_came(where, kwargs, message):
    config = kwargs.pop("config", {})
    with pytest.raises(ConfigError) as info:
        resolve([], config, **kwargs)
    assert message in str(info.value)


def test_the_api_and_cli_win_over_the_config_and_excludes_add_up():
    plan = resolve([], {"timeout": 30, "exclude": ["drafts/*"]}, timeout=5, exclude=("tmp/*",))
    assert plan.timeout == 5.0 and plan.exclude == ("drafts/*", "tmp/*")
    assert resolve([], {"timeout": 30}).timeout == 30.0 and resolve([], {}).timeout == 120.0


def test_an_unknown_engine_option_is_refused():
    with pytest.raises(TypeError, match="max_pixel"):
        resolve([], {}, max_pixel=5)
