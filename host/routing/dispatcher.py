"""Requests -> apps: ``Dispatcher``, the host's WSGI callable, on a ``RouteTable``.

    table, conflicts = build_table(routes, "example.com", resolve)  # resolve(route) -> app
    dispatcher = Dispatcher(table)           # a WSGI app
    dispatcher.table = new_table             # a rebuild swaps the table atomically
    dispatcher.route(environ)                # the Match, or what answers instead

A request is routed host first, then path, as ``table.py`` says: the first
host bucket that knows the host wins, then the longest claimed path prefix,
on whole segments. The matched prefix moves from PATH_INFO to the end of
SCRIPT_NAME (PEP 3333) and ``environ["apphost.app"]`` names the app (for logs
and metrics).

Every request takes the one path through ``route``, in this order:

1. Host: what a raw Host header means on the current table is worked out once
   and remembered: its path table and ``*`` label, or a refusal (malformed
   Host, none on HTTP/1.1, outside ``allowed_hosts``).
   The Host is the authority of an absolute-form target (``GET http://h/p``)
   if there is one (RFC 9112 section 3.2.2), else the Host header. TRACE is
   refused (405) before all of this: no app ever echoes a request back.
2. Path: an encoded slash or backslash is refused unless allowed; one cheap
   test (``is_clean``) lets the usual path through; any other is checked
   (relative, NUL) and normalized (``request_path``).
3. The host's own pages under ``/_apphost/`` (any valid Host, even outside
   ``allowed_hosts``), then the claims: no match is 404, a factory claim's
   key is its label or segment (``DynamicApps``: no app for the key is 404, a
   raising factory 500).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from .claims import RESERVED_PREFIX
from .hosts import MAX_HOST_LENGTH, authority, host_matches, host_pattern, parse_host
from .paths import has_encoded_slash, is_clean, request_path
from .refusals import (
    BAD_HOST,
    ENCODED_SLASH,
    NO_HOST,
    NO_KEY,
    NOT_ALLOWED,
    NOT_FOUND,
    NOT_OWN,
    NUL,
    RELATIVE,
    TRACE,
    Refusal,
)
from .table import Entry, PathTable, RouteTable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


APP_KEY = "apphost.app"  # the environ key naming the app a request was routed to
_OWN_LENGTH = len(RESERVED_PREFIX)
_HOST_CACHE_SIZE = 4096

# What a Host header means on one table: its path table and the label "*" matched, or a refusal.
HostRoute = tuple[PathTable, str | None] | Refusal


class Match(NamedTuple):
    """Where a request goes: the entry, the key of a dynamic app, the new SCRIPT_NAME/PATH_INFO."""

    entry: Entry
    key: str | None  # text (not a WSGI string) for a factory claim, else None
    script_name: str
    path_info: str


_Found = tuple[Entry, "str | None", str, str]  # a Match's fields: a tuple is cheaper to make


class _Routing:
    """A table and what raw Hosts mean on it; replaced whole when the table is."""

    __slots__ = ("hosts", "https_hosts", "table")

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self.hosts: dict[str, HostRoute] = {}
        # Without a port, a https request may mean another host:port claim than a http one.
        self.https_hosts: dict[str, HostRoute] | None = {} if table.host_port else None


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
        self._refuse_encoded = not allow_encoded_slashes
        self.own = dict(own or {})
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
        found = self._route(environ)
        if found.__class__ is not tuple:
            return found(environ, start_response)  # type: ignore[operator]
        entry, key, environ["SCRIPT_NAME"], environ["PATH_INFO"] = found
        environ[APP_KEY] = entry.name
        dynamic = entry.dynamic
        if key is None or dynamic is None:
            return entry.app(environ, start_response)
        return dynamic.serve(key, environ, start_response)

    def route(self, environ: WSGIEnvironment) -> Match | WSGIApplication:
        """The ``Match`` for a request, or the app answering instead of a claim.

        That is a ``Refusal`` (400, 404, 414) or one of the host's own pages.
        ``environ`` is only read: ``__call__`` applies the match.
        """
        found = self._route(dict(environ))
        if isinstance(found, tuple):
            return Match(*found)
        return found

    def _route(self, environ: WSGIEnvironment) -> _Found | WSGIApplication:
        """``route``, with a plain tuple for the match: what every request runs.

        Changes ``environ`` only for an absolute-form target (its authority is the Host).
        """
        if environ.get("REQUEST_METHOD") == "TRACE":
            return TRACE
        routing = self._routing  # one snapshot for the whole request
        raw_host: str | None = environ.get("HTTP_HOST")
        raw_uri: str = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
        if raw_uri[:1] not in "/":  # neither "" nor origin-form: absolute-form, or "*"
            named = authority(raw_uri)
            if named is not None:
                environ["HTTP_HOST"] = raw_host = named
        if raw_host is None:
            where = self._hostless(routing, environ)
        else:
            hosts = routing.hosts
            if routing.https_hosts is not None and environ.get("wsgi.url_scheme") == "https":
                hosts = routing.https_hosts
            try:
                where = hosts[raw_host]
            except KeyError:
                where = self._learn_host(routing, hosts, raw_host)
        if where.__class__ is Refusal and where is not NOT_ALLOWED:
            return where
        if "%" in raw_uri and self._refuse_encoded and has_encoded_slash(raw_uri):
            return ENCODED_SLASH
        path: str = environ.get("PATH_INFO", "")
        if not is_clean(path):
            if path[:1] != "/":
                return RELATIVE
            if "\x00" in path:
                return NUL
            normalized = request_path(path)
            if normalized.__class__ is Refusal:
                return normalized
            path = normalized  # type: ignore[assignment]
        if where is NOT_ALLOWED:
            return self._own(path) or NOT_ALLOWED
        paths, label = where  # type: ignore[misc]
        found = paths.match(path)
        # No claim lies under /_apphost/: only a root claim, a "/*" claim or none meets an own page.
        if found is None or found[1] == 0 or paths.walk_all:
            if path[1:2] == "_":  # a cheap first look for /_apphost
                own = self._own(path)
                if own is not None:
                    return own
            if found is None:
                return NOT_FOUND
        entry, end, segment = found
        key = None
        if entry.key_from is not None and entry.conflict is None:
            if entry.key_from == "host":
                key = label
            elif segment is not None:
                try:  # the factory gets text; a segment that is not UTF-8 names no app
                    key = segment.encode("latin-1").decode("utf-8")
                except UnicodeError:
                    return NO_KEY
        return (entry, key, environ.get("SCRIPT_NAME", "") + path[:end], path[end:])

    def _own(self, path: str) -> WSGIApplication | None:
        """The own page at ``path`` (``NOT_OWN`` if none there), or None outside ``/_apphost``."""
        if path.startswith(RESERVED_PREFIX) and path[_OWN_LENGTH : _OWN_LENGTH + 1] in ("", "/"):
            return self.own.get(path, NOT_OWN)
        return None

    def _hostless(self, routing: _Routing, environ: WSGIEnvironment) -> HostRoute:
        """A request without Host: HTTP/1.0 goes to the host-less claims, HTTP/1.1 is refused."""
        if environ.get("SERVER_PROTOCOL", "HTTP/1.0") not in ("HTTP/1.0", "HTTP/0.9"):
            return NO_HOST
        if self._allowed_hosts:
            return NOT_ALLOWED
        return routing.table.host_table(None, 80)

    def _learn_host(self, routing: _Routing, hosts: dict[str, HostRoute], raw: str) -> HostRoute:
        """What ``raw`` means on ``routing.table``, remembered in ``hosts``."""
        parsed = parse_host(raw)
        where: HostRoute
        if parsed is None:
            where = BAD_HOST
        elif self._allowed_hosts and not host_matches(parsed[0], self._allowed_hosts):
            where = NOT_ALLOWED
        else:
            name, port = parsed
            if port is None:
                port = 443 if hosts is routing.https_hosts else 80
            where = routing.table.host_table(name, port)
        if len(raw) <= MAX_HOST_LENGTH:  # never let a client fill the cache with huge keys
            if len(hosts) >= _HOST_CACHE_SIZE:
                hosts.clear()
            hosts[raw] = where
        return where
