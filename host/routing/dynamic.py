"""Apps made on demand by a factory claim, one per key, kept in a bounded LRU.

    apps = DynamicApps(make_tenant_app, "tenants", maxsize=256, wrap=wrap)
    app = apps.get("acme")     # made once, even by concurrent first requests

The factory runs outside any shared lock, so a slow factory for one key
delays only the requests for that key. ``None`` from the factory means
"no such key" (404) and is not kept; an exception propagates to the caller of
``get`` (and to every request waiting on the same key) and is not kept.
``on_evict(app)`` hears of each app the LRU drops (and of all of them on
``clear``), so an app holding resources, such as an ASGI app's event loop,
can be shut down.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from .refusals import FACTORY_FAILED, NO_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("apphost")


class DynamicApps:
    __slots__ = (
        "_apps",
        "_factory",
        "_lock",
        "_on_evict",
        "_on_size",
        "_pending",
        "_wrap",
        "label",
        "maxsize",
    )

    def __init__(
        self,
        factory: Callable[[str], WSGIApplication | None],
        label: str,
        maxsize: int,
        wrap: Callable[[str, WSGIApplication], WSGIApplication],
        on_size: Callable[[int], object] | None = None,
        on_evict: Callable[[WSGIApplication], object] | None = None,
    ) -> None:
        self._factory = factory
        self.label = label  # the plugin that made the claim, for names and logs
        self.maxsize = maxsize
        self._wrap = wrap  # (key, app) -> the app to serve
        self._on_size = on_size or _ignore  # told how many apps are kept after each change
        self._on_evict = on_evict  # told of each app dropped
        self._apps: OrderedDict[str, WSGIApplication] = OrderedDict()
        self._pending: dict[str, Future[WSGIApplication | None]] = {}
        self._lock = threading.Lock()  # guards the two dicts; never held while making an app

    def __len__(self) -> int:
        return len(self._apps)

    def serve(
        self, key: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer with the app made for ``key``: 500 if the factory raises, 404 if it makes none."""
        try:
            app = self.get(key)
        except Exception:
            log.exception("%s: the app factory raised for key %r", self.label, key)
            return FACTORY_FAILED(environ, start_response)
        if app is None:
            return NO_KEY(environ, start_response)
        return app(environ, start_response)

    def get(self, key: str) -> WSGIApplication | None:
        with self._lock:
            app = self._apps.get(key)
            if app is not None:
                self._apps.move_to_end(key)
                return app
            future = self._pending.get(key)
            owner = future is None
            if future is None:
                future = self._pending[key] = Future()
        if not owner:
            return future.result()
        try:
            made = self._factory(key)
            if made is not None:
                if not callable(made):
                    raise TypeError(f"factory returned {made!r} for key {key!r}, not a WSGI app")
                made = self._wrap(key, made)
        except BaseException as exc:
            with self._lock:
                del self._pending[key]
            future.set_exception(exc)
            raise
        evicted = []
        with self._lock:
            del self._pending[key]
            if made is not None:
                self._apps[key] = made
                while len(self._apps) > self.maxsize:
                    evicted.append(self._apps.popitem(last=False)[1])
            size = len(self._apps)
        future.set_result(made)
        if made is not None:
            self._on_size(size)
        if self._on_evict is not None:
            for app in evicted:
                self._on_evict(app)
        return made

    def clear(self) -> None:
        with self._lock:
            evicted = list(self._apps.values())
            self._apps.clear()
        self._on_size(0)
        if self._on_evict is not None:
            for app in evicted:
                self._on_evict(app)


def _ignore(size: int) -> None:
    """The default ``on_size``: nobody counts."""
