"""Hostile clients: connections admitted per client address, timeouts swept once a second.

    guard = Guard(config, refusals=observer)   # refusals: the WSGI app answering waitress's 4xx/5xx
    guard.admit("203.0.113.7")   # at accept; False past max_connections_per_client
    guard.turn_away(sock)        # ... then: a 503, and the socket closed
    guard.leave("203.0.113.7")   # when one of its connections closes
    guard.full()                 # another worker holds fewer connections: let it accept
    guard.connections(slot)      # what the worker in a slot of the balance holds (status)
    guard.tick(socket_map)       # on waitress's loop thread, each pass; sweeps once a second

``tick`` is called by the dispatcher ``apphost.serving.server`` puts first in
the socket map, so the sweep runs in the loop's own turns: waitress's loop
passes at least once a second (its poll timeout), more often when anything
happens, and ``tick`` costs one clock read unless a second has passed. A
sweep looks at every connection (a few microseconds each) and closes:

- a request head not complete ``header_timeout`` seconds after its first
  byte, and a connection with no request ``header_timeout`` seconds after it
  was accepted or its last response was sent (keep-alive);
- a request body that made no progress for ``body_timeout`` seconds;
- a response its client stopped reading ``send_timeout`` seconds ago: the
  app thread blocked on the full output buffer is let go (it sees the client
  gone), so such clients hold at most the buffers, never a thread for long;
- a connection lingering after a refusal (see ``_waitress.Channel``).

A request in the app's hands is none of the guard's business
(``request_timeout`` is).

``max_connections_per_client`` counts connections by the peer address at
accept time, the one thing known then. Connections from a ``trusted_proxy``
address are never turned away (a proxy carries many clients; with
``trusted_proxy = "*"`` none are); the limit then is the proxy's to keep. A
client past its limit gets a 503 and a close at accept, before any byte of
its request is read, and one warning per address per ``TOLD_EVERY``
seconds, not one per connection.

With ``--workers`` 2 or more, ``full()`` is true while another worker holds
fewer connections (``balance``): this worker's listener then leaves a new
connection to it a moment (``_waitress._accept_many``).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._waitress import Channel, HTTPChannel

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from ..config import Config
    from .balance import Balance

log = logging.getLogger("apphost")

SWEEP_EVERY = 1.0  # seconds between two sweeps
TOLD_EVERY = 60.0  # seconds between two warnings about one address
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Retry-After: 5\r\nContent-Length: 44\r\n\r\ntoo many connections from your address, sorry"
)


class Guard:
    """Per-address connection counts and the timeouts of one worker's connections."""

    def __init__(
        self,
        config: Config,
        refusals: WSGIApplication | None = None,
        trusted: Iterable[str] = (),
        balance: Balance | None = None,
    ) -> None:
        self.header_timeout = config.header_timeout
        self.body_timeout = config.body_timeout
        self.send_timeout = config.send_timeout
        self.per_client = config.max_connections_per_client
        self.trusted = frozenset(trusted)
        self.refusals = refusals
        self.counts: dict[str, int] = {}  # address -> connections open
        self.open = 0  # connections open in all, written to ``balance`` for the other workers
        self.balance = balance
        self.told: dict[str, float] = {}  # address -> when its last warning was logged
        self.closed = 0  # connections the sweeps closed, so far
        self._due = 0.0

    def admit(self, client: str) -> bool:
        """Count a new connection from ``client``; False (not counted) if it has too many."""
        n = self.counts.get(client, 0)
        if 0 < self.per_client <= n and client not in self.trusted and "*" not in self.trusted:
            self._tell(client)
            return False
        self.counts[client] = n + 1
        self.open += 1
        if self.balance is not None:
            self.balance.count(self.open)
        return True

    def leave(self, client: str) -> None:
        n = self.counts.get(client, 0) - 1
        if n < 0:
            return
        self.open -= 1
        if self.balance is not None:
            self.balance.count(self.open)
        if n > 0:
            self.counts[client] = n
        else:
            self.counts.pop(client, None)

    def connections(self, slot: int | None = None) -> int | None:
        """What a worker holds: the one in ``slot`` of the balance, else this one.

        None for a slot that accepts nothing (vacant: a draining or exited worker).
        """
        if slot is not None and self.balance is not None:
            return self.balance.held(slot)
        return self.open

    def stop(self) -> None:
        """This worker accepts no more (draining): other workers stop leaving connections to it."""
        if self.balance is not None:
            self.balance.vacate()

    def full(self) -> bool:
        """True while another worker on the same sockets holds fewer connections."""
        return self.balance is not None and self.balance.behind()

    def _tell(self, client: str) -> None:
        now = time.monotonic()
        if now - self.told.get(client, -TOLD_EVERY) < TOLD_EVERY:
            return
        self.told = {a: t for a, t in self.told.items() if now - t < TOLD_EVERY}
        self.told[client] = now
        log.warning(
            "%s has %d connections open (max_connections_per_client): turning away more"
            " with 503 (said at most once a minute per address)",
            client,
            self.counts.get(client, 0),
        )

    @staticmethod
    def turn_away(sock: socket.socket) -> None:
        """Answer 503 if the socket takes it at once, and close it."""
        try:
            sock.setblocking(False)
            sock.send(BUSY)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sock.close()

    def tick(self, socket_map: dict[int, Any]) -> None:
        """Sweep if a second has passed since the last sweep (loop thread, every pass)."""
        now = time.monotonic()
        if now >= self._due:
            self._due = now + SWEEP_EVERY
            self.sweep(socket_map, now)

    def sweep(self, socket_map: dict[int, Any], now: float) -> None:
        """Close every connection past one of its timeouts (``now``: ``time.monotonic()``)."""
        wall = time.time()  # waitress's last_activity is wall time
        for ch in list(socket_map.values()):
            if not isinstance(ch, Channel) or ch.will_close:
                continue
            if ch.lingering:
                if now >= ch.lingering:
                    HTTPChannel.handle_close(ch)  # waitress's own close: lingering is over
                continue
            if ch.total_outbufs_len:  # sending: has the client read anything lately?
                late = wall - ch.last_activity >= self.send_timeout
            elif ch.requests or ch.close_when_flushed:
                continue  # the app has it, or it closes once flushed
            elif ch.request is None:  # waiting for a request: just accepted, or keep-alive
                late = wall - ch.last_activity >= self.header_timeout
            elif not ch.request.headers_finished:
                late = now - ch.request.started >= self.header_timeout
            else:  # receiving the body
                late = wall - ch.last_activity >= self.body_timeout
            if late:
                # Closed now, not flagged (will_close): waitress acts on that flag
                # only once the socket is writable, which a non-reader's never is.
                HTTPChannel.handle_close(ch)
                self.closed += 1
