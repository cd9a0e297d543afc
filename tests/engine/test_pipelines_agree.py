"""The CLI, the Python API and the session are one pipeline: the same images checked through
each give the same report (timings aside). What can fail: two pipelines drifting apart (a
CLI that resolves an option differently, an API that forgets a step, a worker pool whose
results differ from an in-process run)."""
from __future__ import annotations

import pytest

from bench.compare_reports import compare
from checker import check, session
from tests.helpers import ROOT, run_json

GALLERY = "fixtures/gallery"


@pytest.fixture(scope="module")
def cli_report() -> dict:
    _proc, report = run_json(GALLERY, "--no-cache", "--jobs", "2")
    return report


@pytest.mark.slow
def test_the_api_reports_the_gallery_as_the_cli_does(cli_report, monkeypatch):
    monkeypatch.chdir(ROOT)
    api_report = check([GALLERY], cache=False).to_dict()
    assert len(api_report["images"]) == len(cli_report["images"]) > 10
    assert compare(cli_report, api_report) == []


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [0, 2])
def test_the_session_reports_the_gallery_as_the_cli_does(cli_report, monkeypatch, jobs):
    monkeypatch.chdir(ROOT)
    plan, _warnings = session.build_plan([GALLERY], cache=False)
    report = session.run(plan, session.find_inputs([GALLERY], plan), jobs=jobs).to_dict()
    assert len(report["images"]) == len(cli_report["images"])
    assert compare(cli_report, report) == []


def test_compare_reports_sees_a_changed_finding_and_ignores_timings():
    image = {"path": "a.png", "sha256": "0" * 64, "width": 4, "height": 4, "verdict": "warn",
             "findings": [{"code": "X001", "measurements": {"v": 1}}], "timings_ms": {"load": 1.0}}
    before = {"schema_version": "1", "images": [image]}
    slower = {"schema_version": "1", "images": [{**image, "timings_ms": {"load": 9.0}}]}
    changed = {"schema_version": "1",
               "images": [{**image, "findings": [{"code": "X001", "measurements": {"v": 2}}]}]}
    assert compare(before, slower) == []
    assert compare(before, changed) == ["images[a.png].findings[0].measurements.v: 1 != 2"]
    assert compare(before, {"schema_version": "1", "images": []}) == ["images[a.png]: only in the first report"]
