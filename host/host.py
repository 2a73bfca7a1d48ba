"""``Host``: discovery, plugins, claims and routing composed; what the CLI and servers run.

    host = Host.build(load_config())
    host.dispatcher             # the router (a WSGI app); apphost.web.stack wraps it to serve
    host.problems               # every Problem found so far, each naming where
    host.rebuild()              # re-collect claims and swap the route table

Hooks see the host through ``HostView`` (``apphost.apps``, ``.config``,
``.server_name``), never through ``Host`` itself.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import importlib_metadata
import pluggy

from .api import AppInfo, HostView, Problem, ProblemKind, Status
from .config import Config
from .errors import ClaimError, PluginError, StrictError, describe, traceback_of
from .plugins.discovery import LeftOut, dist_of, scan
from .plugins.loading import LazyApp, as_wsgi, guarded, interface_of, load_app, wrap_app
from .plugins.manager import PluginInfo, call_each, make_plugin_manager, register_plugins
from .routing.claims import Claim, Claimant, Route, Source, normalize
from .routing.dispatcher import Dispatcher
from .routing.dynamic import DynamicApps
from .routing.refusals import UNAVAILABLE
from .routing.table import RouteTable, build_table
from .web.bulkhead import Bulkhead, Bulkheads
from .web.cookies import scope_cookies
from .web.relay import CLAIM_KEY, MADE_KEY, Relay

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .plugins.asgi import AsgiAdapter
    from .web.observe import Metrics

log = logging.getLogger("apphost")
IMPLICIT = Claimant(Source.IMPLICIT, "implicit mount")


class Host:
    """Every app, plugin and claim of one environment, and the dispatcher serving them."""

    def __init__(
        self,
        config: Config,
        pm: pluggy.PluginManager,
        plugins: dict[str, PluginInfo],
        bulkheads: Bulkheads | None = None,
        on_step: Callable[[str], object] | None = None,
        pools: Mapping[str, str] | None = None,
    ) -> None:
        from .web.pages import own_pages

        self.config = config
        self.bulkheads = bulkheads or Bulkheads(config)
        self.on_step = on_step or _ignore  # told what the host does while it builds and starts
        # Apps served by process pools (isolation = "process"): name -> the pool's socket.
        self.pools: Mapping[str, str] = pools or {}
        # name -> (PIDs serving, processes replaced), as the supervisor last said
        self.pool_state: dict[str, tuple[list[int], int]] = {}
        self._pool_idle: dict[str, deque[Any]] = {}  # pool socket -> idle connections to it
        self._guards: dict[str, Bulkhead] = {}  # app name -> its bulkhead, kept across rebuilds
        # ASGI apps not behind a LazyApp (factory-made, or Claim objects): served app -> adapter
        self._made_asgi: dict[object, AsgiAdapter] = {}
        self.pm = pm
        self.plugins = plugins
        self.apps: dict[str, LazyApp] = {}
        self.load_problems: list[Problem] = []  # from discovery and plugin import
        self.left_out: list[LeftOut] = []  # entry points of distributions built for another apphost
        self.problems: list[Problem] = []  # load_problems and those of the last rebuild
        self.routes: list[Route] = []
        self.unmounted: dict[str, str] = {}  # app name -> why it has no route (fail closed)
        self.view = HostView(_InfoView(self.apps), config, config.server_name)
        self.dispatcher = Dispatcher(
            RouteTable(config.server_name),
            allowed_hosts=config.allowed_hosts,
            allow_encoded_slashes=config.allow_encoded_slashes,
            own=own_pages(self),
        )
        self.draining = False
        # slot of the supervisor's balance (None: this worker) -> connections it holds;
        # set by the server, None where nothing counts them (in-memory, gunicorn).
        self.connections: Callable[[int | None], int | None] = _uncounted

    # Made on first use: ``routes``, ``check`` and ``plugins`` never import prometheus_client.
    @functools.cached_property
    def metrics(self) -> Metrics:
        from .web.observe import Metrics

        return Metrics()

    @classmethod
    def build(
        cls,
        config: Config,
        entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
        disable: Iterable[str] = (),
        bulkheads: Bulkheads | None = None,
        on_step: Callable[[str], object] | None = None,
        pools: Mapping[str, str] | None = None,
    ) -> Host:
        """Discover plugins and build the table.

        ``entry_points`` replaces the scan (tests); ``disable`` names distributions
        or entry points to leave out, like ``$APPHOST_DISABLE_PLUGINS``.
        ``bulkheads`` holds the apps' run-time limits (a worker's has its
        scoreboard); ``on_step(what)`` hears each plugin import and hook call, so a
        start that hangs can be reported by name. ``pools`` (a worker's) names the
        apps served by process pools, and their sockets: their routes relay there
        (``apphost.web.relay``) and the apps are never imported here.
        """
        found = scan(entry_points, disable=disable)
        pm = make_plugin_manager()
        plugins, problems = register_plugins(pm, found.plugins, on_step)
        host = cls(config, pm, plugins, bulkheads, on_step, pools)
        host.load_problems = found.problems + problems
        host.left_out = found.left_out
        for ep in found.apps:
            host._add_app(ep)
        for name in config.apps:
            if name not in host.apps:
                host.load_problems.append(
                    Problem(
                        ProblemKind.CONFIG,
                        f"apps.{name}",
                        f"config [apps.{name}]: no installed app is named {name!r}",
                    )
                )
        host.rebuild()
        return host

    def _add_app(self, ep: importlib_metadata.EntryPoint) -> None:
        dist, version = dist_of(ep)
        info = AppInfo(ep.name, dist, version, ep.value)
        other = self.apps.get(ep.name)
        if other is None:
            config = self.config.apps.get(ep.name, {})
            self.apps[ep.name] = LazyApp(info, lambda: load_app(ep, info, config, self.wrap))
            return
        # Two distributions, one name: neither may serve it (which one would be a guess).
        first = other.info
        other.fail(
            f"app name {ep.name!r} is advertised by both {first.dist}=={first.version}"
            f" and {dist}=={version}; it answers 503 until one is removed or disabled"
            " (APPHOST_DISABLE_PLUGINS)"
        )

    def wrap(self, name: str, app: WSGIApplication) -> WSGIApplication:
        """Apply every ``apphost_wrap_app`` impl in call order; raise if one fails."""
        return wrap_app(self.pm, self.view, name, app)

    def load_all(self) -> None:
        """Import every app now (``check`` and ``plugins`` report what fails); not pools' apps."""
        for name, lazy in self.apps.items():
            if name not in self.pools:
                lazy.load()

    # -- claims and the table -------------------------------------------------

    def collect_routes(self) -> tuple[list[Route], list[Problem], dict[str, str]]:
        """Every valid route from the config, the plugins and implicit mounts; the problems;
        and why each app that is not mounted is not (app name -> message)."""
        routes: list[Route] = []
        problems: list[Problem] = []
        invalid: dict[str, tuple[str, str | None]] = {}  # app -> (why its claim is invalid, plugin)
        for i, claim in enumerate(self.config.claims):
            claimant = Claimant(Source.CONFIG, f"[[claims]] #{i + 1} ({self.config.source})")
            self._add(routes, problems, claim, claimant, invalid)
        for plugin, call in call_each(self.pm, "apphost_claim_routes"):
            info = self.plugins.get(plugin)
            dist = info.distribution if info else ""
            claimant = Claimant(Source.PLUGIN, plugin, dist)
            self.on_step(f"calling apphost_claim_routes of {claimant}")
            try:
                result = call(apphost=self.view)
                claims = [result] if isinstance(result, Claim) else list(result or ())
            except Exception as exc:
                log.debug("apphost_claim_routes of %s", claimant, exc_info=True)
                problems.append(
                    Problem(
                        ProblemKind.PLUGIN,
                        plugin,
                        f"{claimant}: apphost_claim_routes raised {describe(exc)};"
                        " its claims are dropped",
                        plugin,
                        dist or None,
                        traceback_of(exc),
                    )
                )
                if info:
                    info.fail(f"apphost_claim_routes raised {describe(exc)}")
                continue
            for claim in claims:
                self._add(routes, problems, claim, claimant, invalid)
        unmounted = self._mount_unclaimed(routes, invalid)
        problems += unmounted
        return routes, problems, {p.subject: p.message for p in unmounted}

    def _mount_unclaimed(
        self, routes: list[Route], invalid: Mapping[str, tuple[str, str | None]]
    ) -> list[Problem]:
        """Mount each app that no valid claim names at ``/<name>``, but fail closed.

        An app named by an invalid claim, or of a distribution whose hooks
        failed, may have been meant for one host only: it is not mounted, and the
        problem returned for it says why.
        """
        failed_hooks = {p.dist: p for p in self.plugins.values() if p.status is not Status.OK}
        named = {r.claim.app for r in routes if isinstance(r.claim.app, str)}
        unmounted = []
        for name, lazy in self.apps.items():
            if name in named:
                continue
            info, hooks = lazy.info, failed_hooks.get(lazy.info.dist)
            if name in invalid:
                why, plugin = invalid[name]
            elif hooks is not None:
                why = (
                    f"the hooks of {hooks.label} failed, so the claims of its distribution's"
                    f" apps are unknown: {hooks.why}"
                )
                plugin = hooks.name
            else:
                path = "/" + name.encode("utf-8").decode("latin-1")  # a WSGI string
                routes.append(
                    Route(
                        host_kind="any",
                        host_key="",
                        path=path,
                        path_wild=False,
                        claim=Claim(app=name),
                        claimant=IMPLICIT,
                    )
                )
                continue
            unmounted.append(
                Problem(
                    ProblemKind.APP,
                    name,
                    f"{info.label}: not mounted: {why}",
                    plugin,
                    f"{info.dist}=={info.version}",
                )
            )
        return unmounted

    def _add(
        self,
        routes: list[Route],
        problems: list[Problem],
        claim: object,
        claimant: Claimant,
        invalid: dict[str, tuple[str, str | None]],
    ) -> None:
        try:
            route = normalize(claim, claimant, self.config.server_name)
            if isinstance(route.claim.app, str) and route.claim.app not in self.apps:
                raise ClaimError(claim, f"no installed app is named {route.claim.app!r}")
        except ClaimError as exc:
            plugin = claimant.name if claimant.source is Source.PLUGIN else None
            app = getattr(claim, "app", None)
            if isinstance(app, str) and app in self.apps:
                why = f"its claim {_short(claim)} from {claimant} is invalid: {exc.message}"
                invalid.setdefault(app, (why, plugin))
            problems.append(
                Problem(
                    ProblemKind.CLAIM,
                    str(claimant),
                    f"{claimant}: invalid claim {claim!r}: {exc.message}",
                    plugin,
                    claimant.distribution or None,
                )
            )
            return
        routes.append(route)

    def _resolve(self, route: Route) -> WSGIApplication | DynamicApps:
        claim, claimant = route.claim, route.claimant
        # Only the claims that scope cookies pay for it (Claim.scope_cookies).
        scoped = scope_cookies if route.scopes_cookies else _as_is
        if claim.factory is not None and claimant.name in self.pools:
            return self._pooled_factory(route, scoped)
        if claim.factory is not None:

            def wrap(key: str, app: WSGIApplication) -> WSGIApplication:
                # The name the hookspec documents for apps made by a factory claim; each
                # made app has a bulkhead of its own, with its plugin's [hosting.NAME].
                name, label = f"{claimant.name}[{key}]", f"{claimant} [{key}]"
                adapter, app = self._as_wsgi(app, label)
                if adapter is not None:
                    adapter.start()  # PluginError: this key answers 500, and is tried again
                made = guarded(self.wrap(name, app), label)
                made = scoped(self.bulkheads.wrap(made, name, claimant.name, claimant.distribution))
                if adapter is not None:
                    self._made_asgi[made] = adapter
                return made

            return DynamicApps(
                claim.factory,
                str(claimant),
                self.config.max_dynamic_apps,
                wrap,
                on_size=functools.partial(self._count_dynamic, route.describe()),
                on_evict=self._evicted,
            )
        if isinstance(claim.app, str):
            return scoped(self._guard(claim.app))
        app: WSGIApplication = claim.app  # type: ignore[assignment]  # normalize checked it
        name = getattr(app, "__name__", str(claimant))
        try:
            # An ASGI app given as an object starts on its first request.
            adapter, app = self._as_wsgi(app, str(claimant))
            served = guarded(self.wrap(name, app), str(claimant))
        except PluginError as exc:
            log.warning("%s", exc)
            return UNAVAILABLE
        served = scoped(self.bulkheads.wrap(served, name, claimant.name, claimant.distribution))
        if adapter is not None:
            self._made_asgi[served] = adapter
        return served

    def _pooled_factory(
        self, route: Route, scoped: Callable[[WSGIApplication], WSGIApplication]
    ) -> DynamicApps:
        """A factory claim of a plugin with ``isolation = "process"``: its apps are made in its
        pool (``apphost.serving.pools``); here each key gets a relay, with a bulkhead of its own."""
        claimant, describe = route.claimant, route.describe()
        pool = self.pools[claimant.name]

        def relay(key: str) -> WSGIApplication:
            extra = {CLAIM_KEY: describe, MADE_KEY: key}
            return Relay(pool, f"{claimant.name}[{key}]", extra, self._idle(pool))

        def wrap(key: str, app: WSGIApplication) -> WSGIApplication:
            name = f"{claimant.name}[{key}]"
            return scoped(self.bulkheads.wrap(app, name, claimant.name, claimant.distribution))

        return DynamicApps(
            relay,
            str(claimant),
            self.config.max_dynamic_apps,
            wrap,
            on_size=functools.partial(self._count_dynamic, describe),
        )

    def _idle(self, pool: str) -> deque[Any]:
        """The idle connections to ``pool``, shared by every relay to it."""
        return self._pool_idle.setdefault(pool, deque())

    def _as_wsgi(self, app: object, label: str) -> tuple[AsgiAdapter | None, WSGIApplication]:
        """(None, app) for a WSGI app; (its adapter, adapter) for an ASGI app; else PluginError."""
        try:
            if interface_of(app) == "wsgi":
                return None, app  # type: ignore[return-value]  # interface_of checked it
        except ValueError as exc:
            raise PluginError(label, f"{app!r} {exc}") from None
        adapter = as_wsgi(app, label)
        for path in adapter.websocket_routes:
            log.warning("%s: %s", label, _websocket_problem(path))
        return adapter, adapter

    def _evicted(self, app: WSGIApplication) -> None:
        """A factory-made app left its LRU: an ASGI one shuts down once its requests end."""
        adapter = self._made_asgi.pop(app, None)
        if adapter is not None:
            grace = self.config.shutdown_timeout
            threading.Thread(target=adapter.close, args=(grace,), daemon=True).start()

    def _guard(self, name: str) -> Bulkhead:
        """App ``name`` behind its bulkhead: one per app, whatever routes lead to it."""
        guard = self._guards.get(name)
        if guard is None:
            info = self.apps[name].info
            pool = self.pools.get(name)
            app = self.apps[name] if pool is None else Relay(pool, name, idle=self._idle(pool))
            guard = self._guards[name] = self.bulkheads.wrap(
                app, name, name, f"{info.dist}=={info.version}"
            )
        return guard

    def _count_dynamic(self, claim: str, count: int) -> None:
        if "metrics" in self.__dict__:  # else nothing serves: nothing to count
            self.metrics.dynamic_apps.labels(claim).set(count)

    def rebuild(self) -> RouteTable:
        """Collect claims, build a new table and swap it in (requests in flight keep the old)."""
        routes, problems, unmounted = self.collect_routes()
        table, conflicts = build_table(routes, self.config.server_name, self._resolve)
        self.routes = routes
        self.unmounted = unmounted
        self.problems = [
            *self.load_problems,
            *problems,
            *(Problem(ProblemKind.CONFLICT, c.route, str(c)) for c in conflicts),
        ]
        self.dispatcher.table = table
        for problem in self.all_problems():
            log.warning("%s", problem)
        return table

    def all_problems(self) -> list[Problem]:
        """The problems of the last build and of every app that failed to load so far."""
        failed = [
            Problem(
                ProblemKind.APP,
                a.info.name,
                f"{a.info.label}: {a.info.state}",
                distribution=f"{a.info.dist}=={a.info.version}",
                traceback=a.traceback,
            )
            for a in self.apps.values()
            if a.info.failed
        ]
        unservable = [
            Problem(
                ProblemKind.APP,
                a.info.name,
                f"{a.info.label}: {_websocket_problem(path)}",
                distribution=f"{a.info.dist}=={a.info.version}",
            )
            for a in self.apps.values()
            if a.asgi is not None
            for path in a.asgi.websocket_routes
        ]
        return self.problems + failed + unservable

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
            self.on_step(f"running apphost_startup of plugin {plugin!r}")
            try:
                call(apphost=self.view)
            except Exception as exc:
                self.shutdown()
                raise PluginError(
                    f"plugin {plugin!r} apphost_startup", describe(exc), plugin
                ) from exc

    def shutdown(self) -> None:
        """Shut the ASGI apps down (``close_apps``), then run every ``apphost_shutdown`` impl.

        Logs, never raises, what fails.
        """
        self.close_apps()
        for plugin, call in call_each(self.pm, "apphost_shutdown"):
            try:
                call(apphost=self.view)
            except Exception:
                log.exception("plugin %r apphost_shutdown raised", plugin)

    def close_apps(self) -> None:
        """Run the lifespan shutdown of every ASGI app that started; idempotent."""
        for lazy in self.apps.values():
            lazy.close()
        while self._made_asgi:
            self._made_asgi.popitem()[1].close()


def _ignore(what: str) -> None:
    """The default ``on_step``: nobody listens."""


def _as_is(app: WSGIApplication) -> WSGIApplication:
    """What a claim that does not scope cookies wraps its app in: nothing."""
    return app


def _short(claim: object) -> str:
    """``Claim(app='a', host='h')``: a claim with only the fields it sets, for messages."""
    if not dataclasses.is_dataclass(claim) or isinstance(claim, type):
        return repr(claim)
    given = [
        f"{f.name}={getattr(claim, f.name)!r}"
        for f in dataclasses.fields(claim)
        if getattr(claim, f.name) != f.default
    ]
    return f"{type(claim).__name__}({', '.join(given)})"


def _websocket_problem(path: str) -> str:
    return (
        f"WebSocket route {path!r} cannot be served: WebSockets cannot pass through WSGI,"
        " which apphost serves ASGI apps through; an upgrade request to it answers 501"
    )


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


def _uncounted(slot: int | None) -> None:
    """The default ``connections``: no server of ours counts them."""
