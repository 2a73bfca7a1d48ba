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
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..routing.dispatcher import APP_KEY  # set by the dispatcher: the app's name

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

access_log = logging.getLogger("apphost.access")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess mode; see Metrics

ACCESS_FORMAT = '%s - %s [%s] "%s %s %s" %s %s "%s" "%s" %s %.3f'


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
        self.begin: Callable[[], object]  # called as each request begins, and ends
        self.end: Callable[[], object]
        if self.multiprocess:
            self.begin, self.end = self.in_flight.inc, self.in_flight.dec
        else:
            # ``next()`` on an itertools.count is atomic under the GIL, so the hot
            # path takes no lock; the gauge is read at scrape.
            self._started, self._finished = itertools.count(), itertools.count()
            self.begin, self.end = self._started.__next__, self._finished.__next__
            self.in_flight.set_function(self._in_flight)
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

    def exposition(self) -> bytes:
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
    """Wraps the dispatcher: counts, times and logs every request."""

    def __init__(self, app: WSGIApplication, *, access_log: bool, metrics: Metrics | None) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics = metrics
        # app name -> (its request counters by the status's first digit, its latency histogram)
        self._children: dict[str, tuple[dict[str, Counter], Histogram]] = {}
        self._stamp = (0, "")  # (second, its combined-log-format timestamp), replaced whole

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _Request(self, environ, start_response)
        if self.metrics is not None:
            self.metrics.begin()
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
        metrics = self.metrics
        if metrics is not None:
            metrics.end()
            try:
                codes, latency = self._children[app]
            except KeyError:
                codes, latency = self._children.setdefault(app, ({}, metrics.latency.labels(app)))
            counter = codes.get(status[0])
            if counter is None:
                counter = codes.setdefault(
                    status[0], metrics.requests.labels(app, status[0] + "xx")
                )
            counter.inc()
            latency.observe(elapsed)
        if self.access_log and access_log.isEnabledFor(logging.INFO):
            # makeRecord + handle: what ``info()`` does, less the walk of the stack.
            access_log.handle(
                access_log.makeRecord(
                    access_log.name,
                    logging.INFO,
                    __file__,
                    0,
                    ACCESS_FORMAT,
                    (
                        environ.get("REMOTE_ADDR", "-"),
                        environ.get("REMOTE_USER") or "-",
                        self._timestamp(),
                        environ.get("REQUEST_METHOD", "-"),
                        environ.get("REQUEST_URI")
                        or environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                        environ.get("SERVER_PROTOCOL", "-"),
                        status.split(" ", 1)[0],
                        request.length or "-",
                        environ.get("HTTP_REFERER", "-"),
                        environ.get("HTTP_USER_AGENT", "-"),
                        app,
                        elapsed * 1000,
                    ),
                    None,
                    "Observer.done",
                )
            )

    def _timestamp(self) -> str:
        """Now as ``24/Nov/2026:21:00:00 +0000``, formatted once a second."""
        now = int(time.time())
        stamp = self._stamp
        if stamp[0] != now:
            stamp = self._stamp = (now, time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(now)))
        return stamp[1]


class _Request:
    """One request: its ``start_response``, and its body with ``close`` reporting it done."""

    __slots__ = ("_start_response", "began", "body", "environ", "length", "observer", "status")

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

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        self.status = status
        for name, value in headers:
            if name.lower() == "content-length":
                self.length = value
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
                observer.done(self)
