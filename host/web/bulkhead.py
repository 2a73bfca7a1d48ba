"""Run-time isolation inside a worker: one bulkhead per app, and the watch over all of them.

    bulkheads = Bulkheads(config, metrics=None, board=None)
    app = bulkheads.wrap(app, name="blog", group="blog", dist="blog==1.0")
    bulkheads.quarantine("blog", "in flight in 3 worker deaths within 60s")
    bulkheads.start()            # the watch thread: stuck requests, recycling, metrics

A ``Bulkhead`` lets at most ``max_in_flight`` of its app's requests run in this
worker at once; one more answers 503 with ``Retry-After`` at once, before the
app is called, so an app that hangs holds a bounded number of threads and the
others, and ``/_apphost/health``, keep theirs. A request counts from the call
of the app until its body is closed, or until the app returns it if it is a
list (made whole: the app's work is done, only sending is left). A quarantined app answers 503 the same
way, for every request, until the next reload.

The watch thread wakes once a second (never per request): a request running
past its app's ``request_timeout`` is logged once as stuck, with the stack of
the thread serving it; when stuck requests leave the worker fewer than
``reserve`` threads, or past ``max_requests`` or ``max_worker_memory``, it asks
for the worker to be replaced (``on_recycle(reason)``: the supervisor starts a
new worker first, then drains this one).
"""

from __future__ import annotations

import logging
import os
import random
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..routing.refusals import Refusal

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from ..config import Config

log = logging.getLogger("apphost")
WATCH_INTERVAL = 1.0  # seconds between two looks at the requests in flight
SATURATED_FOR = 10.0  # an app that rejected a request within this many seconds is saturated
BODY_FAILED = "apphost.body_failed"  # environ: the app raised while its body was iterated


class Board(Protocol):
    """Where the supervisor can read what each thread serves (``serving.scoreboard``)."""

    def enter(self, app: str, method: str, path: str, ident: int | None = None) -> None: ...
    def leave(self, ident: int | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class Stuck:
    """A request running past its app's ``request_timeout``."""

    app: str
    method: str
    path: str
    started: float  # time.monotonic()

    def age(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started


class Bulkhead:
    """WSGI middleware: at most ``limit`` requests of one app in flight in this worker."""

    __slots__ = (
        "__weakref__",
        "_full",
        "_gone",
        "active",
        "app",
        "board",
        "dist",
        "group",
        "last_rejected",
        "limit",
        "name",
        "quarantined",
        "rejected",
        "reported",
        "saturated_since",
        "served",
        "timeout",
    )

    def __init__(
        self,
        app: WSGIApplication,
        name: str,
        group: str,
        dist: str,
        limit: int,
        timeout: float,
        board: Board | None,
    ) -> None:
        self.app = app
        self.name = name  # as logs and metrics name it: "blog", "tenants[acme]"
        self.group = group  # whose [hosting.NAME] applies: "blog", "tenants"
        self.dist = dist
        self.limit = limit
        self.timeout = timeout
        self.board = board
        self.active: dict[int, tuple[float, WSGIEnvironment]] = {}  # thread -> (start, environ)
        self.served = 0  # requests admitted (approximate under contention: never locked)
        self.rejected = 0
        self.reported = 0  # of ``rejected``, how many the metrics have counted
        self.last_rejected = 0.0
        self.saturated_since = 0.0  # the first rejection after SATURATED_FOR without one
        self.quarantined: str | None = None  # why, while quarantined
        self._full = Refusal(
            "503 Service Unavailable",
            f"app {name!r} has {limit} requests in flight, its limit (max_in_flight)",
            retry_after=1,
        )
        self._gone: Refusal | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.quarantined is not None:
            return self._gone(environ, start_response)  # type: ignore[misc]
        active = self.active
        ident = threading.get_ident()
        active[ident] = (time.monotonic(), environ)  # added first, then counted: never over
        if len(active) > self.limit:
            del active[ident]
            self.rejected += 1
            now = time.monotonic()
            if now - self.last_rejected >= SATURATED_FOR:
                self.saturated_since = now
            self.last_rejected = now
            return self._full(environ, start_response)
        self.served += 1
        board = self.board
        if board is not None:
            board.enter(
                self.name, environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), ident
            )
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._leave(ident)
            raise
        if body.__class__ is list:  # made whole: the app is done, only sending is left
            self._leave(ident)
            return body
        return _Body(body, self, ident, environ)

    def _leave(self, ident: int) -> None:
        self.active.pop(ident, None)
        if self.board is not None:
            self.board.leave(ident)

    def quarantine(self, reason: str) -> None:
        self._gone = Refusal(
            "503 Service Unavailable",
            f"app {self.name!r} is quarantined until the next reload: {reason}",
            retry_after=60,
        )
        self.quarantined = reason

    @property
    def saturated(self) -> bool:
        return self.rejected > 0 and time.monotonic() - self.last_rejected < SATURATED_FOR


class _Body:
    """The app's body; closing it ends the request's turn in the bulkhead.

    An exception while the body is iterated is the app's failure, not the
    server's: one ERROR line names the app, its distribution and the request,
    and ``environ[BODY_FAILED]`` tells the access log and metrics to count a
    500. The exception goes on to the server, which cuts the connection (the
    client must not take a truncated body for a whole one); ``logged_here``
    keeps waitress from logging it a second time.
    """

    __slots__ = ("_body", "_bulkhead", "_environ", "_ident")

    def __init__(
        self, body: Iterable[bytes], bulkhead: Bulkhead, ident: int, environ: WSGIEnvironment
    ) -> None:
        self._body = body
        self._bulkhead = bulkhead
        self._ident = ident
        self._environ = environ

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except Exception as exc:
            environ, bulkhead = self._environ, self._bulkhead
            environ[BODY_FAILED] = True
            log.error(
                "app %r (%s) raised in its response body while serving %s %s",
                bulkhead.name,
                bulkhead.dist,
                environ.get("REQUEST_METHOD", ""),
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                exc_info=True,
            )
            exc.apphost_logged = True  # type: ignore[attr-defined]
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._bulkhead._leave(self._ident)


def logged_here(record: logging.LogRecord) -> bool:
    """A filter for waitress's logger: False for an exception ``_Body`` has logged already."""
    exc = record.exc_info[1] if record.exc_info else None
    return not getattr(exc, "apphost_logged", False)


class Bulkheads:
    """Every bulkhead of this worker, what is quarantined, and the watch thread over them."""

    def __init__(
        self,
        config: Config,
        board: Board | None = None,
        on_recycle: Callable[[str], object] | None = None,
    ) -> None:
        self.config = config
        self.board = board
        self.on_recycle = on_recycle
        # Weak: a made app's bulkhead goes when its LRU forgets the app.
        self.all: weakref.WeakSet[Bulkhead] = weakref.WeakSet()
        self.quarantined: dict[str, str] = {}  # app name -> why
        self.quarantined_at: dict[str, float] = {}  # app name -> time.time() it was
        self.stuck: dict[tuple[int, float], Stuck] = {}  # (thread, start) -> the request
        self.stuck_total: dict[str, int] = {}  # app -> requests found stuck so far
        self.recycling: str | None = None  # why this worker asked to be replaced
        self.metrics: Any = None  # a web.observe.Metrics, once serving counts
        threads = config.threads
        self.reserve = max(2, threads // 4)  # threads stuck requests must leave free
        # Jittered, so workers started together do not recycle together.
        self.max_requests = (
            config.max_requests + random.randint(0, max(1, config.max_requests // 10))
            if config.max_requests
            else 0
        )
        self._lock = threading.Lock()  # guards ``all``: a WeakSet may not change while iterated
        self._thread: threading.Thread | None = None
        self.watchers: list[Callable[[], object]] = []  # called after each pass of the watch
        self._stop = threading.Event()

    def wrap(self, app: WSGIApplication, name: str, group: str, dist: str) -> Bulkhead:
        limits = self.config.limits(group)
        if limits.max_body_size < self.config.largest_body():
            app = _body_limit(app, name, limits.max_body_size)
        bulkhead = Bulkhead(
            app, name, group, dist, limits.max_in_flight, limits.request_timeout, self.board
        )
        why = self.quarantined.get(name)
        if why is not None:
            bulkhead.quarantine(why)
        with self._lock:
            self.all.add(bulkhead)
        return bulkhead

    def each(self) -> list[Bulkhead]:
        with self._lock:
            return list(self.all)

    def quarantine(self, name: str, reason: str) -> None:
        """Answer 503 for app ``name`` (and, for a plugin's made apps, ``name[key]``)."""
        log.error("app %r is quarantined until the next reload: %s", name, reason)
        self.quarantined[name] = reason
        self.quarantined_at.setdefault(name, time.time())
        for bulkhead in self.each():
            if bulkhead.name == name:
                bulkhead.quarantine(reason)

    def served(self) -> int:
        return sum(b.served for b in self.each())

    # -- the watch ------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="apphost-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the watch; count what is left to count (the worker is about to exit)."""
        self._stop.set()
        if self.metrics is not None:
            self.metrics.fold()

    def _run(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL):
            try:
                self.look()
            except Exception:  # the watch must outlive any surprise
                log.exception("the watch over requests in flight failed")

    def look(self, now: float | None = None) -> None:
        """One pass: find stuck requests, update gauges, decide whether to recycle."""
        now = time.monotonic() if now is None else now
        live: set[tuple[int, float]] = set()
        frames: dict[int, Any] | None = None
        metrics = self.metrics
        for bulkhead in self.each():
            if metrics is not None:
                self._count(metrics, bulkhead)
            for ident, (start, environ) in list(bulkhead.active.items()):
                if now - start <= bulkhead.timeout:
                    continue
                key = (ident, start)
                live.add(key)
                if key in self.stuck:
                    continue
                if frames is None:
                    frames = sys._current_frames()
                self._report_stuck(bulkhead, key, environ, now - start, frames.get(ident))
        for key in self.stuck.keys() - live:
            del self.stuck[key]
        if metrics is not None:
            metrics.fold()  # the requests counted per thread since the last pass
        self._maybe_recycle()
        for watcher in self.watchers:
            watcher()

    @staticmethod
    def _count(metrics: Any, bulkhead: Bulkhead) -> None:
        """Bring the metrics up to date: once a second, so a request pays nothing for them."""
        name = bulkhead.name
        metrics.app_in_flight.labels(name).set(len(bulkhead.active))
        rejected = bulkhead.rejected
        if rejected != bulkhead.reported:
            metrics.rejected.labels(name).inc(rejected - bulkhead.reported)
            bulkhead.reported = rejected
        metrics.quarantined.labels(name).set(1 if bulkhead.quarantined else 0)

    def _report_stuck(
        self,
        bulkhead: Bulkhead,
        key: tuple[int, float],
        environ: WSGIEnvironment,
        age: float,
        frame: Any,
    ) -> None:
        method, path = environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "")
        self.stuck[key] = Stuck(bulkhead.name, method, path, key[1])
        self.stuck_total[bulkhead.name] = self.stuck_total.get(bulkhead.name, 0) + 1
        if self.metrics is not None:
            self.metrics.stuck.labels(bulkhead.name).inc()
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no stack)\n"
        log.warning(
            "stuck request: app %r (%s) %s %s running for %.1fs (request_timeout %gs);"
            " its thread's stack:\n%s",
            bulkhead.name,
            bulkhead.dist,
            method,
            path,
            age,
            bulkhead.timeout,
            stack.rstrip(),
        )

    def _maybe_recycle(self) -> None:
        if self.recycling is not None or self.on_recycle is None:
            return
        config = self.config
        reason = None
        if len(self.stuck) >= config.threads - self.reserve:
            reason = f"stuck: {len(self.stuck)} of {config.threads} threads hold stuck requests"
        elif self.max_requests and self.served() >= self.max_requests:
            reason = f"max_requests: served {self.served()} requests"
        elif config.max_worker_memory:
            rss = rss_mib()
            if rss > config.max_worker_memory:
                reason = f"max_worker_memory: RSS {rss:.0f} MiB > {config.max_worker_memory} MiB"
        if reason is not None:
            self.recycling = reason
            log.warning("pid %d asks to be replaced: %s", os.getpid(), reason)
            self.on_recycle(reason)


def _body_limit(app: WSGIApplication, name: str, limit: int) -> WSGIApplication:
    """``app`` answering 413 to a body over its own ``[hosting.NAME] max_body_size``.

    The server reads a body up to the largest limit of any app before the
    request is routed (waitress reads it whole first; a chunked body's
    Content-Length is set once it is read), so an app with a lower limit
    checks here: the body was read, but never reaches the app.
    """
    too_large = Refusal(
        "413 Content Too Large", f"the body is over {name}'s max_body_size ({limit} bytes)"
    )

    def limited(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > limit:
            return too_large(environ, start_response)
        return app(environ, start_response)

    return limited


def rss_mib(pid: int | None = None) -> float:
    """The resident set size of this process (or ``pid``), in MiB (Linux ``/proc``; 0 where unknown)."""
    try:
        with open(f"/proc/{pid or 'self'}/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
