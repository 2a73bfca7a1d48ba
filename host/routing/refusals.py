"""``Refusal``: a WSGI app answering a status and a one-line reason; the router's refusals.

    NOT_FOUND(environ, start_response)   # 404, body "404 Not Found: no claim matches ...\\n"
    bad_request("why")                   # a new 400 refusal

A refusal's body and headers are made once, when it is created: refusing a
request (a 404 miss above all) does no formatting or encoding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .claims import RESERVED_PREFIX

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


@dataclass(frozen=True, slots=True)
class Refusal:
    """A WSGI app refusing a request with ``status`` and a one-line ``reason``."""

    status: str
    reason: str
    retry_after: int | None = None  # seconds, for a Retry-After header (503)
    body: bytes = field(init=False, repr=False, compare=False)
    headers: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        body = f"{self.status}: {self.reason}\n".encode()
        headers: tuple[tuple[str, str], ...] = (
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        )
        if self.retry_after is not None:
            headers += (("Retry-After", str(self.retry_after)),)
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "headers", headers)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(self.status, list(self.headers))  # a list of its own: servers may add to it
        return [self.body]


def bad_request(reason: str) -> Refusal:
    return Refusal("400 Bad Request", reason)


NOT_FOUND = Refusal("404 Not Found", "no claim matches this host and path")
NOT_OWN = Refusal("404 Not Found", f"no such page of the host's own under {RESERVED_PREFIX}/")
NO_KEY = Refusal("404 Not Found", "no app for this key")
FACTORY_FAILED = Refusal("500 Internal Server Error", "the app could not be made")
UNAVAILABLE_CONFLICT = Refusal("503 Service Unavailable", "this route is claimed twice")
UNAVAILABLE = Refusal(
    "503 Service Unavailable", "this app is not available (apphost check says why)"
)
NO_HOST = bad_request("HTTP/1.1 requires a Host header")
BAD_HOST = bad_request("malformed Host header")
NOT_ALLOWED = bad_request("host not allowed")
RELATIVE = bad_request("the path must start with '/'")
NUL = bad_request("NUL in path")
ENCODED_SLASH = bad_request("encoded slash or backslash in path")
ABOVE_ROOT = bad_request("'..' above the root")
# No Allow header: which methods an app takes is the app's business, not the host's.
TRACE = Refusal("405 Method Not Allowed", "TRACE is not served here")
