"""The hooks a plugin can implement: this module is the plugin author's reference.

A plugin is a module (or object) advertised in the ``apphost.plugins`` entry
point group. Its functions named ``apphost_*`` are hook implementations;
marking them ``@apphost.hookimpl`` is optional, but needed for options such as
``@hookimpl(tryfirst=True)``. A name starting ``apphost_`` that is not a hook
below is an error for that plugin (with a "did you mean" hint), and so is a
parameter a hook does not offer or an ``async def``: the plugin is then not
registered at all, and the other plugins carry on.

Every hook receives ``apphost``, a read-only view of the running host:

- ``apphost.apps``: name -> ``AppInfo`` (``.dist``, ``.version``,
  ``.entry_point``, ``.status``: a ``Status``, ``"not loaded"``, ``"ok"`` or
  ``"failed"``, ``.why`` when it failed, and ``.interface``: ``"wsgi"`` or
  ``"asgi"`` once loaded)
- ``apphost.config``: the parsed ``Config`` (``apphost.config.apps["blog"]`` is
  the ``[apps.blog]`` table)
- ``apphost.server_name``: the name subdomain claims are relative to.

An implementation may declare only the parameters it uses. Each
implementation runs on its own: one that raises is reported under its plugin's
name and the others still run.

ASGI apps (FastAPI, Starlette, any ``async def app(scope, receive, send)``, or
one marked ``@apphost.asgi_app``) are served through a2wsgi, so the hooks see
them as WSGI apps. Their lifespan is not a hook: the host runs it, startup
when the app is loaded (before its first request, or at worker start under
``serve --strict``; ``apphost check`` and ``apphost plugins`` load it too,
and shut it down again), shutdown when the host shuts down (a worker
drained), before ``apphost_shutdown``. A failing startup makes that app
FAILED (503), like an app that fails to import.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .api import HostView
    from .routing.claims import Claim

hookspec = pluggy.HookspecMarker("apphost")
hookimpl = pluggy.HookimplMarker("apphost")


@hookspec
def apphost_claim_routes(apphost: HostView) -> Claim | Iterable[Claim] | None:
    """Claim routes (host and/or path prefix) for apps.

    Called once per build of the routing table (at start and on every reload),
    for every implementation. Return a ``Claim``, an iterable of claims, or
    None for no claims. An invalid claim is reported naming this plugin and
    skipped; this plugin's other claims stand. If the function raises, all of
    its claims are dropped and the error is reported.

    An app that no claim names is mounted at ``/<name>``; any explicit claim on
    that route beats the implicit mount.
    """


@hookspec
def apphost_wrap_app(apphost: HostView, name: str, app: WSGIApplication) -> WSGIApplication | None:
    """Wrap an app in middleware (authentication, headers, logging...).

    Called once per app, when the app is loaded (on its first request, or by
    ``apphost check``). Return a WSGI app wrapping ``app``, or None to leave it
    as it is. Implementations chain in call order: each receives the result of
    the previous one, so the last called is the outermost.

    ``app`` is a WSGI app; for an ASGI app it is the app as served through
    a2wsgi, so WSGI middleware wraps it as it wraps any other.

    ``name`` is the app's entry point name. Apps made by a factory claim are
    wrapped too, named ``"<plugin>[<key>]"`` (for example ``"tenants[acme]"``),
    where ``<plugin>`` is the plugin that made the claim and ``<key>`` the
    subdomain label or path segment.

    A wrapper that raises or returns something not callable fails closed: the
    app answers 503 rather than run unwrapped.
    """


@hookspec
def apphost_startup(apphost: HostView) -> None:
    """Called once before the first request is served.

    If one raises, the host does not start: it exits non-zero naming the
    plugin, after running ``apphost_shutdown`` so plugins that already started
    can clean up.
    """


@hookspec
def apphost_shutdown(apphost: HostView) -> None:
    """Called once after serving stops (SIGTERM, SIGINT, or a failed start).

    The ASGI apps' lifespan shutdowns have run by then.

    Every implementation runs even if another raises; errors are logged.
    """
