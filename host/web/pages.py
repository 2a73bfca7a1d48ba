"""The host's own pages under ``/_apphost/``: health, status (HTML), routes and plugins (JSON), metrics.

    Dispatcher(table, own=own_pages(host))     # path -> WSGI app

``/_apphost/health`` always answers, for load balancers: 200 while serving,
503 once draining, and ``{"status": "ok" | "degraded" | "draining"}``. Who may
see the status pages also gets each app's status and what is wrong (its
details). The others follow the ``status_page`` setting: ``"off"`` (404),
``"local"`` (loopback clients talking to the host directly, else 403) or
``"public"``.

With ``admin_listen`` set they answer only on those addresses (``admin_pages``,
to any client that reaches them, unless ``status_page = "off"``), and the
public listener's health never has details: a proxy in front that adds no
X-Forwarded-For (so its clients look local) cannot publish them.
"""

from __future__ import annotations

import functools
import html
import ipaddress
import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..routing.refusals import Refusal
from .report import plugin_rows, route_rows

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from ..host import Host

MODES = ("off", "local", "public")
_FORBIDDEN = Refusal(
    "403 Forbidden",
    "the status pages answer loopback clients only, not through a proxy"
    " (status_page in apphost.toml)",
)
# Headers by which a proxy says it relays somebody else's request. Behind nginx
# on the same machine every client's REMOTE_ADDR would be 127.0.0.1.
FORWARDED = frozenset(("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP"))
# Set by apphost's server when a request came with one of them, which waitress
# (trusted_proxy or not) removes before the app sees it.
FORWARDED_KEY = "apphost.forwarded"


HEALTH = "/_apphost/health"


def own_pages(host: Host) -> dict[str, WSGIApplication]:
    """The public listener's: health, and the status pages unless ``admin_listen`` has them."""
    config = host.config
    if config.admin_listen:
        return {HEALTH: functools.partial(health, host, _nobody)}
    details = {"off": _nobody, "local": is_local, "public": _anybody}[config.status_page]
    return {HEALTH: functools.partial(health, host, details), **status_pages(host)}


def admin_pages(host: Host) -> dict[str, WSGIApplication]:
    """The ``admin_listen`` listeners': every own page, to any client that reaches them."""
    if host.config.status_page == "off":
        return {HEALTH: functools.partial(health, host, _nobody)}
    return {HEALTH: functools.partial(health, host, _anybody), **status_pages(host, public=True)}


def _nobody(environ: WSGIEnvironment) -> bool:
    return False


def _anybody(environ: WSGIEnvironment) -> bool:
    return True


def health(
    host: Host,
    details: Callable[[WSGIEnvironment], bool],
    environ: WSGIEnvironment,
    start_response: StartResponse,
) -> list[bytes]:
    """``/_apphost/health``: 200 while serving, 503 while draining; details if ``details(environ)``.

    ``status`` is ``ok``, ``degraded`` (an app failed to load, is quarantined, or
    its bulkhead turned requests away in the last 10 s; the instance still
    serves, so it stays 200 for load balancers) or ``draining``. The details are
    every app's status and what is wrong (``trouble``): app names, not for everybody.
    """
    wrong = trouble(host)
    state = "draining" if host.draining else "degraded" if any(wrong.values()) else "ok"
    said: dict[str, Any] = {"status": state}
    if details(environ):
        said["apps"] = {n: a.info.state for n, a in host.apps.items()}
        said.update(wrong)
    body = json.dumps(said).encode()
    status = "503 Service Unavailable" if host.draining else "200 OK"
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def trouble(host: Host) -> dict[str, Any]:
    """What is wrong right now: failed, quarantined and saturated apps, and stuck requests."""
    bulkheads = host.bulkheads
    now = time.monotonic()
    return {
        "failed": sorted(n for n, a in host.apps.items() if a.info.failed),
        "quarantined": dict(sorted(bulkheads.quarantined.items())),
        "saturated": sorted({b.name for b in bulkheads.each() if b.saturated}),
        "stuck": [
            {"app": s.app, "method": s.method, "path": s.path, "seconds": round(s.age(now), 1)}
            for s in sorted(bulkheads.stuck.values(), key=lambda s: s.started)
        ],
    }


def status_pages(host: Host, public: bool = False) -> dict[str, WSGIApplication]:
    """The status pages ``status_page`` allows, each guarded by its access rule (none if
    ``public``)."""
    mode = "public" if public else host.config.status_page
    if mode == "off":
        return {}
    pages: dict[str, Callable[[], tuple[str, bytes]]] = {
        "/_apphost/": lambda: ("text/html; charset=utf-8", render_html(host).encode()),
        "/_apphost/routes": lambda: (
            "application/json",
            json.dumps(route_rows(host), indent=1).encode(),
        ),
        "/_apphost/plugins": lambda: (
            "application/json",
            json.dumps(plugin_rows(host), indent=1).encode(),
        ),
        "/_apphost/metrics": lambda: (
            "text/plain; version=0.0.4; charset=utf-8",
            host.metrics.exposition(),
        ),
    }
    return {path: _page(render, public=mode == "public") for path, render in pages.items()}


def _page(render: Callable[[], tuple[str, bytes]], public: bool) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not public and not is_local(environ):
            return _FORBIDDEN(environ, start_response)
        content_type, body = render()
        start_response(
            "200 OK",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    return app


def is_local(environ: WSGIEnvironment) -> bool:
    """A loopback client talking to the host directly, not through a proxy."""
    if environ.get(FORWARDED_KEY) or not environ.keys().isdisjoint(FORWARDED):
        return False
    return is_loopback(environ.get("REMOTE_ADDR", ""))


def is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}.failed{color:#b00020;font-weight:600}.ok{color:#1b5e20}
"""


def render_html(host: Host) -> str:
    """The status page: routes in precedence order, then every app and plugin with its status."""
    routes = route_rows(host)
    plugins = plugin_rows(host)
    problems = host.all_problems()
    wrong = trouble(host)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>apphost status</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>apphost</h1><p>server name <code>{_e(host.config.server_name)}</code>, "
        f"{len(routes)} routes, {len(plugins)} apps and plugins, {len(problems)} problems.</p>",
        _right_now(wrong),
        "<h2>Routes</h2>",
        _table(routes, ["host", "path", "app", "distribution", "claimed_by", "status"], "routes"),
        "<h2>Apps and plugins</h2>",
        _table(
            plugins, ["kind", "name", "distribution", "entry_point", "hooks", "status"], "plugins"
        ),
    ]
    if problems:
        parts.append("<h2>Problems</h2><ul id=problems>")
        parts += [f"<li class=failed>{_e(str(p))}</li>" for p in problems]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def _right_now(wrong: dict[str, Any]) -> str:
    """The top of the page: what is wrong in this worker now, or that nothing is."""
    items = [f"<li class=failed>app {_e(n)}: failed to load</li>" for n in wrong["failed"]]
    items += [
        f"<li class=failed>app {_e(n)}: quarantined: {_e(why)}</li>"
        for n, why in wrong["quarantined"].items()
    ]
    items += [
        f"<li class=failed>app {_e(n)}: saturated (turning requests away: max_in_flight)</li>"
        for n in wrong["saturated"]
    ]
    items += [
        f"<li class=failed>app {_e(s['app'])}: stuck request {_e(s['method'])} {_e(s['path'])}"
        f" running for {s['seconds']:.0f}s</li>"
        for s in wrong["stuck"]
    ]
    if not items:
        return "<p id=now class=ok>Nothing is wrong right now.</p>"
    return "<h2>Right now</h2><ul id=now>" + "".join(items) + "</ul>"


def _table(rows: list[dict[str, Any]], columns: list[str], ident: str) -> str:
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = str(row.get(c, ""))
            cls = ""
            if c == "status":
                cls = (
                    " class=ok"
                    if value == "ok"
                    else " class=failed"
                    if value != "not loaded"
                    else ""
                )
            cells.append(f"<td{cls}>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table id={ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
