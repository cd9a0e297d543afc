"""The command line: parse options, build the plan, run, hand the report to a format.

No output format is built here; formats live in checker.formats."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import click

from . import hooks, replay, session
from .annotate import write_annotations, write_masks
from .cache import cache_root, clear, foreign_folder, result_dependencies
from .config import BUILTIN_PROFILES, ENGINE_OPTIONS, ConfigError, Plan, load_config, matches, resolve
from .discovery import discover_formats, discover_rules, load_format
from .inputs import is_under
from .writing import ReportWriteError, report_bytes, write_report, wrote_message
from .version import __version__

FORMAT_NAMES = ("text", "json", "sarif", "html", "junit")


def _split(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def _fail(message: str) -> None:
    click.echo(f"noticer: error: {message}", err=True)
    sys.exit(2)


def _format_for(output: str | None) -> str:
    """The format a report file's extension names (report.json: json, .sarif, .html, .xml:
    junit), else text."""
    if output:
        formats, _ = discover_formats()
        suffix = Path(output).suffix.lower()
        for name, cls in sorted(formats.items()):
            if suffix and suffix in (getattr(cls, "extension", None), ".htm" if name == "html" else None):
                return name
    return "text"


def _get_format(name: str, color: bool):
    cls, warnings, names = load_format(name)
    for w in warnings:
        click.echo(f"noticer: warning: {w}", err=True)
    if cls is None:
        _fail(f"unknown format {name!r}; available: {', '.join(n for n in names if n != name or not warnings)}")
    return cls(color=color)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="noticer")
def main() -> None:
    """noticer: find the defects careful viewers notice in AI-generated images."""


def engine_options(command):
    """The engine options of the options table (checker/config/options.py) as click options:
    one declaration gives the TOML key, the CLI option and the Plan field."""
    for option in reversed(ENGINE_OPTIONS):
        if option.cli_help is None:
            continue
        flags = [f"{option.cli_flag}/--no-{option.key}"] if option.switch else [option.cli_flag]
        if option.short:
            flags.append(option.short)
        kwargs: dict[str, Any] = {"help": option.cli_help, "default": None}
        if option.kind is tuple:
            kwargs["multiple"] = True
            kwargs["default"] = ()
        elif option.choices:
            kwargs["type"] = click.Choice(list(option.choices))
        elif option.folder:
            kwargs["type"] = click.Path(file_okay=False, path_type=str)
        elif option.kind is not bool:
            kwargs["type"] = option.kind
        if option.key == "scheduler":
            kwargs["metavar"] = "ADDRESS"
        command = click.option(*flags, option.field, **kwargs)(command)
    return command


@main.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--profile", help="Tolerance profile: lenient (default), strict, or a custom one.")
@click.option("--select", multiple=True, help="Only these rules (codes, prefixes or names; comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these rules (codes, prefixes or names; comma-separated).")
@click.option("--format", "fmt", default=None,
              help=f"Output format: {', '.join(FORMAT_NAMES)} (default: from the --output file's extension, "
                   f"else text).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=str), help="Write the report here instead of stdout.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), help="Lowest severity that fails an image.")
@click.option("--config", type=click.Path(dir_okay=False, path_type=str), help="Config file (noticer.toml or pyproject.toml).")
@click.option("--set", "sets", multiple=True, metavar="RULE.SETTING=VALUE", help="Override one setting; wins over config.")
@engine_options
@click.option("--color/--no-color", default=None, help="Colour text output (default: only on a terminal).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
@click.option("--changed", metavar="REV", is_flag=False, flag_value="HEAD", default=None,
              help="Only images that differ from git revision REV (default HEAD), including untracked ones.")
@click.option("--staged", is_flag=True, help="Only images added or modified in the git index, read from the index.")
@click.option("--pushed", is_flag=True, hidden=True,
              help="Only images in the commits being pushed (reads a pre-push hook's standard input).")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False, path_type=str),
              help="Write a PNG per flagged image with its regions drawn and labelled into this folder.")
@click.option("--masks", "masks_dir", type=click.Path(file_okay=False, path_type=str),
              help="Write a black/white PNG mask per image with regions (white = defect) into this folder.")
@click.option("--mask-dilate", type=click.IntRange(min=0), default=0, show_default=True,
              help="Grow mask regions by this many pixels (inpainting tools like a margin).")
def check_command(paths: tuple[str, ...], profile, select, ignore, fmt, output, fail_on, config, sets, color,
                  progress, changed, staged, pushed, annotate_dir, masks_dir, mask_dilate, **engine) -> None:
    """Check images (files and folders, recursively) and report what viewers would notice.

    Exit codes: 0 no image fails, 1 an image has a finding at or above fail-on (or could
    not be read), 2 usage or configuration error."""
    if sum(bool(x) for x in (changed, staged, pushed)) > 1:
        _fail("--changed, --staged and --pushed cannot be combined")
    git_mode = bool(changed or staged or pushed)
    if changed and changed != "HEAD" and Path(changed).exists():
        # `--changed art/`: click took the folder for the revision; it is a path unless it names a commit
        if not hooks.is_commit(changed):
            paths, changed = (changed, *paths), "HEAD"
    if not paths:
        paths = (".",)
    for p in paths:
        if "://" in p:
            continue  # a URL (s3://, gs://, file://): listed with fsspec
        if not git_mode and not Path(p).exists() and not Path(p).is_symlink():
            _fail(f"no such file or folder: {p}")
    said: list[str | None] = []  # what this run says on stderr, in order; None: the report

    def tell(message: str) -> None:
        click.echo(message, err=True)
        said.append(message)

    discovered = discover_rules()
    for w in discovered.warnings:
        tell(f"noticer: warning: {w}")
    plan = _check_plan(discovered.rules, list(paths), config=config, profile=profile, select=select, ignore=ignore,
                       sets=sets, fail_on=fail_on, **engine)
    if plan.cache:
        why = foreign_folder(cache_root(plan))
        if why:  # never write into (nor later clean) a folder of the user's
            tell(f"noticer: warning: not using the result cache: {why} (choose another cache-dir)")
            plan = dataclasses.replace(plan, cache=False)
    if fmt is None:
        fmt = _format_for(output)
    if output:  # before the run, not after it: a report that cannot be written loses the whole run
        try:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"cannot write the report to {output}: {exc}")
    out_is_tty = output is None and sys.stdout.isatty()
    formatter = _get_format(fmt, color if color is not None else (out_is_tty and fmt == "text"))

    with contextlib.ExitStack() as stack:
        # sources: report path -> the file holding the bytes that were checked (differs for
        # --staged/--pushed, where those bytes come from git and live in a temporary folder)
        try:
            if git_mode:
                inputs = hooks.git_inputs(stack, paths, plan.exclude, changed=changed, staged=staged,
                                          pushed_lines=sys.stdin.read() if pushed else None)
            else:
                inputs = session.find_inputs(paths, plan)
        except hooks.GitError as exc:
            _fail(str(exc))
        except ConfigError as exc:  # a URL without fsspec or its filesystem package (s3fs, gcsfs)
            _fail(str(exc))
        for where, why in (*inputs.problems, *inputs.unchecked):
            tell(f"noticer: warning: {where}: {why}")
        images = inputs.images
        if output and os.path.realpath(output) in {os.path.realpath(p) for p in images if "://" not in p}:
            _fail(f"--output {output} is one of the images being checked; it would be overwritten")
        recording = _recording(plan, paths, inputs, output, discovered.warnings, git_mode=git_mode,
                               pictures=bool(annotate_dir or masks_dir))
        show_progress = progress if progress is not None else sys.stderr.isatty()
        show_progress = show_progress and len(images) > 3
        try:
            if show_progress:
                with click.progressbar(length=len(images), label="checking", file=sys.stderr) as bar:
                    report = session.run(plan, inputs, jobs=plan.jobs, on_result=lambda _r: bar.update(1))
            else:
                report = session.run(plan, inputs, jobs=plan.jobs)
        except ConfigError as exc:  # the dask executor: extra missing, no --scheduler, no scheduler there
            _fail(str(exc))
        if hasattr(formatter, "sources"):
            formatter.sources = dict(inputs.sources)
        rendered = formatter.render(report)
        _write_pictures(report, dict(inputs.sources), annotate_dir, masks_dir, mask_dilate, paths)
    if output:
        try:
            write_report(Path(output), rendered)
        except ReportWriteError as exc:
            _fail(str(exc))
        click.echo(wrote_message(fmt, output), err=True)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(report_bytes(rendered))
        sys.stdout.buffer.flush()
    said.append(None)
    if not images:
        what = "changed images" if git_mode else "images"
        tell(f"noticer: {'note' if git_mode else 'warning'}: no {what} found")
    if recording is not None:
        recording.finish(report, replay.Outcome(report_bytes(rendered), tuple(said), fmt, report.exit_code))
    sys.exit(report.exit_code)


class Recording:
    """This run's dependencies, stamped before the images are checked (see :mod:`checker.replay`)."""

    def __init__(self, command: replay.Command, dependencies: replay.Dependencies, inputs: session.Inputs) -> None:
        self.command = command
        self.dependencies = dependencies
        self.stamped_at_ns = time.time_ns()
        self.before = dependencies.stamp()
        walked = self.before["walk"]  # the run checks, and says, what was stamped
        said = sorted([str(where), str(why)] for where, why in (*inputs.problems, *inputs.unchecked))
        self.complete = walked["images"] == list(inputs.images) and sorted(walked["problems"]) == said

    def finish(self, report, outcome: replay.Outcome) -> bool:
        """Keep the record when every image was judged and nothing changed during the run."""
        if not self.complete or any(image.verdict.value == "error" for image in report.images):
            return False  # an error is checked again next time: its output may differ
        if self.dependencies.stamp() != self.before:
            return False
        return replay.save(self.command, self.before, self.stamped_at_ns, outcome)


def _recording(plan, paths: Sequence[str], inputs: session.Inputs, output: str | None, plugin_warnings: Sequence[str], *,
               git_mode: bool, pictures: bool) -> Recording | None:
    """A recording of this run for the next identical command to replay, when it is a run
    :mod:`checker.replay` can replay (started by the ``noticer`` command, a plain local run over
    local files, with the cache, and the same cache folder and output the replay would take
    from the command line alone); else None."""
    command = replay.armed()
    if (command is None or git_mode or pictures or not plan.cache or plan.executor != "local" or plan.reference
            or plugin_warnings or inputs.sources or any("://" in p for p in paths)
            or replay.output_of(command.argv) != output
            or command.folder != cache_root(plan) / replay.RECORDS_DIRNAME):
        return None
    files, folders = result_dependencies(plan)
    config_files = [plan.config_path] if plan.config_path else []
    places = [*replay.config_places([paths[0], command.cwd]), *config_files, *files,
              *replay.interpreter_places(command.cwd)]
    dependencies = replay.Dependencies(tuple(places), tuple(folders), tuple(paths), tuple(plan.exclude))
    return Recording(command, dependencies, inputs)


def _write_pictures(report, sources: dict[str, str], annotate_dir: str | None, masks_dir: str | None,
                    dilate: int, inputs: Sequence[str]) -> None:
    if not annotate_dir and not masks_dir:
        return

    for folder, writer, kind in ((annotate_dir, write_annotations, "annotated images"),
                                 (masks_dir, write_masks, "masks")):
        if not folder:
            continue
        kwargs = {"dilate": dilate} if writer is write_masks else {}
        local = dataclasses.replace(report, images=tuple(i for i in report.images if "://" not in i.path))
        if len(local.images) < len(report.images):
            click.echo(f"noticer: note: {kind} are written for local files only, not for URLs", err=True)
        outcome = writer(local, Path(folder), sources=sources, **kwargs)
        for path, why in outcome.skipped:
            click.echo(f"noticer: warning: {path}: {why}", err=True)
        for path, what in outcome.notes:
            click.echo(f"noticer: note: {path}: {what}", err=True)
        click.echo(f"noticer: wrote {len(outcome.written)} {kind} to {folder}", err=True)
        inside = [p for p in inputs if Path(p).is_dir() and is_under(Path(os.path.realpath(folder)), [Path(os.path.realpath(p))])]
        if inside and outcome.written:
            click.echo(f"noticer: warning: {folder} is inside the checked folder {inside[0]}; the next run "
                       f"will check those files too unless you pass --exclude", err=True)


@main.command("install-hook")
@click.option("--pre-push", is_flag=True, help="Check images when pushing instead of when committing.")
@click.option("--profile", help="Profile the hook checks with (default: the config's, else lenient).")
@click.option("--force", is_flag=True, help="Replace an existing hook that noticer did not install.")
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def install_hook_command(pre_push: bool, profile: str | None, force: bool, options: tuple[str, ...]) -> None:
    """Install a plain git hook (no pre-commit framework needed) that checks the images a
    commit (or push) records: their staged content, not the working tree. Extra OPTIONS after
    `--` are passed to `noticer check`, e.g. `noticer install-hook -- --fail-on warning`."""
    hook = "pre-push" if pre_push else "pre-commit"
    extra = [*(["--profile", profile] if profile else []), *options]
    _check_hook_options(extra)
    try:
        path, backup = hooks.install_hook(hook, hooks.noticer_command(), extra, force=force)
    except hooks.GitError as exc:
        _fail(str(exc))
    except FileExistsError as exc:
        _fail(str(exc))
    click.echo(f"noticer: installed {hook} hook at {path}")
    if backup is not None:
        click.echo(f"noticer: the hook it replaced is kept as {backup}")


# the options of `noticer check` that decide its plan
PLAN_OPTIONS = ("config", "profile", "select", "ignore", "sets", "fail_on",
                *(option.field for option in ENGINE_OPTIONS if option.cli_help is not None))


def _check_plan(rules, paths: list[str], *, config, profile, select, ignore, sets, fail_on, prefix: str = "",
                **engine):
    """The run plan of `noticer check`'s options, every value checked: a configuration
    error, a negative --jobs or a reference folder that is not there stops with exit 2.
    ``prefix`` starts each message (the hook's options are checked at install time)."""
    try:
        plan = session.plan_for(rules, paths, config=config, profile=profile, select=_split(select or ()) or None,
                                ignore=_split(ignore or ()), settings=tuple(sets or ()), fail_on=fail_on,
                                flag_prefix="--", **engine)
    except ConfigError as exc:
        _fail(f"{prefix}{exc}")
    if plan.reference and not Path(plan.reference).is_dir():
        _fail(f"{prefix}reference folder not found: {plan.reference}")
    return plan


def _check_hook_options(options: Sequence[str]) -> None:
    """The options a hook will pass to `noticer check`, parsed and checked now as `check`
    checks them: a mistake found at install time, not by every later commit failing with a
    usage error."""
    try:
        ctx = check_command.make_context("check", ["--staged", *options])
    except click.ClickException as exc:
        _fail(f"hook options: {exc.format_message()}")
    params = ctx.params
    try:
        root = hooks.repo_root()
    except hooks.GitError as exc:
        _fail(str(exc))
    # git runs a hook from the top of the working tree: a relative --config or --reference
    # names a file there, wherever install-hook was started
    with contextlib.chdir(root):
        _check_plan(discover_rules().rules, [str(root)], prefix="hook options: ",
                    **{name: params.get(name) for name in PLAN_OPTIONS})


@main.command("uninstall-hook")
@click.option("--pre-push", is_flag=True, help="Remove the pre-push hook instead of the pre-commit one.")
def uninstall_hook_command(pre_push: bool) -> None:
    """Remove the git hook installed by `noticer install-hook` (never anyone else's), and put
    back the hook `install-hook --force` replaced."""
    hook = "pre-push" if pre_push else "pre-commit"
    try:
        path, removed, restored = hooks.uninstall_hook(hook)
    except hooks.GitError as exc:
        _fail(str(exc))
    if removed:
        click.echo(f"noticer: removed {hook} hook {path}")
        if restored is not None:
            click.echo(f"noticer: put back the hook it had replaced (kept as {restored.name})")
    elif path.exists():
        _fail(f"{path} was not installed by noticer; left it alone")
    else:
        click.echo(f"noticer: no {hook} hook installed")


@main.command("clean")
@click.option("--config", type=click.Path(dir_okay=False, path_type=str), help="Config file whose cache to remove.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=str), help="Cache folder to remove.")
def clean_command(config: str | None, cache_dir: str | None) -> None:
    """Remove the result cache."""
    try:
        cfg, cfg_path = load_config([Path.cwd()], config)
    except ConfigError as exc:
        _fail(str(exc))
    plan = Plan(profile="lenient", rules=(), config_path=str(cfg_path) if cfg_path else None,
                cache_dir=cache_dir or cfg.get("cache-dir"))
    root = cache_root(plan)
    if clear(root):
        click.echo(f"noticer: removed {root}")
    else:
        click.echo(f"noticer: no noticer cache at {root}")


@main.command("rules")
def rules_command() -> None:
    """List every rule: code, name, default severity, stability and summary."""
    discovered = discover_rules()
    for w in discovered.warnings:
        click.echo(f"noticer: warning: {w}", err=True)
    rows = [(r.code, r.name, r.severity.value, r.stability, r.summary) for r in discovered.rules]
    widths = [max(len(str(row[i])) for row in rows + [("CODE", "NAME", "SEVERITY", "STABILITY", "")])
              for i in range(4)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(("CODE", "NAME", "SEVERITY", "STABILITY"), widths)) + "  SUMMARY")
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])


@main.command("explain")
@click.argument("code")
def explain_command(code: str) -> None:
    """Print a rule's documentation and its settings per profile."""
    discovered = discover_rules()
    chosen = [r for r in discovered.rules if code.upper() == r.code or code == r.name]
    if not chosen and code.upper() != "ALL":  # a code prefix or a family: TEXT, text
        chosen = [r for r in discovered.rules if matches(r, code) or matches(r, code.upper())]
    if not chosen:
        _fail(f"unknown rule {code!r}; valid codes: {', '.join(r.code for r in discovered.rules)} "
              f"(or a prefix or family such as TEXT or text)")
    for i, rule in enumerate(chosen):
        if i:
            click.echo("\n" + "-" * 72 + "\n")
        click.echo(f"{rule.code} {rule.name} ({rule.stability}, default severity {rule.severity.value})")
        click.echo(rule.summary)
        click.echo()
        click.echo(rule.doc or "(no documentation)")
        table = _profile_table([rule], {})
        if table:
            click.echo()
            click.echo("Resolved per profile:")
            click.echo(table)


def _profile_table(rules, config: dict[str, Any]) -> str:
    names = [*BUILTIN_PROFILES, *(config.get("profiles", {}) or {})]
    every = {name: resolve(rules, config, profile=name, select=["ALL"]) for name in names}
    enabled = {name: {p.rule.code for p in resolve(rules, config, profile=name).rules} for name in names}
    lines = []
    header = ["setting", *names]
    rows: list[list[str]] = []
    for rule in rules:
        per_profile = {}
        for name, plan in every.items():
            rp = next((p for p in plan.rules if p.rule.code == rule.code), None)
            on = rule.code in enabled[name]
            values = {"enabled": str(on).lower(), "severity": rp.severity.value if rp else "-"}
            if rp:
                values.update({k: _show(v) for k, v in rp.settings_dict.items()})
            per_profile[name] = values
        keys = list(per_profile[names[0]])
        for key in keys:
            rows.append([f"{rule.name}.{key}", *(per_profile[n].get(key, "-") for n in names)])
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


@main.command("profiles")
@click.option("--config", type=click.Path(dir_okay=False, path_type=str), help="Config file with custom profiles.")
def profiles_command(config: str | None) -> None:
    """Print every rule's resolved settings for each profile, side by side."""
    discovered = discover_rules()
    try:
        cfg, _ = load_config([Path.cwd()], config)
        click.echo(_profile_table(discovered.rules, cfg))
    except ConfigError as exc:
        _fail(str(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
