"""Serve a ``Host`` under waitress: listening sockets, signals, shutdown.

    server = make_server(host)      # binds; raises ApphostError naming a bad address
    run(host, server)               # until SIGTERM/SIGINT; then shutdown hooks

apphost owns the waitress server object (``create_server``), so it can stop
accepting, drain and exit cleanly, which ``waitress.serve`` cannot.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import threading
from typing import Any

import waitress
from waitress.server import BaseWSGIServer, MultiSocketServer

from .config import parse_listen
from .errors import ApphostError
from .host import Host

log = logging.getLogger("apphost")

# Defaults that suit a host of many apps better than waitress's own:
# waitress counts its own sockets in connection_limit=100, which a few slow
# clients exhaust.
DEFAULT_ADJUSTMENTS: dict[str, Any] = {"connection_limit": 1000, "ident": "apphost"}


def make_server(host: Host) -> BaseWSGIServer | MultiSocketServer:
    """Bind every ``listen`` address and return the (not yet running) waitress server."""
    config = host.config
    for addr in config.listen:
        parse_listen(addr)
    kw = {**DEFAULT_ADJUSTMENTS, **config.waitress}
    kw["listen"] = " ".join(config.listen)
    kw["threads"] = config.threads
    try:
        return waitress.create_server(host.dispatcher, map={}, **kw)
    except OSError as exc:
        why = (
            "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        )
        raise ApphostError(f"cannot listen on {', '.join(config.listen)}: {why}") from None
    except ValueError as exc:
        raise ApphostError(f"cannot listen on {', '.join(config.listen)}: {exc}") from None


def run(host: Host, server: BaseWSGIServer | MultiSocketServer) -> None:
    """Serve until SIGTERM or SIGINT, then drain and run shutdown hooks."""
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("received %s: stopping", signal.Signals(signum).name)
        host.draining = True
        server.close()
        _close_all(server)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    host.startup()
    try:
        server.print_listen("Serving on http://{}:{}")
        server.run()
    except (OSError, ValueError):
        if not stopping.is_set():
            raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        host.shutdown()


def _close_all(server: BaseWSGIServer | MultiSocketServer) -> None:
    """Close every channel still in the server's map so its loop ends."""
    for channel in list(_socket_map(server).values()):
        with contextlib.suppress(OSError):
            channel.close()


def _socket_map(server: BaseWSGIServer | MultiSocketServer) -> dict[int, Any]:
    """The asyncore map given to ``create_server``: every socket the server watches."""
    return server.map if isinstance(server, MultiSocketServer) else server._map  # type: ignore[no-any-return]
