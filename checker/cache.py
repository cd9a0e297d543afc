"""The result cache: one JSON file per image result, keyed by what decides that result.

A result is reused only when everything that went into it is the same:

* the image bytes (SHA-256 of the file content, so a renamed or copied image still hits);
* the *run fingerprint*: noticer's version, the source of the engine and of every rule
  module that runs (with its package's ``data/`` files), the versions of the libraries that
  shape results (OpenCV, MediaPipe, Tesseract, ...), each rule's code, name, resolved
  severity and settings, the content of the files its settings name (``words_file``), and
  fail-on;
* what depends on where the image lives: the rules left after per-file ignores, the
  expected text for its path, its sidecar ``.txt`` and its ALIGN004 reference image.

Entries live in ``.noticer_cache/`` beside the config file (or the current folder when
there is none), unless ``cache-dir`` says otherwise; relative ``cache-dir`` values are
taken from the config file's folder. The folder carries a ``.gitignore`` (``*``) and a
``CACHEDIR.TAG`` so it is never committed or backed up.

Trust nothing read back: an entry that does not parse, has the wrong format version or a
key that is not the one asked for is ignored (and rewritten after the image is checked
again). Writes go to a temporary file in the same folder and are renamed into place, so
two runs at once never leave a half-written entry.

Cached results carry the path of *this* run and keep the ``timings_ms`` measured when they
were computed, so a warm report is identical to the cold one (reports can be diffed, and
the timings keep saying which rules ran and what each image costs to check); the speed of
a warm run is what ``python -m bench.speed`` measures. Results with verdict ``error``
(crashes, time-outs, unreadable files) are never cached: they may be transient.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import __version__
from .config import Plan
from .model import Finding, ImageResult, Region, Severity, Verdict

CACHE_DIRNAME = ".noticer_cache"
ENTRY_FORMAT = 1
# the libraries whose versions can change what a rule finds
RESULT_LIBRARIES = ("numpy", "opencv-contrib-python", "mediapipe", "pillow", "scipy", "pytesseract",
                    "tesserocr", "rapidocr-onnxruntime", "onnxruntime", "onnx", "pyspellchecker", "rapidfuzz")
RUN_DIR_CHARS = 16
KEEP_RUNS = 8  # run folders (code and settings combinations) kept in a cache
CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by noticer.\n"
                "# For information about cache directory tags see https://bford.info/cachedir/\n")


# ----------------------------------------------------------------------------- where

def cache_root(plan: Plan, cwd: Path | None = None) -> Path:
    """The cache folder for a run: ``cache-dir`` if set, else ``.noticer_cache`` beside the
    config file, else in the current folder."""
    base = Path(plan.config_path).resolve().parent if plan.config_path else (cwd or Path.cwd())
    if plan.cache_dir:
        chosen = Path(plan.cache_dir).expanduser()
        return chosen if chosen.is_absolute() else base / chosen
    return base / CACHE_DIRNAME


def _is_run_dir(name: str) -> bool:
    return len(name) == RUN_DIR_CHARS and all(c in "0123456789abcdef" for c in name)


GITIGNORE_TEXT = "# created by noticer\n*\n"


class ForeignFolder(OSError):
    """The cache folder asked for holds files noticer did not make (a folder of images, a
    project): noticer will not put its files there, nor ever remove the folder."""


def ours(root: Path) -> bool:
    """Whether ``root`` holds noticer's own cache tag. Other tools write CACHEDIR.TAG too
    (cargo's target/, borg): only the text noticer writes makes a folder noticer's."""
    tag = root / "CACHEDIR.TAG"
    try:
        if not tag.is_file() or tag.stat().st_size != len(CACHEDIR_TAG.encode("utf-8")):
            return False  # nor a pipe or a large file by that name is read
        return tag.read_text(encoding="utf-8", errors="replace") == CACHEDIR_TAG
    except OSError:
        return False


def foreign_folder(root: Path) -> str | None:
    """Why ``root`` must not be used as a cache (it exists, is not empty and has no noticer
    tag), or None when it may."""
    try:
        if not root.exists() or ours(root):
            return None
        if not root.is_dir():
            return f"{root} is not a folder"
        if any(root.iterdir()):
            return f"{root} is not empty and was not made by noticer"
    except OSError as exc:
        return f"{root}: {exc}"
    return None


def clear(root: Path) -> bool:
    """Remove what noticer put in a cache folder (its entries, tag and .gitignore), then the
    folder if that leaves it empty. Only a folder with our tag file is touched, and nothing
    else in it is removed (a folder a user pointed the cache at keeps its own files)."""
    if not ours(root):
        return False
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink() and child.name[:1] == "v" and child.name[1:].isdigit():
            shutil.rmtree(child, ignore_errors=True)
    gitignore = root / ".gitignore"
    try:
        if gitignore.read_text(encoding="utf-8") == GITIGNORE_TEXT:
            gitignore.unlink()
    except OSError:
        pass
    (root / "CACHEDIR.TAG").unlink(missing_ok=True)
    try:
        root.rmdir()  # only when nothing else is left
    except OSError:
        pass
    return True


# ----------------------------------------------------------------------------- fingerprints

def _hash_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


# a file larger than this (a model a rule package ships) is known by its size and
# modification time: reading it through on every run would cost more than checking images
DIGEST_MAX_BYTES = 8 << 20


@functools.lru_cache(maxsize=256)
def _file_digest(path: str) -> str:
    try:
        size_and_time = os.stat(path)
        if size_and_time.st_size > DIGEST_MAX_BYTES:
            return f"size {size_and_time.st_size} modified {size_and_time.st_mtime_ns}"
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return "missing"


# data files of a rule package that count in the results' key, at most (in name order)
MAX_DATA_FILES = 1000


def _module_sources(module_name: str) -> list[str]:
    """The source files a rule's results depend on: its module, and when the module sits in a
    package, the package's other modules too (rule families share helper modules)."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path:
        return []
    folder = Path(path).parent
    if (folder / "__init__.py").is_file():
        siblings = sorted(str(p) for p in folder.glob("*.py"))
        # and the package's data files (word lists and the like read by its modules)
        data = sorted(str(p) for p in folder.glob("data/**/*") if p.is_file())
        if len(siblings) <= 200:  # not a folder of unrelated modules
            return siblings + data[:MAX_DATA_FILES]
    return [path]


def _setting_files(settings: Mapping[str, Any]) -> dict[str, str]:
    """Digests of the files a rule's settings name (``*_file`` settings, such as TEXT001's
    ``words_file``): editing the file changes the results as much as editing the setting."""
    # read afresh each run (not through _file_digest's per-process memo): a long-lived
    # process using the API sees the file its user just edited
    return {key: _file_digest.__wrapped__(str(value)) for key, value in sorted(settings.items())
            if key.endswith("_file") and isinstance(value, str) and value}


@functools.lru_cache(maxsize=1)
def _environment_fingerprint() -> str:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for dist in RESULT_LIBRARIES:
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    tesseract = shutil.which("tesseract")
    if tesseract:
        st = os.stat(tesseract)
        versions["tesseract-binary"] = [st.st_size, int(st.st_mtime)]
    engine = sorted(str(p) for p in Path(__file__).parent.glob("*.py"))
    return _hash_json({"python": sys.version_info[:2], "libraries": versions,
                       "engine": {Path(p).name: _file_digest(p) for p in engine}})


def run_fingerprint(plan: Plan) -> str:
    """Everything about this run, the same for every image, that decides a result."""
    sources: set[str] = set()
    rules = []
    for rp in plan.rules:
        check = rp.rule.check
        if check is not None:
            sources.update(_module_sources(check.__module__))
        rules.append([rp.rule.code, rp.rule.name, rp.severity.value, rp.settings_dict,
                      getattr(check, "__module__", None), getattr(check, "__qualname__", None),
                      _setting_files(rp.settings_dict)])
    return _hash_json({
        "noticer": __version__,
        "entry_format": ENTRY_FORMAT,
        "environment": _environment_fingerprint(),
        "sources": {s: _file_digest(s) for s in sorted(sources)},
        "rules": rules,
        "fail_on": plan.fail_on.value,
        "max_pixels": plan.max_pixels,
    })


def image_key(plan: Plan, run_fp: str, display_path: str, content_sha: str) -> str:
    """The cache key of one image in one run: its content and what depends on its path."""
    from .runner import _reference_for, _sidecar_text

    path = Path(display_path)
    sidecar = _sidecar_text(path)
    reference = _reference_for(path, plan)
    return _hash_json({
        "run": run_fp,
        "content": content_sha,
        "rules": [rp.rule.code for rp in plan.rules_for(display_path)],
        "expected_text": list(plan.expected_text_for(display_path)),
        "sidecar": hashlib.sha256(sidecar.encode("utf-8")).hexdigest() if sidecar is not None else None,
        "reference": _file_digest(str(reference)) if reference is not None else None,
    })


# ----------------------------------------------------------------------------- (de)serialising

def result_to_entry(key: str, result: ImageResult) -> dict[str, Any]:
    return {"format": ENTRY_FORMAT, "key": key, "noticer": __version__, "result": result.to_dict()}


def _region(value: Any) -> Region | None:
    if value is None:
        return None
    r = Region(int(value["x"]), int(value["y"]), int(value["width"]), int(value["height"]))
    if min(r.x, r.y) < 0 or min(r.width, r.height) < 1:
        raise ValueError("bad region")
    return r


def result_from_entry(entry: Any, key: str, display_path: str) -> ImageResult:
    """Rebuild a result from a cache entry; raises (KeyError, ValueError, TypeError) on
    anything that is not exactly what this version writes for this key."""
    if not isinstance(entry, Mapping) or entry.get("format") != ENTRY_FORMAT or entry.get("key") != key:
        raise ValueError("foreign or stale cache entry")
    raw = entry["result"]
    findings = []
    for f in raw["findings"]:
        measurements = f["measurements"]
        if not isinstance(measurements, Mapping) or not isinstance(f["message"], str):
            raise TypeError("bad finding")
        findings.append(Finding(str(f["code"]), str(f["rule"]), Severity(f["severity"]),
                                float(f["confidence"]), f["message"], _region(f["region"]), dict(measurements)))
    sha = raw["sha256"]
    if not (isinstance(sha, str) and len(sha) == 64):
        raise ValueError("bad sha256")
    timings = {str(k): float(v) for k, v in raw["timings_ms"].items()}
    if any(not v >= 0 for v in timings.values()):
        raise ValueError("bad timings")
    observations = raw.get("observations", {})
    if not isinstance(observations, Mapping):
        raise TypeError("bad observations")
    return ImageResult(display_path, sha, int(raw["width"]), int(raw["height"]), Verdict(raw["verdict"]),
                       tuple(findings), timings, dict(observations))


# ----------------------------------------------------------------------------- the store

@dataclass(frozen=True)
class ResultCache:
    """A folder of entries ``<root>/v1/<run>/<key[:2]>/<key>.json``, where ``<run>`` is the
    start of the run fingerprint: entries of runs with other code or settings sit in other
    ``<run>`` folders, and only the most recently used ``KEEP_RUNS`` of those are kept."""

    root: Path
    run: str = "any"

    def for_run(self, run_fp: str) -> "ResultCache":
        return ResultCache(self.root, run_fp[:RUN_DIR_CHARS])

    def _entry_path(self, key: str) -> Path:
        return self.root / f"v{ENTRY_FORMAT}" / self.run / key[:2] / f"{key}.json"

    def prune(self, keep: int = 8) -> list[Path]:
        """Mark this run's folder as just used and remove all but the ``keep`` most recently
        used run folders (only folders named like ours). Returns what was removed."""
        base = self.root / f"v{ENTRY_FORMAT}"
        mine = base / self.run
        try:
            if mine.is_dir():
                os.utime(mine)
            runs = [p for p in base.iterdir() if p.is_dir() and _is_run_dir(p.name)]
        except OSError:
            return []
        runs.sort(key=lambda p: (p == mine, p.stat().st_mtime), reverse=True)
        if mine not in runs:
            keep -= 1  # this run's folder is about to be made
        removed = []
        for old in runs[max(keep, 0):]:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
        return removed

    def get(self, key: str, display_path: str) -> ImageResult | None:
        try:
            with open(self._entry_path(key), "rb") as fh:
                entry = json.loads(fh.read())
            return result_from_entry(entry, key, display_path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, key: str, result: ImageResult) -> bool:
        """Store a result atomically; False (and nothing written) when it should not be cached
        or the folder is not writable."""
        if result.verdict is Verdict.ERROR or result.sha256 is None:
            return False
        target = self._entry_path(key)
        try:
            self._prepare()
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(result_to_entry(key, result), fh, ensure_ascii=False)
                os.chmod(tmp, 0o644)  # mkstemp makes 0600; entries are as readable as other files
                os.replace(tmp, target)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            return False
        return True

    def _prepare(self) -> None:
        if ours(self.root):
            return
        why = foreign_folder(self.root)
        if why:
            raise ForeignFolder(why)
        self.root.mkdir(parents=True, exist_ok=True)
        for name, text in (("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", GITIGNORE_TEXT)):
            path = self.root / name
            if not path.exists():
                fd, tmp = tempfile.mkstemp(dir=self.root)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, path)


# ----------------------------------------------------------------------------- the seam

@dataclass(frozen=True)
class Lookup:
    """What the cache had for a run: results found, and the key of every image still to check."""

    hits: tuple[ImageResult, ...]
    keys: Mapping[str, tuple[str, str]]  # display path -> (key, content sha) of images still to check
    cache: ResultCache  # the folder of this run's entries


def lookup(cache: ResultCache, plan: Plan, paths: Iterable[str]) -> Lookup:
    """Look every path up; unreadable files are left to the checker (it reports them)."""
    from .imageio import ImageLoadError, read_bytes, sha256_of

    run_fp = run_fingerprint(plan)
    cache = cache.for_run(run_fp)
    cache.prune(KEEP_RUNS)
    hits: list[ImageResult] = []
    keys: dict[str, tuple[str, str]] = {}
    for display in paths:
        try:  # read_bytes refuses pipes and devices: opening a FIFO would hang the run
            sha = sha256_of(read_bytes(Path(display)))
        except ImageLoadError:
            continue
        key = image_key(plan, run_fp, display, sha)
        found = cache.get(key, display)
        if found is not None and found.sha256 == sha:
            hits.append(found)
        else:
            keys[display] = (key, sha)
    return Lookup(tuple(hits), keys, cache)


def store(found: Lookup, result: ImageResult) -> bool:
    """Store a freshly computed result under the key looked up for its path, but only if the
    bytes that were checked are the bytes the key was made from (the file may have changed)."""
    entry = found.keys.get(result.path)
    if entry is None or entry[1] != result.sha256:
        return False
    return found.cache.put(entry[0], result)
