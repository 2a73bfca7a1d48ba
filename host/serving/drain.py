"""Drain a waitress server: stop accepting, finish what is in flight, close the idle.

    drain = Drain(socket_map, timeout=30.0)    # the map given to waitress.create_server
    drain.begin()      # on the loop thread: take what the kernel queued, close the listeners
    drain.sweep()      # on the loop thread, each loop pass; raises Drained once all are closed

waitress 3.0 has no graceful shutdown, so this reads and sets the few
attributes of its objects that say what a connection is doing (listed, with
the tested range, in ``_waitress``):

- ``BaseWSGIServer`` (a listener): ``accepting``, and what is queued on it
  (``_waitress.accept_queued``); ``wasyncore.dispatcher.close`` closes its descriptor
  without the server's own ``close()``, which would also close the trigger
  that worker threads still pull when they finish a response.
- ``HTTPChannel`` (a connection): ``requests`` (complete requests, the first
  in service), ``request`` (one being received), ``total_outbufs_len``
  (response bytes not yet sent), ``last_activity`` (wall time of the last
  byte in or out), ``socket``, and the two flags waitress itself uses to
  close a connection: ``close_when_flushed`` (after the last byte) and
  ``will_close`` (now).
- ``HTTPRequestParser.headers``: a request still waiting for its response
  gets ``Connection: close``, so waitress announces the close in the
  response and closes after its last byte, as for any client asking so.

An idle connection is closed once it has been idle for ``IDLE_GRACE``: a
client that has just connected, or has just read a response, is most likely
sending a request already, and closing under it would fail that request. A
connection whose request head is not complete counts as idle: draining does
not wait for a head that trickles (a slowloris) or never ends.

Nothing here runs until draining begins: ``sweep()`` is called by the
dispatcher that ``apphost.serving.server`` puts first in the map, once per pass of
waitress's loop; a pass happens whenever a worker thread finishes a response
(it pulls the trigger), and when the time ``sweep()`` returns comes. Flags set
there act in the same pass, because ``wasyncore.poll`` asks each dispatcher
``readable()`` and ``writable()`` in map order, after the sweep.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from ._waitress import BaseWSGIServer, HTTPChannel, accept_queued, wasyncore

log = logging.getLogger("apphost")

# How long a connection must have been idle (no request in flight, nothing to
# send, nothing arriving) before draining closes it.
IDLE_GRACE = 0.5


class Drained(Exception):
    """Every connection is closed: waitress's loop can stop."""


class Drain:
    """The drain of one waitress socket map, bounded by ``timeout`` seconds."""

    def __init__(self, socket_map: dict[int, Any], timeout: float) -> None:
        self.map = socket_map
        self.timeout = timeout
        self.started: float | None = None
        self._forced = False

    @property
    def active(self) -> bool:
        return self.started is not None

    def begin(self) -> None:
        """Stop accepting: take the connections the kernel already queued, then close listeners.

        Only this process's descriptor is closed (never ``shutdown()``): a
        supervisor or systemd holding the same socket keeps new connections
        queued for the next worker.
        """
        if self.started is not None:
            return
        self.started = time.monotonic()
        for obj in list(self.map.values()):
            if isinstance(obj, BaseWSGIServer) and obj.accepting:
                accept_queued(obj)
                wasyncore.dispatcher.close(obj)
                guard = getattr(obj.channel_class, "guard", None)
                if guard is not None:
                    guard.stop()  # no more connections are left to this worker
        channels = self._channels()
        busy = sum(1 for ch in channels if ch.requests or ch.request is not None)
        log.info(
            "draining: %d connection(s) open, %d with a request in flight (at most %gs)",
            len(channels),
            busy,
            self.timeout,
        )

    def _channels(self) -> list[Any]:
        return [obj for obj in self.map.values() if isinstance(obj, HTTPChannel)]

    def sweep(self) -> float | None:
        """Close what is idle, mark what is in flight to close when done; raise Drained at the end.

        Returns the ``time.monotonic()`` at which to sweep again even if no
        connection does anything (None: once draining has no deadline left).
        """
        if self.started is None:
            return None
        channels = self._channels()
        if not channels:
            raise Drained
        now = time.monotonic()
        deadline = self.started + self.timeout
        if now >= deadline:
            if not self._forced:
                self._forced = True
                log.warning(
                    "shutdown_timeout (%gs) passed: closing %d connection(s) still in flight",
                    self.timeout,
                    len(channels),
                )
            for ch in channels:
                ch.will_close = True
            return None
        wall = time.time()
        due = deadline
        for ch in channels:
            for request in [*ch.requests, ch.request]:
                if request is not None and request.headers_finished:
                    request.headers["CONNECTION"] = "close"
            if ch.requests or ch.will_close or (ch.request and ch.request.headers_finished):
                continue  # in flight: waitress closes it after the response (Connection: close)
            # Idle, or a head not finished: closed unless bytes come (a head that is
            # arriving completes within IDLE_GRACE; one that trickles does not).
            if ch.total_outbufs_len:
                ch.close_when_flushed = True  # the last response is still being sent
            elif not _arriving(ch.socket):
                idle = wall - ch.last_activity
                if idle >= IDLE_GRACE:
                    ch.will_close = True
                else:
                    due = min(due, now + IDLE_GRACE - idle)
        return due


def _arriving(sock: socket.socket | None) -> bool:
    """Bytes wait to be read: a request is arriving (False at EOF or on error)."""
    if sock is None:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except OSError:  # BlockingIOError: nothing yet
        return False
