"""Queue pressure: waitress's task dispatcher, with one summary instead of a warning per request.

    quiet_waitress_queue()                  # waitress.queue to ERROR, unless configured
    dispatcher = QueueWatch(threads=16)     # starts the worker threads
    waitress.create_server(app, _dispatcher=dispatcher, threads=16, ...)
    dispatcher.waited                       # requests that waited for a thread, so far

Waitress logs "Task queue depth is N" (logger ``waitress.queue``) for every
request that finds no idle worker thread: under load thousands of lines a
second, each written while it holds its task lock. An operator can do nothing
with one of them. This dispatcher counts those requests instead (a plain int,
under the lock waitress takes anyway) and, at most once per ``period`` while
requests keep waiting, logs one WARNING on the ``apphost`` logger::

    requests waited for a worker thread: 1,234 in the last 10 s, up to 37 at once
    (threads=16); if apps wait on I/O raise threads, if the CPU is busy add --workers

The count of a window is logged when it ends (a timer started by the first
request that waits), so the last burst is reported too, and the rest of a
window is logged at shutdown. ``waited`` is ``apphost_requests_queued_total``.
If the operator configured ``waitress.queue`` to show warnings, its lines are
still written (outside the lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ._waitress import ThreadedTaskDispatcher

log = logging.getLogger("apphost")

PERIOD = 10.0  # seconds: at most one summary per period


def quiet_waitress_queue() -> None:
    """Set ``waitress.queue`` to ERROR unless the operator gave it a level."""
    queue_logger = logging.getLogger("waitress.queue")
    if queue_logger.level == logging.NOTSET:
        queue_logger.setLevel(logging.ERROR)


def _timer(delay: float, function: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(delay, function)
    timer.daemon = True
    timer.start()
    return timer


class QueueWatch(ThreadedTaskDispatcher):  # type: ignore[misc]
    """A ``ThreadedTaskDispatcher`` that counts requests waiting for a thread.

    ``clock`` (seconds, monotonic) and ``schedule(delay, function)`` (returns
    something with ``cancel()``) are there for tests to replace.
    """

    def __init__(
        self,
        threads: int,
        *,
        period: float = PERIOD,
        clock: Callable[[], float] = time.monotonic,
        schedule: Callable[[float, Callable[[], None]], Any] = _timer,
    ) -> None:
        super().__init__()
        self.thread_count = threads
        self.period = period
        self.clock = clock
        self.schedule = schedule
        self.waited = 0  # every request that waited for a thread, since start
        self._count = 0  # ... in the current window
        self._peak = 0  # the most waiting at once in the current window
        self._since = 0.0  # when the current window began (clock)
        self._timer: Any = None
        self.set_thread_count(threads)

    def add_task(self, task: Any) -> None:
        """Queue ``task`` for a thread, as waitress does; count it if no thread was idle."""
        with self.lock:
            self.queue.append(task)
            self.queue_cv.notify()
            depth = len(self.queue) - (len(self.threads) - self.stop_count - self.active_count)
            if depth <= 0:
                return
            self.waited += 1
            self._count += 1
            if depth > self._peak:
                self._peak = depth
            opened = self._count == 1
            if opened:
                self._since = self.clock()
        if opened:
            self._timer = self.schedule(self.period, self.report)
        if self.queue_logger.isEnabledFor(logging.WARNING):
            self.queue_logger.warning("Task queue depth is %d", depth)

    def report(self) -> None:
        """Log the current window's summary, if any request waited in it, and start anew."""
        with self.lock:
            count, peak, since = self._count, self._peak, self._since
            self._count = self._peak = 0
            self._timer = None
        if count:
            log.warning(
                "requests waited for a worker thread: %s in the last %.0f s, up to %d at once"
                " (threads=%d); if apps wait on I/O raise threads, if the CPU is busy add"
                " --workers",
                f"{count:,}",
                self.clock() - since,
                peak,
                self.thread_count,
            )

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        timer = self._timer
        if timer is not None:
            timer.cancel()
        self.report()
        return bool(super().shutdown(cancel_pending=cancel_pending, timeout=timeout))
