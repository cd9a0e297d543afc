"""The command line as a user meets it: commands, exit codes, text output, config files."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from checker import __version__
from checker.discovery import discover_rules
from checker.rule import DOC_SECTIONS
from fixtures.make_fixtures import A1111_PARAMETERS, save_png, scene
from tests.helpers import ROOT, run_cli, run_json, validate_report, without_timings


@pytest.fixture()
def folder(tmp_path):
    save_png(tmp_path / "clean.png", scene(seed=1))
    save_png(tmp_path / "leak.png", scene(seed=2), {"parameters": A1111_PARAMETERS})
    save_png(tmp_path / "tiny.png", scene(40, 30, seed=3))
    return tmp_path


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_rules_lists_every_discovered_rule():
    proc = run_cli("rules")
    assert proc.returncode == 0
    for rule in discover_rules().rules:
        assert re.search(rf"^{rule.code}\s+{re.escape(rule.name)}\s", proc.stdout, re.M)


def test_every_rule_documents_the_fixed_sections():
    for rule in discover_rules().rules:
        sections = rule.doc_sections()
        missing = [s for s in DOC_SECTIONS if not sections.get(s)]
        assert not missing, f"{rule.code} lacks doc sections {missing}"


def test_explain_prints_docs_and_per_profile_settings():
    proc = run_cli("explain", "IMG002")
    assert proc.returncode == 0
    assert "What it detects" in proc.stdout and "Known limits" in proc.stdout
    assert re.search(r"image\.too-small\.min_side\s+64\s+32", proc.stdout)
    bad = run_cli("explain", "NOPE999")
    assert bad.returncode == 2 and "valid codes" in bad.stderr
    family = run_cli("explain", "text")  # a family or a code prefix explains each of its rules
    assert family.returncode == 0
    assert [line.split()[0] for line in family.stdout.splitlines() if re.match(r"TEXT00\d ", line)] == \
        ["TEXT001", "TEXT002", "TEXT003", "TEXT004"]


def test_strict_is_never_milder_than_lenient():
    """A finding strict reports is at least as severe as in lenient: HAND001 was an error in
    lenient and a warning in strict, so a strict pre-commit hook let a six-finger hand through
    (found by a review)."""
    from checker.config import resolve

    rules = discover_rules().rules
    order = {"info": 0, "warning": 1, "error": 2}
    lenient = {rp.rule.code: rp.severity.value for rp in resolve(rules, {}, profile="lenient", select=["ALL"]).rules}
    strict = {rp.rule.code: rp.severity.value for rp in resolve(rules, {}, profile="strict", select=["ALL"]).rules}
    assert [code for code in lenient if order[strict[code]] < order[lenient[code]]] == []
    assert strict["HAND001"] == "error"


def test_profiles_side_by_side():
    proc = run_cli("profiles")
    assert proc.returncode == 0
    header = proc.stdout.splitlines()[0].split()
    assert header[:3] == ["setting", "lenient", "strict"]
    assert re.search(r"metadata\.generation-info\.severity\s+warning\s+error", proc.stdout)


def test_profiles_shows_custom_profiles(tmp_path):
    cfg = tmp_path / "noticer.toml"
    cfg.write_text('[profiles.gallery]\nextends = "strict"\n[profiles.gallery.rules."image.too-small"]\nmin_side = 200\n')
    proc = run_cli("profiles", "--config", cfg)
    assert re.search(r"image\.too-small\.min_side\s+64\s+32\s+200", proc.stdout), proc.stdout


def test_text_output_lines_and_summary(folder):
    proc = run_cli("check", folder, "--no-progress", "--jobs", "0")
    assert proc.returncode == 0  # lenient: metadata and small size are warnings
    lines = proc.stdout.strip().splitlines()
    assert any(re.fullmatch(rf"{re.escape(str(folder / 'leak.png'))}:-: META001 .+ \[warning\]", l) for l in lines)
    assert any(re.fullmatch(rf"{re.escape(str(folder / 'tiny.png'))}:-: IMG002 .+ \[warning\]", l) for l in lines)
    assert lines[-1].startswith("3 images checked with profile lenient: 1 pass, 2 warn, 0 fail, 0 error")
    assert "\033[" not in proc.stdout  # no colour when not a terminal


def test_fail_on_and_strict_profile_set_the_exit_code(folder):
    assert run_cli("check", folder, "--jobs", "0", "--select", "IMG,META", "--fail-on", "warning").returncode == 1
    proc, report = run_json(folder, "--jobs", "0", "--select", "IMG,META", "--profile", "strict")
    assert proc.returncode == 1  # META001 is an error under strict
    verdicts = {i["path"].rsplit("/", 1)[1]: i["verdict"] for i in report["images"]}
    assert verdicts == {"clean.png": "pass", "leak.png": "fail", "tiny.png": "warn"}


def test_select_ignore_and_set_on_the_command_line(folder):
    _, report = run_json(folder, "--jobs", "0", "--select", "IMG", "--set", "image.too-small.min_side=500")
    assert set(report["profile"]["settings"]) == {"image.unreadable", "image.too-small"}
    assert all(f["code"] == "IMG002" for i in report["images"] for f in i["findings"])
    assert report["summary"]["warn"] == 3
    _, report = run_json(folder, "--jobs", "0", "--select", "IMG,META", "--ignore", "META001,IMG002")
    assert report["summary"]["pass"] == 3


def test_config_file_is_found_from_the_checked_path(folder):
    (folder / "pyproject.toml").write_text('[tool.noticer]\nprofile = "strict"\nselect = ["IMG", "META"]\n'
                                           'ignore = ["IMG002"]\n'
                                           '[tool.noticer.per-file-ignores]\n"leak.png" = ["META001"]\n')
    proc, report = run_json(folder, "--jobs", "0")
    assert report["profile"]["name"] == "strict"
    assert report["summary"] == {"images": 3, "pass": 3, "warn": 0, "fail": 0, "error": 0}


@pytest.mark.parametrize("args,fragment", [
    (["--profile", "paranoid"], "unknown profile 'paranoid'"),
    (["--select", "XYZ123"], "unknown rule selector"),
    (["--set", "image.too-small.tiny=1"], "unknown setting 'tiny'"),
    (["--set", "image.too-small.min_side=big"], "expected a whole number"),
    (["--format", "yaml"], "unknown format 'yaml'"),
])
def test_usage_errors_exit_2_with_a_clear_message(folder, args, fragment):
    proc = run_cli("check", folder, "--jobs", "0", *args)
    assert proc.returncode == 2
    assert fragment in proc.stderr


def test_bad_config_file_exits_2(folder):
    (folder / "noticer.toml").write_text('profile = "strict"\nfial-on = "warning"\n')
    proc = run_cli("check", folder, "--jobs", "0")
    assert proc.returncode == 2 and "fial-on" in proc.stderr and "fail-on" in proc.stderr


def test_missing_path_exits_2(tmp_path):
    proc = run_cli("check", tmp_path / "nowhere")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_output_file_and_schema(folder, tmp_path):
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    proc = run_cli("check", folder, "--jobs", "0", "--format", "json", "--output", out)
    assert proc.returncode == 0 and proc.stdout == ""
    report = json.loads(out.read_text())
    validate_report(report)
    leak = next(i for i in report["images"] if i["path"].endswith("leak.png"))
    assert leak["findings"][0]["measurements"]["quoted_text"] == ["FRESH BREAD"]
    assert len(leak["sha256"]) == 64 and leak["width"] == 512 and leak["height"] == 384


def test_output_into_a_new_folder_in_the_format_its_extension_names(folder, tmp_path):
    """Found by a review: -o into a missing folder crashed after the whole run (exit 1), and
    -o report.json without --format wrote the text format into it."""
    target = tmp_path / "reports" / "today" / "report.json"
    proc = run_cli("check", folder, "--no-progress", "--jobs", "0", "--select", "META001", "-o", target)
    assert proc.returncode in (0, 1), proc.stderr
    validate_report(json.loads(target.read_text(encoding="utf-8")))
    sarif = tmp_path / "r.sarif"
    run_cli("check", folder, "--no-progress", "--jobs", "0", "--select", "META001", "-o", sarif)
    assert json.loads(sarif.read_text(encoding="utf-8"))["version"] == "2.1.0"
    (tmp_path / "file").write_text("x")
    bad = run_cli("check", folder, "--no-progress", "--jobs", "0", "-o", tmp_path / "file" / "r.json")
    assert bad.returncode == 2 and "cannot write the report" in bad.stderr


def test_schema_rejects_a_malformed_report(folder):
    import jsonschema

    _, report = run_json(folder, "--jobs", "0")
    report["images"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)


def test_gallery_report_is_stable_across_runs():
    gallery = ROOT / "fixtures" / "gallery"
    _, first = run_json(gallery, "--jobs", "2", "--no-cache")
    _, second = run_json(gallery, "--jobs", "1", "--no-cache")
    validate_report(first)
    assert without_timings(first) == without_timings(second)
    assert first["summary"]["images"] == len([p for p in gallery.iterdir() if p.suffix in (".png", ".jpg")])
    assert first["summary"]["error"] >= 1 and first["summary"]["warn"] >= 1


def test_python_api_gives_the_same_report_as_the_cli(folder):
    from checker import check

    report = check(folder, profile="strict")
    _, cli_report = run_json(folder, "--jobs", "0", "--profile", "strict")
    assert without_timings(report.to_dict()) == without_timings(cli_report)
    assert report.exit_code == 1 and report.summary["fail"] == 1


def test_exactly_one_opencv_distribution_is_installed():
    from checker.doctor import opencv_distributions

    assert opencv_distributions() == ["opencv-contrib-python"]


def test_file_urls_are_listed_and_read_like_local_paths(folder):
    pytest.importorskip("fsspec", reason="URL inputs need the noticer[dask] extra (fsspec)")
    _, local = run_json(folder, "--jobs", "0", "--select", "IMG,META", "--no-cache")
    _, remote = run_json(f"file://{folder}", "--jobs", "1", "--select", "IMG,META", "--no-cache")
    assert [i["path"] for i in remote["images"]] == [f"file://{i['path']}" for i in local["images"]]
    strip = lambda rep: [(i["verdict"], i["sha256"], [f["code"] for f in i["findings"]]) for i in rep["images"]]  # noqa: E731
    assert strip(remote) == strip(local)


def test_missing_scheduler_and_missing_filesystem_are_clear_usage_errors(folder):
    proc = run_cli("check", folder, "--executor", "dask", "--jobs", "0")
    assert proc.returncode == 2 and "--scheduler" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("check", "s3://no-such-bucket/images/", "--jobs", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
