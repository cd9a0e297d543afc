"""Writing files so that a reader never sees half of one, and writing reports.

Every file noticer writes (reports, cache entries, replay records, the pictures' manifest)
goes through :func:`replace_atomically`. The report helpers are shared by the command line
and by the replay of an unchanged run (:mod:`checker.replay`), which writes the same bytes
without importing the engine."""
from __future__ import annotations

import os
from pathlib import Path


def report_bytes(rendered: str | bytes) -> bytes:
    """A rendered report as UTF-8. A file name that is not UTF-8 reaches Python as lone
    surrogates (``\\udce9``); they are written as that escape, which is valid in every format
    (a JSON reader turns it back into the same name) instead of failing the whole report."""
    return rendered if isinstance(rendered, bytes) else rendered.encode("utf-8", "backslashreplace")


class ReportWriteError(OSError):
    """The report could not be written; the file that was there is left as it was."""


def replace_atomically(target: Path, data: bytes, *, prefix: str = ".tmp-", permissions: int | None = None) -> None:
    """Write ``data`` into a temporary file beside ``target`` and rename it over ``target``
    only when complete; the temporary file is removed on failure. ``permissions`` (else
    mkstemp's 0600) are set before the rename. Raises OSError (UnicodeError for a folder name
    the file system cannot take)."""
    import tempfile  # ~5 ms of imports: the replay of an unchanged run needs it only with --output

    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if permissions is not None:
            os.chmod(tmp, permissions)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_report(path: Path, rendered: str | bytes) -> None:
    """Write a report atomically (:func:`replace_atomically`), so a full disk or an encoding
    error never leaves a truncated report in place of the previous one."""
    umask = os.umask(0)
    os.umask(umask)
    try:  # as an ordinary new file: readable as the user's umask says
        replace_atomically(path, report_bytes(rendered), prefix=f".{path.name}.", permissions=0o666 & ~umask)
    except (OSError, UnicodeError) as exc:
        raise ReportWriteError(f"cannot write the report to {path}: {exc}") from None


def wrote_message(fmt: str, output: str) -> str:
    """What the command says on stderr after writing a report file."""
    return f"noticer: wrote {fmt} report to {output}"
