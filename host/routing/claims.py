"""``Claim``: what a plugin or the operator asks of the router, and its validation.

    Claim(app="blog", path="/blog")                  # path prefix, any host
    Claim(app="blog", subdomain="blog")              # blog.<server_name>, every path
    Claim(app="blog", host="blog.example.org")       # exact host (optionally "host:port")
    Claim(factory=make_tenant_app, subdomain="*")    # one app per subdomain, made lazily
    Claim(factory=make_user_app, path="/u/*")        # one app per path segment, made lazily
    Claim(app="sso", path="/login", scope_cookies=False)   # its cookies stay host-wide

A claim is checked when the routing table is built (``normalize``), not when it
is made, so one bad claim never takes its plugin's other claims down.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..errors import ClaimError
from .hosts import is_dns_labels, parse_host, to_ascii

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    Factory = Callable[[str], WSGIApplication | None]

RESERVED_PREFIX = "/_apphost"

# Host buckets, in the order a request tries them.
HostKind = Literal["host_port", "host", "subdomain", "wildcard", "any"]
HOST_KINDS: tuple[HostKind, ...] = ("host_port", "host", "subdomain", "wildcard", "any")


@dataclass(frozen=True, slots=True)
class Claim:
    """A request to route a host and/or path prefix to an app or a factory of apps.

    Exactly one of ``app`` (an app name from ``apphost.apps`` or a WSGI app)
    and ``factory`` (``callable(key) -> WSGI app | None``). ``subdomain`` is
    relative to the server name, ``host`` is absolute; not both. ``*`` stands for
    the leftmost label of a host or the last segment of a path; a factory claim
    has exactly one, whose match is the factory's key. ``priority`` settles two
    claims on the same route: the higher wins, equal is a conflict.

    ``scope_cookies`` (for path claims below ``/``; others have nothing to
    scope): the app's ``Set-Cookie`` headers with ``Path=/`` or no Path get
    the mount as their Path (``/blog``, or ``/u/<key>`` under a factory
    claim), as nginx's ``proxy_cookie_path`` does, so two apps at ``/a`` and
    ``/b`` that both set ``session`` do not log each other out. A cookie with a
    path of its own is left alone. ``False`` leaves every cookie as the app
    sets it (a single sign-on app whose cookie is meant for the whole host).
    """

    app: str | WSGIApplication | None = None
    path: str = ""
    subdomain: str | None = None
    host: str | None = None
    factory: Factory | None = None
    priority: int = 0
    scope_cookies: bool = True


class Source(enum.IntEnum):
    """Where a claim comes from; a higher source beats a lower one on the same route."""

    IMPLICIT = 0  # an app no claim names, mounted at /<name>
    PLUGIN = 1  # a plugin's apphost_claim_routes
    CONFIG = 2  # the operator's [[claims]]


@dataclass(frozen=True, slots=True)
class Claimant:
    """Who made a claim: ``str()`` is how messages name it."""

    source: Source
    name: str  # the plugin's entry point name, "[[claims]] #N (FILE)", or the app's name
    distribution: str = ""  # "dist==version" of a plugin

    def __str__(self) -> str:
        if self.source is Source.PLUGIN:
            return f"plugin {self.name!r} ({self.distribution})"
        if self.source is Source.CONFIG:
            return f"config {self.name}"
        return "implicit mount"


@dataclass(frozen=True, slots=True)
class Route:
    """A validated claim: where it routes, what to, and who asked."""

    host_kind: HostKind
    host_key: str  # "name:port", "name", subdomain labels, wildcard suffix, or ""
    path: str  # a WSGI string: "" (root) or "/seg/seg", no trailing slash, no "*"
    path_wild: bool  # the claim's path ends with "/*"
    claim: Claim
    claimant: Claimant

    @property
    def rank(self) -> tuple[int, int]:
        """(source, priority): the higher rank wins a route."""
        return (self.claimant.source, self.claim.priority)

    @property
    def key(self) -> tuple[str, str, str, bool]:
        """The route's identity: two claims with one key conflict unless ranks differ."""
        return (self.host_kind, self.host_key, self.path, self.path_wild)

    def describe(self) -> str:
        """The route as a user writes it: ``host/path``."""
        host = {
            "host_port": self.host_key,
            "host": self.host_key,
            "subdomain": f"{self.host_key}.<server_name>",
            "wildcard": f"*.{self.host_key}",
            "any": "",
        }[self.host_kind]
        path = self.path.encode("latin-1").decode("utf-8", "replace")
        return f"{host}{path}{'/*' if self.path_wild else ''}" or "/"

    @property
    def scopes_cookies(self) -> bool:
        """The app's host-wide cookies get the mount as their path (``Claim.scope_cookies``)."""
        return self.claim.scope_cookies and (self.path != "" or self.path_wild)

    @property
    def key_from(self) -> Literal["host", "path"] | None:
        """Where a factory claim's key comes from, or None for a fixed app."""
        if self.claim.factory is None:
            return None
        return "path" if self.path_wild else "host"


def normalize(claim: object, claimant: Claimant, server_name: str) -> Route:
    """Validate ``claim`` and return its route; raise ``ClaimError`` saying what is wrong.

    ``subdomain="*"`` becomes the wildcard ``*.<server_name>``, so a tenant
    claim and a ``host="*.<server_name>"`` claim are the same route.
    """
    try:
        return _normalize(claim, claimant, server_name)
    except ValueError as exc:
        raise ClaimError(claim, str(exc)) from None


def _normalize(claim: object, claimant: Claimant, server_name: str) -> Route:
    if not isinstance(claim, Claim):
        raise ValueError(f"expected apphost.Claim, got {type(claim).__name__}: {claim!r}")
    if (claim.app is None) == (claim.factory is None):
        raise ValueError("give exactly one of app= and factory=")
    if claim.app is not None and not (isinstance(claim.app, str) or callable(claim.app)):
        raise ValueError(
            f"app= must be an app name or a WSGI callable or an ASGI app, not {claim.app!r}"
        )
    if claim.factory is not None and not callable(claim.factory):
        raise ValueError(f"factory= must be callable, not {claim.factory!r}")
    if not isinstance(claim.priority, int) or isinstance(claim.priority, bool):
        raise ValueError(f"priority= must be an int, not {claim.priority!r}")
    if not isinstance(claim.scope_cookies, bool):
        raise ValueError(f"scope_cookies= must be True or False, not {claim.scope_cookies!r}")
    if claim.subdomain is not None and claim.host is not None:
        raise ValueError("give subdomain= or host=, not both")
    path, path_wild = _normalize_path(claim.path)
    kind, host_key = _normalize_host(claim, server_name)
    stars = path_wild + (kind == "wildcard")
    if claim.factory is not None and stars != 1:
        raise ValueError(
            "a factory claim needs exactly one '*' (subdomain, host or last path segment)"
            f", this one has {stars}"
        )
    return Route(
        host_kind=kind,
        host_key=host_key,
        path=path,
        path_wild=path_wild,
        claim=claim,
        claimant=claimant,
    )


def _normalize_path(path: object) -> tuple[str, bool]:
    if not isinstance(path, str):
        raise ValueError(f"path= must be a string, not {path!r}")
    if path in ("", "/"):
        return "", False
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    segments = path[1:].removesuffix("/").split("/")
    wild = segments[-1] == "*"
    if wild:
        segments.pop()
    for seg in segments:
        if seg in ("", ".", ".."):
            raise ValueError(f"path {path!r} has an empty, '.' or '..' segment")
        if "*" in seg:
            raise ValueError(f"path {path!r}: '*' must be the whole last segment")
        if "\x00" in seg or "?" in seg or "#" in seg:
            raise ValueError(f"path {path!r} has a NUL, '?' or '#'")
    norm = "".join("/" + s for s in segments)
    if norm == RESERVED_PREFIX or norm.startswith(RESERVED_PREFIX + "/"):
        raise ValueError(f"path {path!r} is under {RESERVED_PREFIX}/, which is the host's own")
    # Requests are compared as WSGI strings: UTF-8 bytes read as latin-1.
    return norm.encode("utf-8").decode("latin-1"), wild


def _normalize_host(claim: Claim, server_name: str) -> tuple[HostKind, str]:
    if claim.host is None and claim.subdomain is None:
        return "any", ""
    field = "host" if claim.host is not None else "subdomain"
    value = claim.host if claim.host is not None else claim.subdomain
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field}= must be a non-empty string, not {value!r}")
    wild = value == "*" or value.startswith("*.")
    rest = value[2:] if wild and value != "*" else ("" if wild else value)
    if "*" in rest:
        raise ValueError(f"{field} {value!r}: '*' must be the whole leftmost label")
    try:
        rest = to_ascii(rest)
    except ValueError as exc:
        raise ValueError(f"{field} {exc}") from None
    if field == "subdomain":
        if rest and not is_dns_labels(rest):
            raise ValueError(f"subdomain {value!r} is not a valid DNS label sequence")
        if wild:
            return "wildcard", f"{rest}.{server_name}" if rest else server_name
        return "subdomain", rest
    # host=
    if wild and not rest:
        raise ValueError("host '*' matches every host: leave host= out instead")
    parsed = parse_host(rest)
    if parsed is None:
        raise ValueError(
            f"host {value!r} is not a valid host name, IPv4 or [IPv6], with optional port"
        )
    name, port = parsed
    if wild:
        if port is not None:
            raise ValueError(f"host {value!r}: a wildcard host cannot have a port")
        return "wildcard", name
    if port is not None:
        return "host_port", f"{name}:{port}"
    return "host", name
