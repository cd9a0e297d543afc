"""The command line: parse options, build the plan, run, hand the report to a format.

No output format is built here; formats live in checker.formats."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import click

from . import __version__
from .config import BUILTIN_PROFILES, ConfigError, load_config, resolve
from .discovery import discover_formats, discover_rules

FORMAT_NAMES = ("text", "json", "sarif", "html", "junit")


def _split(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def _fail(message: str) -> None:
    click.echo(f"noticer: error: {message}", err=True)
    sys.exit(2)


def _get_format(name: str, color: bool):
    formats, warnings = discover_formats()
    for w in warnings:
        click.echo(f"noticer: warning: {w}", err=True)
    if name not in formats:
        _fail(f"unknown format {name!r}; available: {', '.join(sorted(formats))}")
    return formats[name](color=color)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="noticer")
def main() -> None:
    """noticer: find the defects careful viewers notice in AI-generated images."""


@main.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--profile", help="Tolerance profile: lenient (default), strict, or a custom one.")
@click.option("--select", multiple=True, help="Only these rules (codes, prefixes or names; comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these rules (codes, prefixes or names; comma-separated).")
@click.option("--format", "fmt", default="text", show_default=True, help=f"Output format: {', '.join(FORMAT_NAMES)}.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=str), help="Write the report here instead of stdout.")
@click.option("--jobs", "-j", type=int, help="Worker processes (default: number of cores; 0 = in this process).")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), help="Lowest severity that fails an image.")
@click.option("--config", type=click.Path(dir_okay=False, path_type=str), help="Config file (noticer.toml or pyproject.toml).")
@click.option("--set", "sets", multiple=True, metavar="RULE.SETTING=VALUE", help="Override one setting; wins over config.")
@click.option("--exclude", multiple=True, help="Glob of files or folders to skip (repeatable).")
@click.option("--reference", type=click.Path(file_okay=False, path_type=str), help="Folder of reference images (ALIGN004).")
@click.option("--timeout", type=float, help="Seconds one image may take (default 120).")
@click.option("--max-pixels", type=int, help="Largest image decoded, in pixels (default 100000000).")
@click.option("--executor", type=click.Choice(["local", "dask"]), help="Where to run: local processes (default) or a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786 (with --executor dask).")
@click.option("--color/--no-color", default=None, help="Colour text output (default: only on a terminal).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
def check_command(paths: tuple[str, ...], profile, select, ignore, fmt, output, jobs, fail_on, config, sets,
                  exclude, reference, timeout, max_pixels, executor, scheduler, color, progress) -> None:
    """Check images (files and folders, recursively) and report what viewers would notice.

    Exit codes: 0 no image fails, 1 an image has a finding at or above fail-on (or could
    not be read), 2 usage or configuration error."""
    from .api import report_from
    from .config import parse_set_option
    from .imageio import find_images
    from .runner import default_jobs, run_paths

    if not paths:
        paths = (".",)
    for p in paths:
        if not Path(p).exists() and not Path(p).is_symlink():
            _fail(f"no such file or folder: {p}")
    try:
        discovered = discover_rules()
        for w in discovered.warnings:
            click.echo(f"noticer: warning: {w}", err=True)
        cfg, cfg_path = load_config(list(paths), config)
        plan = resolve(discovered.rules, cfg, profile=profile, select=_split(select) or None,
                       ignore=_split(ignore), sets=[parse_set_option(s) for s in sets], fail_on=fail_on,
                       config_path=str(cfg_path) if cfg_path else None, exclude=tuple(exclude),
                       reference=reference, timeout=timeout, max_pixels=max_pixels,
                       executor=executor, scheduler=scheduler)
    except ConfigError as exc:
        _fail(str(exc))
    if plan.reference and not Path(plan.reference).is_dir():
        _fail(f"reference folder not found: {plan.reference}")
    out_is_tty = output is None and sys.stdout.isatty()
    formatter = _get_format(fmt, color if color is not None else (out_is_tty and fmt == "text"))

    images, problems = find_images(paths, exclude=plan.exclude)
    for where, why in problems:
        click.echo(f"noticer: warning: {where}: {why}", err=True)
    n_jobs = jobs if jobs is not None else (plan.jobs if plan.jobs is not None else default_jobs())
    show_progress = progress if progress is not None else sys.stderr.isatty()
    show_progress = show_progress and len(images) > 3
    if show_progress:
        with click.progressbar(length=len(images), label="checking", file=sys.stderr) as bar:
            results = run_paths(images, plan, jobs=n_jobs, on_result=lambda _r: bar.update(1))
    else:
        results = run_paths(images, plan, jobs=n_jobs)
    report = report_from(plan, results)
    rendered = formatter.render(report)
    if output:
        mode = "wb" if isinstance(rendered, bytes) else "w"
        with open(output, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
            fh.write(rendered)
        click.echo(f"noticer: wrote {fmt} report to {output}", err=True)
    else:
        if isinstance(rendered, bytes):
            sys.stdout.buffer.write(rendered)
        else:
            click.echo(rendered, nl=False)
    if not images:
        click.echo("noticer: warning: no images found", err=True)
    sys.exit(report.exit_code)


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
    rule = next((r for r in discovered.rules if code.upper() == r.code or code == r.name), None)
    if rule is None:
        _fail(f"unknown rule {code!r}; valid codes: {', '.join(r.code for r in discovered.rules)}")
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
