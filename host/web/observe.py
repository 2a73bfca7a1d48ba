"""Per-request observation: the access log and Prometheus metrics, in one middleware.

    observed = Observer(dispatcher, access_log=True, metrics=Metrics())
    # serve ``observed``; ``metrics.exposition()`` is the /_apphost/metrics body

One line per request goes to the ``apphost.access`` logger in the combined log
format, followed by the app's name and the time taken in milliseconds::

    127.0.0.1 - - [24/Nov/2026:21:00:00 +0000] "GET /hello/x HTTP/1.1" 200 52 "-" "curl/8.5" hello 0.412

The line is written when the response is finished (when the server closes
the body), so the time includes streaming the body.

This runs on every request, so it is kept cheap (``bench/observe.py`` measures
it): one slotted object per request, the metric children of each app looked up
once, the timestamp formatted once a second, and the log record made without a
walk of the stack. Under ``apphost serve`` each metric update is a write to a
memory-mapped file shared by the workers (see ``Metrics``), about 1 µs each.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..routing.dispatcher import APP_KEY  # set by the dispatcher: the app's name
from .access import access_line
from .bulkhead import BODY_FAILED
from .cookies import SCOPER, rescope

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

access_log = logging.getLogger("apphost.access")
_ROOT = logging.getLogger()
get_ident = threading.get_ident
BOUNDS = Histogram.DEFAULT_BUCKETS

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess mode; see Metrics


class Metrics:
    """The host's own registry (not the global one, so several hosts never collide).

    Under ``apphost serve`` the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` for
    its workers (operators may set it for gunicorn or uWSGI too): every worker
    then writes its values to files there, and a scrape, whichever worker
    answers it, sums them all. Counters keep what exited workers counted, so
    they never go back across a reload.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = MULTIPROC_ENV in os.environ
        self.requests = Counter(
            "apphost_requests",
            "Requests answered, by app and status class",
            ["app", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "apphost_request_duration_seconds",
            "Time to answer, body included, by app",
            ["app"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "apphost_requests_in_flight",
            "Requests being answered",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        # ``next()`` on an itertools.count is atomic under the GIL, so the hot path takes
        # no lock; the gauge is read at scrape, or set by fold() in multiprocess mode.
        self._started, self._finished = itertools.count(), itertools.count()
        self.begin: Callable[[], object] = self._started.__next__  # as each request begins
        self.end: Callable[[], object] = self._finished.__next__  # ... and ends
        if not self.multiprocess:
            self.in_flight.set_function(self._in_flight)
        self.folders: list[Callable[[], object]] = []  # Observer.fold of each observer
        self.waited: Callable[[], int] | None = None  # requests that waited for a thread so far
        self._waited = 0  # ... of which the counter has been told
        self.queued = Counter(
            "apphost_requests_queued",
            "Requests that waited for a free worker thread",
            registry=self.registry,
        )
        self.app_in_flight = Gauge(
            "apphost_app_requests_in_flight",
            "Requests in flight, by app (updated once a second)",
            ["app"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.rejected = Counter(
            "apphost_requests_rejected",
            "Requests an app's bulkhead answered 503 (max_in_flight reached)",
            ["app"],
            registry=self.registry,
        )
        self.stuck = Counter(
            "apphost_requests_stuck",
            "Requests that ran past their app's request_timeout",
            ["app"],
            registry=self.registry,
        )
        self.quarantined = Gauge(
            "apphost_app_quarantined",
            "1 while an app is quarantined (crash_limit worker deaths within crash_window)",
            ["app"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.dynamic_apps = Gauge(
            "apphost_dynamic_apps",
            "Apps kept by each factory claim",
            ["claim"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def _in_flight(self) -> float:
        # Each read advances both counts by one, which cancels out. Finished is
        # read first, so a request ending in between is still counted, never
        # one too few.
        finished = next(self._finished)
        return float(next(self._started) - finished)

    def fold(self) -> None:
        """Bring the shared values up to date: once a second, before a scrape, at exit."""
        for fold in self.folders:
            fold()
        if self.multiprocess:
            self.in_flight.set(self._in_flight())
        if self.waited is not None:
            waited = self.waited()
            if waited != self._waited:
                self.queued.inc(waited - self._waited)
                self._waited = waited

    def exposition(self) -> bytes:
        """The metrics page: this process's counts up to now, other workers' at most 1 s old."""
        self.fold()
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        try:
            return generate_latest(registry)
        except FileNotFoundError:  # a dead worker's file was folded away meanwhile: look again
            return generate_latest(registry)


class Observer:
    """Wraps the dispatcher: counts, times and logs every request.

    Counting is per thread, in plain lists no other thread writes (``_Row``);
    ``fold()``, called once a second by the worker's watch thread and before a
    scrape, adds what was counted since into the Prometheus metrics. The
    access line is made here in one string operation and, when apphost's
    handler is the only one it would reach (``takes_access``), handed to its
    writer thread whole, as the handler would have written the record;
    otherwise it is logged to ``apphost.access`` like any record. Its
    ``start_response`` also scopes cookies for ``scope_cookies`` (``SCOPER``).
    """

    def __init__(self, app: WSGIApplication, *, access_log: bool, metrics: Metrics | None) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics = metrics
        self._tallies: dict[int, dict[str, _Row]] = {}  # thread -> app -> what it counted
        self._folded: dict[tuple[int, str], _Row] = {}  # what fold() has added, per thread and app
        self._fold_lock = threading.Lock()
        if metrics is not None:
            metrics.folders.append(self.fold)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = environ[SCOPER] = _Request(self, environ, start_response)
        metrics = self.metrics
        if metrics is not None:
            metrics.begin()
        try:
            request.body = self.app(environ, request.start_response)
        except BaseException:
            request.close()
            raise
        return request

    def done(self, request: _Request) -> None:
        """Count and log ``request``; called once, when its body is closed."""
        elapsed = time.perf_counter() - request.began
        environ = request.environ
        app = environ.get(APP_KEY, "-")
        status = request.status
        if BODY_FAILED in environ:  # the body raised: the app failed, whatever it had said
            status = "500 Internal Server Error"
        metrics = self.metrics
        if metrics is not None:
            metrics.end()
            rows = self._tallies.get(get_ident())
            if rows is None:
                rows = self._tallies[get_ident()] = {}
            row = rows.get(app)
            if row is None:
                row = rows[app] = _Row()
            digit = ord(status[0]) - 48
            row.codes[digit if 0 < digit < 6 else 0] += 1
            row.buckets[bisect_left(BOUNDS, elapsed)] += 1
            row.total += elapsed
        if self.access_log and access_log.isEnabledFor(logging.INFO):
            now, ms, length = time.time(), elapsed * 1000, request.length
            writer = _writer()
            if writer is not None:
                writer.put_access(access_line(now, environ, status[:3], length, app, ms, True))
                return
            line = access_line(now, environ, status[:3], length, app, ms)
            # makeRecord + handle: what ``info()`` does, less the walk of the stack.
            access_log.handle(
                access_log.makeRecord(
                    access_log.name, logging.INFO, __file__, 0, line, (), None, "Observer.done"
                )
            )

    def fold(self) -> None:
        """Add what every thread counted since the last fold into the Prometheus metrics.

        ``Metrics.fold`` calls it: once a second, before a scrape, and at exit.
        """
        metrics = self.metrics
        if metrics is None:
            return
        with self._fold_lock:
            for ident, rows in list(self._tallies.items()):
                for app, row in list(rows.items()):
                    now = row.copy()
                    last = self._folded.get((ident, app)) or _Row()
                    for digit, (n, was) in enumerate(zip(now.codes, last.codes, strict=True)):
                        if n != was:
                            metrics.requests.labels(app, f"{digit}xx").inc(n - was)
                    if now.total != last.total:
                        # prometheus-client has no call to add counted observations, so this
                        # adds to a child's values as Histogram.observe does: _buckets
                        # (one per bound, not cumulative) and _sum.
                        child = metrics.latency.labels(app)
                        for i, (n, was) in enumerate(zip(now.buckets, last.buckets, strict=True)):
                            if n != was:
                                child._buckets[i].inc(n - was)
                        child._sum.inc(now.total - last.total)
                    self._folded[(ident, app)] = now


def _writer() -> Any:
    """The handler taking whole access lines (``put_access``) if it is the only one a record
    of ``apphost.access`` would reach, else None."""
    logger = access_log
    if logger.filters:
        return None
    while logger is not _ROOT:
        if logger.handlers or not logger.propagate or logger.parent is None:
            return None
        logger = logger.parent
    handlers = _ROOT.handlers
    if len(handlers) == 1 and getattr(handlers[0], "takes_access", False):
        return handlers[0]
    return None


class _Row:
    """What one thread counted for one app: responses by status class, latency buckets."""

    __slots__ = ("buckets", "codes", "total")

    def __init__(self) -> None:
        self.codes = [0] * 6  # index: the status's first digit (0: anything else)
        self.buckets = [0] * len(BOUNDS)  # index: the first bound at or above the latency
        self.total = 0.0  # seconds

    def copy(self) -> _Row:
        row = _Row()
        row.codes, row.buckets, row.total = list(self.codes), list(self.buckets), self.total
        return row


class _Request:
    """One request: its ``start_response``, and its body with ``close`` reporting it done."""

    __slots__ = (
        "_start_response",
        "began",
        "body",
        "environ",
        "length",
        "mount",
        "observer",
        "status",
    )

    def __init__(
        self, observer: Observer, environ: WSGIEnvironment, start_response: StartResponse
    ) -> None:
        self.observer: Observer | None = observer
        self.environ = environ
        self._start_response = start_response
        self.began = time.perf_counter()
        self.status = "500 Internal Server Error"  # if the app raises before start_response
        self.length: str | None = None  # Content-Length, if the app set it
        self.body: Iterable[bytes] = ()
        self.mount = ""  # set by scope_cookies: the mount its Set-Cookie headers are scoped to

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        self.status = status
        mount = self.mount
        for i, (name, value) in enumerate(headers):  # one pass: the length, and cookies
            size = len(name)
            if size == 14 and name.lower() == "content-length":
                self.length = value
            elif size == 10 and mount and name.lower() == "set-cookie":
                headers[i] = (name, rescope(value, mount))
        return self._start_response(status, headers, exc_info)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            observer, self.observer = self.observer, None
            if observer is not None:
                # environ -> this request -> environ: a cycle, left to the GC unless broken.
                self.environ.pop(SCOPER, None)
                observer.done(self)
