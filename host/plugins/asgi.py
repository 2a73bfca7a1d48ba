"""ASGI apps (FastAPI, Starlette) served as WSGI: a2wsgi, plus the lifespan and what WSGI cannot carry.

    adapter = AsgiAdapter(fastapi_app, "app 'items' (apphost-items==0.1.0)")
    adapter.start()                     # lifespan startup; PluginError naming the app if it fails
    adapter(environ, start_response)    # a WSGI app; root_path is the mount (SCRIPT_NAME)
    adapter.close()                     # lifespan shutdown, then its event loop stops

Each adapter runs its app on an event loop of its own, in a daemon thread
started by ``start`` (so building a host, as ``apphost routes`` does, starts
no thread), and an ASGI app that blocks its loop blocks only itself. a2wsgi's
``ASGIResponder`` turns one WSGI request into one ASGI ``http`` scope on that
loop (``root_path`` from SCRIPT_NAME, ``path`` = root_path + PATH_INFO), reads
the request body in 64 KiB ``http.request`` messages and yields each
``http.response.body`` as it is sent, so a ``StreamingResponse`` or
Server-Sent Events reach the client as they are produced. What this module
adds to it:

- The lifespan protocol, which a2wsgi does not speak: ``start`` sends
  ``lifespan.startup`` and waits (``STARTUP_TIMEOUT``), ``close`` sends
  ``lifespan.shutdown`` (``SHUTDOWN_TIMEOUT``). The lifespan ``state`` is
  copied into every request's scope, so FastAPI's ``request.state`` sees what
  the lifespan yielded. An app that raises on the lifespan scope before
  reading a message does not do lifespans; one that fails after it did is a
  failed startup.
- A client that leaves mid-response cancels the app's task, so an endless
  event stream does not outlive its client.
- An app that returns (or is cancelled) before finishing its response ends
  the WSGI response too, instead of leaving a thread waiting for it.
- An exception before the response starts is logged naming the app
  (a2wsgi answers 500 without logging it).
- A WebSocket upgrade answers 501: WebSockets cannot pass through WSGI.
  ``websocket_routes`` finds an app's WebSocket routes so ``apphost check``
  can report them.
- A path that is not UTF-8 is 400 (ASGI paths are text), and raw non-ASCII
  bytes in a query string are percent-encoded (ASGI query strings are ASCII).

a2wsgi internals used (pinned to ``a2wsgi>=1.10,<1.11`` in pyproject.toml):
``ASGIResponder`` and its ``start_asgi_app``, ``asgi_send``,
``asgi_done_callback``, ``sync_event``, ``sync_event_set_lock`` and the
``a2wsgi.error`` message its ``__call__`` reads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from a2wsgi.asgi import ASGIResponder

from ..errors import PluginError, describe
from ..routing.refusals import UNAVAILABLE, Refusal, bad_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("apphost")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STARTUP_TIMEOUT = 60.0  # seconds a lifespan startup may take before the app counts as failed
SHUTDOWN_TIMEOUT = 10.0  # seconds a lifespan shutdown may take before it is abandoned
NO_WEBSOCKETS = Refusal(
    "501 Not Implemented",
    "WebSockets cannot pass through WSGI, and apphost serves this ASGI app through WSGI",
)
NOT_UTF8 = bad_request("the path is not UTF-8, which an ASGI app needs")


class AsgiAdapter:
    """An ASGI 3 app as a WSGI app, with its own event loop and lifespan; see the module doc.

    ``label`` names the app in messages (``app 'items' (dist==1.0)``).
    """

    def __init__(self, app: ASGIApp, label: str) -> None:
        self.app = app
        self.label = label
        self.loop: asyncio.AbstractEventLoop | None = None  # made by start()
        self._thread: threading.Thread | None = None
        self._served: ASGIApp = app  # the app with the lifespan state put in each scope
        self.websocket_routes = tuple(websocket_routes(app))  # which WSGI cannot carry
        self._lifespan = _Lifespan(app)
        self._lock = threading.Condition()
        self._in_flight: set[_Responder] = set()
        self._ready = False  # the lifespan started (or the app has none)
        self._failed = ""  # why the startup failed, if it did
        self._closed = False

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Run the lifespan startup; ``PluginError`` naming the app if it fails (idempotent)."""
        with self._lock:
            if self._ready:
                return
            if self._failed or self._closed:
                raise PluginError(self.label, self._failed or "closed")
            loop = self.loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=loop.run_forever, name=f"asgi {self.label}", daemon=True
            )
            self._thread.start()
            future = asyncio.run_coroutine_threadsafe(self._lifespan.startup(), loop)
            try:
                state = future.result(STARTUP_TIMEOUT)
            except concurrent.futures.TimeoutError:
                future.cancel()
                why = f"lifespan startup did not finish within {STARTUP_TIMEOUT:g} s"
            except LifespanError as exc:
                why = str(exc)
            else:
                if state:
                    self._served = _with_state(self.app, state)
                self._ready = True
                return
            self._failed = why
        self._stop_loop()
        raise PluginError(self.label, why)

    def close(self, grace: float = 0.0) -> None:
        """Refuse new requests, give those in flight ``grace`` seconds, shut down (idempotent).

        Requests still in flight then are cancelled (their responses end), the
        lifespan shutdown runs (a failure is logged) and the loop stops.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.wait_for(lambda: not self._in_flight, grace)
            left = list(self._in_flight)
        for responder in left:
            responder.cancel()
        if self._ready and self.loop is not None and self.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._lifespan.shutdown(), self.loop)
            try:
                future.result(SHUTDOWN_TIMEOUT)
            except concurrent.futures.TimeoutError:
                future.cancel()
                log.warning(
                    "%s: lifespan shutdown did not finish within %g s",
                    self.label,
                    SHUTDOWN_TIMEOUT,
                )
            except Exception as exc:
                log.error("%s: lifespan shutdown failed: %s", self.label, exc)
        self._stop_loop()

    def _stop_loop(self) -> None:
        """Cancel what still runs on the loop, then stop it and its thread."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(_cancel_all(), loop)
            try:
                future.result(SHUTDOWN_TIMEOUT)
            except concurrent.futures.TimeoutError:
                log.warning("%s: tasks still running at shutdown", self.label)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(SHUTDOWN_TIMEOUT)
        if not thread.is_alive():
            loop.close()

    # -- requests --------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if "HTTP_UPGRADE" in environ and environ["HTTP_UPGRADE"].lower() == "websocket":
            return NO_WEBSOCKETS(environ, start_response)
        if not (
            environ.get("PATH_INFO", "").isascii()
            and environ.get("SCRIPT_NAME", "").isascii()
            and environ.get("QUERY_STRING", "").isascii()
        ):
            refusal = _make_ascii(environ)
            if refusal is not None:
                return refusal(environ, start_response)
        if not self._ready:
            try:
                self.start()  # an app given in a Claim object starts on its first request
            except PluginError as exc:
                log.warning("%s", exc)
                return UNAVAILABLE(environ, start_response)
        assert self.loop is not None  # started, so made
        request = (
            f"{environ.get('REQUEST_METHOD', '')}"
            f" {environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
        )
        responder = _Responder(self._served, self.loop, self.label, request)
        with self._lock:
            if self._closed:
                return UNAVAILABLE(environ, start_response)
            self._in_flight.add(responder)
        return self._respond(responder, environ, start_response)

    def _respond(
        self, responder: _Responder, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterator[bytes]:

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info is None:
                return start_response(status, headers)
            try:  # a2wsgi's 500 for an app error, before any body
                return start_response(status, headers, exc_info)
            except BaseException as exc:
                if exc is not exc_info[1]:
                    raise
                # Some servers (werkzeug's test client) re-raise exc_info even before
                # the headers are sent: answer the 500 anyway; the error is logged.
                return start_response(status, headers)

        try:
            yield from responder(environ, start)  # type: ignore[arg-type]  # a2wsgi's WSGI types
        finally:
            if not responder.asgi_done.is_set():  # closed early: the client left
                responder.cancel()
            with self._lock:
                self._in_flight.discard(responder)
                if not self._in_flight:
                    self._lock.notify_all()


class _Responder(ASGIResponder):
    """a2wsgi's responder for one request, knowing its task and how far its response got."""

    def __init__(self, app: ASGIApp, loop: asyncio.AbstractEventLoop, label: str, request: str):
        super().__init__(app, loop)  # type: ignore[arg-type]  # a2wsgi's narrower ASGIApp
        self.label = label
        self.request = request  # "GET /mount/path", for the log
        self.task: asyncio.Task[None] | None = None
        self.started = False  # http.response.start was sent
        self.complete = False  # the last http.response.body was sent

    async def start_asgi_app(self, environ: Any) -> asyncio.Task[None]:
        self.task = await super().start_asgi_app(environ)
        return self.task

    async def asgi_send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
        elif kind == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await super().asgi_send(message)

    def asgi_done_callback(self, future: asyncio.Future[None]) -> None:
        error = None if future.cancelled() else future.exception()
        # a2wsgi logs nothing: it answers 500 if the response had not started, and
        # drops the error if it had ended (FastAPI re-raises after sending its 500).
        # Only an error mid-response reaches the server, which logs it.
        if error is not None and (not self.started or self.complete):
            log.error("%s raised while serving %s", self.label, self.request, exc_info=error)
        super().asgi_done_callback(future)
        if error is None and not self.complete:
            # a2wsgi would wait for a message that never comes: end the response
            # (500 if it had not started, else cut short) and free the thread.
            why = "was cancelled" if future.cancelled() else "returned"
            end = RuntimeError(f"{self.label} {why} before it finished its response")
            lock = asyncio.ensure_future(self.sync_event_set_lock.acquire())
            lock.add_done_callback(
                lambda _: self.sync_event.set(
                    {"type": "a2wsgi.error", "exception": (RuntimeError, end, None)}
                )
            )

    def cancel(self) -> None:
        """Cancel the app's task for this request, from any thread."""
        task = self.task
        if task is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(task.cancel)


class LifespanError(Exception):
    """An app's lifespan startup failed; the message says how."""


class _Lifespan:
    """The lifespan protocol, run on the adapter's loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.task: asyncio.Task[None] | None = None
        self.inbox: asyncio.Queue[Message] | None = None
        self.outbox: asyncio.Queue[Message] | None = None
        self.received = False  # the app read lifespan.startup: it speaks the protocol

    async def startup(self) -> dict[str, Any]:
        """The state the app put in its lifespan scope; ``LifespanError`` if startup failed."""
        self.inbox, self.outbox = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state
        self.task = asyncio.ensure_future(self._run(scope))
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self.outbox.get()
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            return self.state
        if kind == "lifespan.startup.failed":
            raise LifespanError(f"lifespan startup failed: {message.get('message') or '?'}")
        if kind == "apphost.raised":
            error = message["error"]
            if self.received:
                raise LifespanError(f"lifespan startup raised {describe(error)}")
            log.debug("%r does not do lifespans: it raised %s", self.app, describe(error))
            self.task = None
            return {}
        if kind == "apphost.returned":  # returned without a word: no lifespan to run
            self.task = None
            return {}
        raise LifespanError(f"lifespan startup: the app sent {kind!r}, not startup.complete")

    async def shutdown(self) -> None:
        """``lifespan.shutdown``; raises saying why if the app reports a failure."""
        if self.task is None or self.inbox is None or self.outbox is None:
            return
        if not self.task.done():
            await self.inbox.put({"type": "lifespan.shutdown"})
        message = await self.outbox.get()
        kind = message["type"]
        if kind == "lifespan.shutdown.failed":
            raise RuntimeError(message.get("message") or "?")
        if kind == "apphost.raised":
            raise RuntimeError(f"it raised {describe(message['error'])}")

    async def _run(self, scope: Scope) -> None:
        assert self.inbox is not None and self.outbox is not None
        inbox, outbox = self.inbox, self.outbox

        async def receive() -> Message:
            self.received = True
            return await inbox.get()

        async def send(message: Message) -> None:
            await outbox.put(message)

        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            await outbox.put({"type": "apphost.raised", "error": exc})
        else:
            await outbox.put({"type": "apphost.returned"})


def _with_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    """``app``, with a shallow copy of the lifespan ``state`` in each request's scope."""

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = state.copy()
        await app(scope, receive, send)

    return with_state


def _make_ascii(environ: WSGIEnvironment) -> Refusal | None:
    """Fit a request with non-ASCII bytes to ASGI (in place), or the refusal if it cannot be."""
    try:
        for key in ("SCRIPT_NAME", "PATH_INFO"):
            environ.get(key, "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        return NOT_UTF8
    query = environ.get("QUERY_STRING", "")
    if not query.isascii():  # WSGI strings are bytes read as latin-1
        environ["QUERY_STRING"] = "".join(c if c < "\x80" else f"%{ord(c):02X}" for c in query)
    return None


async def _cancel_all() -> None:
    """Cancel every other task on the running loop and wait for them to end."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


def websocket_routes(app: object) -> list[str]:
    """The paths of a Starlette or FastAPI app's WebSocket routes (mounts included), else []."""
    if "starlette" not in sys.modules:
        return []  # not a Starlette app: nothing to import or look for
    from starlette.routing import Mount, WebSocketRoute

    for _ in range(8):  # middleware objects keep the app they wrap in .app
        if hasattr(app, "routes"):
            break
        app = getattr(app, "app", None)
    found: list[str] = []

    def walk(routes: Iterable[object], prefix: str) -> None:
        for route in routes:
            if isinstance(route, WebSocketRoute):
                found.append(prefix + route.path)
            elif isinstance(route, Mount):
                walk(route.routes, prefix + route.path)

    try:
        walk(getattr(app, "routes", None) or (), "")
    except Exception:  # a routes property that raises: nothing to report from it
        log.debug("cannot list the routes of %r", app, exc_info=True)
    return found
