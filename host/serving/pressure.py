"""The task queue: waitress's task dispatcher on a C queue, with one summary instead of a warning per request.

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
still written.

waitress's own ``ThreadedTaskDispatcher`` hands each request to a thread
through a ``threading.Condition``, pure Python on the loop thread, which is
what bounds waitress's throughput (its ``notify`` was 23% of the loop
thread's time under wrk). ``QueueWatch`` keeps the same interface
(``set_thread_count``, ``add_task``, ``shutdown``) on a ``queue.SimpleQueue``,
written in C: ``add_task`` is one ``put`` and a look at how many threads are
idle, counted without a lock.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

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


class QueueWatch:
    """waitress's task dispatcher on a ``SimpleQueue``, counting requests that wait for a thread.

    ``clock`` (seconds, monotonic) and ``schedule(delay, function)`` (returns
    something with ``cancel()``) are there for tests to replace.
    """

    queue_logger = logging.getLogger("waitress.queue")
    logger = logging.getLogger("waitress")

    def __init__(
        self,
        threads: int,
        *,
        period: float = PERIOD,
        clock: Callable[[], float] = time.monotonic,
        schedule: Callable[[float, Callable[[], None]], Any] = _timer,
    ) -> None:
        self.thread_count = threads
        self.period = period
        self.clock = clock
        self.schedule = schedule
        self.waited = 0  # every request that waited for a thread, since start
        self.threads: list[threading.Thread] = []
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Threads waiting for a task: went idle minus woke, each an atomic next().
        self._went_idle = itertools.count()
        self._woke = itertools.count()
        self._lock = threading.Lock()  # guards the window below, only when requests wait
        self._count = 0  # requests that waited in the current window
        self._peak = 0  # the most waiting at once in the current window
        self._since = 0.0  # when the current window began (clock)
        self._timer: Any = None
        self.set_thread_count(threads)

    @property
    def idle(self) -> int:
        """Threads waiting for a task now. (Each read advances both counts: they cancel out.)"""
        woke = next(self._woke)
        return next(self._went_idle) - woke

    @property
    def active_count(self) -> int:
        return len(self.threads) - self.idle

    def set_thread_count(self, count: int) -> None:
        """Start threads up to ``count`` (the dispatcher never shrinks while serving)."""
        while len(self.threads) < count:
            thread = threading.Thread(
                target=self._serve, name=f"waitress-{len(self.threads)}", daemon=True
            )
            self.threads.append(thread)
            thread.start()

    def _serve(self) -> None:
        get, went_idle, woke = self._queue.get, self._went_idle.__next__, self._woke.__next__
        while True:
            went_idle()
            task = get()
            woke()
            if task is None:
                return
            try:
                task.service()
            except BaseException:
                self.logger.exception("Exception when servicing %r", task)

    def add_task(self, task: Any) -> None:
        """Queue ``task`` for a thread, as waitress does; count it if no thread was idle."""
        self._queue.put(task)
        depth = self._queue.qsize() - self.idle
        if depth <= 0:
            return
        with self._lock:
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
        with self._lock:
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
        """Stop the threads once they finish their tasks (at most ``timeout`` s); cancel the rest."""
        timer = self._timer
        if timer is not None:
            timer.cancel()
        self.report()
        pending = []
        if cancel_pending:
            while True:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
        for _ in self.threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self.threads if t.is_alive()]
        if alive:
            self.logger.warning("%d thread(s) still running", len(alive))
        tasks = [t for t in pending if t is not None]
        if tasks:
            self.logger.warning("Canceling %d pending task(s)", len(tasks))
            for task in tasks:
                task.cancel()
        self.threads = alive
        return cancel_pending
