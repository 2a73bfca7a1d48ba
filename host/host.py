"""``Host``: discovery, claims and routing put together; what the CLI and servers run.

    host = Host.build(load_config())
    host.dispatcher             # the WSGI app to serve
    host.problems               # every problem found, as messages naming where
    host.rebuild()              # re-collect claims and swap the route table

Hooks see the host through ``HostView`` (``apphost.apps``, ``.config``,
``.server_name``), never through ``Host`` itself.
"""

from __future__ import annotations

import functools
import json
import logging
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import importlib_metadata
import pluggy

from .apps import DEBUG_KEY, UNAVAILABLE, AppInfo, LazyApp, describe, guarded, is_app_factory
from .claims import Claim, Route, normalize
from .config import Config
from .discovery import PluginInfo, call_each, dist_of, make_plugin_manager, register_plugins, scan
from .dynamic import DynamicApps
from .errors import PluginError, StrictError
from .routing import Dispatcher, RouteTable, build_table
from .status import status_pages

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .observe import Metrics

log = logging.getLogger("apphost")


@dataclass(frozen=True, slots=True)
class HostView:
    """The running host as hooks see it: read-only."""

    apps: Mapping[str, AppInfo]
    config: Config
    server_name: str


class Host:
    """Every app, plugin and claim of one environment, and the dispatcher serving them."""

    def __init__(
        self, config: Config, pm: pluggy.PluginManager, plugins: dict[str, PluginInfo]
    ) -> None:
        self.config = config
        self.pm = pm
        self.plugins = plugins
        self.apps: dict[str, LazyApp] = {}
        self.load_problems: list[str] = []  # from discovery and plugin import
        self.problems: list[str] = []  # load_problems and those of the last rebuild
        self.routes: list[Route] = []
        self.view = HostView(_InfoView(self.apps), config, config.server_name)
        self.dispatcher = Dispatcher(
            RouteTable(config.server_name),
            allowed_hosts=config.allowed_hosts,
            allow_encoded_slashes=config.allow_encoded_slashes,
            own={
                "/_apphost/health": self.health,
                **status_pages(self, config.status_page),
            },
        )
        self.draining = False

    # Made on first use: ``routes``, ``check`` and ``plugins`` never import prometheus_client.
    @functools.cached_property
    def metrics(self) -> Metrics:
        from .observe import Metrics

        return Metrics()

    @functools.cached_property
    def app(self) -> WSGIApplication:
        """What a server runs: the dispatcher, observed (access log, metrics)."""
        from .observe import Observer

        app = Observer(self.dispatcher, access_log=self.config.access_log, metrics=self.metrics)
        if not self.config.debug:
            return app
        from werkzeug.debug import DebuggedApplication

        def debug_passthrough(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
            environ[DEBUG_KEY] = True  # app errors reach the debugger instead of a bare 500
            return app(environ, start_response)

        return DebuggedApplication(debug_passthrough, evalex=True)

    @classmethod
    def build(
        cls,
        config: Config,
        entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
        disable: Iterable[str] = (),
    ) -> Host:
        """Discover plugins and build the table.

        ``entry_points`` replaces the scan (tests); ``disable`` names distributions
        or entry points to leave out, like ``$APPHOST_DISABLE_PLUGINS``.
        """
        found = scan(entry_points, disable=disable)
        pm = make_plugin_manager()
        plugins, problems = register_plugins(pm, found.plugins)
        host = cls(config, pm, plugins)
        host.load_problems = found.problems + problems
        for ep in found.apps:
            dist, version = dist_of(ep)
            info = AppInfo(ep.name, dist, version, ep.value)
            if ep.name in host.apps:
                other = host.apps[ep.name].info
                msg = (
                    f"app name {ep.name!r} is advertised by both {other.dist}=={other.version}"
                    f" and {dist}=={version}; it answers 503 until one is removed or disabled"
                    " (APPHOST_DISABLE_PLUGINS)"
                )
                other.status = f"failed: {msg}"
                host.apps[ep.name] = LazyApp(other, _raiser(PluginError(f"app {ep.name!r}", msg)))
            else:
                host.apps[ep.name] = LazyApp(info, host._loader(ep, info))
        for name in config.apps:
            if name not in host.apps:
                host.load_problems.append(
                    f"config [apps.{name}]: no installed app is named {name!r}"
                )
        host.rebuild()
        return host

    # -- loading ---------------------------------------------------------------

    def _loader(self, ep: importlib_metadata.EntryPoint, info: AppInfo) -> Any:
        where = f"{info.label}, entry point '{ep.name} = {ep.value}'"

        def load() -> WSGIApplication:
            try:
                obj = ep.load()
            except Exception as exc:
                raise PluginError(where, f"import failed: {describe(exc)}") from exc
            if is_app_factory(obj):
                app = obj(dict(self.config.apps.get(info.name, {})))
                if not callable(app):
                    raise PluginError(where, f"the factory returned {app!r}, not a WSGI app")
            elif isinstance(obj, types.ModuleType):
                raise PluginError(where, "names a module, not a WSGI app: use 'module:attribute'")
            elif not callable(obj):
                raise PluginError(where, f"{obj!r} is not callable, so not a WSGI app")
            else:
                app = obj
            return self.wrap(info.name, app)

        return load

    def wrap(self, name: str, app: WSGIApplication) -> WSGIApplication:
        """Apply every ``apphost_wrap_app`` impl in call order; raise if one fails."""
        for plugin, call in call_each(self.pm, "apphost_wrap_app"):
            try:
                wrapped = call(apphost=self.view, name=name, app=app)
            except Exception as exc:
                raise PluginError(
                    f"plugin {plugin!r} apphost_wrap_app({name!r})", describe(exc)
                ) from exc
            if wrapped is not None:
                if not callable(wrapped):
                    raise PluginError(
                        f"plugin {plugin!r} apphost_wrap_app({name!r})",
                        f"returned {wrapped!r}, not a WSGI app",
                    )
                app = wrapped
        return app

    def load_all(self) -> None:
        """Import every app now (``check`` and ``plugins`` report what fails)."""
        for lazy in self.apps.values():
            lazy.load()

    # -- claims and the table -------------------------------------------------

    def collect_routes(self) -> tuple[list[Route], list[str]]:
        """Every valid route from the config, the plugins and implicit mounts; and the problems."""
        routes: list[Route] = []
        problems: list[str] = []
        for i, claim in enumerate(self.config.claims):
            claimant = f"config [[claims]] #{i + 1} ({self.config.source})"
            self._add(routes, problems, claim, claimant, 2)
        for plugin, call in call_each(self.pm, "apphost_claim_routes"):
            info = self.plugins.get(plugin)
            claimant = info.label if info else f"plugin {plugin!r}"
            try:
                result = call(apphost=self.view)
                claims = [result] if isinstance(result, Claim) else list(result or ())
            except Exception as exc:
                log.debug("apphost_claim_routes of %s", claimant, exc_info=True)
                problems.append(
                    f"{claimant}: apphost_claim_routes raised {describe(exc)}; its claims are dropped"
                )
                if info:
                    info.status = f"failed: apphost_claim_routes raised {describe(exc)}"
                continue
            for claim in claims:
                self._add(routes, problems, claim, claimant, 1)
        failed_dists = {p.dist for p in self.plugins.values() if p.status != "ok"}
        named = {r.claim.app for r in routes if isinstance(r.claim.app, str)}
        for name, lazy in self.apps.items():
            if name not in named and lazy.info.dist not in failed_dists:
                routes.append(
                    Route(
                        "any",
                        "",
                        "/" + _wsgi(name),
                        False,
                        Claim(app=name),
                        "implicit mount",
                        (0, 0),
                    )
                )
        return routes, problems

    def _add(
        self, routes: list[Route], problems: list[str], claim: object, claimant: str, source: int
    ) -> None:
        try:
            route = normalize(
                claim, claimant, (source, getattr(claim, "priority", 0)), self.config.server_name
            )
            if isinstance(route.claim.app, str) and route.claim.app not in self.apps:
                raise ValueError(f"no installed app is named {route.claim.app!r}")
        except ValueError as exc:
            problems.append(f"{claimant}: invalid claim {claim!r}: {exc}")
            return
        routes.append(route)

    def _resolve(self, route: Route) -> WSGIApplication:
        claim = route.claim
        if claim.factory is not None:
            plugin = next((n for n, p in self.plugins.items() if p.label == route.claimant), "")

            def wrap(key: str, app: WSGIApplication) -> WSGIApplication:
                # The name the hookspec documents for apps made by a factory claim.
                return guarded(self.wrap(f"{plugin}[{key}]", app), f"{route.claimant} [{key}]")

            return DynamicApps(  # type: ignore[return-value]
                claim.factory,
                route.claimant,
                self.config.max_dynamic_apps,
                wrap,
                on_size=functools.partial(self._count_dynamic, route.describe()),
            )
        if isinstance(claim.app, str):
            return self.apps[claim.app]
        assert claim.app is not None
        try:
            return guarded(
                self.wrap(getattr(claim.app, "__name__", route.claimant), claim.app), route.claimant
            )
        except PluginError as exc:
            log.warning("%s", exc)
            return UNAVAILABLE

    def _count_dynamic(self, claim: str, count: int) -> None:
        if "metrics" in self.__dict__:  # else nothing serves: nothing to count
            self.metrics.dynamic_apps.labels(claim).set(count)

    def rebuild(self) -> RouteTable:
        """Collect claims, build a new table and swap it in (requests in flight keep the old)."""
        routes, problems = self.collect_routes()
        table, conflicts = build_table(routes, self.config.server_name, self._resolve)
        self.routes = routes
        self.problems = self.load_problems + problems + [str(c) for c in conflicts]
        self.dispatcher.table = table
        for problem in self.all_problems():
            log.warning("%s", problem)
        return table

    def all_problems(self) -> list[str]:
        """The problems of the last build and of every app that failed to load so far."""
        failed = [f"{a.info.label}: {a.info.status}" for a in self.apps.values() if a.info.failed]
        return self.problems + failed

    def strict(self) -> None:
        """Raise ``StrictError`` listing every problem, after loading every app."""
        self.load_all()
        problems = self.all_problems()
        if problems:
            raise StrictError(problems)

    # -- lifecycle -------------------------------------------------------------

    def startup(self) -> None:
        """Run ``apphost_startup``; if one raises, run shutdown hooks and raise naming it."""
        for plugin, call in call_each(self.pm, "apphost_startup"):
            try:
                call(apphost=self.view)
            except Exception as exc:
                self.shutdown()
                raise PluginError(f"plugin {plugin!r} apphost_startup", describe(exc)) from exc

    def shutdown(self) -> None:
        """Run every ``apphost_shutdown`` impl; log, never raise, what fails."""
        for plugin, call in call_each(self.pm, "apphost_shutdown"):
            try:
                call(apphost=self.view)
            except Exception:
                log.exception("plugin %r apphost_shutdown raised", plugin)

    def health(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """``/_apphost/health``: 200 and every app's status; 503 while draining."""
        body = json.dumps(
            {
                "status": "draining" if self.draining else "ok",
                "apps": {n: a.info.status for n, a in self.apps.items()},
            }
        ).encode()
        status = "503 Service Unavailable" if self.draining else "200 OK"
        start_response(
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


def _wsgi(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def _raiser(exc: Exception) -> Any:
    def load() -> WSGIApplication:
        raise exc

    return load


class _InfoView(Mapping[str, AppInfo]):
    """``apphost.apps``: name -> ``AppInfo``, read-only, always current."""

    def __init__(self, apps: Mapping[str, LazyApp]) -> None:
        self._apps = apps

    def __getitem__(self, name: str) -> AppInfo:
        return self._apps[name].info

    def __iter__(self) -> Iterator[str]:
        return iter(self._apps)

    def __len__(self) -> int:
        return len(self._apps)
