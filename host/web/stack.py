"""The request stack: every layer a request passes, outermost first, built in one place.

    app = request_stack(host)                       # under gunicorn, uWSGI (apphost.wsgi)
    app = request_stack(host, adjustments=adj)      # under apphost serve (waitress)
    admin = admin_stack(host)                       # on the admin_listen listeners

Outermost first, as a request meets them:

1. ``_front`` (waitress only): marks a request a proxy relayed, before
   waitress's ``trusted_proxy`` handling drops or applies its headers (the
   status pages refuse such requests under ``status_page = "local"``), and
   once draining, has every response close its connection.
2. waitress's ``proxy_headers_middleware`` (waitress only): ``trusted_proxy``.
3. werkzeug's debugger (``serve --debug`` only).
4. ``Observer``: the access log and metrics, for every request.
5. ``Dispatcher``: own pages, refusals, or the claimed app, which is
   ``scope_cookies`` (which leaves the rewriting to the Observer's
   ``start_response``) -> ``Bulkhead`` (max_in_flight, quarantine) ->
   ``LazyApp`` (500 on error) -> the plugins' wrappers -> the app.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..plugins.loading import DEBUG_KEY
from ..routing.refusals import TRACE as TRACE_REFUSED
from ..routing.refusals import Refusal
from .observe import Observer
from .pages import FORWARDED, FORWARDED_KEY, admin_pages

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from ..host import Host


def request_stack(host: Host, adjustments: Any = None) -> WSGIApplication:
    """What a server runs for ``host``; ``adjustments`` (waitress's) adds the serving layers."""
    config = host.config
    app: WSGIApplication = host.dispatcher
    app = Observer(app, access_log=config.access_log, metrics=host.metrics)
    host.bulkheads.metrics = host.metrics  # counted by the watch, once a second
    if config.debug:
        app = _debugger(app)
    if adjustments is not None:
        app = _front(app, host, adjustments)
    return app


ADMIN_ONLY = Refusal(
    "404 Not Found", "only the host's own pages under /_apphost/ answer on admin_listen"
)


def admin_stack(host: Host) -> WSGIApplication:
    """What the ``admin_listen`` listeners serve: the own pages only, for any Host.

    No app, no proxy headers, no access log: monitoring scrapes it often, and
    who may reach it is decided by the address it listens on.
    """
    from ..serving._waitress import close_when_draining

    pages = admin_pages(host)

    def admin(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if host.draining:
            close_when_draining(environ)
        if environ.get("REQUEST_METHOD") == "TRACE":
            return TRACE_REFUSED(environ, start_response)
        return pages.get(environ.get("PATH_INFO", ""), ADMIN_ONLY)(environ, start_response)

    return admin


def _front(app: WSGIApplication, host: Host, adjustments: Any) -> WSGIApplication:
    """What waitress calls: mark a request a proxy relayed (before waitress drops or
    applies its headers), and once draining, have every response close its connection.

    A request with none of the proxy headers, from a peer that is not the
    trusted proxy, skips waitress's proxy-header layer: it would change nothing.
    """
    from ..serving._waitress import PROXY_HEADER_KEYS, close_when_draining, proxy_headers

    proxied = proxy_headers(app, adjustments)
    trusted = adjustments.trusted_proxy
    headers = PROXY_HEADER_KEYS | FORWARDED

    def front(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if host.draining:
            close_when_draining(environ)
        if environ.keys().isdisjoint(headers):
            if trusted is None or (trusted != "*" and environ.get("REMOTE_ADDR") != trusted):
                return app(environ, start_response)
        elif not environ.keys().isdisjoint(FORWARDED):
            environ[FORWARDED_KEY] = True
        return proxied(environ, start_response)

    return front


def _debugger(app: WSGIApplication) -> WSGIApplication:
    from werkzeug.debug import DebuggedApplication

    def debug_passthrough(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        environ[DEBUG_KEY] = True  # app errors reach the debugger instead of a bare 500
        return app(environ, start_response)

    return DebuggedApplication(debug_passthrough, evalex=True)
