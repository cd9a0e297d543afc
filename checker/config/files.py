"""Finding and reading the config file: noticer.toml, or pyproject.toml with [tool.noticer]."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError


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
