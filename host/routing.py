"""Routes -> an immutable ``RouteTable`` -> ``Dispatcher``, the host's WSGI callable.

    table, conflicts = build_table(routes, server_name="example.com")
    dispatcher = Dispatcher(table)           # a WSGI app
    dispatcher.table = new_table             # a rebuild swaps the table atomically

A request is routed host first, then path. Host buckets are tried in order and
the first that knows the host wins, with no fallback to later buckets (like
nginx server blocks): ``host:port``, exact host, subdomain of the server name,
``*.suffix`` wildcard, then the host-less claims. Within a host the longest
claimed path prefix wins, on whole segments; an exact segment beats ``*`` at
the same depth. Lookup costs one dict lookup per segment of the deepest claim,
however many claims there are and however long the request path is.

The matched prefix moves from PATH_INFO to the end of SCRIPT_NAME (PEP 3333).
Malformed hosts, ``..`` above the root, NUL and (unless allowed) encoded
slashes answer 400 before any app sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .apps import plain_response
from .claims import Route
from .errors import ConflictError
from .hosts import host_matches, parse_host

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

OWN_PREFIX = "/_apphost/"
_HOST_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Entry:
    """A table slot: the winning route and the app (or ``DynamicApps``) it serves."""

    route: Route
    app: WSGIApplication
    conflict: ConflictError | None = None


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
    app = route.claim.app if route.claim.factory is None else route.claim.factory
    name = app if isinstance(app, str) else getattr(app, "__qualname__", repr(app))
    return f"{route.claimant} for {name!r}"


_KIND_ORDER = {"host_port": 0, "host": 1, "subdomain": 2, "wildcard": 3, "any": 4}


def _precedence(entry: Entry) -> tuple[int, str, int, str]:
    r = entry.route
    return (_KIND_ORDER[r.host_kind], r.host_key, -(r.path.count("/") + r.path_wild), r.path)


_UNAVAILABLE_CONFLICT = plain_response(
    "503 Service Unavailable", "503 Service Unavailable: this route is claimed twice\n"
)
NOT_FOUND = plain_response("404 Not Found", "404 Not Found\n")


def bad_request(reason: str) -> WSGIApplication:
    return plain_response("400 Bad Request", f"400 Bad Request: {reason}\n")


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


@dataclass(frozen=True, slots=True)
class Match:
    """Where a request goes: the entry, the key of a dynamic app, the new SCRIPT_NAME/PATH_INFO."""

    entry: Entry
    key: str | None
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
        self.allowed_hosts = frozenset(allowed_hosts)
        self.allow_encoded_slashes = allow_encoded_slashes
        self.own = dict(own or {})
        self._hosts: dict[str, tuple[str, int | None] | None] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        result = self.route(environ)
        if isinstance(result, Match):
            environ["SCRIPT_NAME"] = result.script_name
            environ["PATH_INFO"] = result.path_info
            app = result.entry.app
            if result.key is not None:
                app = app.get(result.key)  # type: ignore[attr-defined]
                if app is None:
                    return NOT_FOUND(environ, start_response)
            return app(environ, start_response)
        return result(environ, start_response)

    def route(self, environ: WSGIEnvironment) -> Match | WSGIApplication:
        """The ``Match`` for a request, or the app that refuses it (400, 404, own pages)."""
        raw_host = environ.get("HTTP_HOST")
        if raw_host is None:
            if environ.get("SERVER_PROTOCOL", "HTTP/1.0") not in ("HTTP/1.0", "HTTP/0.9"):
                return bad_request("HTTP/1.1 requires a Host header")
            name, port = None, None
        else:
            parsed = self._hosts.get(raw_host, False)
            if parsed is False:
                parsed = parse_host(raw_host)
                if len(self._hosts) >= _HOST_CACHE_SIZE:
                    self._hosts.clear()
                self._hosts[raw_host] = parsed
            if parsed is None:
                return bad_request("malformed Host header")
            name, port = parsed  # type: ignore[misc]
        path = environ.get("PATH_INFO", "")
        if "\x00" in path:
            return bad_request("NUL in path")
        if not self.allow_encoded_slashes:
            raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
            if "%" in raw:
                lowered = raw.split("?", 1)[0].lower()
                if "%2f" in lowered or "%5c" in lowered:
                    return bad_request("encoded slash or backslash in path")
        if "//" in path or "/." in path:
            normalized = normalize_path(path)
            if normalized is None:
                return bad_request("'..' above the root")
            path = normalized
        if path.startswith(OWN_PREFIX):
            return self.own.get(path, NOT_FOUND)
        if self.allowed_hosts and (name is None or not host_matches(name, self.allowed_hosts)):
            return bad_request("host not allowed")
        if port is None:
            port = 443 if environ.get("wsgi.url_scheme") == "https" else 80
        table, host_key = self.table.host_table(name, port)
        found = table.match(path) if table is not None else None
        if found is None:
            environ["PATH_INFO"] = path
            return NOT_FOUND
        entry, end, path_key = found
        key = (
            path_key
            if entry.route.key_from == "path"
            else host_key
            if entry.route.key_from
            else None
        )
        return Match(entry, key, environ.get("SCRIPT_NAME", "") + path[:end], path[end:])
