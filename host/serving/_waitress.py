"""Every waitress internal apphost touches, in one place, pinned to ``waitress>=3.0,<3.1``.

waitress 3.0 has no graceful shutdown, no hook for queue pressure and no way
to compose its proxy-header handling, so apphost reads and sets a few of its
objects' attributes. Each one is listed here; ``tests/unit/test_waitress_internals.py``
checks them against the installed waitress, so an upgrade that moves one fails
a test instead of a drain.

Used by ``drain`` (listeners and connections), ``pressure`` (the task dispatcher),
``server`` (the socket map) and ``apphost.testing`` (stopping a server):

- ``waitress.create_server(app, map=, _dispatcher=, **adjustments)``: the map
  and the task dispatcher are ours (the admin listeners' server shares both).
- ``BaseWSGIServer``: ``accepting``, ``adj.backlog``, ``handle_accept()``
  (replaced by ``_waitress._accept_many``, which calls ``accept()``,
  ``set_socket_options()``, ``fix_addr()``, ``channel_class``, ``logger``,
  ``adj.connection_limit``, ``adj.log_socket_errors``),
  ``_map`` (one listener) / ``MultiSocketServer.map`` (several);
  ``task_dispatcher``, ``print_listen()``, ``effective_host``/``effective_port``,
  ``MultiSocketServer.effective_listen``.
- ``wasyncore.dispatcher`` (subclassed for the control socket),
  ``wasyncore.dispatcher.close`` (closes a listener's descriptor only),
  ``wasyncore.close_all(map, ignore_all=)``.
- ``HTTPChannel``: ``requests``, ``request``, ``total_outbufs_len``,
  ``last_activity``, ``socket``, ``close_when_flushed``, ``will_close``; and
  ``environ["waitress.client_disconnected"].__self__`` is the channel.
- ``HTTPRequestParser``: ``headers`` (a dict; ``CONNECTION`` is read when the
  response is built), ``headers_finished``.
- ``ThreadedTaskDispatcher`` (replaced by ``pressure.QueueWatch``, on a C queue):
  what waitress calls of it, ``add_task()`` and ``shutdown()``, and its
  ``logger`` and ``queue_logger``; the tasks it is given are channels:
  ``HTTPChannel.service()``, ``HTTPChannel.cancel()``.
- ``trigger.trigger``: ``pull_trigger(callable)``.
- ``BaseWSGIServer.asyncore`` (what its run method loops with: set to
  SELECT_OR_POLL), ``wasyncore.poll`` (select) and ``wasyncore.poll2`` (poll).
- ``proxy_headers_middleware`` with the ``trusted_proxy*`` adjustments, applied
  by apphost's request stack instead of inside ``BaseWSGIServer.__init__``,
  and ``waitress.proxy_headers.PROXY_HEADERS``, the headers it reads or removes.

Subclassed, to face hostile clients (``guard``; each a minimal fix, upstream
fixes in the closing note of issue 17), and set as each listener's
``BaseWSGIServer.channel_class``:

- ``HTTPChannel`` as ``_waitress.Channel``: ``parser_class``, ``error_task_class``,
  ``addr``, ``del_channel()``, ``handle_close()``, ``handle_read()``,
  ``readable()``, ``writable()``, ``recv()``, ``server``, ``adj``: counts each
  client's connections, turns one away at accept, and lingers after a refusal
  so the client reads the answer before the close (never a bare reset).
- ``HTTPRequestParser`` as ``_waitress.Parser``: ``received()``, ``headers_finished``,
  ``completed``, ``error``, ``body_rcv``, ``chunked``, ``version``: the head
  is gathered in one buffer and searched only where new bytes came (waitress
  copies and searches it whole on each read); header count and request-line
  length are bounded; Content-Length with Transfer-Encoding closes the
  connection after the response.
- ``ChunkedReceiver`` as ``_waitress._Chunks``: ``received()``, ``buf``,
  ``control_line``, ``trailer``, ``all_chunks_received``, ``error``: a
  chunk-size line (with its extensions) and the trailer are bounded
  (waitress keeps and re-copies them whole, without bound).
- ``ErrorTask`` as ``_waitress.Refusal``: ``execute()``, ``request``, ``channel``,
  ``status``, ``response_headers``, ``content_length``, ``write()``,
  ``set_close_on_finish()``: a request waitress refuses (400, 413, 414, 431,
  501) is answered through the access log's Observer, so it has an access
  line and is counted.
- ``utilities.Error`` (``code``, ``reason``, ``to_response()``),
  ``utilities.BadRequest``, ``utilities.RequestHeaderFieldsTooLarge``.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import waitress
from waitress import utilities, wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.proxy_headers import PROXY_HEADERS, proxy_headers_middleware
from waitress.receiver import ChunkedReceiver
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.trigger import trigger as Trigger

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .guard import Guard

__all__ = [
    "PROXY_HEADER_KEYS",
    "SELECT_OR_POLL",
    "Adjustments",
    "BaseWSGIServer",
    "Channel",
    "HTTPChannel",
    "MultiSocketServer",
    "ThreadedTaskDispatcher",
    "Trigger",
    "channel_of",
    "close_when_draining",
    "create",
    "guard_of",
    "proxy_headers",
    "socket_map",
    "wasyncore",
]

TESTED = ">=3.0,<3.1"
Server: TypeAlias = Any  # BaseWSGIServer or MultiSocketServer (waitress is untyped)
# The adjustments of waitress's proxy-header middleware, which the request stack applies.
PROXY_KEYS = (
    "trusted_proxy",
    "trusted_proxy_count",
    "trusted_proxy_headers",
    "clear_untrusted_proxy_headers",
    "log_untrusted_proxy_headers",
)


def create(
    stack: Callable[[Adjustments], WSGIApplication],
    dispatcher: Any,
    adjustments: Mapping[str, Any],
    smap: dict[int, Any] | None = None,
    guard: Guard | None = None,
) -> Server:
    """``waitress.create_server`` on a map of ours, serving ``stack(adjustments)``.

    waitress would wrap the app in its proxy-header middleware inside each
    listener; ``stack`` is given the ``Adjustments`` to do that itself, so the
    whole request path is built in one place. ``smap``: the socket map of a
    server made before, whose loop (and threads, ``dispatcher``) serve this one's
    listeners too, with this one's app. Connections are ``Channel``s that
    ``guard`` admits and watches.
    """
    adj = Adjustments(**adjustments)
    served = {k: v for k, v in adjustments.items() if k not in PROXY_KEYS}
    served["clear_untrusted_proxy_headers"] = False
    smap = {} if smap is None else smap
    server = waitress.create_server(stack(adj), map=smap, _dispatcher=dispatcher, **served)
    channel = type("Channel", (Channel,), {"guard": guard})
    for obj in socket_map(server).values():
        if isinstance(obj, BaseWSGIServer) and not issubclass(obj.channel_class, Channel):
            obj.channel_class = channel
            obj.handle_accept = functools.partial(_accept_many, obj)
    return server


def _accept_many(listener: Any) -> None:
    """Accept up to ``ACCEPT_BATCH`` queued connections (waitress: one per loop pass).

    A loop pass costs time in proportion to the connections open, so one
    accept per pass falls ever further behind a flood of new connections,
    and a normal client's waits in the kernel's queue behind them. Only
    once passes are that costly (more than ``FEW_CONNECTIONS`` open) does it
    take a batch: with ``--workers N`` on one socket, a worker taking every
    queued connection at once would leave the others idle (wrk's 32
    connections all went to one of two workers).
    """
    smap = listener._map
    for _ in range(ACCEPT_BATCH if len(smap) > FEW_CONNECTIONS else 1):
        if len(smap) >= listener.adj.connection_limit:
            return
        try:
            accepted = listener.accept()  # None: none queued (or one aborted)
            if accepted is None:
                return
            conn, addr = accepted
            listener.set_socket_options(conn)
        except OSError:
            if listener.adj.log_socket_errors:
                listener.logger.warning("server accept() threw an exception", exc_info=True)
            return
        listener.channel_class(listener, conn, listener.fix_addr(addr), listener.adj, map=smap)


def guard_of(server: Server) -> Guard | None:
    """The ``Guard`` given to ``create`` for ``server``."""
    for obj in socket_map(server).values():
        if isinstance(obj, BaseWSGIServer):
            return getattr(obj.channel_class, "guard", None)
    return None


# The environ keys of the headers waitress's proxy-header layer reads or removes.
PROXY_HEADER_KEYS = frozenset(f"HTTP_{name}" for name in PROXY_HEADERS)


def proxy_headers(app: WSGIApplication, adj: Adjustments) -> WSGIApplication:
    """waitress's ``trusted_proxy`` handling, as ``BaseWSGIServer`` would apply it."""
    if not (adj.trusted_proxy or adj.clear_untrusted_proxy_headers):
        return app
    return proxy_headers_middleware(  # type: ignore[no-any-return]
        app,
        trusted_proxy=adj.trusted_proxy,
        trusted_proxy_count=adj.trusted_proxy_count,
        trusted_proxy_headers=adj.trusted_proxy_headers,
        clear_untrusted=adj.clear_untrusted_proxy_headers,
        log_untrusted=adj.log_untrusted_proxy_headers,
        logger=BaseWSGIServer.logger,
    )


SELECT_LIMIT = 1024  # FD_SETSIZE: select() cannot watch a descriptor numbered this or more


class _SelectOrPoll:
    """``wasyncore`` as ``BaseWSGIServer.run()`` uses it, with a loop that picks per pass:
    ``select()`` while every descriptor fits it, else ``poll()``.

    ``poll()`` watches any number of connections, but waitress's ``poll2``
    builds a new set each pass, one ``register()`` call per connection: with
    a few dozen busy connections that cost the main loop a fifth of its
    throughput. ``select()`` takes the same lists in one call.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(wasyncore, name)

    @staticmethod
    def loop(timeout: float = 30.0, use_poll: bool = False, map: Any = None, **_: Any) -> None:
        select_pass, poll_pass = wasyncore.poll, wasyncore.poll2
        while map:
            if use_poll and max(map) >= SELECT_LIMIT:
                poll_pass(timeout, map)
            else:
                select_pass(timeout, map)


SELECT_OR_POLL = _SelectOrPoll()


def socket_map(server: Server) -> dict[int, Any]:
    """The asyncore map given to ``create_server``: every socket the server watches."""
    return server.map if isinstance(server, MultiSocketServer) else server._map  # type: ignore[no-any-return]


def channel_of(environ: WSGIEnvironment) -> Any:
    """The ``HTTPChannel`` serving a request, or None (not under waitress)."""
    return getattr(environ.get("waitress.client_disconnected"), "__self__", None)


def close_when_draining(environ: WSGIEnvironment) -> None:
    """Have the connection of this request close after its response (while draining).

    The drain's sweep marks requests waiting for a worker thread, but one that
    completes in the same loop pass is handed to a thread before the next sweep
    sees it; the request stack calls this from the thread itself, before the
    response headers are built.
    """
    for request in getattr(channel_of(environ), "requests", ()):
        request.headers["CONNECTION"] = "close"


# Bounds of what waitress would otherwise read without one (nginx's defaults are alike).
MAX_HEADERS = 100  # header lines in a request head (431 past it)
MAX_REQUEST_LINE = 8192  # bytes of "METHOD TARGET HTTP/1.1" (414 past it)
MAX_CHUNK_LINE = 4096  # bytes of a chunk-size line with its extensions (400 past it)
MAX_TRAILER = 8192  # bytes of a chunked body's trailer (431 past it)
ACCEPT_BATCH = 64  # connections accepted per loop pass, at most ...
FEW_CONNECTIONS = 128  # ... once more than this many sockets are open (else one a pass)
LINGER = 2.0  # seconds a refused client may keep sending while it reads the answer ...
LINGER_BYTES = 256 * 1024  # ... and bytes read and dropped meanwhile, at most
REFUSAL_KEY = "apphost.refusal"  # environ key: (status, headers, body) of a refusal


class URITooLong(utilities.Error):  # type: ignore[misc]
    code = 414
    reason = "URI Too Long"


class _Chunks(ChunkedReceiver):  # type: ignore[misc]
    """waitress's chunked body reader, with the chunk-size line and the trailer bounded."""

    error: Any

    def received(self, s: bytes) -> int:
        n: int = super().received(s)
        if self.error is None:
            if len(self.control_line) > MAX_CHUNK_LINE:
                self.error = utilities.BadRequest(
                    f"chunk-size line longer than {MAX_CHUNK_LINE} bytes"
                )
                self.all_chunks_received = True
            elif len(self.trailer) > MAX_TRAILER:
                self.error = utilities.RequestHeaderFieldsTooLarge(
                    f"trailer longer than {MAX_TRAILER} bytes"
                )
                self.all_chunks_received = True
        return n


class Parser(HTTPRequestParser):  # type: ignore[misc]
    """waitress's request parser, linear and bounded on the request head.

    ``started`` is when the request's first byte came (``time.monotonic()``),
    for ``header_timeout``; ``request_line`` the first line as received (at
    most 200 bytes), for the access line of a refusal.
    """

    request_line = b""
    body_rcv: Any

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.started = time.monotonic()
        self._head = bytearray()

    def received(self, data: bytes) -> int:
        if self.headers_finished or self.completed or self.body_rcv is not None:
            return super().received(data)  # type: ignore[no-any-return]
        head = self._head
        seen = len(head)
        head += data
        end = head.find(b"\r\n\r\n", max(0, seen - 3))
        skip = 0
        while head.startswith(b"\r\n", skip):  # blank lines before a request are allowed
            skip += 2
        line_end = head.find(b"\r\n", skip, skip + MAX_REQUEST_LINE + 2)
        if line_end < 0 and len(head) - skip > MAX_REQUEST_LINE:
            return self._refuse(URITooLong(f"request line over {MAX_REQUEST_LINE} bytes"), head)
        if line_end > skip and not self.request_line:
            self.request_line = bytes(head[skip : min(line_end, skip + 200)])
        if end < 0:
            if len(head) < self.adj.max_request_header_size:
                return len(data)
        elif end >= skip and head.count(b"\r\n", line_end + 2, end + 2) > MAX_HEADERS:
            error = utilities.RequestHeaderFieldsTooLarge(f"more than {MAX_HEADERS} headers")
            return self._refuse(error, head, end + 4 - seen)
        whole = bytes(head)
        self._head = bytearray()
        consumed: int = super().received(whole) - seen
        received: Any = self.body_rcv
        if self.chunked and type(received) is ChunkedReceiver:
            self.body_rcv = _Chunks(received.buf)
            if "CONTENT_LENGTH" in self.headers:  # RFC 9112 6.1: close after the response
                self.headers["CONNECTION"] = "close"
        return consumed

    def _refuse(self, error: Any, head: bytearray, consumed: int | None = None) -> int:
        if not self.request_line:
            self.request_line = bytes(head[:200]).partition(b"\r\n")[0]
        self.error = error
        self.completed = True
        self._head = bytearray()
        return len(head) if consumed is None else consumed


class Refusal(ErrorTask):  # type: ignore[misc]
    """waitress's answer to a request it refuses, through ``Guard.refusals`` (the Observer)."""

    def execute(self) -> None:
        channel = self.channel
        channel.linger = True
        guard = channel.guard
        if guard is None or guard.refusals is None:
            super().execute()
            return
        answer = self.request.error.to_response(channel.server.adj.ident)
        line = getattr(self.request, "request_line", b"")
        method, _, rest = line.decode("latin-1").partition(" ")
        target, _, protocol = rest.rpartition(" ") if " " in rest else (rest, "", "")
        environ = {
            "REMOTE_ADDR": channel.addr[0] if channel.addr else "-",
            "REQUEST_METHOD": method or "-",
            "REQUEST_URI": target or "-",
            "SERVER_PROTOCOL": protocol or "-",
            "HTTP_USER_AGENT": self.request.headers.get("USER_AGENT", "-"),
            "HTTP_REFERER": self.request.headers.get("REFERER", "-"),
            REFUSAL_KEY: answer,
        }

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            self.status = status
            self.response_headers.extend(headers)

        self.set_close_on_finish()
        self.content_length = len(answer[2])
        body = guard.refusals(environ, start_response)
        try:
            for chunk in body:
                self.write(chunk)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


def answer_refusal(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI app a ``Refusal`` runs (wrapped in the Observer): waitress's own answer."""
    status, headers, body = environ[REFUSAL_KEY]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


class Channel(HTTPChannel):  # type: ignore[misc]
    """waitress's connection, admitted and watched by ``guard`` (see ``apphost.serving.guard``)."""

    parser_class = Parser
    error_task_class = Refusal
    guard: Guard | None = None  # set per server by create()
    client: str | None = None  # the address counted against max_connections_per_client
    linger = False  # a refusal was answered: linger before the close
    lingering = 0.0  # while lingering: when to close anyway (time.monotonic())
    lingered = 0  # bytes dropped while lingering

    def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Any, map: Any = None):
        guard = self.guard
        client = addr[0] if isinstance(addr, tuple) and addr else None
        if guard is not None and client is not None:
            if not guard.admit(client):
                guard.turn_away(sock)
                return
            self.client = client
        try:
            super().__init__(server, sock, addr, adj, map)
        except BaseException:
            self.del_channel()
            raise

    def del_channel(self, map: Any = None) -> None:
        client, self.client = self.client, None
        if client is not None and self.guard is not None:
            self.guard.leave(client)
        if getattr(self, "_fileno", None) is not None:
            super().del_channel(map)

    def handle_close(self) -> None:
        """Close; after a refusal, first send FIN and read (and drop) for a while.

        For ``LINGER`` seconds, reading at most ``LINGER_BYTES``: a client
        sending a large body as fast as it can is not read without limit (on
        loopback that flood delays every other connection's packets), and it
        is not closed early either (it would reconnect at once).

        A client still sending its body when the answer (413) comes would get
        a reset from a plain close, which on the client's side may discard the
        answer before it is read.
        """
        if self.linger and not self.lingering and self.socket is not None:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            else:
                self.lingering = time.monotonic() + LINGER
                self.will_close = self.close_when_flushed = False
                return
        super().handle_close()

    # The guard closes channels in the loop pass's first readable() call, after
    # wasyncore took its list of the map: a closed channel must not be polled,
    # or its descriptor's POLLNVAL would close whichever connection is accepted
    # on the same number in that pass.
    def readable(self) -> bool:
        if self._fileno is None:
            return False
        if self.lingering:  # past LINGER_BYTES, wait out LINGER without reading
            return self.lingered < LINGER_BYTES
        return bool(super().readable())

    def writable(self) -> bool:
        if self._fileno is None or self.lingering:
            return False
        return bool(super().writable())

    def handle_read(self) -> None:
        if self.lingering:
            try:
                self.lingered += len(self.recv(65536))  # dropped; at EOF recv() closes
            except OSError:
                super().handle_close()
            return
        super().handle_read()
