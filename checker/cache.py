"""The result cache: one JSON file per image and rule family, keyed by what decides it.

An image's result is the sum of what each rule *family* found in it (a family is the rules'
top-level package: ``rules.align``, ``rules.text``, or a plugin's package). Each family's
part is cached on its own, so editing ``rules/align/*.py`` recomputes only the ALIGN rules
of cached images, and the other families' parts are reused. A part is reused only when
everything that went into it is the same:

* the image bytes (SHA-256 of the file content, so a renamed or copied image still hits;
  a warm run takes it from the last run's ``digests.json`` while the file's identity, size,
  mtime and ctime are unchanged: :class:`DigestMemo`);
* the *family fingerprint*: noticer's version, the engine's source and the versions of the
  libraries that shape results (OpenCV, MediaPipe, Tesseract, ...), the source of every
  module of the family's package (with its ``data/`` files), each of the family's rules'
  code, name, resolved severity and settings, the content of the files its settings name
  (``words_file``), and max-pixels;
* what the image's job says depends on where the image lives (:class:`checker.job.ImageJob`):
  the family's rules left after per-file ignores, the expected text for its path, its
  sidecar ``.txt`` and its ALIGN004 reference image.

The verdict is not cached: it is recomputed from the findings with this run's fail-on.

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
import stat
import sys
import time
from dataclasses import dataclass, field, replace
from importlib.metadata import Distribution, PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .version import __version__
from .config import Plan, RulePlan
from .imageio import ImageLoadError, read_source, sha256_of
from .inputs import CACHE_DIRNAME, is_url
from .job import ImageJob
from .model import Finding, ImageResult, Region, Severity, verdict_for
from .replay import RECORDS_DIRNAME, SETTLED_NS, file_signature
from .rule import Rule
from .runner import finding_sort_key
from .writing import replace_atomically

ENTRY_FORMAT = 2
# the libraries whose versions can change what a rule finds. The OCR models are noticer's own
# package data, each checked against its SHA-256 in rules/text/ppocr.py (MODEL_SHA256), a
# source file of the text family: new models change that family's key like its code does.
RESULT_LIBRARIES = ("numpy", "opencv-contrib-python", "mediapipe", "pillow", "pyspng", "scipy", "pytesseract",
                    "tesserocr", "onnxruntime", "onnx", "pyspellchecker", "rapidfuzz")
RUN_DIR_CHARS = 16
MAX_ENTRY_BYTES = 16 << 20  # an entry larger than this is not ours: it is not read
KEEP_RUNS = 8  # fingerprint folders (code and settings combinations) kept per family
CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by noticer.\n"
                "# For information about cache directory tags see https://bford.info/cachedir/\n")
ENGINE_FOLDER = Path(__file__).parent


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
        if child.is_dir() and not child.is_symlink() and (
                child.name == RECORDS_DIRNAME or child.name[:1] == "v" and child.name[1:].isdigit()):
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




# ----------------------------------------------------------------------------- families

def rule_family(rule: Rule) -> str:
    """The family whose sources decide a rule's results: the rule's top-level package under
    ``rules/`` (``rules.align`` for ``rules.align.seams``), else its top-level package (a
    plugin's)."""
    return _module_family(getattr(rule.check, "__module__", None) or "__unknown__")


@functools.lru_cache(maxsize=None)
def _module_family(module: str) -> str:
    # memoised: a warm run asks this of every rule of every image (~4600 times for 64 images)
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "rules" and len(parts) > 1 else parts[0]


# ----------------------------------------------------------------------------- fingerprints

def _hash_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


# a file larger than this (a model a rule package ships) is known by its size and
# modification time: reading it through on every run would cost more than checking images
DIGEST_MAX_BYTES = 8 << 20


@functools.lru_cache(maxsize=1024)
def file_digest(path: str) -> str:
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


# modules and data files of a family that count in its key, at most (in name order)
MAX_FAMILY_FILES = 1000


def family_sources(family: str, rule_modules: Iterable[str] = ()) -> list[str]:
    """The files a family's results depend on: every module of its package (sub-packages
    included) and the package's ``data/`` files; for a family that is no package (a plugin's
    single module, a test's rules), the modules its rules' checks live in."""
    package = sys.modules.get(family)
    init = getattr(package, "__file__", None)
    if init and hasattr(package, "__path__"):
        folder = Path(init).parent
        modules = sorted(str(p) for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
        data = sorted(str(p) for p in folder.glob("data/**/*") if p.is_file())
        return (modules + data)[:MAX_FAMILY_FILES]
    files = {getattr(sys.modules.get(name), "__file__", None) for name in rule_modules}
    return sorted(f for f in files if f)


def _setting_files(settings: Mapping[str, Any]) -> dict[str, str]:
    """Digests of the files a rule's settings name (``*_file`` settings, such as TEXT001's
    ``words_file``): editing the file changes the results as much as editing the setting."""
    # read afresh each run (not through file_digest's per-process memo): a long-lived
    # process using the API sees the file its user just edited
    return {key: file_digest.__wrapped__(str(value)) for key, value in sorted(settings.items())
            if key.endswith("_file") and isinstance(value, str) and value}


def distribution_version(name: str) -> str | None:
    """The installed version of distribution ``name`` (None when it is not installed), as
    importlib.metadata.version gives it, read from the ``Version:`` line of its metadata's
    header: version() parses the whole file with the email package, long descriptions
    included (~20 ms for RESULT_LIBRARIES on a warm run, against ~3 ms)."""
    try:
        dist = Distribution.from_name(name)
    except PackageNotFoundError:
        return None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    for line in (text or "").splitlines():
        if not line.strip():
            break  # the end of the header
        if line.lower().startswith("version:"):
            return line.split(":", 1)[1].strip()
    try:
        return version(name)  # metadata this reading does not understand
    except PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def environment_fingerprint() -> str:
    """noticer's own code and the libraries that shape results, the same for every family."""
    versions = {dist: distribution_version(dist) for dist in RESULT_LIBRARIES}
    tesseract = shutil.which("tesseract")
    if tesseract:
        st = os.stat(tesseract)
        versions["tesseract-binary"] = [st.st_size, int(st.st_mtime)]
    engine = sorted(p for p in ENGINE_FOLDER.rglob("*.py") if "__pycache__" not in p.parts)
    return _hash_json({"python": sys.version_info[:2], "libraries": versions,
                       "engine": {p.relative_to(ENGINE_FOLDER).as_posix(): file_digest(str(p)) for p in engine}})


def family_fingerprint(family: str, rules: Sequence[RulePlan], max_pixels: int) -> str:
    """Everything about this run that decides one family's part of every image's result."""
    described = []
    for rp in rules:
        check = rp.rule.check
        described.append([rp.rule.code, rp.rule.name, rp.severity.value, rp.settings_dict,
                          getattr(check, "__module__", None), getattr(check, "__qualname__", None),
                          _setting_files(rp.settings_dict)])
    sources = family_sources(family, [rp.rule.check.__module__ for rp in rules])
    return _hash_json({
        "noticer": __version__,
        "entry_format": ENTRY_FORMAT,
        "environment": environment_fingerprint(),
        "family": family,
        "sources": {s: file_digest(s) for s in sources},
        "rules": described,
        "max_pixels": max_pixels,
    })


def family_fingerprints(plan: Plan) -> dict[str, str]:
    """{family: fingerprint} of the families of the plan's rules."""
    by_family: dict[str, list[RulePlan]] = {}
    for rp in plan.rules:
        if rp.rule.check is not None:
            by_family.setdefault(rule_family(rp.rule), []).append(rp)
    return {family: family_fingerprint(family, rules, plan.max_pixels) for family, rules in by_family.items()}


def result_dependencies(plan: Plan) -> tuple[list[str], list[str]]:
    """(files, folders) whose change changes the keys of this plan's cached results, the image
    aside: the engine's and every family's sources with the folders holding them (a module
    added counts), the files the rules' settings name, and the ``tesseract`` binary. The
    replay of an unchanged run (:mod:`checker.replay`) stamps them; library versions it
    follows through the folders on ``sys.path``."""
    files = [str(p) for p in sorted(ENGINE_FOLDER.rglob("*")) if "__pycache__" not in p.parts and p.is_file()]
    by_family: dict[str, list[str]] = {}
    for rp in plan.rules:
        if rp.rule.check is not None:
            by_family.setdefault(rule_family(rp.rule), []).append(rp.rule.check.__module__)
            files.extend(str(v) for k, v in sorted(rp.settings_dict.items())
                         if k.endswith("_file") and isinstance(v, str) and v)
    for family, modules in sorted(by_family.items()):
        package = sys.modules.get(family)
        if hasattr(package, "__path__") and getattr(package, "__file__", None):
            # every file of the package: its modules and data (family_sources) and what else it ships
            top = Path(package.__file__).parent
            files.extend(str(p) for p in sorted(top.rglob("*")) if "__pycache__" not in p.parts and p.is_file())
        else:
            files.extend(family_sources(family, modules))
    tesseract = shutil.which("tesseract")
    if tesseract:
        files.append(tesseract)
    folders = sorted({os.path.dirname(f) for f in files if f != tesseract})
    return list(dict.fromkeys(files)), folders


def part_key(family_fp: str, job: ImageJob, family: str, content_sha: str) -> str:
    """The cache key of one family's part of one image's result."""
    sidecar = job.sidecar_text
    return _hash_json({
        "family": family_fp,
        "content": content_sha,
        "rules": [rp.rule.code for rp in job.rules if rp.rule.check is not None and rule_family(rp.rule) == family],
        "expected_text": list(job.expected_text),
        "sidecar": hashlib.sha256(sidecar.encode("utf-8")).hexdigest() if sidecar is not None else None,
        "reference": file_digest.__wrapped__(job.reference) if job.reference is not None else None,
    })


# ----------------------------------------------------------------------------- a family's part

@dataclass(frozen=True)
class FamilyPart:
    """What one family's rules found in one image, with what the image was."""

    family: str
    sha256: str
    width: int
    height: int
    load_ms: float
    findings: tuple[Finding, ...] = ()
    timings_ms: Mapping[str, float] = field(default_factory=dict)  # rule name -> ms
    observations: Mapping[str, Any] = field(default_factory=dict)
    observed_by: Mapping[str, str] = field(default_factory=dict)  # observation -> rule code


def split_by_family(result: ImageResult, rules: Sequence[RulePlan], families: Iterable[str]) -> dict[str, FamilyPart]:
    """The parts of a checked image's result that belong to ``families``."""
    family_of_code = {rp.rule.code: rule_family(rp.rule) for rp in rules if rp.rule.check is not None}
    family_of_name = {rp.rule.name: rule_family(rp.rule) for rp in rules if rp.rule.check is not None}
    parts = {}
    for family in families:
        observed = {key: code for key, code in result.observed_by.items() if family_of_code.get(code) == family}
        parts[family] = FamilyPart(
            family, result.sha256, result.width, result.height, float(result.timings_ms.get("load", 0.0)),
            tuple(f for f in result.findings if family_of_code.get(f.code) == family),
            {name: ms for name, ms in result.timings_ms.items() if family_of_name.get(name) == family},
            {key: result.observations[key] for key in observed if key in result.observations}, observed)
    return parts


def assemble(job: ImageJob, fresh: ImageResult | None, parts: Sequence[FamilyPart]) -> ImageResult:
    """One image's result from its cached family parts and the result of checking the rest
    (``fresh``: None when every family was cached). Findings, timings and observations come
    in the order the runner gives them; the verdict is decided with this run's fail-on."""
    if fresh is not None and (fresh.width is None or not parts):
        return fresh  # unreadable now, or nothing was cached: the fresh result is the whole
    first = parts[0]
    findings = [*(fresh.findings if fresh else ()), *(f for p in parts for f in p.findings)]
    ordered = tuple(sorted(findings, key=finding_sort_key))
    rule_timings = {name: ms for p in parts for name, ms in p.timings_ms.items()}
    if fresh is not None:
        rule_timings.update({k: v for k, v in fresh.timings_ms.items() if k != "load"})
    timings = {"load": fresh.timings_ms.get("load", first.load_ms) if fresh else first.load_ms}
    timings.update({rp.rule.name: rule_timings[rp.rule.name] for rp in job.rules if rp.rule.name in rule_timings})
    observations_by_rule: dict[str, dict[str, Any]] = {}
    observed_by: dict[str, str] = {}
    sources = [*parts, *([fresh] if fresh is not None else [])]
    for source in sources:
        for key, code in source.observed_by.items():
            if key in source.observations:
                observations_by_rule.setdefault(code, {})[key] = source.observations[key]
                observed_by[key] = code
    observations: dict[str, Any] = {}
    if job.reference_note is not None:
        observations["reference"] = job.reference_note
    for rp in job.rules:
        observations.update(observations_by_rule.get(rp.rule.code, {}))
    broken = fresh is not None and fresh.verdict.value == "error"
    sha = fresh.sha256 if fresh is not None else first.sha256
    return ImageResult(job.path, sha, first.width, first.height, verdict_for(ordered, job.fail_on, broken),
                       ordered, timings, observations, observed_by)


# ----------------------------------------------------------------------------- (de)serialising

def part_to_entry(key: str, part: FamilyPart) -> dict[str, Any]:
    return {"format": ENTRY_FORMAT, "key": key, "noticer": __version__, "family": part.family,
            "image": {"sha256": part.sha256, "width": part.width, "height": part.height, "load_ms": part.load_ms},
            "findings": [f.to_dict() for f in part.findings], "timings_ms": dict(part.timings_ms),
            "observations": dict(part.observations), "observed_by": dict(part.observed_by)}


def _region(value: Any) -> Region | None:
    if value is None:
        return None
    r = Region(int(value["x"]), int(value["y"]), int(value["width"]), int(value["height"]))
    if min(r.x, r.y) < 0 or min(r.width, r.height) < 1:
        raise ValueError("bad region")
    return r


def part_from_entry(entry: Any, key: str, family: str) -> FamilyPart:
    """Rebuild a family's part from a cache entry; raises (KeyError, ValueError, TypeError)
    on anything that is not exactly what this version writes for this key."""
    if not isinstance(entry, Mapping) or entry.get("format") != ENTRY_FORMAT or entry.get("key") != key \
            or entry.get("family") != family:
        raise ValueError("foreign or stale cache entry")
    findings = []
    for f in entry["findings"]:
        measurements = f["measurements"]
        if not isinstance(measurements, Mapping) or not isinstance(f["message"], str):
            raise TypeError("bad finding")
        findings.append(Finding(str(f["code"]), str(f["rule"]), Severity(f["severity"]),
                                float(f["confidence"]), f["message"], _region(f["region"]), dict(measurements)))
    image = entry["image"]
    sha = image["sha256"]
    if not (isinstance(sha, str) and len(sha) == 64):
        raise ValueError("bad sha256")
    timings = {str(k): float(v) for k, v in entry["timings_ms"].items()}
    load_ms = float(image["load_ms"])
    if any(not v >= 0 for v in [*timings.values(), load_ms]):
        raise ValueError("bad timings")
    observations, observed_by = entry["observations"], entry["observed_by"]
    if not isinstance(observations, Mapping) or not isinstance(observed_by, Mapping):
        raise TypeError("bad observations")
    width, height = int(image["width"]), int(image["height"])
    if min(width, height) < 1:
        raise ValueError("bad size")
    return FamilyPart(family, sha, width, height, load_ms, tuple(findings), timings, dict(observations),
                      {str(k): str(v) for k, v in observed_by.items()})


# ----------------------------------------------------------------------------- the store

def _family_dir(family: str) -> str:
    """A family's folder name: its package name, with anything but letters, digits, dots,
    dashes and underscores replaced."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in family) or "_"


@functools.lru_cache(maxsize=64)
def _run_dir(root: Path, family: str, family_fp: str) -> Path:
    # memoised: the same few folders are asked for once per image and family
    return root / f"v{ENTRY_FORMAT}" / _family_dir(family) / family_fp[:RUN_DIR_CHARS]


def write_json_atomically(target: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``target`` (:func:`checker.writing.replace_atomically`), its
    folder made first. Raises OSError when the folder cannot be written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # ASCII: a file name that is not UTF-8 (surrogates) stays writable; as readable as other files
    replace_atomically(target, json.dumps(value).encode("ascii"), permissions=0o644)


@dataclass(frozen=True)
class ResultCache:
    """A folder of entries ``<root>/v2/<family>/<run>/<key[:2]>/<key>.json``, where ``<run>``
    is the start of the family's fingerprint: entries made with other code or settings sit
    in other ``<run>`` folders, and only the most recently used ``KEEP_RUNS`` of those are
    kept per family."""

    root: Path

    def _run_dir(self, family: str, family_fp: str) -> Path:
        return _run_dir(self.root, family, family_fp)

    def _entry_path(self, family: str, family_fp: str, key: str) -> Path:
        return self._run_dir(family, family_fp) / key[:2] / f"{key}.json"

    def prune(self, family: str, family_fp: str, keep: int = KEEP_RUNS) -> list[Path]:
        """Mark this family's run folder as just used and remove all but the ``keep`` most
        recently used run folders of the family (only folders named like ours)."""
        mine = self._run_dir(family, family_fp)
        base = mine.parent
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

    def get(self, family: str, family_fp: str, key: str) -> FamilyPart | None:
        """The part stored under ``key``, or None. Only a regular file of at most
        ``MAX_ENTRY_BYTES`` is read (a FIFO would hang the run, a link to /dev/zero would
        fill the memory), and whatever it holds is checked field by field."""
        path = self._entry_path(family, family_fp, key)
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY_BYTES:
                return None
            with open(path, "rb") as fh:
                raw = fh.read(MAX_ENTRY_BYTES + 1)
            if len(raw) > MAX_ENTRY_BYTES:
                return None
            return part_from_entry(json.loads(raw), key, family)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def put(self, family_fp: str, key: str, part: FamilyPart) -> bool:
        """Store a part atomically; False (and nothing written) when the folder is not ours
        or not writable."""
        target = self._entry_path(part.family, family_fp, key)
        try:
            self._prepare()
            write_json_atomically(target, part_to_entry(key, part))
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
                replace_atomically(path, text.encode("utf-8"))


# ----------------------------------------------------------------------------- a run's use of it

@dataclass(frozen=True)
class CachedImage:
    """What the cache had for one image: its parts found, and the job still to run (the
    families not found), or None when every family was found."""

    job: ImageJob  # the image's whole job
    sha256: str | None
    hits: tuple[FamilyPart, ...]
    missing: Mapping[str, str]  # family -> key of the parts still to compute
    to_run: ImageJob | None


# a digest remembered from an earlier run is used only for a file whose last change (mtime
# and ctime) was at least this long before that run read it: a change made after the read
# then always shows in the file's ctime, even on a file system whose clock has 2-s steps
# (the replay of an unchanged run keeps its records on the same terms)
DIGEST_SETTLED_NS = SETTLED_NS
MAX_DIGESTS = 20_000  # files remembered in digests.json, this run's first (~4 MB, ~26 ms to read)


class DigestMemo:
    """The SHA-256 of the local images of earlier runs (``<root>/v<format>/digests.json``),
    by absolute path and file signature, so that a warm run does not read and hash every
    image again (~0.6 ms per MB). An entry is used only while the file's signature is the
    one recorded, and recorded only for a file that had not changed for DIGEST_SETTLED_NS
    before it was read; anything unexpected in the file is ignored (every image is then
    hashed, as without it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / f"v{ENTRY_FORMAT}" / "digests.json"
        self.known: dict[str, list] = {}
        self.fresh: dict[str, list] = {}
        self.forgotten = False
        try:
            info = os.stat(self.path)
            if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_ENTRY_BYTES:
                loaded = json.loads(self.path.read_bytes())
                if isinstance(loaded, dict) and loaded.get("format") == ENTRY_FORMAT \
                        and isinstance(loaded.get("files"), dict):
                    self.known = loaded["files"]
        except (OSError, ValueError, RecursionError):
            pass

    def digest(self, source: str) -> str:
        """The SHA-256 of the local file ``source`` (ImageLoadError as read_source raises it)."""
        path = os.path.abspath(source)
        try:
            info = os.stat(path)
        except OSError:
            info = None
        if info is not None and stat.S_ISREG(info.st_mode):
            signature = file_signature(info)
            entry = self.known.get(path)
            if isinstance(entry, list) and len(entry) == 2 and entry[0] == signature and isinstance(entry[1], str):
                self.fresh[path] = entry
                return entry[1]
        started = time.time_ns()
        sha = sha256_of(read_source(source))
        if info is not None and stat.S_ISREG(info.st_mode) \
                and max(info.st_mtime_ns, info.st_ctime_ns) < started - DIGEST_SETTLED_NS:
            after = os.stat(path)  # the same file, unchanged while it was read
            if file_signature(after) == signature:
                self.fresh[path] = [signature, sha]
        return sha

    def forget(self, source: str) -> None:
        """Drop what is remembered of ``source``: the image read by the checker did not have
        the digest given (it changed during the run, or the entry was wrong)."""
        path = os.path.abspath(source)
        self.fresh.pop(path, None)
        self.known.pop(path, None)
        self.forgotten = True

    def save(self) -> None:
        """Write this run's digests, then earlier ones, up to MAX_DIGESTS (atomically; a
        folder that cannot be written is no error). Nothing is written when nothing changed,
        nor in a folder that is not (yet) noticer's cache."""
        unchanged = not self.forgotten and all(self.known.get(k) == v for k, v in self.fresh.items())
        if not self.fresh or unchanged or not ours(self.root):
            return
        files = dict(self.fresh)
        for key, value in self.known.items():
            if len(files) >= MAX_DIGESTS:
                break
            files.setdefault(key, value)
        try:
            write_json_atomically(self.path, {"format": ENTRY_FORMAT, "files": files})
        except OSError:
            pass


class RunCache:
    """The cache as one run uses it: look each job up, then complete each fresh result with
    the parts found and store the parts computed."""

    def __init__(self, cache: ResultCache, plan: Plan) -> None:
        self.cache = cache
        self.fingerprints = family_fingerprints(plan)
        for family, fp in self.fingerprints.items():
            cache.prune(family, fp)
        self.digests = DigestMemo(cache.root)

    def lookup(self, job: ImageJob) -> CachedImage:
        """Unreadable files are left to the checker (it reports them)."""
        if is_url(job.source):  # read where it is checked, not twice over the network
            return CachedImage(job, None, (), {}, job)
        try:  # read_source refuses pipes and devices: opening a FIFO would hang the run
            sha = self.digests.digest(job.source)
        except ImageLoadError:
            return CachedImage(job, None, (), {}, job)
        families = [f for f in dict.fromkeys(rule_family(rp.rule) for rp in job.rules if rp.rule.check is not None)]
        hits, missing = [], {}
        for family in families:
            fp = self.fingerprints[family]
            key = part_key(fp, job, family, sha)
            found = self.cache.get(family, fp, key)
            if found is not None and found.sha256 == sha:
                hits.append(found)
            else:
                missing[family] = key
        if not families or missing:
            rules = tuple(rp for rp in job.rules if rp.rule.check is None or rule_family(rp.rule) in missing)
            to_run = replace(job, rules=rules)
        else:
            to_run = None
        return CachedImage(job, sha, tuple(hits), missing, to_run)

    def finish(self) -> None:
        """At the end of the run: keep the images' digests for the next one."""
        self.digests.save()

    def complete(self, cached: CachedImage, fresh: ImageResult | None) -> ImageResult:
        """The image's whole result; the fresh parts are stored when they were computed from
        the bytes the keys were made from (the file may have changed) and nothing failed."""
        if fresh is not None and cached.sha256 is not None and fresh.sha256 == cached.sha256 \
                and fresh.verdict.value != "error":
            for family, part in split_by_family(fresh, cached.job.rules, cached.missing).items():
                self.cache.put(self.fingerprints[family], cached.missing[family], part)
        if fresh is not None and cached.sha256 is not None and fresh.sha256 is not None \
                and fresh.sha256 != cached.sha256:
            self.digests.forget(cached.job.source)
        if fresh is not None and (cached.sha256 is None or fresh.sha256 != cached.sha256):
            return fresh  # the bytes changed under the run: the cached parts are of other bytes
        return assemble(cached.job, fresh, cached.hits)
