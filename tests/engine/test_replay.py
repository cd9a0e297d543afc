"""Replaying an unchanged run (checker/replay.py, issue #19's warm re-run).

The command runs in a subprocess through its real entry point (checker.launch); a small
wrapper notes, as the process ends, whether the engine's command line was imported (a run)
or not (a replay), in the file named by NOTICER_TEST_TRACE (the same file for every run of a
test: the environment is part of what a replay must match).

A run is recorded only when the files it stamps had not changed for 3 s
(checker.replay.SETTLED_NS): the tests wait that long after writing files whose run must be
recorded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from checker import replay
from tests.helpers import without_timings

WRAPPER = """
import atexit, os, sys
sys.argv = ["noticer", *sys.argv[1:]]
from checker import launch

def note():
    with open(os.environ["NOTICER_TEST_TRACE"], "w") as fh:
        fh.write("run" if "checker.cli" in sys.modules else "replay")

atexit.register(note)  # the command ends through its atexit handlers (launch.exit_now)
launch.main()
"""
CHEAP = ("--select", "IMG,META", "--jobs", "0", "--no-progress")


def picture(path: Path, side: int = 96, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path)
    return path


class Noticer:
    def __init__(self, folder: Path, trace: Path) -> None:
        self.folder, self.trace = folder, trace

    def __call__(self, *args: str, env: dict[str, str] | None = None):
        self.trace.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-c", WRAPPER, "check", *args], cwd=self.folder,
                              env={**os.environ, "NOTICER_TEST_TRACE": str(self.trace), **(env or {})},
                              capture_output=True, timeout=300)
        assert proc.returncode in (0, 1), proc.stderr.decode()
        return proc, self.trace.read_text()


def settle() -> None:
    time.sleep(replay.SETTLED_NS / 1e9 + 0.2)


@pytest.fixture
def noticer(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    picture(work / "a.png", seed=1)
    picture(work / "b.png", seed=2)
    return Noticer(work, tmp_path / "trace")


@pytest.fixture
def settled_noticer(noticer):
    settle()
    return noticer


def test_an_unchanged_command_is_replayed_with_the_same_output(noticer):
    (noticer.folder / "again").symlink_to(".")  # a folder walked twice: a note on stderr
    settle()
    first, how = noticer(".", "--format", "json", *CHEAP)
    assert how == "run"
    assert b"repeated folder" in first.stderr
    assert list((noticer.folder / ".noticer_cache" / "replay").glob("*.json")), "the run was recorded"
    again, how = noticer(".", "--format", "json", *CHEAP)
    assert how == "replay"
    assert (again.stdout, again.stderr, again.returncode) == (first.stdout, first.stderr, first.returncode)
    assert [i["path"] for i in json.loads(again.stdout)["images"]] == ["a.png", "b.png"]


def test_files_changed_in_the_last_seconds_are_not_taken_for_unchanged(noticer):
    """Written just now: a rewrite within the file system's clock step could keep the stamp."""
    first, how = noticer(".", *CHEAP)
    again, how_again = noticer(".", *CHEAP)
    assert (how, how_again) == ("run", "run") and again.stdout == first.stdout
    settle()
    assert [noticer(".", *CHEAP)[1] for _ in range(2)] == ["run", "replay"]


def test_a_replay_writes_the_report_where_this_command_asks(settled_noticer):
    noticer = settled_noticer
    first, _ = noticer(".", "-o", "out/first.json", *CHEAP)
    second, how = noticer(".", "--output=elsewhere/second.json", *CHEAP)
    assert how == "replay"
    assert (noticer.folder / "elsewhere" / "second.json").read_bytes() == \
        (noticer.folder / "out" / "first.json").read_bytes()
    assert second.stderr.decode().strip() == "noticer: wrote json report to elsewhere/second.json"
    assert first.stderr.decode().strip() == "noticer: wrote json report to out/first.json"
    _, how = noticer(".", "-o", "out/first.html", *CHEAP)
    assert how == "run", "another extension is another format"


def _edit_image(folder: Path) -> None:
    picture(folder / "a.png", side=20, seed=1)  # too small: IMG002


def _add_image(folder: Path) -> None:
    (folder / "sub").mkdir()
    picture(folder / "sub" / "c.png", seed=3)


def _remove_image(folder: Path) -> None:
    (folder / "b.png").unlink()


def _add_sidecar(folder: Path) -> None:
    (folder / "a.txt").write_text("a poster that says HELLO")


def _add_config(folder: Path) -> None:
    (folder / "noticer.toml").write_text('exclude = ["b.png"]\n')


@pytest.mark.parametrize("change, changes_report", [
    (_edit_image, True), (_add_image, True), (_remove_image, True), (_add_sidecar, False), (_add_config, True),
], ids=["image edited", "image added", "image removed", "sidecar text added", "config file added"])
def test_a_change_to_what_the_run_read_runs_it_again(settled_noticer, change, changes_report):
    noticer = settled_noticer
    before, how = noticer(".", "--format", "json", *CHEAP)
    assert how == "run" and list((noticer.folder / ".noticer_cache" / "replay").glob("*.json"))
    change(noticer.folder)
    after, how = noticer(".", "--format", "json", *CHEAP)
    assert how == "run"
    found = [without_timings(json.loads(p.stdout)) for p in (before, after)]
    assert (found[0] != found[1]) == changes_report


def test_records_live_in_the_cache_beside_the_config_found_or_named(tmp_path):
    project = tmp_path / "project"
    (project / "art").mkdir(parents=True)
    picture(project / "art" / "a.png", seed=1)
    (project / "noticer.toml").write_text('profile = "strict"\n')
    (tmp_path / "elsewhere.toml").write_text('profile = "lenient"\n')
    settle()
    inside = Noticer(project / "art", tmp_path / "trace")  # the config is one folder up
    first, how = inside(".", *CHEAP)
    assert how == "run" and list((project / ".noticer_cache" / "replay").glob("*.json"))
    again, how = inside(".", *CHEAP)
    assert how == "replay" and again.stdout == first.stdout and b"profile strict" in again.stdout
    named, how = inside(".", "--config", "../../elsewhere.toml", *CHEAP)
    assert how == "run" and b"profile lenient" in named.stdout
    assert list((tmp_path / ".noticer_cache" / "replay").glob("*.json")), "beside the config named"
    assert inside(".", "--config", "../../elsewhere.toml", *CHEAP)[1] == "replay"
    (project / "noticer.toml").write_text('profile = "lenient"\n')
    assert inside(".", *CHEAP)[1] == "run", "the config file changed"


def test_another_environment_or_command_line_runs_again(settled_noticer):
    noticer = settled_noticer
    noticer(".", *CHEAP)
    assert noticer(".", *CHEAP, env={"NOTICER_SOMETHING": "1"})[1] == "run"
    assert noticer(".", "--profile", "strict", *CHEAP)[1] == "run"
    assert noticer(".", "--no-cache", *CHEAP)[1] == "run"
    assert noticer(".", "--no-cache", *CHEAP)[1] == "run", "--no-cache never replays"


def test_a_run_with_an_unreadable_image_is_not_recorded(noticer):
    (noticer.folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    settle()
    first, _ = noticer(".", *CHEAP)
    assert b"IMG001" in first.stdout
    again, how = noticer(".", *CHEAP)
    assert how == "run" and again.stdout == first.stdout


def test_clean_removes_the_records_and_a_damaged_record_is_ignored(settled_noticer):
    noticer = settled_noticer
    first, _ = noticer(".", *CHEAP)
    records = noticer.folder / ".noticer_cache" / "replay"
    for record in records.glob("*.json"):
        record.write_text(record.read_text()[:-40])
    damaged, how = noticer(".", *CHEAP)
    assert how == "run" and damaged.stdout == first.stdout
    assert noticer(".", *CHEAP)[1] == "replay"
    subprocess.run([sys.executable, "-m", "checker", "clean"], cwd=noticer.folder, check=True, capture_output=True)
    assert not records.exists()
    assert noticer(".", *CHEAP)[1] == "run"


# ----------------------------------------------------------------------------- the parts

@pytest.mark.parametrize("argv, expected", [
    (["check", ".", "-o", "r.json"], "r.json"),
    (["check", ".", "-or.json"], "r.json"),
    (["check", ".", "--output", "a.json", "--output=b.sarif"], "b.sarif"),
    (["check", "."], None),
])
def test_the_output_option_is_read_as_click_reads_it(argv, expected):
    assert replay.output_of(argv) == expected


def test_the_key_ignores_where_the_report_goes_but_not_its_format(tmp_path):
    key = replay.command_key(["check", ".", "-o", "a/r.json"], str(tmp_path))
    assert key == replay.command_key(["check", ".", "--output=b/other.json"], str(tmp_path))
    assert key != replay.command_key(["check", ".", "-o", "a/r.html"], str(tmp_path))
    assert key != replay.command_key(["check", ".", "-o", "a/r.json"], str(tmp_path / "x"))
    assert replay.command_key(["check", "--", "-o"], str(tmp_path)) is None


def test_a_stamped_file_or_folder_that_changes_is_seen(tmp_path):
    watched = tmp_path / "words.txt"
    watched.write_text("one")
    folder = tmp_path / "pkg"
    folder.mkdir()
    deps = replay.Dependencies((str(watched), str(tmp_path / "absent.toml")), (str(folder),), (), ())
    stamped = deps.stamp()
    assert replay.unchanged(stamped)
    (folder / "new.py").write_text("")
    assert not replay.unchanged(stamped)
    stamped = deps.stamp()
    (tmp_path / "absent.toml").write_text("")
    assert not replay.unchanged(stamped)
    stamped = deps.stamp()
    watched.write_text("two")
    assert not replay.unchanged(stamped)


def test_the_code_a_result_depends_on_is_stamped():
    from checker.cache import result_dependencies
    from checker.session import build_plan

    plan, _ = build_plan([])
    files, folders = result_dependencies(plan)
    names = {Path(f).relative_to(Path(__file__).resolve().parents[2]).as_posix() for f in files
             if "/rules/" in f or "/checker/" in f}
    assert {"checker/cache.py", "checker/runner.py", "rules/text/ppocr.py", "rules/hands/__init__.py"} <= names
    assert any(n.startswith("rules/text/models/") for n in names), "the models the text rules ship"
    assert any(Path(f).name == "text" for f in folders)
