"""JUnit XML, so CI systems (GitLab, Jenkins, Azure, GitHub test reporters) list every
image as a test case.

One ``testsuite`` named after the profile; one ``testcase`` per image, its ``classname``
the image's folder (dots for slashes, as JUnit viewers group by it) and its ``name`` the
path. Verdict ``fail`` becomes a ``<failure>``, ``error`` (unreadable, crashed, timed out)
an ``<error>``, ``warn`` passes with the findings in ``<system-out>``. Every finding is
written as ``path:x,y,w,h: CODE message [severity]``, like the text format.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from ..model import Finding, ImageResult, Report, Verdict


def _finding_line(path: str, f: Finding) -> str:
    where = f"{f.region.x},{f.region.y},{f.region.width},{f.region.height}" if f.region else "-"
    return f"{path}:{where}: {f.code} {f.message} [{f.severity.value}]"


def _seconds(image: ImageResult) -> str:
    return f"{sum(float(v) for v in image.timings_ms.values()) / 1000.0:.3f}"


def _classname(path: str) -> str:
    parent = Path(path).parent.as_posix()
    return "noticer" if parent in ("", ".") else "noticer." + parent.strip("/").replace("/", ".")


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped; replace them."""
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 and ch not in "\ufffe\uffff" else "\ufffd"
                   for ch in text)


@dataclass
class JunitFormat:
    name = "junit"
    extension = ".xml"
    color: bool = False

    def render(self, report: Report) -> str:
        summary = report.summary
        total_time = sum(float(v) for image in report.images for v in image.timings_ms.values()) / 1000.0
        suites = ET.Element("testsuites", name="noticer", tests=str(summary["images"]),
                            failures=str(summary["fail"]), errors=str(summary["error"]), time=f"{total_time:.3f}")
        suite = ET.SubElement(suites, "testsuite", name=f"noticer ({report.profile})",
                              tests=str(summary["images"]), failures=str(summary["fail"]),
                              errors=str(summary["error"]), skipped="0", time=f"{total_time:.3f}")
        properties = ET.SubElement(suite, "properties")
        for key, value in (("noticer.version", report.tool_version), ("profile", report.profile),
                           ("fail-on", report.fail_on.value)):
            ET.SubElement(properties, "property", name=key, value=value)
        for image in report.images:
            path = _xml_safe(image.path)
            case = ET.SubElement(suite, "testcase", classname=_xml_safe(_classname(image.path)), name=path,
                                 file=path, time=_seconds(image))
            lines = "\n".join(_xml_safe(_finding_line(image.path, f)) for f in image.findings)
            codes = ", ".join(dict.fromkeys(f.code for f in image.findings))
            if image.verdict is Verdict.FAIL:
                worst = [f for f in image.findings if f.severity.rank >= report.fail_on.rank]
                message = _xml_safe(f"{len(worst)} finding(s) at or above {report.fail_on.value}: "
                                    + "; ".join(f"{f.code} {f.message}" for f in worst))
                failure = ET.SubElement(case, "failure", message=message, type=codes)
                failure.text = lines
            elif image.verdict is Verdict.ERROR:
                first = image.findings[0] if image.findings else None
                error = ET.SubElement(case, "error", message=_xml_safe(first.message if first else "error"),
                                      type=codes or "IMG001")
                error.text = lines
            elif image.findings:
                ET.SubElement(case, "system-out").text = lines
        ET.indent(suites)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
