"""The human format: one line per finding, then a summary."""
from __future__ import annotations

from dataclasses import dataclass

from ..model import Report, Severity

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_VERDICT_COLORS = {"pass": "\033[32m", "warn": "\033[33m", "fail": "\033[31m", "error": "\033[35m"}
_RESET, _BOLD = "\033[0m", "\033[1m"


def _one_line(path: str) -> str:
    """A path with its line breaks shown as \\n, so that each finding stays one line."""
    return path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r") if "\n" in path or "\r" in path else path


@dataclass
class TextFormat:
    name = "text"
    extension = ".txt"
    color: bool = False
    show_passing: bool = False

    def _c(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def render(self, report: Report) -> str:
        lines = []
        for image in report.images:
            for f in image.findings:
                where = (f"{f.region.x},{f.region.y},{f.region.width},{f.region.height}"
                         if f.region else "-")
                sev = self._c(_COLORS[f.severity], f"[{f.severity.value}]")
                code = self._c(_BOLD, f.code)
                message = " ".join(f.message.split())  # one line per finding, even for a multi-line error
                lines.append(f"{_one_line(image.path)}:{where}: {code} {message} {sev}")
            if not image.findings and self.show_passing:
                lines.append(f"{_one_line(image.path)}: {self._c(_VERDICT_COLORS['pass'], 'pass')}")
        s = report.summary
        parts = [f"{s['images']} image{'s' if s['images'] != 1 else ''} checked with profile {report.profile}"]
        for key in ("pass", "warn", "fail", "error"):
            parts.append(self._c(_VERDICT_COLORS[key], f"{s[key]} {key}"))
        findings = sum(len(i.findings) for i in report.images)
        lines.append(f"{parts[0]}: {', '.join(parts[1:])}; {findings} finding{'s' if findings != 1 else ''}"
                     f" (fail-on {report.fail_on.value})")
        return "\n".join(lines) + "\n"
