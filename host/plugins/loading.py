"""Apps advertised in ``apphost.apps``: the factory marker, loading, wrapping, lazy apps.

    @apphost.app_factory
    def make_app(config):          # config: the [apps.NAME] table, {} if none
        return MyApp(title=config.get("title", "Blog"))

An entry point's object is used as a WSGI app unless it is marked with
``@app_factory``; apphost never guesses from a signature. ``load_app`` turns an
entry point into the app to serve (made, then wrapped by every
``apphost_wrap_app``); ``LazyApp`` does that on the first request and fails
closed: an app that cannot be loaded answers 503.
"""

from __future__ import annotations

import logging
import sys
import threading
import types
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..api import AppInfo, HostView, Status, is_app_factory
from ..errors import PluginError, describe
from ..routing.refusals import UNAVAILABLE
from .manager import call_each

if TYPE_CHECKING:
    import importlib_metadata
    import pluggy
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("apphost")

INTERNAL_ERROR = "500 Internal Server Error"
DEBUG_KEY = "apphost.debug"  # set by ``serve --debug``: let app errors reach the debugger


def load_app(
    ep: importlib_metadata.EntryPoint,
    info: AppInfo,
    config: Mapping[str, Any],
    wrap: Callable[[str, WSGIApplication], WSGIApplication],
) -> WSGIApplication:
    """Import ``ep``, make the app if it is a factory (``factory(config)``), and wrap it.

    Raises ``PluginError`` naming the app, its distribution and entry point.
    """
    where = f"{info.label}, entry point '{ep.name} = {ep.value}'"
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginError(where, f"import failed: {describe(exc)}") from exc
    if is_app_factory(obj):
        app = obj(dict(config))
        if not callable(app):
            raise PluginError(where, f"the factory returned {app!r}, not a WSGI app")
    elif isinstance(obj, types.ModuleType):
        raise PluginError(where, "names a module, not a WSGI app: use 'module:attribute'")
    elif not callable(obj):
        raise PluginError(where, f"{obj!r} is not callable, so not a WSGI app")
    else:
        app = obj
    return wrap(info.name, app)


def wrap_app(
    pm: pluggy.PluginManager, view: HostView, name: str, app: WSGIApplication
) -> WSGIApplication:
    """Apply every ``apphost_wrap_app`` impl in call order; ``PluginError`` if one fails."""
    for plugin, call in call_each(pm, "apphost_wrap_app"):
        where = f"plugin {plugin!r} apphost_wrap_app({name!r})"
        try:
            wrapped = call(apphost=view, name=name, app=app)
        except Exception as exc:
            raise PluginError(where, describe(exc), plugin) from exc
        if wrapped is not None:
            if not callable(wrapped):
                raise PluginError(where, f"returned {wrapped!r}, not a WSGI app", plugin)
            app = wrapped
    return app


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
    ``info`` to FAILED and makes the app answer 503 from then on (fail closed).
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
                    self.info = self.info.with_status(Status.OK)
                except Exception as exc:
                    self.fail(describe(exc))
                    log.warning("%s failed to load: %s", self.info.label, describe(exc))
                    log.debug("traceback", exc_info=True)
            return self._app or UNAVAILABLE

    def fail(self, why: str) -> None:
        """Make this app answer 503 from now on, with ``why`` as its status."""
        self.info = self.info.with_status(Status.FAILED, why)
        self._app = UNAVAILABLE
