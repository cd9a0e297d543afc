"""SARIF 2.1.0: one run, rule metadata in tool.driver.rules, one result per finding.

SARIF locates results in text; images have no lines, so the artifact location names the
file and the pixel box travels in each result's ``properties.region`` (and, for viewers
that read it, as a ``rectangles`` entry in the location's properties)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..model import Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_uri(path: str) -> str:
    """A SARIF artifact location is a URI reference: an absolute path becomes a ``file://``
    URI, a relative one a percent-encoded relative reference (spaces, ``<>"#%`` and non-ASCII
    letters encoded); a URL (``s3://...``) stays as it is."""
    if "://" in path:
        return path
    local = Path(path)
    if local.is_absolute():
        return local.as_uri()
    return quote(os.fsencode(local.as_posix()), safe="/")  # bytes: a non-UTF-8 name is percent-encoded as it is


@dataclass
class SarifFormat:
    name = "sarif"
    extension = ".sarif"
    color: bool = False

    def render(self, report: Report) -> str:
        return json.dumps(self.build(report), indent=2, ensure_ascii=False) + "\n"

    def build(self, report: Report) -> dict:
        rules = sorted(report.rules, key=lambda r: r.code)
        index = {r.code: i for i, r in enumerate(rules)}
        driver_rules = []
        for r in rules:
            sections = r.doc_sections()
            driver_rules.append({
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": sections.get("What it detects", r.summary) or r.summary},
                "help": {"text": r.doc or r.summary},
                "defaultConfiguration": {"level": _LEVEL[r.severity]},
                "properties": {"stability": r.stability,
                               "settings": report.settings.get(r.name, {})},
            })
        results = []
        for image in report.images:
            uri = artifact_uri(image.path)
            for f in image.findings:
                result = {
                    "ruleId": f.code,
                    "level": _LEVEL[f.severity],
                    "message": {"text": f.message},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
                    "properties": {
                        "rule": f.rule,
                        "confidence": round(f.confidence, 4),
                        "region": f.region.to_dict() if f.region else None,
                        "measurements": dict(f.measurements),
                        "verdict": image.verdict.value,
                    },
                }
                if f.code in index:
                    result["ruleIndex"] = index[f.code]
                if image.sha256:
                    result["partialFingerprints"] = {"imageSha256": image.sha256}
                results.append(result)
        return {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": "noticer", "version": report.tool_version,
                                    "rules": driver_rules}},
                "results": results,
                "properties": {"profile": report.profile, "summary": report.summary},
            }],
        }
