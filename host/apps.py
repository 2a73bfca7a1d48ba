"""Apps advertised in ``apphost.apps``: the factory marker, their records, lazy loading.

    @apphost.app_factory
    def make_app(config):          # config: the [apps.NAME] table, {} if none
        return MyApp(title=config.get("title", "Blog"))

An entry point's object is used as a WSGI app unless it is marked with
``@app_factory``; apphost never guesses from a signature.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("apphost")

F = TypeVar("F", bound=Callable[..., Any])

_FACTORY_ATTR = "__apphost_app_factory__"


def app_factory(func: F) -> F:
    """Mark ``func`` as a factory: apphost calls ``func(config)`` once to make the app."""
    setattr(func, _FACTORY_ATTR, True)
    return func


def is_app_factory(obj: object) -> bool:
    return getattr(obj, _FACTORY_ATTR, False) is True


@dataclass(slots=True)
class AppInfo:
    """What the host knows of one app; hooks see it through ``apphost.apps``."""

    name: str
    dist: str
    version: str
    entry_point: str  # "module:attr"
    status: str = "not loaded"  # "ok", or "failed: why"

    @property
    def label(self) -> str:
        """``name (dist==version)``, for messages."""
        return f"app {self.name!r} ({self.dist}=={self.version})"

    @property
    def failed(self) -> bool:
        return self.status.startswith("failed")


def plain_response(status: str, body: str) -> WSGIApplication:
    """A tiny WSGI app answering ``status`` with a text body."""
    data = body.encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]

    def respond(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, headers)
        return [data]

    return respond


UNAVAILABLE = plain_response("503 Service Unavailable", "503 Service Unavailable\n")
INTERNAL_ERROR = "500 Internal Server Error"
DEBUG_KEY = "apphost.debug"  # set by ``serve --debug``: let app errors reach the debugger


def guarded(app: WSGIApplication, label: str) -> WSGIApplication:
    """Run ``app``; an exception before it returns its body becomes a bare 500.

    The client never sees exception text; the log gets one ERROR line naming
    ``label``. (An exception while iterating the body is left to the server,
    which cuts the connection so the client sees truncation.)
    """

    def call(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return app(environ, start_response)
        except Exception:
            log.exception("%s raised while serving %s", label, environ.get("PATH_INFO"))
            if environ.get(DEBUG_KEY):
                raise
            headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "26")]
            try:
                start_response(INTERNAL_ERROR, headers, sys.exc_info())
            except Exception:  # some servers re-raise exc_info even before headers are sent
                start_response(INTERNAL_ERROR, headers)
            return [b"500 Internal Server Error\n"]

    return call


class LazyApp:
    """A WSGI app that imports, makes and wraps the real one on its first request.

    ``loader`` returns the ready app or raises; a failure is logged once, sets
    ``info.status`` and makes the app answer 503 from then on (fail closed).
    """

    __slots__ = ("_app", "_loader", "_lock", "info")

    def __init__(self, info: AppInfo, loader: Callable[[], WSGIApplication]) -> None:
        self.info = info
        self._loader = loader
        self._lock = threading.Lock()
        self._app: WSGIApplication | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app = self._app
        if app is None:
            app = self.load()
        return app(environ, start_response)

    def load(self) -> WSGIApplication:
        """Load the app now if it is not loaded yet; never raises."""
        with self._lock:
            if self._app is None:
                try:
                    self._app = guarded(self._loader(), self.info.label)
                    self.info.status = "ok"
                except Exception as exc:
                    self.info.status = f"failed: {describe(exc)}"
                    log.warning("%s failed to load: %s", self.info.label, describe(exc))
                    log.debug("traceback", exc_info=True)
                    self._app = UNAVAILABLE
            return self._app


def describe(exc: BaseException) -> str:
    """``ExcType: message``, the short form used in reports."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
