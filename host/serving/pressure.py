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
from collections import deque
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
    """waitress's task dispatcher on C locks, counting requests that wait for a thread.

    waitress's own (``ThreadedTaskDispatcher``) hands each task over with a
    pure-Python condition variable: a fifth of its loop thread's time. Here
    an idle thread is parked on a lock of its own, and a task is handed to
    the one parked last (its stack and caches still warm) by setting it and
    releasing that lock: C calls only. A task that finds no thread parked
    waits in a queue, taken by the next thread to finish, and is counted.

    ``clock`` (seconds, monotonic) and ``schedule(delay, function)`` (returns
    something with ``cancel()``) are there for tests to replace.
    """

    logger = logging.getLogger("waitress")
    queue_logger = logging.getLogger("waitress.queue")

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
        self.lock = threading.Lock()  # guards the parked threads, the queue and the counts
        self.waited = 0  # every request that waited for a thread, since start
        self._count = 0  # ... in the current window
        self._peak = 0  # the most waiting at once in the current window
        self._since = 0.0  # when the current window began (clock)
        self._timer: Any = None
        self._tasks: deque[Any] = deque()  # given, for no thread was idle
        self._stopping = False
        self.threads = [_Worker(self, n) for n in range(threads)]
        self._idle = self.threads[::-1]  # threads parked, the last parked first woken
        for thread in self.threads:
            thread.start()

    def add_task(self, task: Any) -> None:
        """Hand ``task`` to an idle thread, else queue it and count it as waiting."""
        with self.lock:
            if self._idle:
                worker = self._idle.pop()
                worker.task = task
                worker.wake.release()
                return
            self._tasks.append(task)
            depth = len(self._tasks)
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

    def _next(self, worker: _Worker) -> Any:
        """The next task for ``worker``, once there is one (None: stop)."""
        with self.lock:
            if self._stopping:
                return None
            if self._tasks:
                return self._tasks.popleft()
            worker.task = None
            self._idle.append(worker)
        worker.wake.acquire()
        return worker.task

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
        with self.lock:
            self._stopping = True
            pending = list(self._tasks) if cancel_pending else []
            if cancel_pending:
                self._tasks.clear()
            for worker in self._idle:
                worker.task = None
                worker.wake.release()
            self._idle.clear()
        if pending:
            self.logger.warning("Canceling %d pending task(s)", len(pending))
        for task in pending:
            task.cancel()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.threads = [t for t in self.threads if t.is_alive()]
        if self.threads:
            self.logger.warning("%d thread(s) still running", len(self.threads))
        return cancel_pending


class _Worker(threading.Thread):
    """One of the dispatcher's threads: serves tasks, parked on its own lock when idle."""

    def __init__(self, dispatcher: QueueWatch, number: int) -> None:
        super().__init__(name=f"waitress-{number}", daemon=True)
        self.dispatcher = dispatcher
        self.task: Any = None
        self.wake = threading.Lock()  # held while parked; released to hand over a task
        self.wake.acquire()

    def run(self) -> None:
        dispatcher = self.dispatcher
        self.wake.acquire()  # parked from the start (the dispatcher counts it idle)
        task = self.task
        while task is not None:
            try:
                task.service()
            except BaseException:
                dispatcher.logger.exception("Exception when servicing %r", task)
            task = dispatcher._next(self)
