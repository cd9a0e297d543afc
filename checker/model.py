"""The data that flows through noticer: severities, regions, issues, findings, results.

Everything here is a frozen dataclass or an enum, so results can cross process
boundaries (pickle) and be compared for equality in tests.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, value: "str | Severity") -> "Severity":
        if isinstance(value, Severity):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            valid = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {value!r} (valid: {valid})") from None


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Verdict(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True)
class Region:
    """A box in pixels of the displayed (EXIF-rotated) original image."""

    x: int
    y: int
    width: int
    height: int

    def to_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}

    @classmethod
    def from_bounds(cls, x0: float, y0: float, x1: float, y1: float) -> "Region":
        x0i, y0i = int(round(min(x0, x1))), int(round(min(y0, y1)))
        x1i, y1i = int(round(max(x0, x1))), int(round(max(y0, y1)))
        return cls(x0i, y0i, max(1, x1i - x0i), max(1, y1i - y0i))

    def clipped(self, width: int, height: int) -> "Region":
        x0 = min(max(self.x, 0), max(width - 1, 0))
        y0 = min(max(self.y, 0), max(height - 1, 0))
        x1 = min(max(self.x + self.width, x0 + 1), width)
        y1 = min(max(self.y + self.height, y0 + 1), height)
        return Region(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


@dataclass(frozen=True)
class Issue:
    """What a rule yields: the runner turns it into a Finding by stamping the
    rule's code, name and resolved severity on it, so a rule cannot mislabel itself."""

    message: str
    region: Region | None = None
    confidence: float = 1.0
    measurements: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    code: str
    rule: str
    severity: Severity
    confidence: float
    message: str
    region: Region | None
    measurements: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity.value,
            "confidence": round(float(self.confidence), 4),
            "message": self.message,
            "region": self.region.to_dict() if self.region else None,
            "measurements": dict(self.measurements),
        }


@dataclass(frozen=True)
class ImageResult:
    path: str
    sha256: str | None
    width: int | None
    height: int | None
    verdict: Verdict
    findings: tuple[Finding, ...]
    timings_ms: Mapping[str, float]
    # what analyses saw even when nothing is wrong (e.g. every hand and its finger count);
    # never affects the verdict, and appears in the JSON only when there is something
    observations: Mapping[str, Any] = field(default_factory=dict)
    # which rule (by code) first recorded each observation: lets the result cache keep each
    # rule family's observations with that family's findings; not part of the report
    observed_by: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "path": self.path,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "verdict": self.verdict.value,
            "findings": [f.to_dict() for f in self.findings],
            "timings_ms": {k: round(float(v), 3) for k, v in self.timings_ms.items()},
        }
        if self.observations:
            out["observations"] = dict(self.observations)
        return out


@dataclass(frozen=True)
class Report:
    tool_version: str
    profile: str
    settings: Mapping[str, Mapping[str, Any]]
    images: tuple[ImageResult, ...]
    rules: tuple[Any, ...] = ()  # the Rule objects that ran (for SARIF metadata)
    fail_on: Severity = Severity.ERROR

    @property
    def summary(self) -> dict[str, int]:
        counts = {"images": len(self.images)}
        for verdict in Verdict:
            counts[verdict.value] = sum(1 for r in self.images if r.verdict is verdict)
        return counts

    @property
    def exit_code(self) -> int:
        return 1 if any(r.verdict in (Verdict.FAIL, Verdict.ERROR) for r in self.images) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": "1",
            "tool": {"name": "noticer", "version": self.tool_version},
            "profile": {"name": self.profile, "settings": {k: dict(v) for k, v in self.settings.items()}},
            "summary": self.summary,
            "images": [r.to_dict() for r in self.images],
        }


def verdict_for(findings: tuple[Finding, ...], fail_on: Severity, broken: bool) -> Verdict:
    """An unreadable image is `error`; a finding at or above fail-on makes `fail`;
    any other finding makes `warn`; no finding is `pass`."""
    if broken:
        return Verdict.ERROR
    if any(f.severity.rank >= fail_on.rank for f in findings):
        return Verdict.FAIL
    if findings:
        return Verdict.WARN
    return Verdict.PASS
