"""Every output format, built-in or plugin, follows the Format protocol."""
from __future__ import annotations


def test_every_built_in_format_follows_the_format_protocol():
    from checker.discovery import discover_formats
    from checker.formats import Format

    formats, warnings = discover_formats()
    assert warnings == [] and {"text", "json", "sarif", "html", "junit"} <= set(formats)
    for name, cls in formats.items():
        assert isinstance(cls(color=False), Format), name
    assert not isinstance(object(), Format)
