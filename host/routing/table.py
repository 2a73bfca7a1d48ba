"""Routes -> an immutable ``RouteTable``: host buckets, each a ``PathTable`` of path prefixes.

    table, conflicts = build_table(routes, "example.com", resolve)  # resolve(route) -> app
    paths, label = table.host_table("acme.example.com", 443)   # label: what "*" matched
    entry, end, key = paths.match("/u/bob/x")   # or None; path[:end] is the claimed prefix

Host buckets are tried in order and the first that knows the host wins, with
no fallback to later buckets (like nginx server blocks): ``host:port``, exact
host, subdomain of the server name, ``*.suffix`` wildcard, then the host-less
claims. Within a host the longest claimed path prefix wins, on whole segments;
an exact segment beats ``*`` at the same depth.

A path lookup costs at most one dict lookup per segment of the deepest claim,
and one more, however many claims there are and however long the request
path is: the claims are indexed by first segment, and under each the distinct
claim lengths (no more than the table's depth) are tried longest first, a
one-character boundary check before each dict lookup. A first segment with a
``/*`` claim under it, or with more lengths than that, walks the request's
segments instead, at one or two dict lookups per segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .claims import HostKind, Route
from .dynamic import DynamicApps
from .refusals import NO_KEY, UNAVAILABLE_CONFLICT

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two claims on one route at equal priority: the route answers 503 until one goes."""

    route: str  # as a user writes it: host/path
    existing: Route
    duplicate: Route

    def __str__(self) -> str:
        return (
            f"route {self.route} is claimed twice: {_claimed(self.existing)}"
            f" and {_claimed(self.duplicate)}"
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """A table slot: the winning route and the app it serves, or the apps a factory makes."""

    route: Route
    app: WSGIApplication  # for a factory claim: what answers a request without a key
    conflict: Conflict | None = None
    dynamic: DynamicApps | None = None  # a factory claim's apps, one per key
    # Read on every request, so worked out once here.
    name: str = field(init=False)  # as logs and metrics label the app; "make(key)" for a factory
    key_from: Literal["host", "path"] | None = field(init=False)  # a factory's key, else None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", app_name(self.route))
        object.__setattr__(self, "key_from", self.route.key_from)


class PathTable:
    """The claims of one host: exact prefixes, ``prefix/*`` parents, and their index."""

    __slots__ = ("depth", "exact", "heads", "root", "walk_all", "wild")

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.exact: dict[str, Entry] = {}  # claimed path -> entry ("" is the root)
        self.wild: dict[str, Entry] = {}  # parent of a "/*" claim -> entry
        self.depth = 0  # segments of the deepest claim, "*" included
        for entry in entries:
            route = entry.route
            self.depth = max(self.depth, route.path.count("/") + route.path_wild)
            (self.wild if route.path_wild else self.exact)[route.path] = entry
        self.root = self.exact.get("")
        # First segment -> the lengths of the exact claims under it, longest
        # first; () where the request's segments must be walked instead.
        lengths: dict[str, set[int]] = {}
        for path in self.exact.keys() - {""}:
            lengths.setdefault(_head(path), set()).add(len(path))
        self.heads = {
            head: tuple(sorted(ends, reverse=True)) if len(ends) <= self.depth else ()
            for head, ends in lengths.items()
        }
        for parent in self.wild.keys() - {""}:
            self.heads[_head(parent)] = ()
        self.walk_all = "" in self.wild  # a "/*" claim: every first segment may be its key

    def match(self, path: str) -> tuple[Entry, int, str | None] | None:
        """(entry, end of the matched prefix in ``path``, key of a ``/*`` claim).

        ``path`` is normalized: empty, or "/" and segments with no empty ones
        but a trailing one.
        """
        if self.walk_all:
            return self._walk(path)
        first = path.find("/", 1)
        ends = self.heads.get(path if first < 0 else path[:first])
        if ends:
            n = len(path)
            for end in ends:
                if end == n or (end < n and path[end] == "/"):
                    entry = self.exact.get(path[:end])
                    if entry is not None:
                        return entry, end, None
        elif ends is not None:
            return self._walk(path)
        root = self.root
        return (root, 0, None) if root is not None else None

    def _walk(self, path: str) -> tuple[Entry, int, str | None] | None:
        """``match`` by the request's segments, deepest first, up to the table's depth."""
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
        root = self.root
        return (root, 0, None) if root is not None else None


def _head(path: str) -> str:
    """The first segment of a claimed path, with its slash: ``/a`` of ``/a/b``."""
    end = path.find("/", 1)
    return path if end < 0 else path[:end]


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

    def host_table(self, name: str | None, port: int) -> tuple[PathTable, str | None]:
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
    routes: Iterable[Route],
    server_name: str,
    resolve: Callable[[Route], WSGIApplication | DynamicApps],
) -> tuple[RouteTable, list[Conflict]]:
    """Settle competing routes by rank and bucket the winners.

    ``resolve(route)`` gives the app a route serves (``DynamicApps`` for a
    factory claim). Two routes on the same
    key with the same top rank conflict: the route answers 503 and the
    conflict is returned for reporting.
    """
    by_key: dict[tuple[str, str, str, bool], list[Route]] = {}
    for route in routes:
        by_key.setdefault(route.key, []).append(route)
    entries: list[Entry] = []
    conflicts = []
    for group in by_key.values():
        group.sort(key=lambda r: r.rank, reverse=True)
        winner = group[0]
        if len(group) > 1 and group[1].rank == winner.rank:
            conflict = Conflict(winner.describe(), winner, group[1])
            conflicts.append(conflict)
            entries.append(Entry(winner, UNAVAILABLE_CONFLICT, conflict))
        else:
            target = resolve(winner)
            if isinstance(target, DynamicApps):
                entries.append(Entry(winner, NO_KEY, dynamic=target))
            else:
                entries.append(Entry(winner, target))
    entries.sort(key=_precedence)
    by_host: dict[tuple[HostKind, str], list[Entry]] = {}
    for entry in entries:
        by_host.setdefault((entry.route.host_kind, entry.route.host_key), []).append(entry)
    table = RouteTable(server_name, entries=entries)
    buckets = {
        "host_port": table.host_port,
        "host": table.host,
        "subdomain": table.subdomain,
        "wildcard": table.wildcard,
    }
    for (kind, host_key), host_entries in by_host.items():
        if kind == "any":
            table.any = PathTable(host_entries)
        else:
            buckets[kind][host_key] = PathTable(host_entries)
    return table, conflicts


def _claimed(route: Route) -> str:
    return f"{route.claimant} for {app_name(route)!r}"


def app_name(route: Route) -> str:
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
