"""The result cache: reuse only what is provably the same, never trust what is read back."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from checker import cache as result_cache
from checker.config import resolve
from checker.model import Issue, Region, Severity, Verdict
from checker.rule import Rule
from checker.session import run_paths
from fixtures.make_fixtures import A1111_PARAMETERS, save_png, scene
from tests.helpers import run_cli, without_timings

CALLS: list[str] = []


@dataclass(frozen=True)
class CountingSettings:
    threshold: int = 100


def check_counting(ctx, settings: CountingSettings):
    """
    What it detects
        Test rule: counts its calls and flags images whose mean is above `threshold`.

    Why people notice
        They do not; it is for tests.

    Settings
        threshold: mean gray level that is flagged.

    Known limits
        None.
    """
    CALLS.append(ctx.path.name)
    mean = float(ctx.gray.mean())
    if mean > settings.threshold:
        yield Issue(f"mean {mean:.1f} above {settings.threshold}", region=Region(1, 2, 30, 40),
                    confidence=0.75, measurements={"mean": mean, "text": "<b>x</b>"})


COUNTING = Rule(code="TEST901", name="test.counting", summary="counts calls", check=check_counting,
                severity=Severity.WARNING, settings=CountingSettings,
                profiles={"strict": {"threshold": 50, "severity": "error"}})


def check_crashing(ctx, settings):
    """
    What it detects
        Test rule that always raises.

    Why people notice
        They do not.

    Settings
        None.

    Known limits
        None.
    """
    CALLS.append("crash:" + ctx.path.name)
    raise RuntimeError("boom")


CRASHING = Rule(code="TEST902", name="test.crashing", summary="always crashes", check=check_crashing)


def plan_for(tmp_path: Path, profile: str = "lenient", rules=(COUNTING,), **options):
    return resolve(list(rules), {}, profile=profile, cache=True, cache_dir=str(tmp_path / "cache"), **options)


@pytest.fixture()
def images(tmp_path: Path) -> list[str]:
    folder = tmp_path / "images"
    folder.mkdir()
    bright = np.full((64, 80, 3), 200, np.uint8)
    dark = np.full((64, 80, 3), 20, np.uint8)
    return [str(save_png(folder / "bright.png", bright)), str(save_png(folder / "dark.png", dark)),
            str(save_png(folder / "scene.png", scene(96, 64, seed=4)))]


def entries(root: Path) -> list[Path]:
    return sorted(root.glob("v*/*/*/*/*.json"))  # v2/<family>/<run>/<key[:2]>/<key>.json


def strip_timings(results):
    return [(r.path, r.sha256, r.verdict, r.findings) for r in results]


def test_second_run_reuses_every_result_and_checks_nothing(tmp_path, images):
    plan = plan_for(tmp_path)
    CALLS.clear()
    first = run_paths(images, plan, jobs=0)
    assert sorted(CALLS) == ["bright.png", "dark.png", "scene.png"]
    assert len(entries(tmp_path / "cache")) == 3
    CALLS.clear()
    second = run_paths(images, plan, jobs=0)
    assert CALLS == []
    assert strip_timings(second) == strip_timings(first)
    assert any(r.findings for r in second)  # the reused findings are real findings
    assert [r.to_dict() for r in second] == [r.to_dict() for r in first], "timings kept as measured"


def test_changed_content_settings_or_profile_miss(tmp_path, images):
    run_paths(images, plan_for(tmp_path), jobs=0)
    CALLS.clear()
    save_png(Path(images[1]), np.full((64, 80, 3), 30, np.uint8))  # new bytes for dark.png
    run_paths(images, plan_for(tmp_path), jobs=0)
    assert CALLS == ["dark.png"]
    CALLS.clear()
    run_paths(images, plan_for(tmp_path, sets=[("test.counting", "threshold", 10)]), jobs=0)
    assert len(CALLS) == 3
    CALLS.clear()
    strict = run_paths(images, plan_for(tmp_path, profile="strict"), jobs=0)
    assert len(CALLS) == 3
    assert {f.severity for r in strict for f in r.findings} == {Severity.ERROR}


def test_editing_a_file_a_setting_names_changes_the_family_fingerprint(tmp_path):
    """TEXT001's words file: adding a word to it must not leave the old findings cached."""
    from rules.text import TEXT001

    words = tmp_path / "words.txt"
    words.write_text("noticer\n", encoding="utf-8")
    plan = resolve([TEXT001], {}, sets=[("text.misspelled", "words_file", str(words))])
    before = result_cache.family_fingerprints(plan)
    assert result_cache.family_fingerprints(plan) == before and list(before) == ["rules.text"]
    words.write_text("noticer\nzimage\n", encoding="utf-8")
    assert result_cache.family_fingerprints(plan) != before


def test_a_rule_packages_data_files_are_part_of_its_sources():
    import rules.text  # noqa: F401  (the module must be loaded for its sources to be found)

    sources = result_cache.family_sources("rules.text")
    assert any(s.endswith("rules/text/__init__.py") for s in sources)
    assert any(s.endswith("rules/text/words.py") for s in sources)
    assert any(s.endswith("rules/text/data/words_en.txt") for s in sources)


def test_a_large_file_is_known_by_size_and_time_and_a_small_one_by_content(tmp_path, monkeypatch):
    """Found by a review: a model shipped in a rule package's data/ was read whole, into
    memory, on every run to make the results' key."""
    monkeypatch.setattr(result_cache, "DIGEST_MAX_BYTES", 1000)
    small, large = tmp_path / "words.txt", tmp_path / "model.onnx"
    small.write_bytes(b"x" * 1000)
    large.write_bytes(b"x" * 1001)
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: (opened.append(str(path)), real_open(path, *a, **k))[1])
    digest = result_cache.file_digest.__wrapped__
    assert digest(str(small)) == hashlib.sha256(b"x" * 1000).hexdigest()
    before = digest(str(large))
    assert opened == [str(small)]  # the large one is not read
    os.utime(large, ns=(0, 10**9))
    assert digest(str(large)) != before  # but an edit (a new modification time) changes its key


def test_severity_and_rule_set_are_part_of_the_key(tmp_path, images):
    run_paths(images, plan_for(tmp_path), jobs=0)
    CALLS.clear()
    run_paths(images, plan_for(tmp_path, sets=[("test.counting", "severity", "error")]), jobs=0)
    assert len(CALLS) == 3
    CALLS.clear()
    run_paths(images, plan_for(tmp_path, rules=(COUNTING, CRASHING), select=["TEST901"]), jobs=0)
    assert CALLS == [], "a rule that does not run does not change the key"


def test_renamed_copy_hits_and_reports_this_runs_path(tmp_path, images):
    plan = plan_for(tmp_path)
    run_paths(images, plan, jobs=0)
    copy = tmp_path / "elsewhere" / "renamed.png"
    copy.parent.mkdir()
    copy.write_bytes(Path(images[0]).read_bytes())
    CALLS.clear()
    (result,) = run_paths([str(copy)], plan, jobs=0)
    assert CALLS == []
    assert result.path == str(copy)
    assert result.verdict is Verdict.WARN


def test_sidecar_text_is_part_of_the_key(tmp_path, images):
    plan = plan_for(tmp_path)
    run_paths(images, plan, jobs=0)
    Path(images[2]).with_suffix(".txt").write_text("a red sign saying OPEN")
    CALLS.clear()
    run_paths(images, plan, jobs=0)
    assert CALLS == ["scene.png"]


@pytest.mark.parametrize("damage", [
    b"",  # empty file
    b"\x00\xff not json",
    b'{"format": 2, "key": "someone-else", "family": "tests"}',  # valid JSON, foreign key
    b'{"format": 999}',  # another format version
    b"[1, 2, 3]",
])
def test_corrupt_or_foreign_entries_are_ignored_and_rewritten(tmp_path, images, damage):
    plan = plan_for(tmp_path)
    first = run_paths(images, plan, jobs=0)
    for entry in entries(tmp_path / "cache"):
        entry.write_bytes(damage)
    CALLS.clear()
    second = run_paths(images, plan, jobs=0)
    assert sorted(CALLS) == ["bright.png", "dark.png", "scene.png"]
    assert strip_timings(second) == strip_timings(first)
    for entry in entries(tmp_path / "cache"):
        assert json.loads(entry.read_bytes())["format"] == result_cache.ENTRY_FORMAT
    CALLS.clear()
    run_paths(images, plan, jobs=0)
    assert CALLS == []


def test_entry_with_the_right_key_but_broken_fields_is_not_trusted(tmp_path, images):
    plan = plan_for(tmp_path)
    run_paths(images, plan, jobs=0)
    for entry in entries(tmp_path / "cache"):
        data = json.loads(entry.read_text())
        data["image"]["width"] = "wide"
        entry.write_text(json.dumps(data))
    CALLS.clear()
    results = run_paths(images, plan, jobs=0)
    assert len(CALLS) == 3
    assert {r.verdict for r in results} <= set(Verdict)


def test_errors_are_not_cached(tmp_path, images):
    plan = plan_for(tmp_path, rules=(COUNTING, CRASHING))
    CALLS.clear()
    results = run_paths(images, plan, jobs=0)
    assert {r.verdict for r in results} == {Verdict.ERROR}
    assert entries(tmp_path / "cache") == []
    CALLS.clear()
    run_paths(images, plan, jobs=0)
    assert len([c for c in CALLS if c.startswith("crash:")]) == 3


def test_no_cache_writes_nothing(tmp_path, images):
    plan = resolve([COUNTING], {}, cache=False, cache_dir=str(tmp_path / "cache"))
    run_paths(images, plan, jobs=0)
    assert not (tmp_path / "cache").exists()


def test_cache_folder_is_marked_and_ignored_by_git(tmp_path, images):
    run_paths(images, plan_for(tmp_path), jobs=0)
    root = tmp_path / "cache"
    assert (root / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (root / ".gitignore").read_text().strip().endswith("*")
    assert not list(root.rglob(".tmp-*")), "no temporary files left behind"


def test_only_the_most_recently_used_run_folders_are_kept(tmp_path, images):
    base = tmp_path / "cache" / f"v{result_cache.ENTRY_FORMAT}" / result_cache.rule_family(COUNTING)
    base.mkdir(parents=True)
    (tmp_path / "cache" / "CACHEDIR.TAG").write_text(result_cache.CACHEDIR_TAG)  # a cache of earlier runs
    old_runs = []
    for n in range(result_cache.KEEP_RUNS + 2):
        folder = base / f"{n:016x}"
        (folder / "ab").mkdir(parents=True)
        (folder / "ab" / "entry.json").write_text("{}")
        os.utime(folder, (1_000_000 + n, 1_000_000 + n))
        old_runs.append(folder)
    foreign = base / "not-a-run-folder"
    foreign.mkdir()
    run_paths(images, plan_for(tmp_path), jobs=0)
    runs = [p for p in base.iterdir() if p.is_dir() and p != foreign]
    assert len(runs) == result_cache.KEEP_RUNS
    assert not old_runs[0].exists() and not old_runs[2].exists() and old_runs[-1].exists(), "oldest go first"
    (mine,) = set(runs) - set(old_runs)
    assert len(list(mine.glob("*/*.json"))) == 3, "this run's entries are kept"
    assert foreign.is_dir(), "folders noticer did not make are left alone"


def test_cache_root_beside_config_or_cwd():
    with_config = resolve([COUNTING], {}, config_path="/projects/art/noticer.toml")
    assert result_cache.cache_root(with_config) == Path("/projects/art/.noticer_cache")
    relative = resolve([COUNTING], {}, config_path="/projects/art/noticer.toml", cache_dir="build/nc")
    assert result_cache.cache_root(relative) == Path("/projects/art/build/nc")
    without = resolve([COUNTING], {})
    assert result_cache.cache_root(without, cwd=Path("/somewhere")) == Path("/somewhere/.noticer_cache")


def test_cli_cache_beside_config_never_beside_images(tmp_path):
    project = tmp_path / "project"
    art = project / "art"
    art.mkdir(parents=True)
    (project / "noticer.toml").write_text('profile = "strict"\n')
    save_png(art / "leak.png", scene(96, 64, seed=2), {"parameters": A1111_PARAMETERS})
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    proc = run_cli("check", str(art), "--no-progress", "--jobs", "0", "--select", "META001", cwd=elsewhere)
    assert proc.returncode == 1, proc.stderr
    assert list((project / ".noticer_cache").glob("v*/*/*/*/*.json"))
    assert not (art / ".noticer_cache").exists() and not (elsewhere / ".noticer_cache").exists()
    # without a config file the cache goes into the current folder, not beside the images
    loose = tmp_path / "loose"
    loose.mkdir()
    save_png(loose / "a.png", scene(96, 64, seed=1))
    proc = run_cli("check", str(loose), "--no-progress", "--jobs", "0", "--select", "META001", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / ".noticer_cache").is_dir() and not (loose / ".noticer_cache").exists()
    proc = run_cli("check", str(loose), "--no-progress", "--no-cache", "--jobs", "0",
                   "--cache-dir", str(tmp_path / "unused"), cwd=elsewhere)
    assert proc.returncode == 0 and not (tmp_path / "unused").exists()
    proc = run_cli("clean", cwd=elsewhere)
    assert proc.returncode == 0 and not (elsewhere / ".noticer_cache").exists()


def test_a_cache_dir_holding_the_users_files_is_never_written_to_nor_cleaned(tmp_path):
    """Found by a review: --cache-dir pointed at the image folder wrote a '*' .gitignore into
    it (git then ignored new images), and `noticer clean` removed the folder, images and all."""
    art = tmp_path / "art"
    art.mkdir()
    save_png(art / "a.png", scene(96, 64, seed=1))
    before = sorted(p.name for p in art.iterdir())
    proc = run_cli("check", str(art), "--no-progress", "--jobs", "0", "--select", "META001",
                   "--cache-dir", str(art), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "not using the result cache" in proc.stderr and "not empty and was not made by noticer" in proc.stderr
    assert sorted(p.name for p in art.iterdir()) == before
    proc = run_cli("clean", "--cache-dir", str(art), cwd=tmp_path)
    assert proc.returncode == 0 and (art / "a.png").is_file()
    # through the API too: the entries are simply not stored
    plan = resolve([COUNTING], {}, cache=True, cache_dir=str(art))
    run_paths([str(art / "a.png")], plan, jobs=0)
    assert sorted(p.name for p in art.iterdir()) == before


def test_another_tools_cache_tag_does_not_make_a_folder_noticers(tmp_path, images):
    """Found by a review: any CACHEDIR.TAG (cargo's target/, borg) made a folder noticer's,
    so `noticer clean` deleted cargo's tag and a run wrote its entries among cargo's."""
    target = tmp_path / "target"
    (target / "debug").mkdir(parents=True)
    cargo_tag = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by cargo.\n"
    (target / "CACHEDIR.TAG").write_text(cargo_tag, encoding="utf-8")
    before = sorted(p.name for p in target.iterdir())
    assert result_cache.foreign_folder(target)
    assert not result_cache.clear(target)
    plan = resolve([COUNTING], {}, cache=True, cache_dir=str(target))
    run_paths(images, plan, jobs=0)
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "CACHEDIR.TAG").read_text(encoding="utf-8") == cargo_tag


def test_clean_removes_only_what_noticer_put_in_its_folder(tmp_path, images):
    """A folder adopted as a cache before this was refused keeps the user's own files."""
    root = tmp_path / "cache"
    run_paths(images, plan_for(tmp_path), jobs=0)
    (root / "notes.txt").write_text("mine\n", encoding="utf-8")
    assert result_cache.clear(root)
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    (root / "notes.txt").unlink()
    run_paths(images, plan_for(tmp_path), jobs=0)
    assert result_cache.clear(root) and not root.exists()  # nothing else: the folder goes too


def test_cli_warm_run_gives_the_same_report_with_paths_of_this_run(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    save_png(folder / "leak.png", scene(96, 64, seed=2), {"parameters": A1111_PARAMETERS})
    save_png(folder / "clean.png", scene(96, 64, seed=3))
    args = ("check", "imgs", "--format", "json", "--no-progress", "--jobs", "1", "--select", "META001,IMG")
    cold = run_cli(*args, cwd=tmp_path)
    warm = run_cli(*args, cwd=tmp_path)
    assert cold.returncode == warm.returncode == 0, cold.stderr + warm.stderr
    cold_report, warm_report = json.loads(cold.stdout), json.loads(warm.stdout)
    assert warm_report == cold_report, "a warm report is the cold report, timings included"
    assert len(list((tmp_path / ".noticer_cache").glob("v*/*/*/*/*.json"))) == 4  # two images, two families
    assert [i["path"] for i in warm_report["images"]] == ["imgs/clean.png", "imgs/leak.png"]


def test_two_runs_at_once_leave_a_sound_cache(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for n in range(12):
        save_png(folder / f"img{n:02d}.png", scene(128, 96, seed=n),
                 {"parameters": A1111_PARAMETERS} if n % 3 == 0 else None)
    command = [sys.executable, "-m", "checker.cli", "check", "imgs", "--no-progress", "--jobs", "1",
               "--format", "json", "--select", "META001,IMG"]
    procs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outputs]
    stored = list((tmp_path / ".noticer_cache").glob("v*/*/*/*/*.json"))
    assert len(stored) == 24  # one entry per image and rule family (rules.metadata, rules.image)
    for entry in stored:
        assert json.loads(entry.read_text())["format"] == result_cache.ENTRY_FORMAT
    assert not list((tmp_path / ".noticer_cache").rglob(".tmp-*"))
    warm = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    report = json.loads(warm.stdout)
    assert without_timings(report) == without_timings(json.loads(outputs[0][0]))
    assert sum(i["verdict"] == "warn" for i in report["images"]) == 4


def test_unwritable_cache_folder_does_not_stop_the_run(tmp_path, images):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    results = run_paths(images, plan_for(tmp_path), jobs=0)
    assert len(results) == 3 and blocker.read_text().startswith("a file")


def test_python_api_uses_the_cache_unless_told_not_to(tmp_path, monkeypatch):
    from checker import check

    folder = tmp_path / "imgs"
    folder.mkdir()
    save_png(folder / "leak.png", scene(96, 64, seed=2), {"parameters": A1111_PARAMETERS})
    monkeypatch.chdir(tmp_path)
    report = check(folder, select=["META001"], cache=False)
    assert report.summary["warn"] == 1 and not (tmp_path / ".noticer_cache").exists()
    again = check(folder, select=["META001"], cache_dir=str(tmp_path / "api-cache"))
    assert again.summary == report.summary
    assert len(list((tmp_path / "api-cache").glob("v*/*/*/*/*.json"))) == 1


# ----------------------------------------------------------------------------- per family

FAMILY_MODULE = '''
import os

from checker.model import Issue
from checker.rule import Rule

from .helpers import MESSAGE


def check(ctx, settings):
    """Test rule of family {name}: logs its calls, observes, and always finds one issue."""
    with open(os.environ["NOTICER_TEST_FAMILY_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{name} {{ctx.path.name}}\\n")
    ctx.observe("{name}.seen", ctx.width)
    yield Issue(MESSAGE, None, 0.5, {{"family": "{name}"}})


RULES = (Rule(code="{code}", name="{name}.flag", summary="test family", check=check),)
'''


@pytest.fixture()
def two_families(tmp_path, monkeypatch):
    """Two rule packages, as plugins ship them: famone/ and famtwo/, each a rule module and a
    helper module; the log names every check that ran."""
    log = tmp_path / "calls.log"
    monkeypatch.setenv("NOTICER_TEST_FAMILY_LOG", str(log))
    for name, code in (("famone", "FAMA001"), ("famtwo", "FAMB001")):
        package = tmp_path / "plugins" / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(FAMILY_MODULE.format(name=name, code=code))
        (package / "helpers.py").write_text(f'MESSAGE = "{name} found it"\n')
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    import importlib

    modules = [importlib.import_module(name) for name in ("famone", "famtwo")]
    yield [rule for module in modules for rule in module.RULES], log, tmp_path / "plugins"
    for name in ("famone", "famone.helpers", "famtwo", "famtwo.helpers"):
        sys.modules.pop(name, None)


def test_editing_one_familys_sources_recomputes_only_that_familys_rules(tmp_path, images, two_families):
    """The cache keys each rule family's part by that family's own sources: editing
    rules/align/*.py once made every rule of every cached image run again."""
    from checker.session import run_paths as session_run_paths

    rules, log, plugins = two_families
    plan = plan_for(tmp_path, rules=rules)
    assert set(result_cache.family_fingerprints(plan)) == {"famone", "famtwo"}
    first = session_run_paths(images, plan, jobs=0)
    assert sorted(log.read_text().split("\n")[:-1]) == sorted(
        f"{family} {Path(i).name}" for family in ("famone", "famtwo") for i in images)
    log.write_text("")
    warm = session_run_paths(images, plan, jobs=0)
    assert log.read_text() == ""
    assert [r.to_dict() for r in warm] == [r.to_dict() for r in first]

    helpers = plugins / "famtwo" / "helpers.py"
    helpers.write_text(helpers.read_text() + "# edited: the family's results may differ now\n")
    result_cache.file_digest.cache_clear()  # a new run in a long-lived process reads it afresh
    partly = session_run_paths(images, plan_for(tmp_path, rules=rules), jobs=0)
    assert sorted(log.read_text().split("\n")[:-1]) == sorted(f"famtwo {Path(i).name}" for i in images)
    assert strip_timings(partly) == strip_timings(first)
    assert [r.observations for r in partly] == [r.observations for r in first]
    assert {f.code for r in partly for f in r.findings} == {"FAMA001", "FAMB001"}


def test_a_rules_family_is_its_top_level_package_under_rules():
    from rules.text import TEXT001

    def check_in_a_rule_module(ctx, settings):
        return ()

    check_in_a_rule_module.__module__ = "rules.align.seams"
    nested = Rule(code="TEST903", name="test.nested", summary="x", check=check_in_a_rule_module)
    assert result_cache.rule_family(TEXT001) == "rules.text"
    assert result_cache.rule_family(nested) == "rules.align"
    # a plugin's top-level package (here: this test module's, however pytest named it)
    assert result_cache.rule_family(COUNTING) == check_counting.__module__.split(".")[0]


def _age(path: str, seconds: float = 3600) -> None:
    """Set a file's mtime back; its ctime (which no tool can set) stays now."""
    past = os.stat(path).st_mtime - seconds
    os.utime(path, (past, past))


def test_a_warm_run_takes_an_unchanged_images_digest_from_the_last_run(tmp_path, images, monkeypatch):
    """The second run reads no image (digests.json has their SHA-256), with the same results;
    an image rewritten since (same size, its mtime put back, as `cp -p` or `touch -r` do)
    is read and hashed again, because its ctime moved."""
    monkeypatch.setattr(result_cache, "DIGEST_SETTLED_NS", 0)  # the images were just written
    plan = plan_for(tmp_path)
    first = run_paths(images, plan, jobs=0)
    memo = json.loads((tmp_path / "cache" / "v2" / "digests.json").read_text())["files"]
    assert {os.path.abspath(p) for p in images} == set(memo)
    read = []
    read_source = result_cache.read_source
    monkeypatch.setattr(result_cache, "read_source", lambda source: read.append(source) or read_source(source))
    CALLS.clear()
    second = run_paths(images, plan, jobs=0)
    assert read == [] and CALLS == [] and strip_timings(second) == strip_timings(first)

    before = os.stat(images[1])
    save_png(Path(images[1]), np.full((64, 80, 3), 30, np.uint8))  # new bytes for dark.png
    assert os.path.getsize(images[1]) == before.st_size
    os.utime(images[1], ns=(before.st_atime_ns, before.st_mtime_ns))
    third = run_paths(images, plan, jobs=0)
    assert read == [images[1]] and CALLS == ["dark.png"]
    assert third[1].sha256 == hashlib.sha256(Path(images[1]).read_bytes()).hexdigest() != first[1].sha256


def test_a_digest_is_kept_only_for_a_file_that_had_settled_before_it_was_read(tmp_path, images):
    """A file changed less than DIGEST_SETTLED_NS before it was read could change again
    within the same clock step of a coarse file system: its digest is not remembered."""
    memo = result_cache.DigestMemo(tmp_path / "cache")
    for path in images[:2]:
        _age(path)
    assert memo.digest(images[2]) == hashlib.sha256(Path(images[2]).read_bytes()).hexdigest()
    assert memo.fresh == {}  # its ctime is now
    memo.digest(images[0])
    assert memo.fresh == {}  # mtime aged, but ctime (when it was aged) is now


def test_a_damaged_or_foreign_digest_file_is_ignored(tmp_path, images, monkeypatch):
    monkeypatch.setattr(result_cache, "DIGEST_SETTLED_NS", 0)
    plan = plan_for(tmp_path)
    first = run_paths(images, plan, jobs=0)
    digests = tmp_path / "cache" / "v2" / "digests.json"
    memo = json.loads(digests.read_text())
    key = os.path.abspath(images[0])
    memo["files"][key][1] = "0" * 64  # a wrong digest under the right signature...
    memo["format"] = -1  # ... in a file of another format: not read
    digests.write_text(json.dumps(memo))
    assert strip_timings(run_paths(images, plan, jobs=0)) == strip_timings(first)
    for text in ("not json", json.dumps({"format": result_cache.ENTRY_FORMAT, "files": {key: "x"}})):
        digests.write_text(text)
        assert strip_timings(run_paths(images, plan, jobs=0)) == strip_timings(first)
    memo["format"] = result_cache.ENTRY_FORMAT  # now read: the wrong digest finds no entry,
    digests.write_text(json.dumps(memo))  # the image is checked and reported with its own
    CALLS.clear()
    assert strip_timings(run_paths(images, plan, jobs=0)) == strip_timings(first)
    assert CALLS == ["bright.png"]
    CALLS.clear()  # and the wrong digest is forgotten: the next run hits
    assert strip_timings(run_paths(images, plan, jobs=0)) == strip_timings(first) and CALLS == []


def test_the_digest_file_keeps_this_runs_files_first_up_to_its_bound(tmp_path, images, monkeypatch):
    monkeypatch.setattr(result_cache, "DIGEST_SETTLED_NS", 0)
    monkeypatch.setattr(result_cache, "MAX_DIGESTS", 4)
    plan = plan_for(tmp_path)
    run_paths(images, plan, jobs=0)
    digests = tmp_path / "cache" / "v2" / "digests.json"
    memo = json.loads(digests.read_text())
    memo["files"].update({f"/gone/{k}.png": [[0, k, 1, 2, 3], "0" * 64] for k in range(3)})  # files of old runs
    digests.write_text(json.dumps(memo))
    other = tmp_path / "images" / "other.png"
    save_png(other, np.full((64, 80, 3), 90, np.uint8))
    run_paths([*images, str(other)], plan, jobs=0)
    kept = set(json.loads(digests.read_text())["files"])
    assert kept == {os.path.abspath(p) for p in [*images, str(other)]}  # the old ones went first


def test_library_versions_are_read_as_importlib_metadata_gives_them():
    from importlib.metadata import PackageNotFoundError, version

    found = 0
    for name in (*result_cache.RESULT_LIBRARIES, "click", "noticer", "not-a-distribution-at-all"):
        try:
            expected = version(name)
        except PackageNotFoundError:
            expected = None
        assert result_cache.distribution_version(name) == expected, name
        found += expected is not None
    assert found >= 5  # numpy, opencv, mediapipe, onnxruntime, click at least


def test_json_is_written_whole_and_any_file_name_stays_writable(tmp_path):
    from checker.cache import write_json_atomically

    target = tmp_path / "deep" / "entry.json"
    value = {"files": {"caf\u00e9.png": 1, "bad-\udcff.png": 2}}  # the second: a name that is not UTF-8
    write_json_atomically(target, value)
    assert json.loads(target.read_bytes()) == value
    assert [p.name for p in target.parent.iterdir()] == ["entry.json"]  # no temporary file left


def test_a_value_json_cannot_hold_leaves_the_old_file_and_no_temporary_one(tmp_path):
    from checker.cache import write_json_atomically

    target = tmp_path / "entry.json"
    target.write_text('{"old": true}')
    with pytest.raises(TypeError):
        write_json_atomically(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"]
