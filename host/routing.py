"""Requests -> apps: ``Dispatcher``, the host's WSGI callable, on a ``RouteTable``.

    table, conflicts = build_table(routes, "example.com", resolve)  # resolve(route) -> app
    dispatcher = Dispatcher(table)           # a WSGI app
    dispatcher.table = new_table             # a rebuild swaps the table atomically
    explain(dispatcher, "http://api.example.com/v1/x")   # who wins, or why it is refused

A request is routed host first, then path, as ``table.py`` says: the first
host bucket that knows the host wins, then the longest claimed path prefix,
on whole segments. The matched prefix moves from PATH_INFO to the end of
SCRIPT_NAME (PEP 3333) and ``environ["apphost.app"]`` names the app (for logs
and metrics).

A malformed Host, a missing one on HTTP/1.1, a Host outside ``allowed_hosts``,
a relative path, ``..`` above the root, NUL and (unless allowed) an encoded
slash or backslash answer 400 before any app sees them. Repeated slashes and
``.`` segments are collapsed by string operations, whatever the length of the
path; ``..`` segments are resolved one by one, so a path over 16 KiB that has
one answers 414 URI Too Long. A factory claim's app is made by
``DynamicApps``: no app for the key is 404, a raising factory 500.

The usual request takes a short path through ``__call__``: what a raw Host
means on the current table is remembered (parsing, ``allowed_hosts``, the
default port, the bucket), and a path that needs no normalizing, no key and
no own page is matched and served without building a ``Match``. Anything else
goes through ``route``, which ``explain`` also uses.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from .claims import RESERVED_PREFIX
from .dynamic import DynamicApps
from .hosts import MAX_HOST_LENGTH, host_matches, host_pattern, parse_host, to_ascii
from .paths import has_encoded_slash, normalize_path, request_path
from .refusals import (
    BAD_HOST,
    ENCODED_SLASH,
    FACTORY_FAILED,
    NO_HOST,
    NO_KEY,
    NOT_ALLOWED,
    NOT_FOUND,
    NOT_OWN,
    NUL,
    RELATIVE,
    Refusal,
)
from .table import Entry, PathTable, RouteTable, build_table

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "APP_KEY",
    "Dispatcher",
    "Entry",
    "Match",
    "Refusal",
    "RouteTable",
    "build_table",
    "explain",
    "normalize_path",
]

log = logging.getLogger("apphost")

OWN_PREFIX = RESERVED_PREFIX + "/"
APP_KEY = "apphost.app"  # the environ key naming the app a request was routed to
_HOST_CACHE_SIZE = 4096
# A longer path goes straight to ``route``: the short path's scans of it would only be
# made again there, and next to them the short path saves nothing.
_SHORT_PATH = 4096


@dataclass(frozen=True, slots=True)
class Match:
    """Where a request goes: the entry, the key of a dynamic app, the new SCRIPT_NAME/PATH_INFO."""

    entry: Entry
    key: str | None  # text (not a WSGI string) for a factory claim, else None
    script_name: str
    path_info: str


class _Routing:
    """A table and what raw Hosts mean on it; replaced whole when the table is."""

    __slots__ = ("hosts", "https_hosts", "table")

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        # raw Host -> its path table; None sends the request to ``route`` (a malformed Host,
        # one outside allowed_hosts, an empty one or none at all).
        self.hosts: dict[str, PathTable | None] = {}
        # Without a port, a https request may mean another host:port claim than a http one.
        self.https_hosts: dict[str, PathTable | None] | None = {} if table.host_port else None


class Dispatcher:
    """The host's WSGI app: route each request on the current ``table``.

    ``own`` maps paths under ``/_apphost/`` to the host's own apps (health,
    status); they answer for any valid Host, even outside ``allowed_hosts``.
    Assigning ``table`` forgets what was learnt of hosts on the old one.
    """

    def __init__(
        self,
        table: RouteTable,
        *,
        allowed_hosts: Iterable[str] = (),
        allow_encoded_slashes: bool = False,
        own: Mapping[str, WSGIApplication] | None = None,
    ) -> None:
        self._allowed_hosts = frozenset(host_pattern(p) for p in allowed_hosts)
        self.allow_encoded_slashes = allow_encoded_slashes
        self.own = dict(own or {})
        self._hosts: dict[str, tuple[str, int | None] | None] = {}  # parse_host, cached
        self._routing = _Routing(table)

    @property
    def table(self) -> RouteTable:
        return self._routing.table

    @table.setter
    def table(self, table: RouteTable) -> None:
        self._routing = _Routing(table)  # one assignment: a request sees the old or the new

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """The normalized patterns; fixed, since what hosts mean is cached with them."""
        return self._allowed_hosts

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        routing = self._routing  # one snapshot for the whole request
        hosts = routing.hosts
        if routing.https_hosts is not None and environ.get("wsgi.url_scheme") == "https":
            hosts = routing.https_hosts
        raw_host: str = environ.get("HTTP_HOST", "")  # none and "" both take the slow path
        try:
            paths = hosts[raw_host]
        except KeyError:
            paths = self._learn_host(routing, hosts, raw_host)
        path: str = environ.get("PATH_INFO", "")
        if (
            paths is None
            or len(path) > _SHORT_PATH
            or "//" in path
            or "/." in path
            or "\x00" in path
            or (
                "%" in (environ.get("REQUEST_URI") or environ.get("RAW_URI") or "")
                and not self.allow_encoded_slashes
            )
        ):
            return self._dispatch(routing.table, environ, start_response)
        found = paths.match(path)
        # No claim lies under /_apphost/ or starts other than with "/": only the root claim,
        # a "/*" claim or none at all can meet an own page or a relative path.
        if found is None:
            if path[:1] == "/" and not path.startswith(RESERVED_PREFIX):
                return NOT_FOUND(environ, start_response)
            return self._dispatch(routing.table, environ, start_response)
        entry, end, _ = found
        if entry.key_from is not None or (
            (not end or paths.walk_all) and (path[:1] != "/" or path.startswith(RESERVED_PREFIX))
        ):
            return self._dispatch(routing.table, environ, start_response)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + path[:end]
        environ["PATH_INFO"] = path[end:]
        environ[APP_KEY] = entry.name
        return entry.app(environ, start_response)

    def _learn_host(
        self, routing: _Routing, hosts: dict[str, PathTable | None], raw: str
    ) -> PathTable | None:
        """What ``raw`` means on ``routing.table`` (into ``hosts``): its path table, or None."""
        parsed = self._parse_host(raw)
        paths = None
        if parsed is not None:
            name, port = parsed
            if not self._allowed_hosts or host_matches(name, self._allowed_hosts):
                if port is None:
                    port = 443 if hosts is routing.https_hosts else 80
                paths = routing.table.host_table(name, port)[0]
        if len(raw) <= MAX_HOST_LENGTH:  # never let a client fill the cache with huge keys
            if len(hosts) >= _HOST_CACHE_SIZE:
                hosts.clear()
            hosts[raw] = paths
        return paths

    def _dispatch(
        self, table: RouteTable, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """The slow path: ``route``, then apply the match or call what answers instead."""
        result = self._route(environ, table)
        if not isinstance(result, Match):
            return result(environ, start_response)
        environ["SCRIPT_NAME"] = result.script_name
        environ["PATH_INFO"] = result.path_info
        environ[APP_KEY] = result.entry.name
        app = result.entry.app
        dynamic: object = app
        if isinstance(dynamic, DynamicApps) and result.key is not None:
            try:
                made = dynamic.get(result.key)
            except Exception:
                log.exception("%s: the app factory raised for key %r", dynamic.label, result.key)
                return FACTORY_FAILED(environ, start_response)
            if made is None:
                return NO_KEY(environ, start_response)
            app = made
        return app(environ, start_response)

    def _parse_host(self, raw: str) -> tuple[str, int | None] | None:
        """``parse_host``, cached for Host values short enough to be valid."""
        try:
            return self._hosts[raw]
        except KeyError:
            parsed = parse_host(raw)
        if len(raw) <= MAX_HOST_LENGTH:  # never let a client fill the cache with huge keys
            if len(self._hosts) >= _HOST_CACHE_SIZE:
                self._hosts.clear()
            self._hosts[raw] = parsed
        return parsed

    def route(self, environ: WSGIEnvironment) -> Match | WSGIApplication:
        """The ``Match`` for a request, or the app answering instead of a claim.

        That is a ``Refusal`` (400, 404, 414) or one of the host's own pages.
        ``environ`` is only read: ``__call__`` applies the match.
        """
        return self._route(environ, self.table)

    def _route(self, environ: WSGIEnvironment, table: RouteTable) -> Match | WSGIApplication:
        raw_host = environ.get("HTTP_HOST")
        if raw_host is None:
            if environ.get("SERVER_PROTOCOL", "HTTP/1.0") not in ("HTTP/1.0", "HTTP/0.9"):
                return NO_HOST
            name, port = None, None
        else:
            parsed = self._parse_host(raw_host)
            if parsed is None:
                return BAD_HOST
            name, port = parsed
        path: str = environ.get("PATH_INFO", "")
        if path and path[0] != "/":
            return RELATIVE
        if "\x00" in path:
            return NUL
        if not self.allow_encoded_slashes and has_encoded_slash(environ):
            return ENCODED_SLASH
        normalized = request_path(path)
        if isinstance(normalized, Refusal):
            return normalized
        path = normalized
        if path.startswith(OWN_PREFIX) or path == RESERVED_PREFIX:
            return self.own.get(path, NOT_OWN)
        if self._allowed_hosts and (name is None or not host_matches(name, self._allowed_hosts)):
            return NOT_ALLOWED
        if port is None:
            port = 443 if environ.get("wsgi.url_scheme") == "https" else 80
        paths, label = table.host_table(name, port)
        found = paths.match(path)
        if found is None:
            return NOT_FOUND
        entry, end, segment = found
        key = None
        if entry.conflict is None and entry.key_from == "host":
            key = label
        elif entry.conflict is None and entry.key_from == "path" and segment is not None:
            try:  # the factory gets text; a segment that is not UTF-8 names no app
                key = segment.encode("latin-1").decode("utf-8")
            except UnicodeError:
                return NO_KEY
        return Match(entry, key, environ.get("SCRIPT_NAME", "") + path[:end], path[end:])


_PRINTABLE = "".join(map(chr, range(0x21, 0x7F)))


def explain(dispatcher: Dispatcher, url: str) -> dict[str, Any]:
    """What ``dispatcher`` does with ``GET url``, without calling an app or a factory.

        >>> explain(dispatcher, "http://api.example.com:8080/v1/x")   # doctest: +SKIP
        {'url': ..., 'host': 'api.example.com:8080', 'status': 200, 'route': 'api.example.com/v1',
         'app': 'api', 'claimed_by': 'plugin api (api==1.0)', 'priority': 0, 'key': None,
         'script_name': '/v1', 'path_info': '/x'}

    The URL is sent as a browser would (IDNA host, UTF-8 percent-encoded path);
    without a host it asks for the server name. A refusal gives ``status`` and
    ``reason``. SCRIPT_NAME and PATH_INFO are shown as text, not WSGI strings.
    """
    from werkzeug.test import create_environ

    if "://" not in url and not url.startswith("/"):
        url = "http://" + url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2] or dispatcher.table.server_name
    with contextlib.suppress(ValueError):  # left as is, to be refused as malformed
        host = to_ascii(host)
    raw_path = quote(parts.path or "/", safe=_PRINTABLE)
    environ = create_environ("/", f"{parts.scheme or 'http'}://localhost", query_string=parts.query)
    environ["HTTP_HOST"] = host
    environ["PATH_INFO"] = unquote_to_bytes(raw_path).decode("latin-1")  # as servers do
    environ["REQUEST_URI"] = environ["RAW_URI"] = raw_path + (parts.query and "?" + parts.query)
    out: dict[str, Any] = {"url": url, "host": host}
    result = dispatcher.route(environ)
    if isinstance(result, Refusal):
        return out | {"status": int(result.status[:3]), "reason": result.reason}
    if not isinstance(result, Match):
        return out | {"status": 200, "route": environ["PATH_INFO"], "app": "apphost (own page)"}
    route, conflict = result.entry.route, result.entry.conflict
    return (
        out
        | {
            "status": 503 if conflict else 200,
            "route": route.describe(),
            "app": result.entry.name,
            "claimed_by": route.claimant,
            "priority": route.claim.priority,
            "key": result.key,
            "script_name": _text(result.script_name),
            "path_info": _text(result.path_info),
        }
        | ({"reason": str(conflict)} if conflict else {})
    )


def _text(wsgi: str) -> str:
    return wsgi.encode("latin-1").decode("utf-8", "backslashreplace")
