"""Git integration: plain git hooks, and choosing images from git (staged, pushed, changed).

``noticer install-hook`` writes ``pre-commit`` (or ``pre-push``) into the repository's hooks
folder (``git rev-parse --git-path hooks``, so ``core.hooksPath`` and worktrees are
respected). The script carries a marker line; a hook without it is someone else's and is
never overwritten unless asked, and ``uninstall-hook`` removes only a hook with the marker.

The hooks check *what git will record*, not the working tree: the pre-commit hook reads
each added or modified image from the index, the pre-push hook reads it from the commit
being pushed. Those bytes are written to a private temporary folder (never beside the
images) under their repository paths, checked there, and reported under the repository
paths again.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .imageio import LFS_POINTER
from .inputs import IMAGE_SUFFIXES, excluded_below, is_under
from .session import Inputs
from .writing import replace_atomically

MARKER = "# noticer-managed-hook: installed by `noticer install-hook`; `noticer uninstall-hook` removes it"
HOOK_NAMES = ("pre-commit", "pre-push")
ZERO_SHA = "0" * 40


class GitError(Exception):
    """Git is missing, this is not a repository, or a git command failed."""


def git(args: Sequence[str], cwd: str | Path | None = None, input_bytes: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input_bytes, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}"
        raise GitError(f"git {' '.join(args)}: {message}")
    return proc.stdout


def repo_root(cwd: str | Path | None = None) -> Path:
    return Path(git(["rev-parse", "--show-toplevel"], cwd).decode().strip())


def is_commit(rev: str, cwd: str | Path | None = None) -> bool:
    try:
        git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd)
    except GitError:
        return False
    return True


def is_image_path(path: str) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _split_z(output: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in output.split(b"\0") if p]


# ----------------------------------------------------------------------------- choosing images

def staged_images(cwd: str | Path | None = None) -> list[str]:
    """Repository-relative paths of images added, copied, renamed or modified in the index."""
    out = git(["diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z", "--no-renames"], cwd)
    return [p for p in _split_z(out) if is_image_path(p)]


def changed_images(rev: str, cwd: str | Path | None = None) -> list[str]:
    """Repository-relative paths of images in the working tree that differ from ``rev``
    (staged or not), plus new untracked images that are not ignored."""
    if not is_commit(rev, cwd):
        raise GitError(f"--changed: {rev!r} is not a commit in this repository")
    changed = _split_z(git(["diff", "--name-only", "--diff-filter=ACMR", "-z", "--no-renames", rev], cwd))
    untracked = _split_z(git(["ls-files", "--others", "--exclude-standard", "-z"], cwd))
    return sorted({p for p in [*changed, *untracked] if is_image_path(p)})


@dataclass(frozen=True)
class PushedRef:
    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str


def parse_push_lines(text: str) -> list[PushedRef]:
    """The lines git gives a pre-push hook on standard input."""
    refs = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            refs.append(PushedRef(*parts))
    return refs


def pushed_images(refs: Iterable[PushedRef], cwd: str | Path | None = None) -> list[tuple[str, str]]:
    """(commit, path) of every image added or modified by the commits being pushed, read
    from the newest pushed commit that has it. Deleted refs are skipped."""
    chosen: dict[str, str] = {}
    for ref in refs:
        if ref.local_sha == ZERO_SHA:
            continue  # deleting a remote branch pushes no content
        if ref.remote_sha != ZERO_SHA:
            try:
                git(["cat-file", "-e", f"{ref.remote_sha}^{{commit}}"], cwd)
                commits = [f"{ref.remote_sha}..{ref.local_sha}"]
            except GitError:  # the remote's commit is not here: check what is not on any remote
                commits = [ref.local_sha, "--not", "--remotes"]
        else:
            commits = [ref.local_sha, "--not", "--remotes"]
        out = git(["log", "--format=", "--name-only", "--diff-filter=ACMR", "--no-renames", "-z", *commits], cwd)
        for path in _split_z(out.replace(b"\n", b"\0")):
            if is_image_path(path) and path not in chosen:
                chosen[path] = ref.local_sha
    # only what still exists in the pushed commit is published
    present = []
    for path, sha in sorted(chosen.items()):
        try:
            git(["cat-file", "-e", f"{sha}:{path}"], cwd)
        except GitError:
            continue
        present.append((sha, path))
    return present


# ----------------------------------------------------------------------------- reading blobs

def _entry_modes(source: str, paths: Sequence[str], cwd: str | Path | None) -> dict[str, str]:
    """{path: git file mode} of ``paths`` in the index (``source`` "") or in a commit."""
    if not paths:
        return {}
    # literal pathspecs: a file named "a[1].png" is that file, not a pattern
    args = (["--literal-pathspecs", "ls-files", "-s", "-z", "--"] if source == ""
            else ["--literal-pathspecs", "ls-tree", "-z", source, "--"])
    modes = {}
    for entry in _split_z(git([*args, *paths], cwd)):
        meta, _, path = entry.partition("\t")
        modes[path] = meta.split(" ", 1)[0]
    return modes


def _blob_bytes(source: str, path: str, cwd: str | Path | None) -> bytes:
    """What git records for ``path``. In a Git LFS repository that is a pointer: git's own
    smudge filter (git-lfs) gives the image; failing that, for the index, the working-tree
    file when it is the very object the pointer names."""
    data = git(["cat-file", "blob", f"{source}:{path}"], cwd)
    if not data.startswith(LFS_POINTER):
        return data
    try:
        smudged = git(["cat-file", "--filters", f"{source}:{path}"], cwd)
        if not smudged.startswith(LFS_POINTER):
            return smudged
    except GitError:
        pass
    oid = next((line.split(":", 1)[1] for line in data.decode("ascii", "replace").splitlines()
                if line.startswith("oid sha256:")), None)
    if source == "" and oid:
        try:
            working = (repo_root(cwd) / path).read_bytes()
        except OSError:
            return data
        if hashlib.sha256(working).hexdigest() == oid:
            return working
    return data  # still a pointer: reported as one, with what to do


def export_blobs(specs: Sequence[tuple[str, str]], destination: Path, cwd: str | Path | None = None) -> dict[str, str]:
    """Write blobs named like ``:path`` (index) or ``<commit>:path`` into ``destination``
    under their repository paths; return {written file: repository path}. Sidecar ``.txt``
    files from the same source are exported too, so the checker sees what git records.
    Symbolic links (and submodules) are left out: git records the link, not an image, and
    the image it points to is checked where it lives. Git LFS pointers are replaced by
    their images where git can give them (``_blob_bytes``)."""
    written: dict[str, str] = {}
    modes: dict[tuple[str, str], str] = {}
    for source in {s for s, _ in specs}:
        found = _entry_modes(source, [p for s, p in specs if s == source], cwd)
        modes.update({(source, p): m for p, m in found.items()})
    for source, path in specs:
        if modes.get((source, path), "100644") in ("120000", "160000"):
            continue
        target = destination / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_blob_bytes(source, path, cwd))
        written[str(target)] = path
        p = Path(path)
        for sidecar in (p.with_suffix(".txt"), p.with_name(p.name + ".txt")):
            try:
                data = git(["cat-file", "blob", f"{source}:{sidecar.as_posix()}"], cwd)
            except GitError:
                continue
            (destination / sidecar).write_bytes(data)
    return written


def staging_folder() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="noticer-git-")


def git_inputs(stack: contextlib.ExitStack, paths: Sequence[str], exclude: Sequence[str], *,
               changed: str | None = None, staged: bool = False, pushed_lines: str | None = None) -> Inputs:
    """The images git would record (``staged``), publish (``pushed_lines``: a pre-push hook's
    standard input) or has changed (``changed``: a revision), limited to ``paths`` and not
    excluded; for staged and pushed content their bytes are exported to a temporary folder
    that lives as long as ``stack``. Raises GitError."""
    root = repo_root()
    if changed:
        specs = [("", p) for p in changed_images(changed, root)]
    elif staged:
        specs = [("", p) for p in staged_images(root)]
    else:
        specs = pushed_images(parse_push_lines(pushed_lines or ""), root)
    roots = [Path(p).resolve() for p in paths]
    cwd = Path.cwd()
    chosen = []
    for source, rel in specs:
        shown = os.path.relpath(root / rel, cwd)
        inside = [r for r in roots if is_under(root / rel, [r])]
        if inside and not excluded_below(shown, os.path.relpath(inside[0], cwd), exclude):
            chosen.append((source, rel, shown))
    if changed:
        return Inputs(tuple(shown for _, _, shown in chosen if Path(shown).is_file()))
    folder = Path(stack.enter_context(staging_folder()))
    written = export_blobs([(source, rel) for source, rel, _ in chosen], folder, root)
    by_rel = {rel: shown for _, rel, shown in chosen}
    sources = {by_rel[rel]: checked for checked, rel in written.items()}
    return Inputs(tuple(sorted(sources, key=lambda p: Path(p).as_posix())), sources)


# ----------------------------------------------------------------------------- plain git hooks

def hooks_dir(cwd: str | Path | None = None) -> Path:
    out = git(["rev-parse", "--git-path", "hooks"], cwd).decode().strip()
    path = Path(out)
    return path if path.is_absolute() else Path(cwd or Path.cwd()) / path


def hook_script(hook: str, noticer_command: Sequence[str], options: Sequence[str]) -> str:
    """The text of a git hook that runs noticer on what is being committed or pushed."""
    mode = "--staged" if hook == "pre-commit" else "--pushed"
    command = " ".join(shlex.quote(c) for c in [*noticer_command, "check", mode, "--no-progress", *options])
    first = shlex.quote(noticer_command[0])
    action = hook.replace("pre-", "")
    return f"""#!/bin/sh
{MARKER}
# Checks the images this {action} would publish; skip once with `git {action} --no-verify`.
if ! command -v {first} >/dev/null 2>&1 && [ ! -x {first} ]; then
    echo "noticer {hook} hook: {noticer_command[0]} not found; install noticer or run 'noticer uninstall-hook'" >&2
    exit 1
fi
{command}
status=$?
if [ "$status" -eq 1 ]; then
    echo "noticer: {action} stopped by the images above; fix them, or {action} once without this check: git {action} --no-verify" >&2
fi
exit "$status"
"""


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def install_hook(hook: str, noticer_command: Sequence[str], options: Sequence[str] = (), force: bool = False,
                 cwd: str | Path | None = None) -> tuple[Path, Path | None]:
    """Write the hook; refuses to replace a hook that is not ours unless ``force``. Returns
    (the hook, where the hook it replaced is kept, or None)."""
    if hook not in HOOK_NAMES:
        raise ValueError(f"unknown hook {hook!r}; valid: {', '.join(HOOK_NAMES)}")
    target = hooks_dir(cwd) / hook
    foreign = (target.exists() or target.is_symlink()) and not is_ours(target)
    if foreign and not force:
        raise FileExistsError(f"{target} exists and was not installed by noticer; "
                              f"use --force to replace it (it is kept as {target.name}.noticer-backup)")
    target.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if foreign:  # someone's own hook: kept beside, never lost
        backup = target.with_name(f"{target.name}.noticer-backup")
        n = 1
        while backup.exists() or backup.is_symlink():
            n += 1
            backup = target.with_name(f"{target.name}.noticer-backup{n}")
        os.replace(target, backup)
    elif target.is_symlink():
        target.unlink()
    executable = 0o600 | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH  # the owner's, runnable by git for anyone
    replace_atomically(target, hook_script(hook, noticer_command, options).encode("utf-8"), prefix=f".{hook}-",
                       permissions=executable)
    return target, backup


def _backups(target: Path) -> list[Path]:
    """The hooks ``install_hook --force`` kept beside ``target``, oldest first."""
    found = []
    for path in target.parent.glob(f"{target.name}.noticer-backup*"):
        number = path.name[len(f"{target.name}.noticer-backup"):]
        if number == "" or (number.isascii() and number.isdigit()):
            found.append((int(number or 1), path))
    return [path for _, path in sorted(found)]


def uninstall_hook(hook: str, cwd: str | Path | None = None) -> tuple[Path, bool, Path | None]:
    """Remove the hook if it is ours, and put back the hook it replaced (the newest kept by
    ``install_hook --force``): (path, removed, the backup put back or None)."""
    target = hooks_dir(cwd) / hook
    if not (target.is_file() and is_ours(target)):
        return target, False, None
    target.unlink()
    backups = _backups(target)
    if not backups:
        return target, True, None
    os.replace(backups[-1], target)
    return target, True, backups[-1]


def noticer_command() -> list[str]:
    """How a hook should start this noticer: the ``noticer`` script beside this Python if
    there is one, else this Python with ``-m checker`` (the same entry point)."""
    script = Path(sys.executable).with_name("noticer")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "checker"]
