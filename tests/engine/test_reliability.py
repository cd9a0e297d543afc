"""Issue #17, engine side: every input gets a verdict, every report gets written, nothing
read back from the cache or yielded by a plugin is trusted blindly. Each test failed
before its fix."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from checker import cache as result_cache
from checker.config import resolve
from checker.job import build_job
from checker.model import Issue, Region, Severity, Verdict
from checker.rule import Rule
from checker.runner import check_image
from checker.session import run_paths
from fixtures.make_fixtures import save_png
from tests.helpers import ROOT, run_cli


@dataclass(frozen=True)
class Odd:
    what: str = "nan"


def check_odd(ctx, settings: Odd):
    """Test rule: yields what a careless plugin might, chosen by ``what``."""
    if settings.what == "print":
        print("a plugin talking on stdout")
        yield Issue("printed", None, 0.5, {})
    elif settings.what == "nan":
        yield Issue("nan confidence", None, math.nan, {})
    elif settings.what == "inf":
        yield Issue("inf confidence", None, math.inf, {})
    elif settings.what == "none-message":
        yield Issue(None, None, 0.5, {})
    elif settings.what == "bytes-message":
        yield Issue(b"bytes", None, 0.5, {})
    elif settings.what == "float-region":
        yield Issue("float region", Region(1.6, 2.2, 10.7, 5.0), 0.5, {})
    elif settings.what == "nan-region":
        yield Issue("nan region", Region(math.nan, 0, 4, 4), 0.5, {})


ODD = Rule(code="TEST931", name="test.odd", summary="odd issues", check=check_odd, settings=Odd)


def odd_result(tmp_path, what: str):
    image = save_png(tmp_path / "a.png", np.full((20, 30, 3), 90, np.uint8))
    plan = resolve([ODD], {}, cache=False, sets=[("test.odd", "what", what)])
    return check_image(build_job(str(image), plan))


@pytest.mark.parametrize("what", ["nan", "inf", "none-message", "bytes-message", "nan-region"])
def test_a_plugins_malformed_issue_is_that_rules_error_not_invalid_json(tmp_path, what):
    """#17.9: NaN confidence was written as NaN (invalid JSON); a None or bytes message
    crashed the formatter after the run."""
    result = odd_result(tmp_path, what)
    assert result.verdict is Verdict.ERROR
    (finding,) = result.findings
    assert finding.code == "IMG001" and "TEST931" in finding.message and "Issue" in finding.message
    json.loads(json.dumps(result.to_dict(), allow_nan=False))  # strict JSON


def test_a_float_region_is_made_whole_pixels(tmp_path):
    (finding,) = odd_result(tmp_path, "float-region").findings
    region = finding.region
    assert all(isinstance(v, int) for v in (region.x, region.y, region.width, region.height))
    assert (region.x, region.y) == (1, 2) and region.x + region.width >= 12


def test_a_plugins_print_does_not_reach_stdout(tmp_path, capfd):
    """#17.9: a plugin's print() went into `--format json` on stdout."""
    result = odd_result(tmp_path, "print")
    assert [f.message for f in result.findings] == ["printed"]
    out, err = capfd.readouterr()
    assert out == "" and "a plugin talking on stdout" in err


# ----------------------------------------------------------------------------- the cache (#17.8)

def counting_plan(tmp_path):
    from tests.engine.test_cache import COUNTING

    return resolve([COUNTING], {}, profile="strict", cache=True, cache_dir=str(tmp_path / "cache"))


def cache_entries(root: Path) -> list[Path]:
    return sorted(root.glob("v*/*/*/*/*.json"))


@pytest.fixture()
def bright(tmp_path) -> list[str]:
    return [str(save_png(tmp_path / "bright.png", np.full((40, 50, 3), 200, np.uint8)))]


def run_with_deadline(images, plan, seconds: float = 60.0):
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("results", run_paths(images, plan, jobs=0)),
                              daemon=True)
    worker.start()
    worker.join(seconds)
    assert "results" in outcome, "the run hung on a cache entry"
    return outcome["results"]


@pytest.mark.parametrize("damage", ["deep-json", "fifo", "dev-zero", "huge"])
def test_a_hostile_cache_entry_is_ignored_without_hanging_or_a_traceback(tmp_path, bright, damage):
    plan = counting_plan(tmp_path)
    (first,) = run_paths(bright, plan, jobs=0)
    for entry in cache_entries(tmp_path / "cache"):
        entry.unlink()
        if damage == "deep-json":
            entry.write_text("[" * 200_000)
        elif damage == "fifo":
            os.mkfifo(entry)
        elif damage == "dev-zero":
            entry.symlink_to("/dev/zero")
        else:
            entry.write_text(" " * (result_cache.MAX_ENTRY_BYTES + 1) + "{}")
    (again,) = run_with_deadline(bright, plan)
    assert again.findings == first.findings and again.verdict is first.verdict is Verdict.FAIL


def test_an_entry_saying_pass_beside_an_error_finding_still_fails(tmp_path, bright):
    """The verdict is decided from the findings with this run's fail-on, never read back."""
    plan = counting_plan(tmp_path)
    run_paths(bright, plan, jobs=0)
    for entry in cache_entries(tmp_path / "cache"):
        data = json.loads(entry.read_text())
        data["verdict"] = "pass"
        entry.write_text(json.dumps(data))
    (result,) = run_paths(bright, plan, jobs=0)
    assert result.verdict is Verdict.FAIL and result.findings[0].severity is Severity.ERROR


# ----------------------------------------------------------------------------- reports (#17.3, #17.10)

def test_a_symlink_loop_beside_output_still_gives_a_report(tmp_path):
    """#17.3: the output-collision check raised RuntimeError on a symlink loop: no report."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    save_png(folder / "ok.png", np.full((40, 50, 3), 90, np.uint8))
    (folder / "loop.png").symlink_to(folder / "loop.png")
    out = tmp_path / "report.json"
    proc = run_cli("check", str(folder), "--no-cache", "--jobs", "0", "--select", "IMG", "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(out.read_text())
    verdicts = {Path(i["path"]).name: i["verdict"] for i in report["images"]}
    assert sorted(verdicts) == ["loop.png", "ok.png"]
    assert verdicts["loop.png"] == "error" and verdicts["ok.png"] != "error"


def test_a_report_that_cannot_be_written_leaves_the_old_one_whole(tmp_path, monkeypatch):
    """#17.10: a failed write truncated the previous report and ended in a traceback."""
    import checker.writing
    from checker.writing import ReportWriteError, write_report

    target = tmp_path / "report.json"
    target.write_text('{"old": true}')
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fd, mode):
            self.handle = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[:10])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(checker.writing.os, "fdopen", FullDisk)
    with pytest.raises(ReportWriteError, match="report.json.*No space left"):
        write_report(target, "a new report, longer than what fits")
    monkeypatch.undo()
    assert target.read_text() == '{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"], "no temporary file left"
    write_report(target, b"\x00binary")
    assert target.read_bytes() == b"\x00binary"


# ----------------------------------------------------------------------------- nothing left out (#17.5)

def test_a_pipe_named_on_the_command_line_is_an_error_of_the_report(tmp_path):
    """#17.5: a FIFO passed directly gave "cannot list folder", 0 images and exit 0."""
    fifo = tmp_path / "incoming.png"
    os.mkfifo(fifo)
    proc = run_cli("check", str(fifo), "--no-cache", "--jobs", "0", "--format", "json", "--no-progress")
    assert proc.returncode == 1, proc.stderr
    (image,) = json.loads(proc.stdout)["images"]
    assert image["path"] == str(fifo) and image["verdict"] == "error"
    assert "not a regular file" in image["findings"][0]["message"]


def test_a_folder_that_cannot_be_listed_is_an_error_of_the_report(tmp_path, monkeypatch):
    """#17.5: an unreadable subfolder only warned; its images were silently left out."""
    from checker import check

    locked = tmp_path / "art" / "locked"
    locked.mkdir(parents=True)
    save_png(tmp_path / "art" / "ok.png", np.full((200, 300, 3), 90, np.uint8))
    save_png(locked / "hidden.png", np.full((200, 300, 3), 90, np.uint8))
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = check([tmp_path / "art"], cache=False, select=["IMG"])
    verdicts = {Path(r.path).name: r.verdict for r in report.images}
    assert verdicts["locked"] is Verdict.ERROR and verdicts["ok.png"] is not Verdict.ERROR
    (locked_result,) = [r for r in report.images if Path(r.path).name == "locked"]
    assert "cannot list folder" in locked_result.findings[0].message and report.exit_code == 1


def test_a_missing_path_given_to_the_api_is_an_error_not_an_empty_pass(tmp_path):
    from checker import check

    report = check([tmp_path / "nowhere.png"], cache=False)
    (result,) = report.images
    assert result.verdict is Verdict.ERROR and "no such file" in result.findings[0].message
    assert report.exit_code == 1


# ----------------------------------------------------------------------------- file names (#17.2)

@pytest.fixture()
def latin1_named(tmp_path) -> Path:
    """A folder holding an image whose file name is not UTF-8 (Latin-1 "café.png"), small
    enough for IMG002 to name it in every format."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    save_png(folder / "plain.png", np.full((40, 50, 3), 90, np.uint8))
    os.rename(folder / "plain.png", os.path.join(os.fsencode(folder), b"caf\xe9.png"))
    return folder


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "html", "text"])
def test_a_file_name_that_is_not_utf8_does_not_lose_the_report(tmp_path, latin1_named, fmt):
    """#17.2: every --output format ended in UnicodeEncodeError with a 0-byte file."""
    out = tmp_path / f"report.{fmt}"
    proc = run_cli("check", str(latin1_named), "--no-cache", "--jobs", "0", "--select", "IMG",
                   "--format", fmt, "-o", str(out))
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    text = out.read_bytes().decode("utf-8")  # valid UTF-8
    assert "caf" in text
    if fmt in ("json", "sarif"):
        json.loads(text)


def test_json_on_stdout_is_valid_utf8_and_gives_the_file_name_back(latin1_named):
    proc = subprocess.run([sys.executable, "-m", "checker.cli", "check", str(latin1_named), "--no-cache",
                           "--jobs", "0", "--select", "IMG", "--format", "json", "--no-progress"],
                          capture_output=True, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout.decode("utf-8"))
    (image,) = report["images"]
    assert os.fsencode(image["path"]).endswith(b"caf\xe9.png")  # the escape reads back as the name
