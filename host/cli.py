"""The ``apphost`` command: click commands only; the work is done in the core."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from .config import Config, load_config
from .errors import ApphostError
from .host import Host

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: $APPHOST_CONFIG, else ./apphost.toml if present).",
)
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Log debug detail and tracebacks."
)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load(config_path: str | None, **flags: Any) -> Config:
    try:
        return load_config(config_path).with_flags(**flags)
    except ApphostError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="apphost")
def main() -> None:
    """Host pluggable WSGI apps: discover plugins, claim routes, serve under waitress."""


@main.command("serve")
@click.option(
    "--listen",
    multiple=True,
    metavar="HOST:PORT",
    help="Address to listen on; repeat for several. [default: 127.0.0.1:8080]",
)
@click.option("--server-name", help="Name subdomain claims are relative to. [default: localhost]")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads. [default: 8]")
@click.option(
    "--strict", is_flag=True, help="Refuse to start if any plugin, app or claim has a problem."
)
@config_option
@verbose_option
def serve_command(
    listen: tuple[str, ...],
    server_name: str | None,
    threads: int | None,
    strict: bool,
    config_path: str | None,
    verbose: bool,
) -> None:
    """Serve every installed app on its claimed routes until SIGTERM or Ctrl-C."""
    from .server import make_server, run

    _setup_logging(verbose)
    config = _load(config_path, listen=listen, server_name=server_name, threads=threads)
    try:
        host = Host.build(config)
        if strict:
            host.strict()
        server = make_server(host)
        run(host, server)
    except ApphostError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("routes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
def routes_command(as_json: bool, config_path: str | None) -> None:
    """Show the routing table in precedence order: host, path, app, distribution, claimant."""
    from .report import route_rows

    _setup_logging(False)
    host = Host.build(_load(config_path))
    rows = route_rows(host)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, ["host", "path", "app", "distribution", "claimed_by"])


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
def plugins_command(as_json: bool, config_path: str | None) -> None:
    """Import every plugin and app and show each one's distribution and status."""
    from .report import plugin_rows

    _setup_logging(False)
    host = Host.build(_load(config_path))
    host.load_all()
    rows = plugin_rows(host)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, ["kind", "name", "distribution", "entry_point", "status"])


@main.command("check")
@config_option
def check_command(config_path: str | None) -> None:
    """Load every plugin and app, report every problem, exit 1 if there is any."""
    _setup_logging(False)
    host = Host.build(_load(config_path))
    host.load_all()
    problems = host.all_problems()
    for problem in problems:
        click.echo(f"problem: {problem}")
    if problems:
        click.echo(f"{len(problems)} problem(s) found.")
        sys.exit(1)
    click.echo(
        f"ok: {len(host.apps)} app(s), {len(host.plugins)} plugin(s), {len(host.dispatcher.table.entries)} route(s)."
    )


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    cells = [[c.upper().replace("_", " ") for c in columns]] + [
        [str(r[c]) for c in columns] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())
