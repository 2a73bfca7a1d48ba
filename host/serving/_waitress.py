"""Every waitress internal apphost touches, in one place, pinned to ``waitress>=3.0,<3.1``.

waitress 3.0 has no graceful shutdown, no hook for queue pressure and no way
to compose its proxy-header handling, so apphost reads and sets a few of its
objects' attributes. Each one is listed here; ``tests/unit/test_waitress_internals.py``
checks them against the installed waitress, so an upgrade that moves one fails
a test instead of a drain.

Used by ``drain`` (listeners and connections), ``pressure`` (the task queue),
``server`` (the socket map) and ``apphost.testing`` (stopping a server):

- ``waitress.create_server(app, map=, _dispatcher=, **adjustments)``: the map
  and the task dispatcher are ours (the admin listeners' server shares both).
- ``BaseWSGIServer``: ``accepting``, ``adj.backlog``, ``handle_accept()``,
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
- ``ThreadedTaskDispatcher`` (subclassed by ``pressure.QueueWatch``): ``lock``,
  ``queue``, ``queue_cv``, ``threads``, ``stop_count``, ``active_count``,
  ``queue_logger``, ``set_thread_count()``, ``shutdown()``.
- ``trigger.trigger``: ``pull_trigger(callable)``.
- ``proxy_headers_middleware`` with the ``trusted_proxy*`` adjustments, applied
  by apphost's request stack instead of inside ``BaseWSGIServer.__init__``,
  and ``waitress.proxy_headers.PROXY_HEADERS``, the headers it reads or removes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import waitress
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.proxy_headers import PROXY_HEADERS, proxy_headers_middleware
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.task import ThreadedTaskDispatcher
from waitress.trigger import trigger as Trigger

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = [
    "PROXY_HEADER_KEYS",
    "Adjustments",
    "BaseWSGIServer",
    "HTTPChannel",
    "MultiSocketServer",
    "ThreadedTaskDispatcher",
    "Trigger",
    "channel_of",
    "close_when_draining",
    "create",
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
) -> Server:
    """``waitress.create_server`` on a map of ours, serving ``stack(adjustments)``.

    waitress would wrap the app in its proxy-header middleware inside each
    listener; ``stack`` is given the ``Adjustments`` to do that itself, so the
    whole request path is built in one place. ``smap``: the socket map of a
    server made before, whose loop (and threads, ``dispatcher``) serve this one's
    listeners too, with this one's app.
    """
    adj = Adjustments(**adjustments)
    served = {k: v for k, v in adjustments.items() if k not in PROXY_KEYS}
    served["clear_untrusted_proxy_headers"] = False
    smap = {} if smap is None else smap
    return waitress.create_server(stack(adj), map=smap, _dispatcher=dispatcher, **served)


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
