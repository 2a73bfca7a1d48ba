"""Apps advertised in ``apphost.apps``: the markers, loading, wrapping, lazy apps.

    @apphost.app_factory
    def make_app(config):          # config: the [apps.NAME] table, {} if none
        return MyApp(title=config.get("title", "Blog"))

An entry point's object is the app unless it is marked with ``@app_factory``
(then what it returns is); apphost never guesses "app or factory" from a
signature. The app is ASGI 3 if it is an ``async def`` function, an object
whose ``__call__`` is one (FastAPI, Starlette), or marked ``@asgi_app``; it is
then served through ``AsgiAdapter`` (a2wsgi, plus its lifespan). Any other
callable that takes ``(environ, start_response)`` is WSGI. Anything else is a
load error naming the entry point. ``load_app`` turns an entry point into the
app to serve (made, adapted, then wrapped by every ``apphost_wrap_app``);
``LazyApp`` does that on the first request, starts an ASGI app's lifespan,
and fails closed: an app that cannot be loaded or started answers 503.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ..api import AppInfo, HostView, Status, is_app_factory, is_asgi_marked
from ..errors import PluginError, describe, traceback_of
from ..routing.refusals import UNAVAILABLE
from .manager import call_each

if TYPE_CHECKING:
    import importlib_metadata
    import pluggy
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .asgi import AsgiAdapter

log = logging.getLogger("apphost")

INTERNAL_ERROR = "500 Internal Server Error"
DEBUG_KEY = "apphost.debug"  # set by ``serve --debug``: let app errors reach the debugger


Interface = Literal["wsgi", "asgi"]


@dataclass(frozen=True, slots=True)
class Loaded:
    """An app ready to serve: the plugins' wrappers around it (or around its ASGI adapter)."""

    app: WSGIApplication
    interface: Interface
    asgi: AsgiAdapter | None = None  # the adapter of an ASGI app, to start and close


def load_app(
    ep: importlib_metadata.EntryPoint,
    info: AppInfo,
    config: Mapping[str, Any],
    wrap: Callable[[str, WSGIApplication], WSGIApplication],
) -> Loaded:
    """Import ``ep``, make the app if it is a factory (``factory(config)``), adapt and wrap it.

    An ASGI app's lifespan is not started yet (``LazyApp.load`` does it).
    Raises ``PluginError`` naming the app, its distribution and entry point.
    """
    where, at = info.label, f"entry point '{ep.name} = {ep.value}'"
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginError(where, f"{at}: import failed: {describe(exc)}") from exc
    made = is_app_factory(obj)
    if made:
        obj = obj(dict(config))
    elif isinstance(obj, types.ModuleType):
        raise PluginError(
            where, f"{at} names a module, not a WSGI app or an ASGI app: use 'module:attribute'"
        )
    if made and not callable(obj):
        raise PluginError(
            where, f"{at}: the factory returned {obj!r}, not a WSGI app or an ASGI app"
        )
    try:
        interface = interface_of(obj)
    except ValueError as exc:
        said = f"the factory returned {obj!r}, which" if made else repr(obj)
        raise PluginError(where, f"{at}: {said} {exc}") from None
    if interface == "wsgi":
        return Loaded(wrap(info.name, obj), "wsgi")
    adapter = as_wsgi(obj, info.label)
    try:
        return Loaded(wrap(info.name, adapter), "asgi", adapter)
    except BaseException:
        adapter.close()
        raise


def interface_of(obj: object) -> Interface:
    """``"asgi"`` or ``"wsgi"``; ``ValueError`` saying why ``obj`` is neither ("is not ...").

    ASGI 3: an ``async def`` taking (scope, receive, send), an object whose
    ``__call__`` is one, or anything marked ``@asgi_app``. WSGI: any other
    callable that can be called with (environ, start_response).
    """
    if not callable(obj):
        raise ValueError("is not callable, so neither a WSGI nor an ASGI app")
    call = getattr(obj, "__call__", None)  # noqa: B004  # the method, to ask if it is async
    is_async = inspect.iscoroutinefunction(obj) or (
        not isinstance(obj, type) and inspect.iscoroutinefunction(call)
    )
    try:
        signature: inspect.Signature | None = inspect.signature(obj)
    except (TypeError, ValueError):  # some builtins and C callables: take them on trust
        signature = None
    if is_async or is_asgi_marked(obj):
        if signature is not None and not _takes(signature, 3):
            raise ValueError(
                f"is async but takes {_shape(signature)}, not an ASGI 3 app (scope, receive, send)"
            )
        return "asgi"
    if signature is not None and not _takes(signature, 2):
        hint = (
            ": it takes (scope, receive, send) but is not async; mark it @apphost.asgi_app"
            " if it returns an awaitable"
            if _takes(signature, 3)
            else ""
        )
        raise ValueError(
            f"takes {_shape(signature)}: neither a WSGI app (environ, start_response)"
            f" nor an ASGI 3 app (scope, receive, send){hint}"
        )
    return "wsgi"


def _shape(signature: inspect.Signature) -> str:
    """``(scope, receive, send)``: the parameters' names, as in a message."""
    return str(
        signature.replace(
            parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
            return_annotation=signature.empty,
        )
    )


def _takes(signature: inspect.Signature, n: int) -> bool:
    try:
        signature.bind(*range(n))
    except TypeError:
        return False
    return True


def as_wsgi(app: Any, label: str) -> AsgiAdapter:
    """The ASGI ``app`` as a WSGI app (imports a2wsgi only when an ASGI app is served)."""
    from .asgi import AsgiAdapter

    return AsgiAdapter(app, label)


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
            return failed(label, environ, start_response)

    return call


def failed(label: str, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """What ``guarded`` answers for the exception being handled: log it, then a bare 500."""
    log.exception(
        "%s raised while serving %s %s",
        label,
        environ.get("REQUEST_METHOD", ""),
        environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
    )
    if environ.get(DEBUG_KEY):
        raise  # the exception being handled, for the debugger
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "26")]
    try:
        start_response(INTERNAL_ERROR, headers, sys.exc_info())
    except Exception:  # some servers re-raise exc_info even before headers are sent
        start_response(INTERNAL_ERROR, headers)
    return [b"500 Internal Server Error\n"]


class LazyApp:
    """A WSGI app that imports, makes and wraps the real one on its first request.

    It is ``guarded`` too (an exception before the body is returned is a 500),
    in its own ``__call__``, one call less per request.

    ``loader`` returns the ``Loaded`` app or raises; an ASGI app's lifespan
    startup then runs. A failure of either is logged once, sets ``info`` to
    FAILED and makes the app answer 503 from then on (fail closed).
    """

    __slots__ = ("_app", "_loader", "_lock", "asgi", "failed_at", "info", "traceback")

    def __init__(self, info: AppInfo, loader: Callable[[], Loaded]) -> None:
        self.info = info
        self._loader = loader
        self._lock = threading.Lock()
        self._app: WSGIApplication | None = None
        self.asgi: AsgiAdapter | None = None  # an ASGI app's adapter, once loaded
        self.traceback = ""  # of the failure to load, if it failed with an exception
        self.failed_at = 0.0  # time.time() it failed, for the status page

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app = self._app
        if app is None:
            app = self.load()
        try:
            return app(environ, start_response)
        except Exception:
            return failed(self.info.label, environ, start_response)

    def load(self) -> WSGIApplication:
        """Load the app now if it is not loaded yet; never raises."""
        with self._lock:
            if self._app is None:
                try:
                    loaded = self._loader()
                    self.info = replace(self.info, interface=loaded.interface)
                    if loaded.asgi is not None:
                        self.asgi = loaded.asgi
                        loaded.asgi.start()
                    self._app = loaded.app
                    self.info = self.info.with_status(Status.OK)
                except Exception as exc:
                    why = _why(exc, self.info.label)
                    self.fail(why)
                    self.traceback = traceback_of(exc)
                    log.warning("%s failed to load: %s", self.info.label, why)
                    log.debug("traceback", exc_info=True)
            return self._app or UNAVAILABLE

    def fail(self, why: str) -> None:
        """Make this app answer 503 from now on, with ``why`` as its status."""
        self.info = self.info.with_status(Status.FAILED, why)
        self._app = UNAVAILABLE
        self.traceback = ""
        self.failed_at = time.time()

    def close(self) -> None:
        """Shut an ASGI app's lifespan down (nothing for WSGI); it answers 503 after."""
        with self._lock:
            asgi = self.asgi
            if asgi is not None:
                self._app = UNAVAILABLE
        if asgi is not None:
            asgi.close()  # idempotent


def _why(exc: Exception, label: str) -> str:
    """Why an app failed to load, less what its status names already (app, distribution)."""
    if isinstance(exc, PluginError):
        return exc.message if exc.where == label else str(exc)
    return describe(exc)
