"""A bounded fuzz run (issue #17): a few hundred mutated files made from the project's own
generated pictures (fixtures/fuzz_inputs.py, fixed seed), checked by the real CLI with
worker processes and in-process. Every file gets a verdict, nothing crashes, the report is
valid JSON, stderr holds only noticer's lines, and no input is changed.

The set starts with the files that once broke noticer (fixtures.fuzz_inputs.hostile_files);
on the code before issue #17's fixes this test failed: with workers, IMG001 "worker ...
crashed (exit code -6)" (the 40000x64 strip), "internal error ... IndexError" (a truncated
GIF), META001/TEXT003 "crashed" (damaged metadata), and `libpng warning` on stderr; with
``--jobs 0`` the whole run died (exit 134, no report). "crashes" counts those kinds of IMG001
(a worker or rule that crashed, a time limit, an internal error).

The tallies are printed (also without ``-s``) for the notes:
``FUZZ jobs=2: files 300, error 175, unreadable 175, pass 77, warn 47, fail 1, crashes 0, 20.0 s``.
A larger run by hand: ``python -m fixtures.fuzz_inputs /tmp/fuzz --count 2000 --seed 23`` and
``noticer check /tmp/fuzz --format json --no-cache``.
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from fixtures.fuzz_inputs import make_fuzz_inputs
from tests.helpers import run_cli

COUNT, SEED = 300, 17
CRASH_WORDS = ("crashed", "time limit", "internal error", "worker process")


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    make_fuzz_inputs(folder, COUNT, SEED)
    return folder


def fingerprint(folder: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(folder.iterdir()):
        st = path.stat()
        out[path.name] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def tallies(report: dict) -> dict[str, int]:
    verdicts = collections.Counter(image["verdict"] for image in report["images"])
    img001 = [f["message"] for image in report["images"] for f in image["findings"] if f["code"] == "IMG001"]
    return {"files": len(report["images"]), "error": verdicts["error"],
            "unreadable": sum(m.startswith("unreadable image") for m in img001),
            "pass": verdicts["pass"], "warn": verdicts["warn"], "fail": verdicts["fail"],
            "crashes": sum(any(word in m for word in CRASH_WORDS) for m in img001)}


@pytest.mark.parametrize("jobs", ["2", "0"])
def test_every_fuzzed_file_gets_a_verdict_and_nothing_breaks(fuzz_folder, jobs, capsys):
    names = sorted(p.name for p in fuzz_folder.iterdir())
    assert len(names) == COUNT
    before = fingerprint(fuzz_folder)
    started = time.monotonic()
    proc = run_cli("check", fuzz_folder, "--format", "json", "--no-progress", "--no-cache", "--jobs", jobs,
                   "--timeout", "60", timeout=600)
    elapsed = time.monotonic() - started
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)  # stdout is one valid JSON document
    counts = tallies(report)
    with capsys.disabled():
        print(f"\nFUZZ jobs={jobs}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f", {elapsed:.1f} s")
    reported = sorted(Path(image["path"]).name for image in report["images"])
    assert reported == names, "a file is missing from the report, or reported twice"
    assert all(image["verdict"] in ("pass", "warn", "fail", "error") for image in report["images"])
    crashes = [(image["path"], f["message"]) for image in report["images"] for f in image["findings"]
               if f["code"] == "IMG001" and any(word in f["message"] for word in CRASH_WORDS)]
    assert crashes == []
    foreign = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("noticer")]
    assert foreign == [], foreign[:10]
    assert fingerprint(fuzz_folder) == before, "an input file was changed"
    assert not [n for n in os.listdir(fuzz_folder) if n not in before], "something was written among the inputs"
    # the set is hostile but not hopeless: many files still decode and go through every rule
    assert counts["pass"] + counts["warn"] + counts["fail"] >= COUNT // 4


def test_the_fuzz_set_is_the_same_for_the_same_seed(tmp_path):
    a = make_fuzz_inputs(tmp_path / "a", 40, 5)
    b = make_fuzz_inputs(tmp_path / "b", 40, 5)
    c = make_fuzz_inputs(tmp_path / "c", 40, 6)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in c]
