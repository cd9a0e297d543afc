"""JUnit XML: every image a test case, failures and errors where CI systems look for them."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from checker.formats.junit import JunitFormat
from checker.model import Finding, ImageResult, Region, Report, Severity, Verdict
from fixtures.make_fixtures import A1111_PARAMETERS, save_png, scene
from tests.helpers import run_cli


def finding(code, severity, message, region=None):
    return Finding(code, f"test.{code.lower()}", severity, 0.8, message, region, {})


def sample_report() -> Report:
    images = (
        ImageResult("art/clean.png", "0" * 64, 10, 10, Verdict.PASS, (), {"load": 2.0, "x": 3.0}),
        ImageResult("art/hands/six.png", "1" * 64, 10, 10, Verdict.FAIL,
                    (finding("HAND001", Severity.ERROR, "six fingers", Region(1, 2, 3, 4)),
                     finding("TEXT001", Severity.WARNING, "misspelled 'BAKRY'")), {"load": 1500.0}),
        ImageResult("meh.png", "2" * 64, 10, 10, Verdict.WARN,
                    (finding("TEXT001", Severity.WARNING, "misspelled <'&\"> \x07bell"),), {}),
        ImageResult("broken.png", None, None, None, Verdict.ERROR,
                    (finding("IMG001", Severity.ERROR, "empty file (0 bytes)"),), {}),
    )
    return Report("0.1.0", "strict", {}, images)


def test_each_image_is_a_test_case_with_failures_and_errors():
    root = ET.fromstring(JunitFormat().render(sample_report()))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["art/clean.png", "art/hands/six.png", "meh.png", "broken.png"]
    assert cases["art/hands/six.png"].get("classname") == "noticer.art.hands"
    assert cases["art/clean.png"].get("time") == "0.005"
    assert list(cases["art/clean.png"]) == []
    failure = cases["art/hands/six.png"].find("failure")
    assert failure is not None and failure.get("type") == "HAND001, TEXT001"
    assert "HAND001 six fingers" in failure.get("message") and "TEXT001" not in failure.get("message")
    assert "art/hands/six.png:1,2,3,4: HAND001 six fingers [error]" in failure.text
    error = cases["broken.png"].find("error")
    assert error is not None and error.get("message") == "empty file (0 bytes)"
    warned = cases["meh.png"]
    assert warned.find("failure") is None and "TEXT001" in warned.find("system-out").text
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["profile"] == "strict"


def test_markup_and_control_characters_survive_as_text():
    xml = JunitFormat().render(sample_report())
    text = ET.fromstring(xml).find(".//testcase[@name='meh.png']/system-out").text
    assert "misspelled <'&\"> \ufffdbell" in text


def test_cli_junit_output(tmp_path):
    save_png(tmp_path / "leak.png", scene(96, 64, seed=1), {"parameters": A1111_PARAMETERS})
    save_png(tmp_path / "ok.png", scene(96, 64, seed=2))
    out = tmp_path / "junit.xml"
    proc = run_cli("check", str(tmp_path), "--format", "junit", "--output", str(out), "--profile", "strict",
                   "--select", "META001", "--jobs", "0", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    suite = ET.parse(out).getroot().find("testsuite")
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert len(suite.findall("testcase")) == 2 and len(failed) == 1 and failed[0].endswith("leak.png")
