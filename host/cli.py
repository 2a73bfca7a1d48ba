"""The ``apphost`` command: click commands only; the work is done in the core."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

import click
from click.core import ParameterSource

from .api import Problem
from .config import Config, load_config
from .errors import ApphostError
from .host import Host

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: $APPHOST_CONFIG, else ./apphost.toml if present).",
)
disable_option = click.option(
    "--disable-plugin",
    "disable",
    multiple=True,
    metavar="NAME",
    help="Leave out a plugin (distribution or entry point name), as $APPHOST_DISABLE_PLUGINS does;"
    " repeat for several.",
)
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Log debug detail and tracebacks."
)

traceback_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Print the traceback (file and line) of each plugin or app that fails to load.",
)


def _setup_logging(verbose: bool) -> None:
    from .serving.logs import stderr_handler

    # On the root logger, for apphost's loggers and waitress's ("waitress") alike.
    if not logging.root.handlers:  # else logging is set up already: leave it
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.INFO, handlers=[stderr_handler()]
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
@click.option(
    "--threads", type=click.IntRange(min=1), help="Worker threads per process. [default: 16]"
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes on the same sockets, under this one. [default: 1]",
)
@click.option(
    "--strict", is_flag=True, help="Refuse to start if any plugin, app or claim has a problem."
)
@click.option(
    "--reload",
    is_flag=True,
    help="Development: reload when a plugin's source or the installed distributions change.",
)
@click.option(
    "--debug",
    is_flag=True,
    default=None,
    help="Development: werkzeug's interactive debugger on errors; loopback listen addresses only.",
)
@click.option(
    "--no-access-log", "no_access_log", is_flag=True, help="Do not log one line per request."
)
@config_option
@disable_option
@verbose_option
def serve_command(
    listen: tuple[str, ...],
    server_name: str | None,
    threads: int | None,
    workers: int | None,
    strict: bool,
    reload: bool,
    debug: bool | None,
    no_access_log: bool,
    config_path: str | None,
    disable: tuple[str, ...],
    verbose: bool,
) -> None:
    """Serve every installed app on its claimed routes until SIGTERM or Ctrl-C.

    This process holds the sockets and supervises the worker processes that
    serve: SIGHUP reloads plugins (installed, upgraded, removed) with no
    request lost; SIGTERM or Ctrl-C drains and stops.
    """
    from .serving.supervisor import supervise
    from .serving.worker import Worker

    _setup_logging(verbose)
    worker = None
    try:
        worker = Worker.from_environ()  # set when the supervisor started this process
        config = load_config(config_path).with_flags(
            listen=listen,
            server_name=server_name,
            threads=threads,
            workers=workers,
            debug=debug,
            access_log=False if no_access_log else None,
        )
        if worker is None:
            if reload:
                from .serving.reloader import watch

                watch()
            sys.exit(supervise(config, command_line(click.get_current_context())))
        # Only here, in a worker: the supervisor must not import prometheus_client
        # before it has set PROMETHEUS_MULTIPROC_DIR.
        if worker.pool is not None:
            from .serving.pools import serve_pool

            serve_pool(config, worker, disable, strict)
            return
        from .serving.server import make_server, run
        from .web.bulkhead import Bulkheads

        board = worker.board
        bulkheads = Bulkheads(config, board, on_recycle=worker.recycle)
        on_step = board.doing if board is not None else None
        host = Host.build(
            config, disable=disable, bulkheads=bulkheads, on_step=on_step, pools=worker.pools
        )
        if strict:
            host.strict()
        run(host, make_server(host, worker.sockets, worker.admin, worker.balance), worker)
    except ApphostError as exc:
        if worker is not None and worker.failed(str(exc)):
            sys.exit(1)  # the supervisor says why
        raise click.ClickException(str(exc)) from None


@main.command("routes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--match",
    "url",
    metavar="URL",
    help="Show where a request for URL goes instead: the winning claim, its claimant,"
    " SCRIPT_NAME and PATH_INFO, or why it is refused.",
)
@config_option
@disable_option
@traceback_option
def routes_command(
    as_json: bool,
    url: str | None,
    config_path: str | None,
    disable: tuple[str, ...],
    verbose: bool,
) -> None:
    """Show the routing table in precedence order: host, path, app, distribution, claimant, status.

    Only hook modules are imported, never the apps themselves. With --match,
    the exit status is 1 when the URL is refused (no route matches it, a
    conflict, a malformed request).
    """
    from .routing.explain import explain
    from .web.report import route_rows

    _setup_logging(False)
    host = Host.build(_load(config_path), disable=disable)
    refused = False
    if url is not None:
        result = explain(host.dispatcher, url)
        refused = result["status"] != 200
        if as_json:
            click.echo(json.dumps(result, indent=2))
        else:
            width = max(len(k) for k in result)
            for key, value in result.items():
                click.echo(f"{key.replace('_', ' ').ljust(width)}  {value}")
    else:
        rows = route_rows(host)
        if as_json:
            _json_rows(rows)
        else:
            _table(rows, ["host", "path", "app", "distribution", "claimed_by", "status"])
            for why in host.unmounted.values():
                click.echo(why)
    if verbose:
        _tracebacks(host.all_problems())
    if refused:
        sys.exit(1)


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
@disable_option
@traceback_option
def plugins_command(
    as_json: bool, config_path: str | None, disable: tuple[str, ...], verbose: bool
) -> None:
    """Import every plugin and app and show each one's distribution and status."""
    from .web.report import plugin_rows

    _setup_logging(False)
    host = Host.build(_load(config_path), disable=disable)
    host.load_all()
    host.close_apps()  # loading started the ASGI apps' lifespans: shut them down
    rows = plugin_rows(host)
    if as_json:
        _json_rows(rows)
    else:
        _table(
            rows,
            [
                "kind",
                "name",
                "distribution",
                "entry_point",
                "interface",
                "hooks",
                "isolation",
                "status",
            ],
        )
    if verbose:
        _tracebacks(host.all_problems())


@main.command("check")
@config_option
@disable_option
@traceback_option
def check_command(config_path: str | None, disable: tuple[str, ...], verbose: bool) -> None:
    """Load every plugin and app, report every problem, exit 1 if there is any."""
    _setup_logging(False)
    host = Host.build(_load(config_path), disable=disable)
    host.load_all()
    host.close_apps()  # loading started the ASGI apps' lifespans: shut them down
    problems = host.all_problems()
    for problem in problems:
        click.echo(f"problem: {problem}")
        if verbose and problem.traceback:
            click.echo(_indent(problem.traceback))
    if problems:
        click.echo(f"{len(problems)} problem(s) found.")
        sys.exit(1)
    click.echo(
        f"ok: {len(host.apps)} app(s), {len(host.plugins)} plugin(s), {len(host.dispatcher.table.entries)} route(s)."
    )


@main.command("status")
@click.argument("url", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the status JSON instead.")
@config_option
def status_command(url: str | None, as_json: bool, config_path: str | None) -> None:
    """Show what is wrong with a running instance, its apps, workers and reloads.

    Reads URL's /_apphost/status.json (URL: http://HOST:PORT; default: the
    first admin_listen address configured, else the first listen address).
    Exit status 0: ok; 2: degraded or draining; 1: nothing answers there.
    """
    from .web.status import as_text, fetch_picture

    if url is None:  # the status pages answer on admin_listen when it is set
        config = _load(config_path)
        url = _local_url((config.admin_listen or config.listen)[0])
    try:
        picture = fetch_picture(url)
    except ApphostError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(picture, indent=2) if as_json else as_text(picture))
    if picture.get("status") != "ok":
        sys.exit(2)


def _local_url(listen: str) -> str:
    """``http://HOST:PORT`` for a listen address; a wildcard one is reached on loopback."""
    from .config import parse_listen

    host, port = parse_listen(listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@main.command("new")
@click.argument("name")
@click.option(
    "-d",
    "--directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Directory to write NAME/ in.",
)
@click.option("--asgi", is_flag=True, help="Write a FastAPI (ASGI) app instead of a WSGI one.")
def new_command(name: str, directory: str, asgi: bool) -> None:
    """Write NAME/, a plugin distribution: an app, hooks claiming /NAME, a README and a test."""
    from .scaffold import ScaffoldError, create_plugin

    try:
        root = create_plugin(name, directory, asgi=asgi)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {root}/. Make it live, see its route, run its tests:")
    click.echo(f"  pip install -e {root}")
    click.echo("  apphost routes")
    click.echo(f"  python -m pytest {root}")


def _tracebacks(problems: Iterable[Problem]) -> None:
    """``-v`` of ``routes`` and ``plugins``: each failure's problem line and traceback, on stderr.

    On stderr, so that ``--json`` output stays JSON.
    """
    for problem in problems:
        if problem.traceback:
            click.echo(f"problem: {problem}", err=True)
            click.echo(_indent(problem.traceback), err=True)


def _indent(text: str) -> str:
    return textwrap.indent(text, "    ")


def _json_rows(rows: list[dict[str, Any]]) -> None:
    """A JSON array, one row per line (json's C encoder; indent= would use the slow one)."""
    click.echo("[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]" if rows else "[]")


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    cells = [[c.upper().replace("_", " ") for c in columns]] + [
        [", ".join(r[c]) if isinstance(r[c], list) else str(r[c]) for c in columns] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())


def command_line(ctx: click.Context) -> list[str]:
    """``python -m apphost serve`` with the options ``ctx`` was given (not its defaults).

    Not ``sys.argv``, which is someone else's when the CLI runs in process.
    """
    args = [sys.executable, "-m", "apphost", ctx.info_name or "serve"]
    given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT, ParameterSource.PROMPT)
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        if ctx.get_parameter_source(param.name) not in given:
            continue
        value, opt = ctx.params[param.name], max(param.opts, key=len)
        if param.is_flag:
            args += [opt] if value else param.secondary_opts[:1]
        else:
            args += [f"{opt}={v}" for v in (value if param.multiple else [value])]
    return args
