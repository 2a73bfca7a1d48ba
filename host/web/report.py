"""Rows describing a ``Host`` for ``apphost routes`` and ``apphost plugins`` (and their JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..plugins.discovery import APPS_GROUP, dist_of
from ..routing.table import app_name
from .bulkhead import rss_mib

if TYPE_CHECKING:
    from ..host import Host
    from ..routing.claims import Route
    from ..routing.table import Entry


def _host_column(entry: Entry, server_name: str) -> str:
    r = entry.route
    return {
        "host_port": r.host_key,
        "host": r.host_key,
        "subdomain": f"{r.host_key}.{server_name}",
        "wildcard": f"*.{r.host_key}",
        "any": "*",
    }[r.host_kind]


def route_rows(host: Host) -> list[dict[str, Any]]:
    """One row per claimed route in precedence order, with its status.

    A route claimed more than once has a row per claim, the winner first:
    ``ok`` (or its app's: ``failed: why``, ``quarantined: why``), ``conflict: with X`` for each of two claims at equal rank (the
    route answers 503), ``lost to X`` for a claim outranked on the route.
    """
    claims: dict[tuple[str, str, str, bool], list[Route]] = {}
    for route in host.routes:
        claims.setdefault(route.key, []).append(route)
    rows = []
    for entry in host.dispatcher.table.entries:
        winner = entry.route
        rivals = sorted(claims.get(winner.key, [winner]), key=lambda r: r.rank, reverse=True)
        if winner not in rivals:
            rivals.insert(0, winner)
        for route in rivals:
            if entry.conflict is not None and route.rank == winner.rank:
                others = " and ".join(
                    str(r.claimant) for r in rivals if r is not route and r.rank == winner.rank
                )
                status = f"conflict: with {others} at equal priority; the route answers 503"
            elif route is winner:
                status = _route_status(host, entry)
            else:
                status = f"lost to {winner.claimant} (priority {winner.claim.priority})"
            rows.append(_route_row(host, entry, route, status))
    return rows


def _route_row(host: Host, entry: Entry, route: Route, status: str) -> dict[str, Any]:
    app = route.claim.app
    if isinstance(app, str) and route.claim.factory is None:
        info = host.apps[app].info
        dist = f"{info.dist}=={info.version}"
    else:  # a factory or an app object: the claimant's distribution
        dist = route.claimant.distribution
    return {
        "host": _host_column(entry, host.config.server_name),
        "path": route.path.encode("latin-1").decode("utf-8") + ("/*" if route.path_wild else "")
        or "/",
        "app": entry.name if route is entry.route else app_name(route),
        "distribution": dist,
        "claimed_by": str(route.claimant),
        "priority": route.claim.priority,
        "status": status,
    }


def _route_status(host: Host, entry: Entry) -> str:
    """A winning route's status: its app's (``failed: ...``, ``quarantined: ...``), else ok."""
    app = entry.route.claim.app
    if not isinstance(app, str) or entry.route.claim.factory is not None:
        return "ok"
    why = host.bulkheads.quarantined.get(app)
    if why is not None:
        return f"quarantined: {why}"
    info = host.apps[app].info  # not loaded yet is ok: apps load on their first request
    return info.state if info.failed else "ok"


def _app_status(host: Host, name: str) -> str:
    """``ok``, ``failed: why``...; and why it has no route, if it has none (fail closed)."""
    state = host.apps[name].info.state
    unmounted = host.unmounted.get(name)
    if unmounted is None:
        return state
    return f"{state}; not mounted: {unmounted.partition(': not mounted: ')[2]}"


def plugin_rows(host: Host) -> list[dict[str, Any]]:
    """One row per app and per hook plugin, with its status."""
    rows: list[dict[str, Any]] = [
        {
            "kind": "app",
            "name": name,
            "distribution": f"{a.info.dist}=={a.info.version}",
            "entry_point": a.info.entry_point,
            "interface": a.info.interface,
            "hooks": [],
            "isolation": _isolation(host, name),
            "status": _app_status(host, name),
        }
        for name, a in sorted(host.apps.items())
    ]
    rows += [
        {
            "kind": "plugin",
            "name": name,
            "distribution": f"{p.dist}=={p.version}",
            "entry_point": p.entry_point,
            "interface": "",
            "status": p.state,
            "hooks": list(p.hooks),
            "isolation": "",
        }
        for name, p in sorted(host.plugins.items())
    ]
    rows += [
        {
            "kind": "app" if out.entry_point.group == APPS_GROUP else "plugin",
            "name": out.entry_point.name,
            "distribution": "{}=={}".format(*dist_of(out.entry_point)),
            "entry_point": out.entry_point.value,
            "interface": "",
            "hooks": [],
            "isolation": "",
            "status": f"not loaded: {out.why}",
        }
        for out in host.left_out
    ]
    return rows


def manifest(host: Host) -> dict[str, Any]:
    """What this host serves, for the supervisor to compare across a reload (``serving.changes``)."""
    routes = {}
    for entry in host.dispatcher.table.entries:
        conflict = entry.conflict
        routes[entry.route.describe()] = (
            f"conflict ({app_name(conflict.existing)}, {app_name(conflict.duplicate)})"
            if conflict
            else entry.name
        )
    return {
        "apps": {n: f"{a.info.dist}=={a.info.version}" for n, a in sorted(host.apps.items())},
        "routes": routes,
        "problems": [str(p) for p in host.all_problems()],
    }


def _isolation(host: Host, name: str) -> str:
    processes = host.config.pools().get(name)
    return "thread" if processes is None else f"process x{processes}"


def pool_rows(host: Host) -> dict[str, dict[str, Any]]:
    """Each process pool of a worker's host: processes, PIDs, RSS (MiB), restarts, in flight.

    PIDs and restarts are as the supervisor last told this worker; in flight
    counts this worker's requests handed to the pool.
    """
    in_flight = {b.name: len(b.active) for b in host.bulkheads.each() if b.name in host.pools}
    rows = {}
    for name in host.pools:
        pids, restarts = host.pool_state.get(name, ([], 0))
        rows[name] = {
            "processes": host.config.pools().get(name, 0),
            "pids": pids,
            "rss_mib": [round(rss_mib(pid), 1) for pid in pids],
            "restarts": restarts,
            "in_flight": in_flight.get(name, 0),
        }
    return rows
