"""Replaying a run when nothing it depended on has changed.

A warm ``noticer check`` (every result in the cache) still imports the engine, NumPy and
every rule package, resolves the config and reads a cache entry per image and rule family:
~0.5 s, whatever the images. When *nothing* the run depended on has changed, its output is
known: the same report, the same messages, the same exit code. So after a run, the command
keeps a record of what it wrote and of what that depended on, and the next identical command
checks those dependencies first, before it imports anything heavy, and writes the recorded
output when they are all unchanged (a few milliseconds). Anything else runs normally (and the
result cache still spares it the images that did not change).

What a record depends on, all compared exactly:

* the command: its arguments (the ``--output`` file counts by its extension only, which
  chooses the format: the report does not depend on where it is written), the working
  folder, the environment variables (but ``OLDPWD``, ``PWD``, ``SHLVL`` and ``_``, which a
  shell changes between commands), which of stdin, stdout and stderr are terminals (colour
  and progress), the Python interpreter and ``sys.path``;
* the inputs: the images the folder walk finds now, walked again with the run's excludes,
  must be the same list with the same notes; each image file and both places of its sidecar
  text (there or not) must have the same ``os.stat`` identity, size, mtime and ctime;
* the config: ``noticer.toml`` and ``pyproject.toml`` in every folder above the working
  folder and above the first path (there or not), the config file used, files named by rule
  settings (``words_file``);
* the code: every file and folder listing of the engine and of each rule family's package
  (what the result cache keys by), the folders on ``sys.path`` but the working folder (an
  install, upgrade or removal changes them), the ``tesseract`` binary.

File stamps are what the result cache already trusts to skip hashing an unchanged image
(:class:`checker.cache.DigestMemo`). Only a plain local run that wrote everything it found is
recorded: no git selection (``--changed``, ``--staged``), no URLs, no ``--annotate`` or
``--masks``, no ALIGN004 reference folder, no Dask, the cache on, no plugin that failed to load,
and no image with verdict ``error`` (those are checked again every run). The dependencies are
stamped before the images are checked and again after the report is written, and the run is
recorded only when both agree and every file stamped had not changed for 3 s before (a file
edited during the run, or within one step of the file system's clock, is not taken for
unchanged: the result cache trusts remembered image digests on the same terms).

Records live in the result cache's folder (``replay/``), only when that folder is the one
this module finds from the command line alone (``--cache-dir`` given as an absolute path,
else ``.noticer_cache`` beside the nearest config file above the working folder, or in it);
``noticer clean`` removes them with the rest. ``--no-cache`` never replays. This module
imports nothing heavy: :mod:`checker.launch` calls it before anything else (its records are
named tuples: the dataclasses module costs ~10 ms of imports, a third of a replay).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

from .inputs import CACHE_DIRNAME, find_images, sidecar_paths
from .writing import ReportWriteError, replace_atomically, write_report, wrote_message

RECORD_FORMAT = 1
RECORDS_DIRNAME = "replay"
CONFIG_NAMES = ("noticer.toml", "pyproject.toml")
KEEP_RECORDS = 32  # the most recent records kept per cache folder
MAX_RECORD_BYTES = 64 << 20
# a record is kept only when every file it stamps last changed (mtime and ctime) at least this
# long before the run stamped it: a later change then always shows in the file's stamp, even
# on a file system whose clock has 2-s steps (the result cache remembers digests on the same terms)
SETTLED_NS = 3_000_000_000
# set by a shell between one command and the next: they cannot change what noticer finds
VOLATILE_ENV = frozenset({"OLDPWD", "PWD", "SHLVL", "_"})
OUTPUT_FLAGS = ("--output", "-o")


# ----------------------------------------------------------------------------- the command

def split_output(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """The ``--output``/``-o`` value in ``argv`` (the last one, as click takes it) and the
    arguments without it."""
    found, kept = None, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in OUTPUT_FLAGS:
            found = argv[i + 1] if i + 1 < len(argv) else None
            i += 2
            continue
        if arg.startswith("--output="):
            found = arg[len("--output="):]
        elif arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
            found = arg[2:]
        else:
            kept.append(arg)
        i += 1
    return found, kept


def output_of(argv: Sequence[str]) -> str | None:
    return split_output(argv)[0]


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def command_key(argv: Sequence[str], cwd: str) -> str | None:
    """Everything about the invocation that can change its output, as one digest; None for a
    command line this module does not replay (``--`` ends the options: paths may look like them)."""
    if argv[:1] != ["check"] or "--" in argv:
        return None
    output, rest = split_output(argv)
    value = [RECORD_FORMAT, rest,
             None if output is None else Path(output).suffix.lower(), cwd,
             sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV),
             [_isatty(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
             sys.executable, sys.version, list(sys.path)]
    return hashlib.sha256(json.dumps(value).encode("ascii")).hexdigest()[:32]


def _option_value(argv: Sequence[str], flag: str) -> str | None:
    found = None
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith(flag + "="):
            found = arg[len(flag) + 1:]
    return found


def _nearest_config_folder(start: Path) -> Path | None:
    """The folder of the nearest ``noticer.toml``, or ``pyproject.toml`` with a
    ``[tool.noticer]`` table, at or above ``start`` (as the config search finds it; where it
    differs, the recorder sees it and records nothing)."""
    for folder in (start, *start.parents):
        if (folder / "noticer.toml").is_file():
            return folder
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                import tomllib

                if "noticer" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}):
                    return folder
            except (OSError, ValueError):
                return None
    return None


def records_folder(argv: Sequence[str], cwd: str) -> Path | None:
    """Where this command's records are, from the command line alone (None: nowhere)."""
    if "--no-cache" in argv:
        return None
    chosen = _option_value(argv, "--cache-dir")
    if chosen is not None:
        return Path(chosen) / RECORDS_DIRNAME if os.path.isabs(chosen) else None
    config = _option_value(argv, "--config")
    if config is not None:
        base = Path(config).resolve().parent
    else:
        base = _nearest_config_folder(Path(cwd)) or Path(cwd)
    return base / CACHE_DIRNAME / RECORDS_DIRNAME


class Command(NamedTuple):
    """A ``noticer check`` command line as this process was started with it."""

    argv: tuple[str, ...]
    cwd: str
    key: str
    folder: Path

    @property
    def record_path(self) -> Path:
        return self.folder / f"{self.key}.json"

    @property
    def report_path(self) -> Path:
        return self.folder / f"{self.key}.report"


_armed: Command | None = None


def command_for(argv: Sequence[str]) -> Command | None:
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    key = command_key(argv, cwd)
    folder = records_folder(argv, cwd) if key else None
    return Command(tuple(argv), cwd, key, folder) if key and folder else None


def arm(command: Command | None) -> None:
    """Let the command line record this run (:mod:`checker.launch` calls it; a run through the
    Python API or a test's command runner records nothing)."""
    global _armed
    _armed = command


def armed() -> Command | None:
    return _armed


# ----------------------------------------------------------------------------- stamps

def file_signature(info: os.stat_result) -> list[int]:
    """What changes whenever a file's content may have: its identity, size and times. The
    ctime cannot be set by any tool (touch, tar, rsync, cp -p set only mtime), and writing
    the file, renaming another over it or changing its mode moves it."""
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def file_stamp(path: str) -> list[int] | None:
    """What ``os.stat`` says of a path (following links): its :func:`file_signature` and
    mode; None when nothing is there."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return [-1, exc.errno or 0]
    return [*file_signature(st), st.st_mode]


def folder_stamp(path: str) -> str | None:
    """The names in a folder (``__pycache__`` aside), as a digest: a file added, removed or
    renamed changes it."""
    try:
        names = sorted(n for n in os.listdir(path) if n != "__pycache__")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"error {exc.errno}"
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def config_places(starts: Iterable[str]) -> list[str]:
    """Every place a config file is looked for from these folders (or files) up."""
    places: list[str] = []
    for start in starts:
        folder = Path(os.path.realpath(start))
        if not folder.is_dir():
            folder = folder.parent
        for candidate in (folder, *folder.parents):
            places.extend(str(candidate / name) for name in CONFIG_NAMES)
    return list(dict.fromkeys(places))


def interpreter_places(cwd: str) -> list[str]:
    """The interpreter and the folders on ``sys.path`` (installs change them), but the working
    folder, which a report written there changes; the engine's and rules' own files are stamped
    one by one."""
    here = os.path.realpath(cwd)
    folders = [p for p in sys.path if p and os.path.realpath(p) != here]
    return [sys.executable, *folders]


class Dependencies(NamedTuple):
    """What a run's output depended on: files (stamped with :func:`file_stamp`), folders
    (their names, :func:`folder_stamp`), and the folder walk: the paths given and the
    excludes, with the images and notes it found."""

    files: tuple[str, ...]
    folders: tuple[str, ...]
    paths: tuple[str, ...]
    exclude: tuple[str, ...]

    def stamp(self) -> dict[str, Any]:
        images, problems = walk(self.paths, self.exclude)
        files = list(dict.fromkeys([*self.files, *images,
                                    *(str(p) for image in images for p in sidecar_paths(image))]))
        return {"files": [[f, file_stamp(f)] for f in files],
                "folders": [[d, folder_stamp(d)] for d in dict.fromkeys(self.folders)],
                "walk": {"paths": list(self.paths), "exclude": list(self.exclude), "images": images,
                         "problems": problems}}


def walk(paths: Sequence[str], exclude: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    found, problems = find_images(paths, exclude=exclude)
    return [str(p) for p in found], [[str(where), str(why)] for where, why in problems]


def unchanged(stamped: dict[str, Any]) -> bool:
    """Whether every dependency stamped in a record is as it was."""
    walked = stamped["walk"]
    images, problems = walk(walked["paths"], walked["exclude"])
    if images != walked["images"] or problems != walked["problems"]:
        return False
    if any(file_stamp(path) != stamp for path, stamp in stamped["files"]):
        return False
    return all(folder_stamp(path) == stamp for path, stamp in stamped["folders"])


# ----------------------------------------------------------------------------- records

class Outcome(NamedTuple):
    """What a run wrote: the report, the messages on stderr in order (``None`` marks where the
    report went), the format's name and the exit code."""

    report: bytes
    events: tuple[str | None, ...]
    fmt: str
    exit_code: int


def settled(stamped: dict[str, Any], stamped_at_ns: int) -> bool:
    """Whether every file stamped had last changed ``SETTLED_NS`` before ``stamped_at_ns``."""
    return all(stamp is None or stamp[0] == -1 or max(stamp[3], stamp[4]) < stamped_at_ns - SETTLED_NS
               for _, stamp in stamped["files"])


def save(command: Command, stamped: dict[str, Any], stamped_at_ns: int, outcome: Outcome) -> bool:
    """Keep a record of this run beside the result cache (which must already be there and be
    noticer's: no folder is made anywhere else), stamped at ``stamped_at_ns`` (``time.time_ns``
    before the stamps were taken). Returns whether it was written: not when a file stamped had
    changed in the seconds before (:data:`SETTLED_NS`)."""
    folder = command.folder
    if len(outcome.report) > MAX_RECORD_BYTES:
        return False  # a replay would not read it back
    if not settled(stamped, stamped_at_ns) or not (folder.parent / "CACHEDIR.TAG").is_file():
        return False
    record = {"format": RECORD_FORMAT, "key": command.key, "dependencies": stamped,
              "events": list(outcome.events), "fmt": outcome.fmt, "exit_code": outcome.exit_code,
              "report_sha256": hashlib.sha256(outcome.report).hexdigest()}
    try:
        folder.mkdir(exist_ok=True)
        replace_atomically(command.report_path, outcome.report)
        replace_atomically(command.record_path, json.dumps(record).encode("ascii"))
    except OSError:
        return False
    _prune(folder)
    return True


def _prune(folder: Path, keep: int = KEEP_RECORDS) -> None:
    try:
        records = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in records[keep:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".report").unlink(missing_ok=True)
    except OSError:
        pass


def _read(path: Path, limit: int = MAX_RECORD_BYTES) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


def replay(command: Command) -> int | None:
    """Write the recorded output of this command when nothing it depended on has changed,
    and return its exit code; None (having written nothing) otherwise."""
    raw = _read(command.record_path)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        if record.get("format") != RECORD_FORMAT or record.get("key") != command.key:
            return None
        if not unchanged(record["dependencies"]):
            return None
        report = _read(command.report_path)
        if report is None or hashlib.sha256(report).hexdigest() != record["report_sha256"]:
            return None
        events, fmt, exit_code = list(record["events"]), str(record["fmt"]), int(record["exit_code"])
        images = [str(p) for p in record["dependencies"]["walk"]["images"]]
        if not all(e is None or isinstance(e, str) for e in events):
            return None
    except Exception:  # noqa: BLE001 - a record that is not what this version writes, or a
        return None  # file system that answers oddly: nothing is written yet, the run goes on normally
    output = output_of(command.argv)
    if output is not None:
        if os.path.realpath(output) in {os.path.realpath(p) for p in images}:
            return None  # the command line refuses this; let it say so
        try:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            write_report(Path(output), report)
        except (OSError, ReportWriteError):
            return None  # the command line says why, with its exit code
    for event in events:
        if event is None:
            if output is not None:
                print(wrote_message(fmt, output), file=sys.stderr)
            else:
                sys.stdout.flush()
                sys.stdout.buffer.write(report)
                sys.stdout.buffer.flush()
        else:
            print(event, file=sys.stderr)
    sys.stderr.flush()
    return exit_code
