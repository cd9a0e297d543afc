"""Rules of a pretend third-party plugin: one that always reports, and two that misbehave
on purpose (crash the worker process, or hang) on files whose names ask for it."""
import os
import time
from dataclasses import dataclass

from checker.model import Issue, Region, Severity
from checker.rule import Rule


@dataclass(frozen=True)
class MarkerSettings:
    label: str = "plain"


def check_marker(ctx, settings):
    """
    What it detects
        Nothing real: marks every image so tests can see plugin rules run.
    Why people notice
        They do not.
    Settings
        label: text put into the message.
    Known limits
        A test rule.
    """
    yield Issue(f"plugin saw {ctx.width}x{ctx.height} ({settings.label})", Region(0, 0, 4, 4), 0.5,
                {"label": settings.label})


def check_crash(ctx, settings):
    """Kills its own process when the file name contains 'crashme'."""
    if "crashme" in ctx.path.name:
        os._exit(3)
    return ()


def check_hang(ctx, settings):
    """Sleeps far past any time limit when the file name contains 'slowpoke'."""
    if "slowpoke" in ctx.path.name:
        time.sleep(600)
    return ()


def check_raise(ctx, settings):
    """Raises when the file name contains 'raiseme'."""
    if "raiseme" in ctx.path.name:
        raise RuntimeError("this rule broke")
    return ()


RULES = (
    Rule("TPL001", "testplugin.marker", "Marks every image", check_marker, Severity.INFO, MarkerSettings,
         profiles={"strict": {"label": "strict-label"}}),
    Rule("TPL002", "testplugin.crash", "Crashes the worker on request", check_crash, Severity.ERROR),
    Rule("TPL003", "testplugin.hang", "Hangs on request", check_hang, Severity.ERROR),
    Rule("TPL004", "testplugin.raise", "Raises on request", check_raise, Severity.ERROR),
)
