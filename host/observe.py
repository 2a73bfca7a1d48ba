"""Per-request observation: the access log and Prometheus metrics, in one middleware.

    observed = Observer(dispatcher, access_log=True, metrics=Metrics())
    # serve ``observed``; ``metrics.exposition()`` is the /_apphost/metrics body

One line per request goes to the ``apphost.access`` logger in the combined log
format, followed by the app's name and the time taken in milliseconds::

    127.0.0.1 - - [24/Nov/2026:21:00:00 +0000] "GET /hello/x HTTP/1.1" 200 52 "-" "curl/8.5" hello 0.412

The line is written when the response is finished (when the server closes
the body), so the time includes streaming the body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

access_log = logging.getLogger("apphost.access")

APP_KEY = "apphost.app"  # set in the environ by the dispatcher: the app's name


class Metrics:
    """The host's own registry (not the global one, so several hosts never collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
            "apphost_requests_in_flight", "Requests being answered", registry=self.registry
        )
        self.reloads = Counter(
            "apphost_reloads", "Route table rebuilds after start-up", registry=self.registry
        )
        self.dynamic_apps = Gauge(
            "apphost_dynamic_apps",
            "Apps kept by each factory claim",
            ["claim"],
            registry=self.registry,
        )
        self.collect_hooks: list[Callable[[Metrics], None]] = []

    def exposition(self) -> bytes:
        for hook in self.collect_hooks:
            hook(self)
        return generate_latest(self.registry)


class Observer:
    """Wraps the dispatcher: counts, times and logs every request."""

    def __init__(self, app: WSGIApplication, *, access_log: bool, metrics: Metrics | None) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics = metrics

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start = time.perf_counter()
        seen: list[Any] = ["500 Internal Server Error", None]  # status, Content-Length

        def observe_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[0] = status
            for name, value in headers:
                if name.lower() == "content-length":
                    seen[1] = value
            return start_response(status, headers, exc_info)

        metrics = self.metrics
        if metrics is not None:
            metrics.in_flight.inc()
        try:
            body = self.app(environ, observe_start)
        except BaseException:
            self._done(environ, seen, start)
            raise
        return _Closing(body, lambda: self._done(environ, seen, start))

    def _done(self, environ: WSGIEnvironment, seen: list[Any], start: float) -> None:
        elapsed = time.perf_counter() - start
        app = environ.get(APP_KEY, "-")
        status = seen[0]
        metrics = self.metrics
        if metrics is not None:
            metrics.in_flight.dec()
            metrics.requests.labels(app, status[0] + "xx").inc()
            metrics.latency.labels(app).observe(elapsed)
        if self.access_log and access_log.isEnabledFor(logging.INFO):
            access_log.info(
                '%s - %s [%s] "%s %s %s" %s %s "%s" "%s" %s %.3f',
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REMOTE_USER") or "-",
                time.strftime("%d/%b/%Y:%H:%M:%S %z"),
                environ.get("REQUEST_METHOD", "-"),
                environ.get("REQUEST_URI")
                or environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                environ.get("SERVER_PROTOCOL", "-"),
                status.split(" ", 1)[0],
                seen[1] or "-",
                environ.get("HTTP_REFERER", "-"),
                environ.get("HTTP_USER_AGENT", "-"),
                app,
                elapsed * 1000,
            )


class _Closing:
    """The app's body, with ``done`` called once when the server closes it."""

    __slots__ = ("_body", "_done")

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()
