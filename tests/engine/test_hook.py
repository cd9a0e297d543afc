"""Publishing through git: the pre-commit framework hook, plain git hooks, --staged, --changed.

Every test works in throw-away repositories under tmp_path with an isolated git and
pre-commit configuration. The defective image is a PNG carrying generation metadata,
which META001 makes an error under the strict profile.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from checker import hooks
from fixtures.make_fixtures import A1111_PARAMETERS, save_png, scene
from tests.helpers import ROOT

NOTICER_SCRIPT = Path(sys.executable).with_name("noticer")
# the hook options used by most tests: strict (META001 is an error), in-process, the cheap rules
FAST = ["--profile", "strict", "--", "--jobs", "0", "--select", "META001,IMG"]


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    return {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
            "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PYTHONPATH": str(ROOT)}


def run(args, cwd, env, check=True, input_text=None):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, input=input_text)
    if check:
        assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc


def noticer(*args, cwd, env, check=False):
    return run([sys.executable, "-m", "checker", *args], cwd, env, check=check)


def new_repo(path: Path, env) -> Path:
    path.mkdir(parents=True)
    run(["git", "init", "-q"], path, env)
    return path


def good_image(path: Path, seed: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(path, scene(160, 120, seed=seed))


def defective_image(path: Path, seed: int = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(path, scene(160, 120, seed=seed), {"parameters": A1111_PARAMETERS})


def committed_files(repo: Path, env) -> list[str]:
    out = run(["git", "ls-tree", "-r", "--name-only", "HEAD"], repo, env, check=False)
    return out.stdout.split() if out.returncode == 0 else []


# ----------------------------------------------------------------------------- pre-commit framework

def test_manifest_is_valid_for_pre_commit():
    from pre_commit.clientlib import load_manifest

    (hook,) = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "noticer"
    # exactly the formats noticer reads, whatever the case of the name: an SVG logo or an AVIF
    # must not block a commit, and no name noticer reads may slip past the hook
    import re

    from checker.inputs import IMAGE_SUFFIXES

    selects = re.compile(hook["files"])
    assert hook["types"] == ["file"] and not hook["types_or"]
    for suffix in IMAGE_SUFFIXES:
        for name in (f"art/pic{suffix}", f"art/PIC{suffix.upper()}"):
            assert selects.search(name), name
    for name in ("logo.svg", "photo.avif", "notes.png.txt", "pngs/readme.md", "archive.jpg.zip"):
        assert not selects.search(name), name
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True and hook["require_serial"] is True
    assert hook["entry"].split()[:2] == ["noticer", "check"]


def _pre_commit_supports_unsupported() -> bool:
    from pre_commit import constants

    major, minor = (int(x) for x in constants.VERSION.split(".")[:2])
    return (major, minor) >= (4, 4)


def hook_source(tmp_path: Path, env) -> tuple[Path, str]:
    """This checkout at HEAD when its manifest is committed as it is in the work tree (as in
    CI's fresh clone); otherwise a throw-away repository holding the work tree's manifest, so
    the test always exercises the manifest being edited."""
    committed = run(["git", "diff", "--quiet", "HEAD", "--", ".pre-commit-hooks.yaml"], ROOT, env, check=False)
    tracked = run(["git", "ls-files", "--error-unmatch", ".pre-commit-hooks.yaml"], ROOT, env, check=False)
    if committed.returncode == 0 and tracked.returncode == 0:
        return ROOT, run(["git", "rev-parse", "HEAD"], ROOT, env).stdout.strip()
    hook_repo = new_repo(tmp_path / "hook-repo", env)
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hook_repo / ".pre-commit-hooks.yaml")
    run(["git", "add", "."], hook_repo, env)
    run(["git", "commit", "-q", "-m", "hook manifest"], hook_repo, env)
    return hook_repo, run(["git", "rev-parse", "HEAD"], hook_repo, env).stdout.strip()


def test_pre_commit_framework_passes_a_good_image_and_blocks_a_defective_one(tmp_path, env):
    """The real pre-commit framework, pointed at this checkout (see hook_source).

    The manifest says ``language: python``, which makes pre-commit build a fresh virtualenv
    and pip-install noticer with MediaPipe, OpenCV and ONNX Runtime (hundreds of MB) from
    the package index; the consumer config overrides ``language``/``entry`` to run the
    already installed noticer instead (``unsupported``, called ``system`` before pre-commit
    4.4), which is exactly what a team with noticer installed in its image would do. The
    hook id, file types, argument passing and serial run still come from the manifest."""
    hook_repo, rev = hook_source(tmp_path, env)

    project = new_repo(tmp_path / "project", env)
    language = "unsupported" if _pre_commit_supports_unsupported() else "system"
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hook_repo}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: noticer\n"
        f"        language: {language}\n"
        f"        entry: {NOTICER_SCRIPT} check --no-progress\n"
        "        args: [--profile, strict, --jobs, '1']\n")
    run([sys.executable, "-m", "pre_commit", "install"], project, env)

    (project / "README.md").write_text("art\n")
    good_image(project / "art" / "good.png")
    run(["git", "add", "."], project, env)
    ok = run(["git", "commit", "-m", "good image"], project, env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "noticer" in ok.stdout + ok.stderr and "Passed" in ok.stdout + ok.stderr
    assert "art/good.png" in committed_files(project, env)

    defective_image(project / "art" / "leak.png")
    run(["git", "add", "art/leak.png"], project, env)
    blocked = run(["git", "commit", "-m", "leaky image"], project, env, check=False)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "Failed" in output and "META001" in output and "art/leak.png" in output
    assert "art/leak.png" not in committed_files(project, env)
    # the cache the hook wrote in the project ignores itself
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], project, env).stdout
    assert ".noticer_cache" not in status


# ----------------------------------------------------------------------------- plain git hooks

def test_install_hook_checks_the_staged_content_not_the_working_tree(tmp_path, env):
    repo = new_repo(tmp_path / "repo", env)
    proc = noticer("install-hook", *FAST, cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK) and hooks.MARKER in hook.read_text()

    good_image(repo / "a.png")
    run(["git", "add", "a.png"], repo, env)
    assert run(["git", "commit", "-q", "-m", "clean"], repo, env, check=False).returncode == 0

    # staged: the leaky version; working tree: a clean one. The commit records the leak.
    defective_image(repo / "b.png")
    run(["git", "add", "b.png"], repo, env)
    good_image(repo / "b.png", seed=5)
    blocked = run(["git", "commit", "-q", "-m", "leak"], repo, env, check=False)
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "b.png" in blocked.stderr and "META001" in blocked.stderr  # git shows hook output on stderr
    assert "b.png" not in committed_files(repo, env)
    assert not list(repo.rglob("noticer-git-*")), "staged bytes are exported outside the repository"

    # staged: clean; working tree: leaky. What is committed is clean, so it passes.
    run(["git", "add", "b.png"], repo, env)
    defective_image(repo / "b.png", seed=6)
    ok = run(["git", "commit", "-q", "-m", "clean b"], repo, env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "b.png" in committed_files(repo, env)


def test_hook_ignores_deleted_and_non_image_files(tmp_path, env):
    repo = new_repo(tmp_path / "repo", env)
    defective_image(repo / "old.png")
    run(["git", "add", "."], repo, env)
    run(["git", "commit", "-q", "-m", "before the hook"], repo, env)
    assert noticer("install-hook", *FAST, cwd=repo, env=env).returncode == 0
    run(["git", "rm", "-q", "old.png"], repo, env)
    (repo / "notes.txt").write_text("hello")
    run(["git", "add", "notes.txt"], repo, env)
    ok = run(["git", "commit", "-q", "-m", "remove the leak"], repo, env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_hook_skips_a_symlink_and_reads_images_behind_git_lfs_pointers(tmp_path, env):
    """Found by a review: the hook read a staged symlink's link text, and in a Git LFS
    repository the pointer text, as images (IMG001 on every commit). A clean filter writing
    LFS's pointer format stands in for git-lfs, which is not installed here."""
    repo = new_repo(tmp_path / "repo", env)
    good_image(repo / "a.png")
    (repo / "link.png").symlink_to("a.png")
    run(["git", "add", "."], repo, env)
    assert noticer("install-hook", *FAST, cwd=repo, env=env).returncode == 0
    ok = run(["git", "commit", "-q", "-m", "image and a link to it"], repo, env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    clean = tmp_path / "lfs-clean"
    clean.write_text('#!/bin/sh\nf=$(mktemp); cat > "$f"\n'
                     'printf "version https://git-lfs.github.com/spec/v1\\noid sha256:%s\\nsize %s\\n" '
                     '"$(sha256sum "$f" | cut -d" " -f1)" "$(wc -c < "$f" | tr -d " ")"; rm "$f"\n')
    clean.chmod(0o755)
    run(["git", "config", "filter.lfs.clean", str(clean)], repo, env)
    (repo / ".gitattributes").write_text("*.png filter=lfs -text\n")
    good_image(repo / "b.png", seed=3)
    run(["git", "add", ".gitattributes", "b.png"], repo, env)
    staged = run(["git", "cat-file", "blob", ":b.png"], repo, env).stdout
    assert staged.startswith("version https://git-lfs.github.com/spec/v1")  # the index holds a pointer
    ok = run(["git", "commit", "-q", "-m", "an image behind LFS"], repo, env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    defective_image(repo / "c.png")
    run(["git", "add", "c.png"], repo, env)
    blocked = run(["git", "commit", "-q", "-m", "a leak behind LFS"], repo, env, check=False)
    assert blocked.returncode == 1 and "c.png" in blocked.stderr and "META001" in blocked.stderr


def test_an_lfs_pointer_is_reported_as_one(tmp_path):
    from checker.imageio import ImageLoadError, load_image

    pointer = tmp_path / "a.png"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 12\n")
    with pytest.raises(ImageLoadError, match="Git LFS pointer.*git lfs pull"):
        load_image(pointer)


def test_install_hook_refuses_a_foreign_hook_and_uninstall_removes_only_its_own(tmp_path, env):
    repo = new_repo(tmp_path / "repo", env)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho someone else's hook\n")
    refused = noticer("install-hook", cwd=repo, env=env)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert "someone else" in hook.read_text()
    left = noticer("uninstall-hook", cwd=repo, env=env)
    assert left.returncode == 2 and "someone else" in hook.read_text()

    forced = noticer("install-hook", "--force", cwd=repo, env=env)
    assert forced.returncode == 0 and hooks.MARKER in hook.read_text()
    # the replaced hook is kept beside it (a review found --force lost it)
    assert "someone else" in (hook.parent / "pre-commit.noticer-backup").read_text()
    assert "kept as" in forced.stdout and "pre-commit.noticer-backup" in forced.stdout
    again = noticer("install-hook", "--profile", "strict", cwd=repo, env=env)
    assert again.returncode == 0 and "--profile strict" in hook.read_text(), "its own hook is updated"
    removed = noticer("uninstall-hook", cwd=repo, env=env)
    # the hook it replaced is put back (a review found it stayed aside, the user's hook off)
    assert removed.returncode == 0 and "put back" in removed.stdout
    assert "someone else" in hook.read_text() and not (hook.parent / "pre-commit.noticer-backup").exists()
    assert noticer("uninstall-hook", cwd=repo, env=env).returncode == 2  # theirs again: left alone
    hook.unlink()
    assert noticer("install-hook", cwd=repo, env=env).returncode == 0
    removed = noticer("uninstall-hook", cwd=repo, env=env)
    assert removed.returncode == 0 and not hook.exists() and "put back" not in removed.stdout
    nothing = noticer("uninstall-hook", cwd=repo, env=env)
    assert nothing.returncode == 0 and "no pre-commit hook" in nothing.stdout


@pytest.mark.parametrize("options,fragment", [
    (["--", "--bogus"], "No such option '--bogus'"),
    (["--profile", "nope"], "unknown profile 'nope'"),
    (["--", "--set", "text.engine=foo"], "engine must be one of"),
    # found by a review: these were checked by `check` only, so each later commit failed
    (["--", "--timeout", "-1"], "timeout"),
    (["--", "--jobs", "-3"], "--jobs must be 0"),
    (["--", "--max-pixels", "0"], "max-pixels"),
    (["--", "--reference", "no-such-folder"], "reference folder not found"),
])
def test_install_hook_refuses_options_every_commit_would_fail_on(tmp_path, env, options, fragment):
    repo = new_repo(tmp_path / "repo", env)
    proc = noticer("install-hook", *options, cwd=repo, env=env)
    assert proc.returncode == 2 and fragment in proc.stderr
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_hook_options_are_checked_from_the_top_of_the_working_tree(tmp_path, env):
    """git runs a hook from the top of the working tree; a review found install-hook judged a
    relative --reference from the folder it was started in (refusing a right one, taking a
    wrong one that then failed every commit)."""
    repo = new_repo(tmp_path / "repo", env)
    (repo / "refs").mkdir()
    (repo / "sub").mkdir()
    right = noticer("install-hook", "--", "--reference", "refs", cwd=repo / "sub", env=env)
    assert right.returncode == 0, right.stderr
    wrong = noticer("install-hook", "--", "--reference", "../refs", cwd=repo / "sub", env=env)
    assert wrong.returncode == 2 and "reference folder not found: ../refs" in wrong.stderr


def test_a_stopped_commit_says_how_to_go_on(tmp_path, env):
    repo = new_repo(tmp_path / "repo", env)
    assert noticer("install-hook", *FAST, cwd=repo, env=env).returncode == 0
    defective_image(repo / "leak.png")
    run(["git", "add", "leak.png"], repo, env)
    blocked = run(["git", "commit", "-q", "-m", "leak"], repo, env, check=False)
    assert blocked.returncode == 1
    assert "commit stopped by the images above" in blocked.stderr and "git commit --no-verify" in blocked.stderr


def test_install_hook_outside_a_repository_is_a_usage_error(tmp_path, env):
    proc = noticer("install-hook", cwd=tmp_path, env={**env, "GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert proc.returncode == 2 and "git" in proc.stderr


def test_hook_script_runs_the_installed_noticer_with_the_options():
    script = hooks.hook_script("pre-push", ["/opt/venv/bin/noticer"], ["--profile", "strict", "--fail-on", "warning"])
    assert script.startswith("#!/bin/sh\n") and hooks.MARKER in script
    assert "\n/opt/venv/bin/noticer check --pushed --no-progress --profile strict --fail-on warning" in script
    assert "--staged" in hooks.hook_script("pre-commit", ["noticer"], [])


def test_pre_push_hook_blocks_a_push_with_a_defective_image(tmp_path, env):
    remote = tmp_path / "remote.git"
    run(["git", "init", "-q", "--bare", str(remote)], tmp_path, env)
    repo = new_repo(tmp_path / "repo", env)
    run(["git", "remote", "add", "origin", str(remote)], repo, env)
    assert noticer("install-hook", "--pre-push", *FAST, cwd=repo, env=env).returncode == 0
    assert (repo / ".git" / "hooks" / "pre-push").is_file()

    good_image(repo / "a.png")
    run(["git", "add", "."], repo, env)
    run(["git", "commit", "-q", "-m", "clean"], repo, env)
    pushed = run(["git", "push", "-q", "origin", "main"], repo, env, check=False)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr

    defective_image(repo / "art" / "b.png")
    run(["git", "add", "."], repo, env)
    run(["git", "commit", "-q", "-m", "leak"], repo, env)
    good_image(repo / "c.png", seed=7)
    run(["git", "add", "."], repo, env)
    run(["git", "commit", "-q", "-m", "another clean one on top"], repo, env)
    refused = run(["git", "push", "-q", "origin", "main"], repo, env, check=False)
    assert refused.returncode != 0
    assert "art/b.png" in refused.stdout + refused.stderr and "META001" in refused.stdout + refused.stderr
    remote_head = run(["git", "rev-parse", "main"], remote, env).stdout.strip()
    assert remote_head != run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()


def test_pushed_images_come_from_the_pushed_commits(tmp_path, env):
    repo = new_repo(tmp_path / "repo", env)
    good_image(repo / "a.png")
    run(["git", "add", "."], repo, env)
    run(["git", "commit", "-q", "-m", "one"], repo, env)
    base = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    defective_image(repo / "b.png")
    good_image(repo / "a.png", seed=9)
    run(["git", "add", "."], repo, env)
    run(["git", "commit", "-q", "-m", "two"], repo, env)
    head = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    refs = hooks.parse_push_lines(f"refs/heads/main {head} refs/heads/main {base}\n")
    old = os.getcwd()
    try:
        os.chdir(repo)
        assert hooks.pushed_images(refs, repo) == [(head, "a.png"), (head, "b.png")]
        deleting = hooks.parse_push_lines(f"(delete) {hooks.ZERO_SHA} refs/heads/gone {base}\n")
        assert hooks.pushed_images(deleting, repo) == []
    finally:
        os.chdir(old)


# ----------------------------------------------------------------------------- --changed / --staged

def test_check_changed_checks_only_images_changed_against_a_revision(tmp_path, env):
    repo = new_repo(tmp_path / "repo", env)
    for name in ("a.png", "b.png", "sub/c.png"):
        good_image(repo / name, seed=len(name))
    run(["git", "add", "."], repo, env)
    run(["git", "commit", "-q", "-m", "one"], repo, env)
    defective_image(repo / "a.png")  # modified, unstaged
    good_image(repo / "sub" / "new.png", seed=11)  # untracked
    (repo / ".gitignore").write_text("ignored/\n")
    good_image(repo / "ignored" / "x.png")

    def checked(*args, cwd=repo):
        proc = noticer("check", "--format", "json", "--no-progress", "--jobs", "0", "--select", "META001,IMG",
                       *args, cwd=cwd, env=env)
        assert proc.returncode in (0, 1), proc.stderr
        return sorted(i["path"] for i in json.loads(proc.stdout)["images"])

    assert checked("--changed") == ["a.png", "sub/new.png"]
    assert checked("--changed", "HEAD") == ["a.png", "sub/new.png"]
    assert checked("--changed", "sub") == ["sub/new.png"], "paths limit the changed images"
    assert checked("--changed", cwd=repo / "sub") == ["new.png"], "like any check, the default path is '.'"
    assert checked("--changed", "HEAD", "..", cwd=repo / "sub") == ["../a.png", "new.png"]
    run(["git", "add", "."], repo, env)
    run(["git", "commit", "-q", "-m", "two"], repo, env)
    assert checked("--changed") == []
    assert checked("--changed", "HEAD~1") == ["a.png", "sub/new.png"]
    bad = noticer("check", "--changed", "no-such-rev", cwd=repo, env=env)
    assert bad.returncode == 2 and "no-such-rev" in bad.stderr


def test_check_staged_reports_repository_paths_and_keeps_the_html_previews(tmp_path, env):
    repo = new_repo(tmp_path / "repo", env)
    defective_image(repo / "art" / "leak.png")
    run(["git", "add", "."], repo, env)
    (repo / "art" / "leak.png").unlink()  # gone from the working tree, still staged
    report_file = tmp_path / "report.html"
    proc = noticer("check", "--staged", "--profile", "strict", "--jobs", "0", "--select", "META001,IMG",
                   "--format", "html", "--output", str(report_file), cwd=repo, env=env)
    assert proc.returncode == 1, proc.stderr
    page = report_file.read_text()
    assert "art/leak.png" in page and "META001" in page
    assert "data:image/jpeg;base64," in page, "the preview was made from the staged bytes"
