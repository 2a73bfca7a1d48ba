"""Hand a request to an app's process pool and relay the response, streaming both ways.

    app = Relay("/tmp/apphost-pools-x/blog.sock", "blog")   # a worker: the route's app
    app = unrelay(blog_app)                                  # a pool process: what waitress runs

An app with ``isolation = "process"`` runs in processes of its own
(``apphost.serving.pools``), each serving it with waitress on one Unix socket
the supervisor listens on. In the workers, its route leads to a ``Relay``: it
sends the request over a kept-alive connection to that socket (the environ's
string values in one ``X-Apphost-Environ`` header, the body in 64 KiB pieces
read from waitress's buffer) and streams the response back as the pool sends
it, so neither a large upload nor a long response is held whole in memory.

- A pool process that dies with the request: 502 if no byte of the response was
  sent yet, else the response is cut short (an error of that app, logged and
  counted as any exception inside a body is).
- Idle connections are reused while idle for less than ``REUSE_WITHIN``
  seconds, half the grace after which a draining pool process closes idle
  ones (``apphost.serving.drain``), and only if the peer has not closed them:
  a reload or recycle of the pool never fails a request on a stale connection.
- Only the environ's ``str`` values cross (CGI keys, headers, ``wsgi.url_scheme``,
  ``apphost.*`` strings); objects put in the environ by middleware in the
  worker do not.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..routing.refusals import Refusal

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("apphost")

HEADER = "X-Apphost-Environ"
# For the apps a factory claim makes in a pool: which claim (Route.describe()) and key.
CLAIM_KEY = "apphost.pool_claim"
MADE_KEY = "apphost.pool_key"
ENVIRON_KEY = "HTTP_X_APPHOST_ENVIRON"
PIECE = 65536  # bytes read and sent at a time, each way
REUSE_WITHIN = 0.25  # seconds idle; drain.IDLE_GRACE (0.5) closes idle connections
# Hop-by-hop (RFC 9110 7.6.1), the framing the pool chose, and the pool waitress's Via.
_DROP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})


class _Connection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket."""

    def __init__(self, path: str) -> None:
        super().__init__("pool")
        self.unix_path = path
        self.idle_since = 0.0

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock

    def usable(self, now: float) -> bool:
        """Idle briefly enough, and not closed by the pool process (one non-blocking peek)."""
        if now - self.idle_since >= REUSE_WITHIN or self.sock is None:
            return False
        try:
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True  # nothing to read: open and quiet, as it should be
        except OSError:
            return False


class Relay:
    """WSGI app: serve each request through the pool listening on ``path``."""

    __slots__ = ("_down", "_idle", "extra", "name", "path")

    def __init__(
        self,
        path: str,
        name: str,
        extra: dict[str, str] | None = None,
        idle: deque[_Connection] | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.extra = extra  # environ values added for the pool: a made app's claim and key
        # Idle connections, shared by the relays to one pool; append and pop are atomic.
        self._idle: deque[_Connection] = deque() if idle is None else idle
        self._down = Refusal(
            "502 Bad Gateway",
            f"app {name!r}: its pool process ended the connection before answering"
            " (it died or was killed); the log names the request",
        )

    def _connection(self) -> _Connection:
        idle, now = self._idle, time.monotonic()
        while idle:
            try:
                conn = idle.pop()  # the most recently used first
            except IndexError:
                break
            if conn.usable(now):
                return conn
            conn.close()
        return _Connection(self.path)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        conn = self._connection()
        body: bytes | None = None
        try:
            response = self._send(conn, environ)
            if response.length is not None and response.length <= PIECE:
                body = response.read()  # small and whole: the worker is done with it sooner
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            log.error(
                "app %r: %s %s failed in its pool process (%s)",
                self.name,
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                exc.__class__.__name__,
            )
            return self._down(environ, start_response)
        headers = [
            (k, v)
            for k, v in response.getheaders()
            if k.lower() not in _DROP and not (k == "Via" and v == "waitress")
        ]
        start_response(f"{response.status} {response.reason}", headers)
        if body is not None:
            self._done(conn, response)
            return [body] if body else []
        return _Body(self, conn, response)

    def _send(self, conn: _Connection, environ: WSGIEnvironment) -> http.client.HTTPResponse:
        values = {k: v for k, v in environ.items() if v.__class__ is str}
        if self.extra is not None:
            values.update(self.extra)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        method = environ.get("REQUEST_METHOD") or "GET"  # HEAD: no body comes back
        conn.putrequest(method, "/", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", "pool")
        conn.putheader(HEADER, json.dumps(values))
        if length:
            conn.putheader("Content-Length", str(length))
        conn.endheaders()
        if length:
            read = environ["wsgi.input"].read
            left = length
            while left > 0:
                piece = read(min(PIECE, left))
                if not piece:
                    break
                conn.send(piece)
                left -= len(piece)
        return conn.getresponse()

    def _done(self, conn: _Connection, response: http.client.HTTPResponse) -> None:
        if response.will_close or not response.isclosed():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)


class _Body:
    """The pool's response body, piece by piece as it arrives."""

    __slots__ = ("_conn", "_relay", "_response")

    def __init__(self, relay: Relay, conn: _Connection, response: http.client.HTTPResponse) -> None:
        self._relay = relay
        self._conn = conn
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        read = response.read1
        while not response.isclosed():
            if response.length == 0:  # all of it: read() marks it done, the connection reusable
                response.read()
                return
            piece = read(PIECE)
            if not piece:
                if response.length:  # it ended before its Content-Length: the pool died
                    raise http.client.IncompleteRead(b"", response.length)
                return
            yield piece

    def close(self) -> None:
        if self._response.isclosed():
            self._relay._done(self._conn, self._response)
        else:  # the client left early: the rest is never read, so the connection goes
            self._conn.close()


def unrelay(app: WSGIApplication) -> WSGIApplication:
    """In a pool process: give ``app`` the environ the worker relayed."""

    def pooled(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        values = json.loads(environ.pop(ENVIRON_KEY, "{}"))
        for key in [k for k, v in environ.items() if v.__class__ is str]:
            del environ[key]
        environ.update(values)
        return app(environ, start_response)

    return pooled
