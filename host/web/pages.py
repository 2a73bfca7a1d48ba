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
from .report import plugin_rows, pool_rows, route_rows
from .status import StatusView, duration, pool_cells, short_state, where, wrong_elsewhere

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

    ``status`` is ``ok``, ``degraded`` (an app failed to load, is quarantined,
    its bulkhead turned requests away in the last 10 s, a route is in conflict,
    a request is stuck, in this worker or another; the instance still serves,
    so it stays 200 for load balancers) or ``draining``. The details are every
    app's status and what is wrong (``trouble``): app names, not for everybody.
    """
    wrong = trouble(host)
    state = "draining" if host.draining else "degraded" if any(wrong.values()) else "ok"
    said: dict[str, Any] = {"status": state}
    if details(environ):
        apps = {n: a.info.state for n, a in host.apps.items()}
        for name in wrong["failed"]:  # failed in another worker, if not in this one
            if name in apps and not apps[name].startswith("failed"):
                apps[name] = "failed"
        said["apps"] = apps
        said.update(wrong)
        if host.pools:
            said["pools"] = pool_rows(host)
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
    """What is wrong right now: failed, quarantined and saturated apps, conflicts, stuck requests."""
    bulkheads = host.bulkheads
    now = time.monotonic()
    elsewhere = wrong_elsewhere()  # in the other workers, when there are some
    failed = {n for n, a in host.apps.items() if a.info.failed}
    quarantined = dict(bulkheads.quarantined)
    for w in elsewhere:
        if w["kind"] == "failed":
            failed.add(w["app"])
        elif w["kind"] == "quarantined":
            quarantined.setdefault(w["app"], w["why"])
    return {
        "failed": sorted(failed),
        "conflicts": [str(e.conflict) for e in host.dispatcher.table.entries if e.conflict],
        "quarantined": dict(sorted(quarantined.items())),
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
    view = StatusView(host)
    pages: dict[str, Callable[[WSGIEnvironment], tuple[str, bytes]]] = {
        "/_apphost/": lambda environ: (
            "text/html; charset=utf-8",
            render_html(host, view).encode(),
        ),
        "/_apphost/status.json": lambda environ: (
            "application/json",
            json.dumps(_status_json(view, "html" in environ.get("QUERY_STRING", ""))).encode(),
        ),
        "/_apphost/routes": lambda environ: (
            "application/json",
            json.dumps(route_rows(host), indent=1).encode(),
        ),
        "/_apphost/plugins": lambda environ: (
            "application/json",
            json.dumps(plugin_rows(host), indent=1).encode(),
        ),
        "/_apphost/metrics": lambda environ: (
            "text/plain; version=0.0.4; charset=utf-8",
            host.metrics.exposition(),
        ),
    }
    public = mode == "public"
    own = {path: _page(render, public) for path, render in pages.items()}
    return {"/_apphost": _page_redirect, **own}


def _status_json(view: StatusView, with_html: bool) -> dict[str, Any]:
    """The picture; with ``?html``, also each section of the page, for the page's own refresh."""
    picture = view.picture()
    if with_html:
        picture["html"] = {key: render(picture) for key, render in _SECTIONS.items()}
        picture["title"] = _title(picture)
    return picture


def _page_redirect(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """``/_apphost`` -> ``/_apphost/``."""
    where = environ.get("SCRIPT_NAME", "") + "/_apphost/"
    start_response(
        "308 Permanent Redirect",
        [("Location", where), ("Content-Length", "0"), ("Cache-Control", "no-store")],
    )
    return [b""]


def _page(render: Callable[[WSGIEnvironment], tuple[str, bytes]], public: bool) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not public and not is_local(environ):
            return _FORBIDDEN(environ, start_response)
        content_type, body = render(environ)
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
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:1em;max-width:80em;color:#1d1d1d}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.4em 0 .4em}
.badge{display:inline-block;padding:.05em .5em;border-radius:.3em;color:#fff;font-size:.8em;
vertical-align:middle;text-transform:uppercase}
.b-ok{background:#1b5e20}.b-degraded{background:#b00020}.b-draining{background:#8a5a00}
.meta,.links{margin:.2em 0;color:#444}.links a{margin-right:1em}
ul.wrong{list-style:none;padding:0;margin:0}
ul.wrong li{border-left:.3em solid #b00020;background:#fdecee;padding:.4em .6em;margin:.3em 0}
.kind{font-weight:700;color:#b00020;text-transform:uppercase;margin-right:.3em}
small{color:#555}.good{color:#1b5e20}.bad{color:#b00020;font-weight:600}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
td,li{overflow-wrap:break-word}
@media (max-width:640px){
body{padding:.6em}td,li{overflow-wrap:anywhere}
table,thead,tbody,tr,th,td{display:block;width:100%}thead{display:none}
tr{border:1px solid #ddd;margin:.4em 0;padding:.2em 0}td{border:0;padding:.1em .5em}
td.n{text-align:left}td::before{content:attr(data-label) ": ";color:#555}
}
"""
# Every 5 s: the sections again, rendered by the host, from its JSON (nothing leaves the host).
_SCRIPT = """
(function(){
function tick(){
fetch("status.json?html",{cache:"no-store"}).then(function(r){return r.json()})
.then(function(j){for(var id in j.html){var e=document.getElementById(id);if(e)e.innerHTML=j.html[id]}
document.title=j.title}).catch(function(){}).then(function(){setTimeout(tick,5000)})}
setTimeout(tick,5000)})();
"""


def render_html(host: Host, view: StatusView | None = None) -> str:
    """The status page: what is wrong first, then apps, workers, reloads, routes, plugins."""
    picture = (view or StatusView(host)).picture()
    sections = "".join(
        f"<{'header' if key == 'top' else 'section'} id={key}>{render(picture)}"
        f"</{'header' if key == 'top' else 'section'}>"
        for key, render in _SECTIONS.items()
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{_e(_title(picture))}</title><style>{_STYLE}</style></head><body>"
        f"{sections}<script>{_SCRIPT}</script></body></html>"
    )


def _title(picture: dict[str, Any]) -> str:
    wrong = len(picture["wrong"])
    return f"apphost: {picture['status']}" + (f" ({wrong} wrong)" if wrong else "")


def _top(picture: dict[str, Any]) -> str:
    a, state = picture["apphost"], picture["status"]
    links = " ".join(
        f"<a href={_e(picture['links'][k])}>{k}</a>"
        for k in ("health", "metrics", "routes", "plugins")
    )
    links += f" <a href={_e(picture['links']['status_json'])}>status.json</a>"
    return (
        f"<h1>apphost <span class='badge b-{_e(state)}' id=state>{_e(state)}</span></h1>"
        f"<p class=meta>version {_e(a['version'])} &middot; pid {a['pid']} &middot; up"
        f" {_e(duration(a['uptime']))} &middot; listening on"
        f" <code>{_e(', '.join(a['listen']))}</code>"
        + (
            f" (own pages on <code>{_e(', '.join(a['admin_listen']))}</code>)"
            if a.get("admin_listen")
            else ""
        )
        + " &middot; server name"
        f" <code>{_e(a['server_name'])}</code> &middot; page by worker {a['answered_by']}"
        f" at {_e(_clock(a['at']))}</p><p class=links>{links}</p>"
    )


def _wrong(picture: dict[str, Any]) -> str:
    wrong, at = picture["wrong"], picture["apphost"]["at"]
    if not wrong:
        return "<h2>Wrong now</h2><p class=good id=nothing>Nothing is wrong right now.</p>"
    items = "".join(
        f"<li data-kind={_e(w['kind'])} data-app={_e(w['app'])}>"
        f"<span class=kind>{_e(w['kind'])}</span>{_e(_what(w) + where(w))}"
        f" <small>since {_e(_clock(w['since']))} ({_e(duration(at - w['since']))} ago)</small></li>"
        for w in wrong
    )
    return f"<h2>Wrong now ({len(wrong)})</h2><ul class=wrong>{items}</ul>"


def _what(w: dict[str, Any]) -> str:
    if w["kind"] == "failed" and "distribution" in w:
        return f"app {w['app']!r} ({w['distribution']}): failed: {w['why']}"
    if w["kind"] in ("quarantined", "saturated", "stuck"):
        return f"app {w['app']!r}: {w['why']}"
    return str(w["why"])


def _apps(picture: dict[str, Any]) -> str:
    window = picture["window"]
    span = ("since start, " if window["since_start"] else "last ") + duration(window["seconds"])
    rows = [
        {
            "app": r["name"],
            "status": short_state(r["status"]),
            "requests": r["requests"],
            "errors": f"{r['error_rate']:.1%}",
            "p50": "-" if r["p50_ms"] is None else f"{r['p50_ms']:g} ms",
            "p99": "-" if r["p99_ms"] is None else f"{r['p99_ms']:g} ms",
            "in flight": f"{r['in_flight']} / {r['limit'] if r['limit'] is not None else '-'}",
            "turned away": r["rejected"],
            "distribution": r["distribution"],
        }
        for r in picture["apps"]
    ]
    return f"<h2>Apps <small>({_e(span)})</small></h2>" + _table(rows, "app-rows")


def _workers(picture: dict[str, Any]) -> str:
    rows = [
        {
            "pid": w["pid"],
            "state": w["state"],
            "uptime": duration(w["uptime"]),
            "RSS": "-" if w["rss_mib"] is None else f"{w['rss_mib']:.0f} MiB",
            "requests": w["requests"],
            "connections": "-" if w.get("connections") is None else w["connections"],
            "started for": w["why"],
        }
        for w in picture["workers"]
    ]
    recycled = ", ".join(f"{k}: {n}" for k, n in sorted(picture["recycled"].items()))
    extra = f"<p>Workers recycled: {_e(recycled)}</p>" if recycled else ""
    return "<h2>Workers</h2>" + _table(rows, "worker-rows") + extra


def _pools(picture: dict[str, Any]) -> str:
    pools = picture.get("pools")
    if not pools:
        return ""
    columns = ["app", "processes", "PIDs", "RSS", "restarts", "in flight"]
    rows = [dict(zip(columns, pool_cells(p), strict=True)) for p in pools]
    return "<h2>Process pools</h2>" + _table(rows, "pool-rows")


def _reloads(picture: dict[str, Any]) -> str:
    if not picture["reloads"]:
        return "<h2>Reloads</h2><p>No reload since start.</p>"
    items = "".join(
        f"<li class={'good' if r['ok'] else 'bad'}>{_e(_clock(r['at']))} ({_e(r['why'])}):"
        f" {_e(r['summary'])}</li>"
        for r in picture["reloads"]
    )
    return f"<h2>Reloads</h2><ul id=reload-list>{items}</ul>"


def _routes(picture: dict[str, Any]) -> str:
    columns = ["host", "path", "app", "distribution", "claimed_by", "status"]
    rows = [
        {c.replace("_", " "): short_state(r[c]) if c == "status" else r[c] for c in columns}
        for r in picture["routes"]
    ]
    return "<h2>Routes</h2>" + _table(rows, "routes")


def _plugins(picture: dict[str, Any]) -> str:
    columns = ["kind", "name", "distribution", "entry_point", "hooks", "status"]
    rows = [
        {c.replace("_", " "): ", ".join(r[c]) if c == "hooks" else r[c] for c in columns}
        for r in picture["plugins"]
    ]
    return "<h2>Apps and plugins</h2>" + _table(rows, "plugins")


_SECTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "top": _top,
    "wrong": _wrong,
    "apps": _apps,
    "workers": _workers,
    "pools": _pools,
    "reloads": _reloads,
    "route-table": _routes,
    "plugin-table": _plugins,
}


def _table(rows: list[dict[str, Any]], ident: str) -> str:
    if not rows:
        return "<p>None.</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row[c]
            cls = " class=n" if isinstance(value, int) else ""
            if c == "status" and not str(value).startswith("lost to"):
                cls = " class=good" if value in ("ok", "not loaded") else " class=bad"
            cells.append(f"<td data-label='{_e(c)}'{cls}>{_e(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table id={ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(at))


def _e(text: str) -> str:
    return html.escape(text, quote=True)
