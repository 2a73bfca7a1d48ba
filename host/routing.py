"""Routes -> an immutable ``RouteTable`` -> ``Dispatcher``, the host's WSGI callable.

    table, conflicts = build_table(routes, "example.com", resolve)  # resolve(route) -> app
    dispatcher = Dispatcher(table)           # a WSGI app
    dispatcher.table = new_table             # a rebuild swaps the table atomically
    explain(dispatcher, "http://api.example.com/v1/x")   # who wins, or why it is refused

A request is routed host first, then path. Host buckets are tried in order and
the first that knows the host wins, with no fallback to later buckets (like
nginx server blocks): ``host:port``, exact host, subdomain of the server name,
``*.suffix`` wildcard, then the host-less claims. Within a host the longest
claimed path prefix wins, on whole segments; an exact segment beats ``*`` at
the same depth. Lookup costs one or two dict lookups per segment of the deepest
claim, however many claims there are and however long the request path is.

The matched prefix moves from PATH_INFO to the end of SCRIPT_NAME (PEP 3333)
and ``environ["apphost.app"]`` names the app (for logs and metrics).
A malformed Host, a missing one on HTTP/1.1, a Host outside ``allowed_hosts``,
a relative path, ``..`` above the root, NUL and (unless allowed) an encoded
slash or backslash answer 400 before any app sees them. A factory claim's app
is made by ``DynamicApps``: no app for the key is 404, a raising factory 500.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from .claims import RESERVED_PREFIX, Route
from .dynamic import DynamicApps
from .errors import ConflictError
from .hosts import MAX_HOST_LENGTH, host_matches, host_pattern, parse_host, to_ascii

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("apphost")

OWN_PREFIX = RESERVED_PREFIX + "/"
APP_KEY = "apphost.app"  # the environ key naming the app a request was routed to
_HOST_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Entry:
    """A table slot: the winning route and the app (or ``DynamicApps``) it serves."""

    route: Route
    app: WSGIApplication
    conflict: ConflictError | None = None

    @property
    def name(self) -> str:
        """The app's name, as logs and metrics label it (``make(key)`` for a factory)."""
        return _app_name(self.route)


@dataclass(slots=True)
class PathTable:
    """The claims of one host: exact prefixes, ``prefix/*`` parents, deepest depth."""

    exact: dict[str, Entry] = field(default_factory=dict)
    wild: dict[str, Entry] = field(default_factory=dict)
    depth: int = 0

    def add(self, entry: Entry) -> None:
        route = entry.route
        segments = route.path.count("/") + route.path_wild
        self.depth = max(self.depth, segments)
        (self.wild if route.path_wild else self.exact)[route.path] = entry

    def match(self, path: str) -> tuple[Entry, int, str | None] | None:
        """(entry, end of the matched prefix in ``path``, key of a ``/*`` claim)."""
        ends: list[int] = []
        pos, n, depth = 0, len(path), self.depth
        while len(ends) < depth:
            nxt = path.find("/", pos + 1)
            if nxt < 0:
                if pos + 1 < n:
                    ends.append(n)
                break
            ends.append(nxt)
            pos = nxt
        exact, wild = self.exact, self.wild
        for d in range(len(ends), 0, -1):
            end = ends[d - 1]
            entry = exact.get(path[:end])
            if entry is not None:
                return entry, end, None
            if wild:
                start = ends[d - 2] if d > 1 else 0
                entry = wild.get(path[:start])
                if entry is not None:
                    return entry, end, path[start + 1 : end]
        entry = exact.get("")
        return (entry, 0, None) if entry is not None else None


@dataclass(slots=True)
class RouteTable:
    """Every winning route, bucketed by host. Built once, then only read."""

    server_name: str
    host_port: dict[str, PathTable] = field(default_factory=dict)
    host: dict[str, PathTable] = field(default_factory=dict)
    subdomain: dict[str, PathTable] = field(default_factory=dict)
    wildcard: dict[str, PathTable] = field(default_factory=dict)
    any: PathTable = field(default_factory=PathTable)
    entries: list[Entry] = field(default_factory=list)  # in precedence order

    def host_table(self, name: str | None, port: int) -> tuple[PathTable | None, str | None]:
        """The path table for a normalized host, and the ``*`` label it matched."""
        if name is None:
            return self.any, None
        if self.host_port:
            table = self.host_port.get(f"{name}:{port}")
            if table is not None:
                return table, None
        table = self.host.get(name)
        if table is not None:
            return table, None
        if self.subdomain and name.endswith(self.server_name) and len(name) > len(self.server_name):
            cut = len(name) - len(self.server_name) - 1
            if name[cut] == ".":
                table = self.subdomain.get(name[:cut])
                if table is not None:
                    return table, None
        if self.wildcard:
            label, _, rest = name.partition(".")
            table = self.wildcard.get(rest)
            if table is not None:
                return table, label
        return self.any, None


def build_table(
    routes: Iterable[Route], server_name: str, resolve: Callable[[Route], WSGIApplication]
) -> tuple[RouteTable, list[ConflictError]]:
    """Settle competing routes by rank and bucket the winners.

    ``resolve(route)`` gives the app a route serves. Two routes on the same
    key with the same top rank conflict: the route answers 503 and the
    conflict is returned for reporting.
    """
    by_key: dict[tuple[str, str, str, bool], list[Route]] = {}
    for route in routes:
        by_key.setdefault(route.key, []).append(route)
    table = RouteTable(server_name)
    conflicts = []
    for group in by_key.values():
        group.sort(key=lambda r: r.rank, reverse=True)
        winner = group[0]
        if len(group) > 1 and group[1].rank == winner.rank:
            conflict = ConflictError(winner.describe(), _claimed(winner), _claimed(group[1]))
            conflicts.append(conflict)
            entry = Entry(winner, _UNAVAILABLE_CONFLICT, conflict)
        else:
            entry = Entry(winner, resolve(winner))
        table.entries.append(entry)
        buckets: Mapping[str, dict[str, PathTable]] = {
            "host_port": table.host_port,
            "host": table.host,
            "subdomain": table.subdomain,
            "wildcard": table.wildcard,
        }
        kind = winner.host_kind
        path_table = (
            table.any if kind == "any" else buckets[kind].setdefault(winner.host_key, PathTable())
        )
        path_table.add(entry)
    table.entries.sort(key=_precedence)
    return table, conflicts


def _claimed(route: Route) -> str:
    return f"{route.claimant} for {_app_name(route)!r}"


def _app_name(route: Route) -> str:
    """The app name, or the qualified name of a WSGI app or factory (``make(key)``)."""
    claim = route.claim
    if claim.factory is not None:
        return f"{getattr(claim.factory, '__qualname__', repr(claim.factory))}(key)"
    return (
        claim.app
        if isinstance(claim.app, str)
        else getattr(claim.app, "__qualname__", repr(claim.app))
    )


_KIND_ORDER = {"host_port": 0, "host": 1, "subdomain": 2, "wildcard": 3, "any": 4}


def _precedence(entry: Entry) -> tuple[int, str, int, str]:
    r = entry.route
    return (_KIND_ORDER[r.host_kind], r.host_key, -(r.path.count("/") + r.path_wild), r.path)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A WSGI app refusing a request with ``status`` and a one-line ``reason``."""

    status: str
    reason: str

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = f"{self.status}: {self.reason}\n".encode()
        start_response(
            self.status,
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]


def bad_request(reason: str) -> Refusal:
    return Refusal("400 Bad Request", reason)


NOT_FOUND = Refusal("404 Not Found", "no claim matches this host and path")
_NOT_OWN = Refusal("404 Not Found", f"no such page of the host's own under {OWN_PREFIX}")
_NO_KEY = Refusal("404 Not Found", "no app for this key")
_FACTORY_FAILED = Refusal("500 Internal Server Error", "the app could not be made")
_UNAVAILABLE_CONFLICT = Refusal("503 Service Unavailable", "this route is claimed twice")
_NO_HOST = bad_request("HTTP/1.1 requires a Host header")
_BAD_HOST = bad_request("malformed Host header")
_NOT_ALLOWED = bad_request("host not allowed")
_RELATIVE = bad_request("the path must start with '/'")
_NUL = bad_request("NUL in path")
_ENCODED_SLASH = bad_request("encoded slash or backslash in path")
_ABOVE_ROOT = bad_request("'..' above the root")


def normalize_path(path: str) -> str | None:
    """Resolve ``.`` and ``..`` segments and repeated slashes; None if ``..`` climbs above root."""
    out: list[str] = []
    segments = path.split("/")
    for seg in segments[1:]:
        if seg == "..":
            if not out:
                return None
            out.pop()
        elif seg and seg != ".":
            out.append(seg)
    trailing = segments[-1] in ("", ".", "..") and len(segments) > 1
    return "/" + "/".join(out) + ("/" if trailing and out else "")


def _has_encoded_slash(environ: WSGIEnvironment) -> bool:
    raw: str = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
    if "%" not in raw:
        return False
    lowered = raw.partition("?")[0].lower()
    return "%2f" in lowered or "%5c" in lowered


@dataclass(frozen=True, slots=True)
class Match:
    """Where a request goes: the entry, the key of a dynamic app, the new SCRIPT_NAME/PATH_INFO."""

    entry: Entry
    key: str | None  # text (not a WSGI string) for a factory claim, else None
    script_name: str
    path_info: str


class Dispatcher:
    """The host's WSGI app: route each request on the current ``table``.

    ``own`` maps paths under ``/_apphost/`` to the host's own apps (health,
    status); they answer for any valid Host, even outside ``allowed_hosts``.
    """

    def __init__(
        self,
        table: RouteTable,
        *,
        allowed_hosts: Iterable[str] = (),
        allow_encoded_slashes: bool = False,
        own: Mapping[str, WSGIApplication] | None = None,
    ) -> None:
        self.table = table
        self.allowed_hosts = frozenset(host_pattern(p) for p in allowed_hosts)
        self.allow_encoded_slashes = allow_encoded_slashes
        self.own = dict(own or {})
        self._hosts: dict[str, tuple[str, int | None] | None] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        result = self.route(environ)
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
                return _FACTORY_FAILED(environ, start_response)
            if made is None:
                return _NO_KEY(environ, start_response)
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

        That is a ``Refusal`` (400, 404) or one of the host's own pages.
        ``environ`` is only read: ``__call__`` applies the match.
        """
        raw_host = environ.get("HTTP_HOST")
        if raw_host is None:
            if environ.get("SERVER_PROTOCOL", "HTTP/1.0") not in ("HTTP/1.0", "HTTP/0.9"):
                return _NO_HOST
            name, port = None, None
        else:
            parsed = self._parse_host(raw_host)
            if parsed is None:
                return _BAD_HOST
            name, port = parsed
        path: str = environ.get("PATH_INFO", "")
        if path and path[0] != "/":
            return _RELATIVE
        if "\x00" in path:
            return _NUL
        if not self.allow_encoded_slashes and _has_encoded_slash(environ):
            return _ENCODED_SLASH
        if "//" in path or "/." in path:
            normalized = normalize_path(path)
            if normalized is None:
                return _ABOVE_ROOT
            path = normalized
        if path.startswith(OWN_PREFIX) or path == RESERVED_PREFIX:
            return self.own.get(path, _NOT_OWN)
        if self.allowed_hosts and (name is None or not host_matches(name, self.allowed_hosts)):
            return _NOT_ALLOWED
        if port is None:
            port = 443 if environ.get("wsgi.url_scheme") == "https" else 80
        table = self.table  # one snapshot for the whole lookup
        path_table, label = table.host_table(name, port)
        found = path_table.match(path) if path_table is not None else None
        if found is None:
            return NOT_FOUND
        entry, end, segment = found
        key = None
        if entry.conflict is None and entry.route.key_from == "host":
            key = label
        elif entry.conflict is None and entry.route.key_from == "path" and segment is not None:
            try:  # the factory gets text; a segment that is not UTF-8 names no app
                key = segment.encode("latin-1").decode("utf-8")
            except UnicodeError:
                return _NO_KEY
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
