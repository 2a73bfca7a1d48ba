"""Serve a ``Host`` under waitress until SIGTERM or SIGINT, then drain and return.

    server = make_server(host)            # binds config.listen; ApphostError names a bad address
    server = make_server(host, sockets)   # or serves sockets already listening (inherited)
    server = make_server(host, sockets, admin)  # and the own pages on admin (else admin_listen)
    run(host, server)                     # startup hooks, serve, drain, shutdown hooks

On SIGTERM or SIGINT (or, in a worker, when its supervisor is gone) the
server stops accepting at once, lets every request in flight finish byte for
byte (at most ``shutdown_timeout`` seconds), closes idle keep-alive
connections, and ``run`` returns after the shutdown hooks: see ``drain``.
``/_apphost/health`` answers 503 from the moment draining begins.

Waitress's per-request "Task queue depth" warning is replaced by a summary
at most every 10 s while requests wait for a thread, and a count in the
metrics (``apphost.serving.pressure``).

Signals never run code inside waitress's loop from a signal handler: they
arrive as bytes on a socket (``apphost.serving.signals``) whose reading end is the
first dispatcher of the socket map (we own the map: ``create_server(map={})``).
It reads the signal in the loop's own turn, and while draining it drives
``Drain.sweep`` once per loop pass. Until then it costs one ``readable()``
call per pass, like waitress's own trigger: no polling loop around waitress's.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import resource
import signal
import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..config import parse_listen
from ..errors import ApphostError
from ..host import Host
from ..web.bulkhead import logged_here
from ..web.observe import Observer
from ..web.report import manifest
from ..web.stack import admin_stack, request_stack
from ._waitress import (
    BaseWSGIServer,
    Server,
    answer_refusal,
    create,
    guard_of,
    socket_map,
    wasyncore,
)
from .drain import Drain, Drained
from .guard import Guard
from .pressure import QueueWatch, quiet_waitress_queue
from .signals import receive, signal_socket
from .sockets import DEFAULT_BACKLOG, bind, close, describe
from .worker import POOL, QUARANTINE

if TYPE_CHECKING:
    from .balance import Balance
    from .worker import Worker

log = logging.getLogger("apphost")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

# Defaults that suit a host facing the internet better than waitress's own:
# poll() instead of select(), which cannot watch more than 1024 descriptors
# (connection_limit follows max_connections, see make_server), and heads of
# at most 64 KiB (waitress: 256 KiB). The backlog is waitress's own default,
# said here because the supervisor binds the sockets with it too.
DEFAULT_ADJUSTMENTS: dict[str, Any] = {
    "asyncore_use_poll": True,
    "max_request_header_size": 64 * 1024,
    "backlog": DEFAULT_BACKLOG,
    "ident": "apphost",
}


def make_server(
    host: Host,
    sockets: Sequence[socket.socket] | None = None,
    admin: Sequence[socket.socket] | None = None,
    balance: Balance | None = None,
) -> Server:
    """The (not yet running) waitress server on ``sockets``, else bound to ``config.listen``.

    The own pages answer on ``admin`` (else bound to ``config.admin_listen``, if set)
    instead: a second waitress server on the same loop, threads and socket map, so
    the listener a request came in on decides what answers it, at no cost per request.
    """
    config = host.config
    if admin is None and config.admin_listen:
        admin = bind(config.admin_listen, int(config.waitress.get("backlog", DEFAULT_BACKLOG)))
        try:
            return make_server(host, sockets, admin, balance)
        except BaseException:
            close(admin)
            raise
    kw = {
        **DEFAULT_ADJUSTMENTS,
        # waitress answers 413 at max_request_body_size (a Content-Length that
        # large is refused before its body is read); an app's own lower limit
        # is enforced by its bulkhead (apphost.web.bulkhead).
        "max_request_body_size": config.largest_body() + 1,
        **config.waitress,
        "threads": config.threads,
    }
    _room_for(config.max_connections)
    if sockets:
        kw["sockets"] = list(sockets)
        where = ", ".join(describe(s) for s in sockets)
    else:
        for addr in config.listen:
            parse_listen(addr)
        kw["listen"] = " ".join(config.listen)
        where = ", ".join(config.listen)
    quiet_waitress_queue()
    logging.getLogger("waitress").addFilter(logged_here)  # a body's exception: logged once
    dispatcher = QueueWatch(config.threads)
    host.metrics.waited = lambda: dispatcher.waited  # counted by Metrics.fold
    refusals = Observer(answer_refusal, access_log=config.access_log, metrics=host.metrics)
    trusted = [kw["trusted_proxy"]] if kw.get("trusted_proxy") else []
    guard = Guard(config, refusals, trusted, balance)
    host.connections = guard.connections  # the status page's, per worker
    try:
        server = create(lambda adj: request_stack(host, adj), dispatcher, kw, guard=guard)
    except OSError as exc:
        why = (
            "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        )
        dispatcher.shutdown(timeout=1)
        raise ApphostError(f"cannot listen on {where}: {why}") from None
    except ValueError as exc:
        dispatcher.shutdown(timeout=1)
        raise ApphostError(f"cannot listen on {where}: {exc}") from None
    if admin:
        own = {k: v for k, v in kw.items() if k != "listen"}
        create(
            lambda adj: admin_stack(host),
            dispatcher,
            {**own, "sockets": list(admin)},
            socket_map(server),
            guard,
        )
        for sock in admin:
            log.info("the host's own pages (admin_listen) on http://%s/_apphost/", describe(sock))
    if "connection_limit" not in config.waitress:
        # waitress counts every socket of its map: the listeners and their
        # triggers (there now), and the two dispatchers run() adds.
        smap = socket_map(server)
        for obj in smap.values():
            if isinstance(obj, BaseWSGIServer):
                obj.adj.connection_limit = config.max_connections + len(smap) + 2
    return server


def _room_for(connections: int) -> None:
    """Raise this process's soft limit of open files to hold ``connections``, if it can."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + 256  # listeners, logs, plugins' own files
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if new > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < want:
            log.warning(
                "max_connections = %d, but this process may open only %d files (ulimit -n)",
                connections,
                new,
            )


def run(host: Host, server: Server, worker: Worker | None = None) -> None:
    """Run startup hooks, serve until told to stop, drain, run shutdown hooks.

    ``worker``, when the supervisor started this process, is told once the
    server is ready, and its control socket closing (the supervisor exited)
    stops the server as SIGTERM does.
    """
    smap = socket_map(server)
    served = False
    try:
        with signal_socket(STOP_SIGNALS) as (reader, writer):
            drain = Drain(smap, host.config.shutdown_timeout)
            control = _Control(reader, writer, smap, drain, host, guard_of(server))
            if worker is not None:
                _Watch(worker.control, smap, control)
            host.startup()
            host.bulkheads.start()
            try:
                if worker is not None:
                    if worker.board is not None:
                        worker.board.doing("")
                    worker.ready(manifest(host))
                server.print_listen("Serving on http://{}:{}")
                with contextlib.suppress(Drained):
                    server.run()
            finally:
                served = True
                host.bulkheads.stop()
                server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
                host.shutdown()
                if worker is not None:  # exiting now: a late SIGTERM must not kill it mid-exit
                    for sig in STOP_SIGNALS:
                        signal.signal(sig, signal.SIG_IGN)
    finally:
        if not served:
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        # Listeners still open (if serving failed) are closed, never shut down.
        wasyncore.close_all(smap, ignore_all=True)


class _Control(wasyncore.dispatcher):  # type: ignore[misc]
    """First in waitress's socket map: hears stop signals, then drives the drain."""

    def __init__(
        self,
        reader: socket.socket,
        writer: socket.socket,
        smap: dict[int, Any],
        drain: Drain,
        host: Host,
        guard: Guard | None = None,
    ) -> None:
        super().__init__(reader, map=smap)
        self._writer = writer
        self.guard = guard
        # wasyncore.poll asks dispatchers readable() in map order: be first,
        # so the flags the drain sets act in the same pass.
        for fd in [fd for fd in smap if fd != self._fileno]:
            smap[fd] = smap.pop(fd)
        self.drain = drain
        self.host = host
        self.reason: str | None = None
        self._timer: threading.Timer | None = None
        self._due = 0.0

    def stop(self, reason: str) -> None:
        """Begin draining at the start of the next loop pass (idempotent)."""
        if self.reason is None:
            self.reason = reason
            self.host.draining = True  # /_apphost/health answers 503 from now on
            log.info("pid %d %s: stopping", os.getpid(), reason)

    def readable(self) -> bool:
        if self.guard is not None:
            self.guard.tick(self._map)
        if self.reason is not None:
            self.drain.begin()
            self._wake_at(self.drain.sweep())
        return True

    def _wake_at(self, due: float | None) -> None:
        """Have the loop pass again at ``due`` (``time.monotonic()``), even if nothing happens."""
        timer = self._timer
        if due is None or (timer is not None and timer.is_alive() and self._due <= due):
            return
        if timer is not None:
            timer.cancel()
        self._due = due
        self._timer = threading.Timer(max(0.0, due - time.monotonic()), self._wake)
        self._timer.daemon = True
        self._timer.start()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")  # not a signal number: only wakes the loop

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        for signum in receive(self.socket) or b"":
            if signum in STOP_SIGNALS:
                self.stop(f"received {signal.Signals(signum).name}")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().close()


class _Watch(wasyncore.dispatcher):  # type: ignore[misc]
    """This worker's end of the supervisor's control socket: quarantines, and EOF means stop."""

    def __init__(self, sock: socket.socket, smap: dict[int, Any], control: _Control) -> None:
        super().__init__(sock, map=smap)
        self.control = control
        self.gone = False
        self._said = b""

    def readable(self) -> bool:
        return not self.gone

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        data = receive(self.socket)
        if data is None:
            return
        if not data:
            self.gone = True
            self.control.stop("the supervisor exited")
            return
        self._said += data
        while b"\n" in self._said:
            line, _, self._said = self._said.partition(b"\n")
            if line.startswith(QUARANTINE):
                app, _, why = line[len(QUARANTINE) :].decode(errors="replace").partition("\t")
                self.control.host.bulkheads.quarantine(app, why)
            elif line.startswith(POOL):
                app, pids, restarts = line[len(POOL) :].decode().split("\t")
                self.control.host.pool_state[app] = (
                    [int(p) for p in pids.split(",") if p],
                    int(restarts),
                )
