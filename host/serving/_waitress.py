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
  (replaced by ``_waitress._accept_many``, which leaves new connections to
  other workers while its guard says this one is full, and calls ``accept()``,
  ``set_socket_options()``, ``fix_addr()``, ``channel_class``, ``logger``,
  ``adj.connection_limit``, ``adj.log_socket_errors``),
  ``readable()`` (wrapped: False while the listener defers to other workers),
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
- ``ThreadedTaskDispatcher`` (replaced by ``pressure.QueueWatch``, on C locks):
  what waitress calls of it, ``add_task()`` and ``shutdown()``, and its
  ``logger`` and ``queue_logger``; the tasks it is given are channels:
  ``HTTPChannel.service()``, ``HTTPChannel.cancel()``.
- ``trigger.trigger``: ``pull_trigger(callable)``.
- ``BaseWSGIServer.asyncore`` (what its run method loops with: a ``_waitress.Loop``
  per socket map), ``BaseWSGIServer.pull_trigger()`` (replaced by the Loop's wake),
  ``BaseWSGIServer.trigger``; ``wasyncore.poll`` (select), whose pass
  the Loop repeats with ``wasyncore.read()``, ``wasyncore.write()`` and
  ``wasyncore._exception()``, and ``wasyncore.poll2`` (poll).
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
- ``WSGITask`` as ``_waitress.Task``: ``build_response_header()``, ``write()``,
  ``channel``, ``response_headers``, ``start_time``; and ``HTTPChannel.task_class``,
  ``HTTPChannel.write_soon()``: a response's head goes out with its first body
  bytes, in one send; ``utilities.build_http_date()``: its Date is made once a second.
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
import select
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
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask
from waitress.trigger import trigger as Trigger

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .guard import Guard

__all__ = [
    "PROXY_HEADER_KEYS",
    "Adjustments",
    "BaseWSGIServer",
    "Channel",
    "HTTPChannel",
    "MultiSocketServer",
    "ThreadedTaskDispatcher",
    "Trigger",
    "accept_queued",
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
    loops = [o.asyncore for o in smap.values() if isinstance(getattr(o, "asyncore", None), Loop)]
    loop = loops[0] if loops else Loop()  # a server made before on this map has one
    server.asyncore = loop
    for obj in socket_map(server).values():
        if isinstance(obj, BaseWSGIServer) and not issubclass(obj.channel_class, Channel):
            obj.channel_class = channel
            obj.handle_accept = functools.partial(_accept_many, obj)
            obj.apphost_defer = 0.0  # while deferring to other workers: until when
            obj.readable = functools.partial(_readable, obj, obj.readable)
            obj.asyncore = loop
            obj.pull_trigger = functools.partial(loop.wake, obj.trigger)
    return server


def accept_queued(listener: Any) -> None:
    """Accept every connection the kernel queued on ``listener`` (a drain, before it closes).

    Never deferred to other workers: they may be draining too, and what is
    queued when the last descriptor closes is reset.
    """
    smap = listener._map
    for _ in range(listener.adj.backlog):
        before = len(smap)
        _accept_many(listener, defer=False)
        if len(smap) == before:  # nothing left in the queue (or it was turned away)
            return


def _accept_many(listener: Any, defer: bool = True) -> None:
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
    guard = listener.channel_class.guard
    if defer and guard is not None and guard.full() and _defer(listener):
        return
    listener.apphost_defer = 0.0
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


def _defer(listener: Any) -> bool:
    """True if a full worker's ``listener`` should leave its queued connection to the others.

    The first time, it stops watching the listener for ``DEFER`` seconds
    (``_readable``); a connection still queued after that, no other worker
    took, and it accepts it. A deferral past twice that is forgotten.
    """
    now = time.monotonic()
    until = listener.apphost_defer
    if until and until <= now < until + DEFER:
        listener.apphost_defer = 0.0
        return False
    listener.apphost_defer = until = now + DEFER
    listener.asyncore.wake_by(until)
    return True


def _readable(listener: Any, readable: Callable[[], bool]) -> bool:
    """A listener's ``readable()``: False while it defers to the other workers (``_defer``).

    Only while another still holds fewer: once they took enough, it watches
    again (two workers deferring to each other would leave a connection to none).
    """
    until = listener.apphost_defer
    if until and time.monotonic() < until and listener.channel_class.guard.full():
        return False
    return readable()


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


class Loop:
    """``wasyncore`` as ``BaseWSGIServer.run()`` uses it (its ``asyncore``), one per socket map.

    Its loop picks per pass: ``select()`` while every descriptor fits it,
    else waitress's ``poll2``, which watches any number but builds a new set
    each pass, one ``register()`` call per connection (with a few dozen busy
    connections, a fifth of the loop's throughput); ``select()`` takes the
    same lists in one call.

    The select pass is waitress's own (``wasyncore.poll``) but for one flag,
    ``asleep``: true from the moment a pass starts asking the channels what
    they wait for until ``select()`` returns. A worker thread that changed
    what its channel waits for (its response sent, say) wakes the loop with
    ``BaseWSGIServer.pull_trigger()``: a write to a pipe, and a pass to read
    it. ``wake`` makes that write only while the loop may be asleep; in the
    rest of a pass the next pass asks the channels anyway. (The thread sets
    the channel's state before it reads ``asleep``; the loop sets ``asleep``
    before it reads the state: one of the two sees the other's write.)
    """

    def __init__(self) -> None:
        self.asleep = True
        self.wake_at = 0.0  # a pass must end by then (time.monotonic()): see wake_by

    def __getattr__(self, name: str) -> Any:
        return getattr(wasyncore, name)

    def loop(
        self, timeout: float = 30.0, use_poll: bool = False, map: Any = None, **_: Any
    ) -> None:
        while map:
            wait = timeout
            if self.wake_at:  # kept until it passes: passes before it may be for other work
                wait = min(timeout, self.wake_at - time.monotonic())
                if wait <= 0:
                    wait = self.wake_at = 0.0
            if use_poll and max(map) >= SELECT_LIMIT:
                self.asleep = True
                wasyncore.poll2(wait, map)
            else:
                self.select_pass(wait, map)

    def wake_by(self, when: float) -> None:
        """Have the next pass wait at most until ``when`` (a listener deferring, ``_defer``)."""
        if not self.wake_at or when < self.wake_at:
            self.wake_at = when

    def select_pass(self, timeout: float, map: dict[int, Any]) -> None:
        self.asleep = True
        r, w, e = [], [], []
        for fd, obj in list(map.items()):
            is_r = obj.readable()
            is_w = obj.writable()
            if is_r:
                r.append(fd)
            if is_w and not obj.accepting:  # listeners are never writable
                w.append(fd)
            if is_r or is_w:
                e.append(fd)
        if not (r or w or e):
            time.sleep(timeout)
            return
        try:
            r, w, e = select.select(r, w, e, timeout)
        except InterruptedError:
            return
        self.asleep = False
        get, read, write, exception = map.get, wasyncore.read, wasyncore.write, wasyncore._exception
        for fd in r:
            obj = get(fd)
            if obj is not None:
                read(obj)
        for fd in w:
            obj = get(fd)
            if obj is not None:
                write(obj)
        for fd in e:
            obj = get(fd)
            if obj is not None:
                exception(obj)

    def wake(self, trigger: Any) -> None:
        """``BaseWSGIServer.pull_trigger()``: pull ``trigger`` if the loop may be asleep."""
        if self.asleep:
            trigger.pull_trigger()


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
DEFER = 0.002  # seconds a worker leaves a new connection to one holding fewer (balance)
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
    for ``header_timeout``, set once a head comes in more than one read;
    ``request_line`` the first line as received (at most 200 bytes), for the
    access line of a refusal.
    """

    _line = b""  # request_line, when the head came in pieces or was refused
    started = 0.0
    body_rcv: Any
    _head: bytearray | None = None  # a head's bytes so far, while it comes in pieces

    @property
    def request_line(self) -> bytes:
        return self._line or (getattr(self, "first_line", None) or b"")[:200]

    def received(self, data: bytes) -> int:
        if self.headers_finished or self.completed or self.body_rcv is not None:
            return super().received(data)  # type: ignore[no-any-return]
        if self._head is None:
            # The usual case: a whole head in the first read, within every bound.
            end = data.find(b"\r\n\r\n", 0, MAX_REQUEST_LINE)
            lines = data.count(b"\r\n", 0, end + 2)
            if end > 0 and lines <= MAX_HEADERS + 1 and not data.startswith(b"\r\n"):
                return self._parse(data, 0)
            self._head = bytearray()
            self.started = time.monotonic()
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
        if line_end > skip and not self._line:
            self._line = bytes(head[skip : min(line_end, skip + 200)])
        if end < 0:
            if len(head) < self.adj.max_request_header_size:
                return len(data)
        elif end >= skip and head.count(b"\r\n", line_end + 2, end + 2) > MAX_HEADERS:
            error = utilities.RequestHeaderFieldsTooLarge(f"more than {MAX_HEADERS} headers")
            return self._refuse(error, head, end + 4 - seen)
        self._head = bytearray()
        return self._parse(bytes(head), seen)

    def _parse(self, data: bytes, seen: int) -> int:
        """waitress's parse of ``data`` (a whole head, and what follows), ``seen`` bytes of it
        given before: what it took of this read."""
        consumed: int = super().received(data) - seen
        if self.error is not None and not self.request_line:
            self._line = data[:200].partition(b"\r\n")[0]
        received: Any = self.body_rcv
        if self.chunked and type(received) is ChunkedReceiver:
            self.body_rcv = _Chunks(received.buf)
            if "CONTENT_LENGTH" in self.headers:  # RFC 9112 6.1: close after the response
                self.headers["CONNECTION"] = "close"
        return consumed

    def _refuse(self, error: Any, head: bytearray, consumed: int | None = None) -> int:
        if not self._line:
            self._line = bytes(head[:200]).partition(b"\r\n")[0]
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


HEAD_WITH_BODY = 64 * 1024  # a response's first body bytes up to this go out in its head's send


# utilities.build_http_date of a whole second (it takes about 1 µs): made once a second.
http_date = functools.lru_cache(maxsize=2)(utilities.build_http_date)


class Task(WSGITask):  # type: ignore[misc]
    """waitress's WSGI task, whose response head goes out with the first body bytes.

    waitress sends the head as soon as it is built, then each body chunk: two
    sends and two packets for the smallest response (it sets ``TCP_NODELAY``),
    and the client wakes twice. Here the head is held on the channel
    (``Channel.head``) and joined to the first chunk, or sent alone if the
    body has none. The Date header waitress adds is made once a second.
    """

    def build_response_header(self) -> bytes:
        headers = self.response_headers
        for name, _ in headers:
            if len(name) == 4 and name.lower() == "date":
                break
        else:  # waitress would add it, formatting the date anew for each response
            headers.append(("Date", http_date(int(self.start_time))))
        self.channel.head = super().build_response_header()
        return b""  # written by write_soon as nothing; the head waits on the channel

    def write(self, data: bytes) -> None:
        super().write(data)
        channel = self.channel
        if channel.head:  # no body bytes went with it (none yet, or none allowed)
            head, channel.head = channel.head, b""
            channel.write_soon(head)


class Channel(HTTPChannel):  # type: ignore[misc]
    """waitress's connection, admitted and watched by ``guard`` (see ``apphost.serving.guard``)."""

    parser_class = Parser
    task_class = Task
    error_task_class = Refusal
    head = b""  # a response's head, held by Task until its first body bytes
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
    # the Loop took its list of the map: a closed channel must not be polled,
    # or its descriptor's POLLNVAL would close whichever connection is accepted
    # on the same number in that pass.
    #
    # Both are asked of every connection on every pass of the loop, so each
    # repeats waitress's own test (``HTTPChannel.readable()``, ``writable()``)
    # rather than calling it; tests/unit/test_waitress_internals.py holds
    # them to waitress's answers.
    def readable(self) -> bool:
        if self._fileno is None:
            return False
        if self.lingering:  # past LINGER_BYTES, wait out LINGER without reading
            return self.lingered < LINGER_BYTES
        return not (
            self.will_close
            or self.close_when_flushed
            or len(self.requests) > self.adj.channel_request_lookahead
            or self.total_outbufs_len
        )

    def writable(self) -> bool:
        if self._fileno is None or self.lingering:
            return False
        return bool(self.total_outbufs_len or self.will_close or self.close_when_flushed)

    def write_soon(self, data: Any) -> int:
        head = self.head
        if head and data:  # (Task writes the head it holds as b"")
            self.head = b""
            if data.__class__ is bytes and len(data) <= HEAD_WITH_BODY:
                data = head + data
            else:  # a file (wsgi.file_wrapper), or a chunk not worth copying
                super().write_soon(head)
        return super().write_soon(data)  # type: ignore[no-any-return]

    def handle_read(self) -> None:
        if self.lingering:
            try:
                self.lingered += len(self.recv(65536))  # dropped; at EOF recv() closes
            except OSError:
                super().handle_close()
            return
        super().handle_read()
