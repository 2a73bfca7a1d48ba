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
  One whose process dies between that check and the request (the connection is
  reset: the request was never read) is sent once more on a new connection, if
  its body (at most 64 KiB) is still in hand.
- The worker speaks just the HTTP/1.1 it needs to waitress in the pool: the
  head in one ``sendall``, the response read through one buffer by its
  framing (Content-Length, chunked, or until closed); hop-by-hop headers are
  dropped, so the worker's waitress frames the response for its client.
  Small (at most 64 KiB) responses with a length are read whole, so the
  worker's bulkhead and the connection are free sooner.
- Only the environ's ``str`` values cross (CGI keys, headers, ``wsgi.url_scheme``,
  ``apphost.*`` strings); objects put in the environ by middleware in the
  worker do not.
"""

from __future__ import annotations

import io
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
MAX_LINE = 1 << 20  # bytes of one line of a response head or a chunk size
REUSE_WITHIN = 0.25  # seconds idle; drain.IDLE_GRACE (0.5) closes idle connections
# Hop-by-hop (RFC 9110 7.6.1), the framing the pool chose, and the pool waitress's Via.
_DROP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})


class _Connection:
    """One HTTP/1.1 connection to a pool's Unix socket, read through a buffer."""

    __slots__ = ("fp", "idle_since", "sock")

    def __init__(self, path: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.fp = io.BufferedReader(socket.SocketIO(sock, "rb"), PIECE)
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        """Idle briefly enough, and not closed by the pool process (one non-blocking peek)."""
        if now - self.idle_since >= REUSE_WITHIN:
            return False
        try:
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True  # nothing to read: open and quiet, as it should be
        except OSError:
            return False

    def close(self) -> None:
        self.fp.close()
        self.sock.close()


class _Response:
    """The status, headers and framing of a pool's response; ``read1`` gives its body."""

    __slots__ = ("_chunk", "_fp", "done", "headers", "left", "status", "will_close")

    def __init__(self, fp: io.BufferedReader[socket.SocketIO], method: str) -> None:
        self._fp = fp
        line = fp.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise ConnectionError("the pool process closed the connection before answering")
        self.status = line[9:].strip().decode("latin-1")  # after "HTTP/1.1 "
        self.headers: list[tuple[str, str]] = []
        self.left: int | None = None  # body bytes still to read; None: chunked or until closed
        self._chunk = -1  # chunked: bytes left of this chunk; 0: between chunks; -1: not chunked
        self.will_close = False
        while True:
            line = fp.readline(MAX_LINE)
            if line in (b"\r\n", b"\n"):
                break
            if not line.endswith(b"\n"):
                raise ConnectionError("the pool process closed the connection in a response head")
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip(), value.strip()
            lower = name.lower()
            if lower == "content-length":
                self.left = int(value)
            elif lower == "transfer-encoding":
                self._chunk = 0 if value.lower() == "chunked" else -1
            elif lower == "connection":
                self.will_close = value.lower() == "close"
            if lower not in _DROP and not (lower == "via" and value == "waitress"):
                self.headers.append((name, value))
        code = self.status[:3]
        if method == "HEAD" or code in ("204", "304") or code.startswith("1"):
            self.left, self._chunk = 0, -1
        elif self._chunk == 0:
            self.left = None
        elif self.left is None:
            self.will_close = True  # delimited by the close
        self.done = self.left == 0

    def read1(self) -> bytes:
        """The next piece of the body (at most PIECE bytes); b"" at its end."""
        if self.done:
            return b""
        fp = self._fp
        if self._chunk >= 0:
            if self._chunk == 0:
                line = fp.readline(MAX_LINE)
                if not line.endswith(b"\n"):
                    raise ConnectionError("the pool process closed the connection mid-body")
                self._chunk = int(line.split(b";", 1)[0], 16)
                if self._chunk == 0:
                    while fp.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass  # trailers: dropped
                    self.done = True
                    return b""
            piece = fp.read1(min(PIECE, self._chunk))
            if not piece:
                raise ConnectionError("the pool process closed the connection mid-body")
            self._chunk -= len(piece)
            if self._chunk == 0:
                fp.readline(MAX_LINE)  # the CRLF after the chunk
            return piece
        if self.left is None:  # until the pool closes it
            piece = fp.read1(PIECE)
            self.done = not piece
            return piece
        piece = fp.read1(min(PIECE, self.left))
        if not piece:
            raise ConnectionError("the pool process closed the connection mid-body")
        self.left -= len(piece)
        self.done = self.left == 0
        return piece

    def read(self) -> bytes:
        """The whole (small) body."""
        pieces = []
        while not self.done:
            pieces.append(self.read1())
        return b"".join(pieces)


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

    def _connection(self) -> tuple[_Connection, bool]:
        """A connection to the pool, and whether it is one reused."""
        idle, now = self._idle, time.monotonic()
        while idle:
            try:
                conn = idle.pop()  # the most recently used first
            except IndexError:
                break
            if conn.usable(now):
                return conn, True
            conn.close()
        return _Connection(self.path), False

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        conn: _Connection | None = None
        body: bytes | None = None
        try:
            values = {k: v for k, v in environ.items() if v.__class__ is str}
            if self.extra is not None:
                values.update(self.extra)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            method = environ.get("REQUEST_METHOD") or "GET"  # HEAD: no body comes back
            head = f"{method} / HTTP/1.1\r\nHost: pool\r\n{HEADER}: {json.dumps(values)}\r\n"
            head += f"Content-Length: {length}\r\n\r\n" if length else "\r\n"
            whole = head.encode("latin-1")
            if 0 < length <= PIECE:  # small: sent with the head, and again if need be
                whole += environ["wsgi.input"].read(length)
                length = 0
            conn, reused = self._connection()
            try:
                response = self._send(conn, whole, environ, length, method)
            except (ConnectionResetError, BrokenPipeError):
                # A reused connection whose process died just after the check: the request
                # never reached it (one it had read would end in a plain EOF), so it can go
                # to another, if it is all in hand.
                if not reused or length:
                    raise
                conn.close()
                conn = _Connection(self.path)
                response = self._send(conn, whole, environ, 0, method)
            if response.left is not None and response.left <= PIECE:
                body = response.read()  # small and whole: the worker is done with it sooner
        except (OSError, ValueError) as exc:
            if conn is not None:
                conn.close()
            log.error(
                "app %r: %s %s failed in its pool process (%s)",
                self.name,
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                exc.__class__.__name__,
            )
            return self._down(environ, start_response)
        start_response(response.status, response.headers)
        if body is not None:
            self._done(conn, response)
            return [body] if body else []
        return _Body(self, conn, response)

    @staticmethod
    def _send(
        conn: _Connection, head: bytes, environ: WSGIEnvironment, length: int, method: str
    ) -> _Response:
        """Send ``head`` (and small bodies), then ``length`` bytes of the body; the response."""
        sock = conn.sock
        sock.sendall(head)
        if length:
            read = environ["wsgi.input"].read
            left = length
            while left > 0:
                piece = read(min(PIECE, left))
                if not piece:
                    break
                sock.sendall(piece)
                left -= len(piece)
        return _Response(conn.fp, method)

    def _done(self, conn: _Connection, response: _Response) -> None:
        if response.will_close or not response.done:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)


class _Body:
    """The pool's response body, piece by piece as it arrives."""

    __slots__ = ("_conn", "_relay", "_response")

    def __init__(self, relay: Relay, conn: _Connection, response: _Response) -> None:
        self._relay = relay
        self._conn = conn
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        read = self._response.read1
        while piece := read():
            yield piece

    def close(self) -> None:
        # Read to its end: the connection can serve another; else (the client left) it goes.
        self._relay._done(self._conn, self._response)


def unrelay(app: WSGIApplication) -> WSGIApplication:
    """In a pool process: give ``app`` the environ the worker relayed."""

    def pooled(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        values = json.loads(environ.pop(ENVIRON_KEY, "{}"))
        for key in [k for k, v in environ.items() if v.__class__ is str]:
            del environ[key]
        environ.update(values)
        return app(environ, start_response)

    return pooled
