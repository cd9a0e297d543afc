"""What to check: local files and folders, fsspec URLs, and the one glob matcher.

One matcher, :func:`glob_matches`, decides every glob noticer takes (``exclude``,
``per-file-ignores``, ``expected-text``): a pattern matches a path as given, as its end
(``drafts/*`` matches ``site/drafts/a.png``), by file name, or, with a base folder (the
config file's), relative to it. A path is excluded when it, or a folder between the path
the user gave and it, matches an ``exclude`` pattern: folders are walked (or listed, for
URLs, or taken from git) alike.

URLs (``s3://``, ``gs://``, ``file://``) are listed and read with fsspec, which comes with
the ``noticer[dask]`` extra; without it, a URL is a clear error naming the extra.

This module imports no image library: finding what to check (and seeing that nothing
changed, :mod:`checker.replay`) costs no NumPy import; reading the bytes is
:func:`checker.imageio.read_source`.
"""
from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Iterable, Sequence

from .errors import DaskSetupError, import_dask_extra

# which files are picked up from folders; decoding itself goes by the content (magic bytes), so a
# JPEG saved as `.png` is judged like any JPEG. `.jfif` and `.jpe` are JPEG names browsers and
# Windows give downloads.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp", ".tif", ".tiff")

CACHE_DIRNAME = ".noticer_cache"  # the result cache's folder (checker.cache)
SKIPPED_FOLDERS = (".git", CACHE_DIRNAME, ".venv", "__pycache__")
REPEATED_FOLDER = "symlink loop or repeated folder, skipped"  # its images are found once: only a note


# ----------------------------------------------------------------------------- globs

def is_url(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def _posix(path: str | os.PathLike) -> str:
    return str(path) if is_url(path) else Path(path).as_posix()


def glob_matches(path: str | os.PathLike, pattern: str, base: Path | None = None) -> bool:
    """Whether ``pattern`` matches ``path``: as given, as its end, by file name, or (with
    ``base``) relative to ``base``, so a config's globs mean the same files wherever noticer
    is started."""
    posix = _posix(path)
    candidates = [posix]
    if base is not None and not is_url(path):
        try:
            candidates.append(Path(os.path.abspath(path)).relative_to(os.path.abspath(base)).as_posix())
        except ValueError:
            pass  # outside the base folder
    name = posix.rstrip("/").rsplit("/", 1)[-1]
    return (any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, f"*/{pattern}") for c in candidates)
            or fnmatch.fnmatch(name, pattern))


def excluded(path: str | os.PathLike, patterns: Sequence[str]) -> bool:
    return any(glob_matches(path, pattern) for pattern in patterns)


def excluded_below(path: str, root: str, patterns: Sequence[str]) -> bool:
    """Whether ``path`` (found below ``root``, the path the user gave) or a folder between
    ``root`` and it is excluded: what the folder walk decides, for paths not found by walking
    (URL listings, git)."""
    if not patterns:
        return False
    if excluded(path, patterns):
        return True
    posix, top = _posix(path), _posix(root).rstrip("/")
    if top in ("", "."):
        prefix, rest = "", posix
    elif posix.startswith(top + "/"):
        prefix, rest = top + "/", posix[len(top) + 1:]
    else:
        return False
    for part in rest.split("/")[:-1]:
        prefix += part
        if excluded(prefix, patterns):
            return True
        prefix += "/"
    return False


def sidecar_paths(path: str) -> tuple[Path, Path]:
    """Where an image's sidecar text (its prompt) may be: ``x.txt`` or ``x.png.txt`` beside it."""
    image = Path(path)
    return image.with_suffix(".txt"), image.with_name(image.name + ".txt")


def is_under(path: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    return any(path == root or root in path.parents for root in roots)


# ----------------------------------------------------------------------------- URLs

def import_fsspec():
    return import_dask_extra("fsspec", "reading URLs needs fsspec")


def expand_urls(urls: Iterable[str], exclude: Sequence[str] = (),
                suffixes: Sequence[str] = IMAGE_SUFFIXES) -> list[str]:
    """List the images behind fsspec URLs: a file URL is itself, a folder URL is every image
    below it (recursively), a URL with ``*`` is a glob. Returns full URLs, sorted.
    Raises FileNotFoundError for a URL with nothing behind it, DaskSetupError when fsspec
    (or the filesystem's package, such as s3fs) is missing."""
    fsspec = import_fsspec()
    found: set[str] = set()
    for url in urls:
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except ImportError as exc:  # e.g. "Install s3fs to access S3"
            raise DaskSetupError(f"{url}: {exc}") from None
        if any(ch in root for ch in "*?["):
            candidates = [p for p in fs.glob(root) if not fs.isdir(p)]
            top = fs.unstrip_protocol(root.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0].rsplit("/", 1)[0])
        elif fs.isdir(root):
            candidates, top = fs.find(root), fs.unstrip_protocol(root)
        elif fs.exists(root):
            candidates, top = [root], fs.unstrip_protocol(root)
        else:
            raise FileNotFoundError(f"no such file or folder: {url}")
        for p in candidates:
            full = fs.unstrip_protocol(p)
            if any(part in SKIPPED_FOLDERS for part in p.split("/")[:-1]):
                continue
            if p.lower().endswith(tuple(suffixes)) and not excluded_below(full, top, exclude):
                found.add(full)
    return sorted(found)


def read_url(url: str) -> bytes:
    fsspec = import_fsspec()
    with fsspec.open(url, "rb") as handle:
        return handle.read()


def absolute_source(path: str) -> str:
    """Where another process (a Dask worker) reads a path from: URLs as they are, local paths
    made absolute (a worker's working folder is not the caller's)."""
    return path if is_url(path) else os.path.abspath(path)


# ----------------------------------------------------------------------------- local files

def find_images(paths: Iterable[str | os.PathLike], exclude: Sequence[str] = (),
                suffixes: Sequence[str] = IMAGE_SUFFIXES) -> tuple[list, list[tuple[object, str]]]:
    """Expand files, folders (recursively, following links once) and URLs into image paths
    (Paths for local files, strings for URLs), sorted.

    Returns (images, problems): problems are paths that could not be walked, with why
    (a symlink loop, a missing path, an unreadable folder, a URL with nothing behind it)."""
    found: dict[str, Path | str] = {}
    problems: list[tuple[object, str]] = []
    for raw in paths:
        if is_url(raw):  # listed here, read where the image is checked
            try:
                for url in expand_urls([str(raw)], exclude=exclude, suffixes=suffixes):
                    found.setdefault(url, url)
            except FileNotFoundError as exc:
                problems.append((raw, str(exc)))
            continue
        root = Path(raw)
        if not root.exists() and not root.is_symlink():
            problems.append((root, "no such file or folder"))
            continue
        if not root.is_dir():  # a file, a broken link, or a pipe or device: the runner says which
            if not excluded(root, exclude):
                found.setdefault(str(root), root)
            continue
        for image in _walk(root, exclude, suffixes, problems):
            found.setdefault(str(image), image)
    return sorted(found.values(), key=lambda p: p if isinstance(p, str) else p.as_posix()), problems


def _walk(root: Path, exclude: Sequence[str], suffixes: Sequence[str],
          problems: list[tuple[object, str]]) -> Iterable[Path]:
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError as exc:
            problems.append((folder, f"cannot open folder: {exc.strerror or exc}"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            problems.append((folder, REPEATED_FOLDER))
            continue
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            problems.append((folder, f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            p = Path(entry.path)
            if excluded(p, exclude) or entry.name in SKIPPED_FOLDERS:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(p)
            elif p.suffix.lower() in suffixes:
                yield p


def expand_inputs(paths: Sequence[str | os.PathLike], exclude: Sequence[str] = ()) -> list[str]:
    """Local files and folders and URLs as one sorted list of strings; a path with nothing
    behind it raises FileNotFoundError."""
    images, problems = find_images(paths, exclude=exclude)
    if problems:
        where, why = problems[0]
        raise FileNotFoundError(f"{where}: {why}" if not str(why).startswith("no such file or folder:")
                                else str(why))
    return sorted(str(p) for p in images)

