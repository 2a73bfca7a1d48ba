"""What plugins see of the host: ``app_factory``, ``asgi_app``, ``HostView``, ``AppInfo``, ``Status``, ``Problem``.

    def apphost_claim_routes(apphost: HostView):
        info = apphost.apps["blog"]          # AppInfo: dist, version, entry_point, status
        if info.status is Status.FAILED:
            print(info.why)

Every problem the host finds (a broken plugin, an invalid claim, a conflict)
is a ``Problem`` record: what kind, what it is about, the plugin and
distribution at fault, and a message that names them. ``str(problem)`` is the
message ``apphost check`` prints.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .config import Config


F = TypeVar("F", bound=Callable[..., Any])
_FACTORY_ATTR = "__apphost_app_factory__"
_ASGI_ATTR = "__apphost_asgi_app__"


def app_factory(func: F) -> F:
    """Mark ``func`` as a factory: apphost calls ``func(config)`` once to make the app.

    ``config`` is the ``[apps.NAME]`` table of the config file, ``{}`` if none.
    An entry point's object that is not marked is used as a WSGI app as it is.
    """
    setattr(func, _FACTORY_ATTR, True)
    return func


def is_app_factory(obj: object) -> bool:
    return getattr(obj, _FACTORY_ATTR, False) is True


def asgi_app(app: F) -> F:
    """Mark ``app`` as an ASGI 3 app, ``app(scope, receive, send)``, to serve through a2wsgi.

    Needed only where apphost cannot tell: an ``async def`` function, or an
    object whose ``__call__`` is one (FastAPI, Starlette), is recognised as
    ASGI without it. Mark a callable that returns an awaitable without being a
    coroutine function itself. Works on an entry point's object and on what
    an ``@app_factory`` or a factory claim returns.
    """
    setattr(app, _ASGI_ATTR, True)
    return app


def is_asgi_marked(obj: object) -> bool:
    return getattr(obj, _ASGI_ATTR, False) is True


class Status(str, enum.Enum):
    """An app's or plugin's state. A ``str``: ``Status.OK == "ok"``."""

    NOT_LOADED = "not loaded"
    OK = "ok"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class ProblemKind(str, enum.Enum):
    """What a ``Problem`` is about."""

    CONFIG = "config"  # the config file names something that is not there
    DISTRIBUTION = "distribution"  # installed twice, or two advertise one name
    PLUGIN = "plugin"  # a hook module failed to import, register or run
    APP = "app"  # an app failed to import, be made or be wrapped
    CLAIM = "claim"  # an invalid claim
    CONFLICT = "conflict"  # two claims on one route at equal priority

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, with where: ``subject`` is the app, plugin, route or config key."""

    kind: ProblemKind
    subject: str
    message: str  # whole: names the subject, plugin and distribution
    plugin: str | None = None  # the plugin (entry point name) at fault, if one is
    distribution: str | None = None  # "dist==version" at fault, if known
    # The traceback of the exception behind it, if one is ("" if none): ``-v`` prints it.
    traceback: str = field(default="", compare=False, repr=False)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class AppInfo:
    """What the host knows of one app; hooks see it through ``apphost.apps``.

    Frozen: a change of status is a new record (``AppInfo.with_status``).
    """

    name: str
    dist: str
    version: str
    entry_point: str  # "module:attr"
    status: Status = Status.NOT_LOADED
    why: str = ""  # set when status is FAILED
    interface: str = ""  # "wsgi" or "asgi" once loaded; "" until then

    @property
    def label(self) -> str:
        """``app 'name' (dist==version)``, for messages."""
        return f"app {self.name!r} ({self.dist}=={self.version})"

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED

    @property
    def state(self) -> str:
        """``ok``, ``not loaded`` or ``failed: why``: the status as reports show it."""
        return f"failed: {self.why}" if self.failed else self.status.value

    def with_status(self, status: Status, why: str = "") -> AppInfo:
        return replace(self, status=status, why=why)


@dataclass(frozen=True, slots=True)
class HostView:
    """The running host as hooks see it: read-only."""

    apps: Mapping[str, AppInfo]
    config: Config
    server_name: str
