"""Signals as bytes on a socket, read by an event loop instead of acted on in a handler.

    with signal_socket([signal.SIGTERM, signal.SIGHUP]) as (reader, writer):
        selector.register(reader, selectors.EVENT_READ)   # or a waitress dispatcher
        reader.recv(64)      # b"\\x0f\\x01": the numbers of the signals received
        writer.send(b"\\0")   # wakes the loop from any thread; 0 is no signal

The Python-level handler does nothing; ``signal.set_wakeup_fd`` has the
interpreter write each signal's number to ``writer`` as it arrives, so a
``select()`` on ``reader`` wakes at once and the loop handles the signal in
its own turn, never in the middle of whatever the main thread was doing.
The previous wakeup fd is restored on exit, and so is each previous handler
unless the block installed another one meanwhile.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterable, Iterator
from types import FrameType


@contextlib.contextmanager
def signal_socket(signals: Iterable[int]) -> Iterator[tuple[socket.socket, socket.socket]]:
    """(reader, writer): ``signals`` arrive on ``reader`` as one byte each (main thread only)."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous = {sig: signal.signal(sig, _noop) for sig in signals}
    old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    try:
        yield reader, writer
    finally:
        signal.set_wakeup_fd(old_fd)
        for sig, handler in previous.items():
            if handler is not None and signal.getsignal(sig) is _noop:  # unless changed since
                signal.signal(sig, handler)
        reader.close()
        writer.close()


def receive(sock: socket.socket) -> bytes | None:
    """What a non-blocking ``sock`` has to read: b"" at EOF (or on error), None if nothing yet."""
    try:
        return sock.recv(4096)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _noop(signum: int, frame: FrameType | None) -> None:
    """The interpreter has written ``signum`` to the wakeup fd; the loop reads it there."""
