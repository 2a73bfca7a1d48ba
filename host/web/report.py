"""Rows describing a ``Host`` for ``apphost routes`` and ``apphost plugins`` (and their JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..plugins.discovery import APPS_GROUP, dist_of

if TYPE_CHECKING:
    from ..host import Host
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
    """One row per winning route, in precedence order."""
    rows = []
    for entry in host.dispatcher.table.entries:
        r = entry.route
        app = r.claim.app
        if isinstance(app, str) and r.claim.factory is None:
            info = host.apps[app].info
            dist = f"{info.dist}=={info.version}"
        else:  # a factory or an app object: the claimant's distribution
            dist = r.claimant.distribution
        rows.append(
            {
                "host": _host_column(entry, host.config.server_name),
                "path": r.path.encode("latin-1").decode("utf-8") + ("/*" if r.path_wild else "")
                or "/",
                "app": entry.name,
                "distribution": dist,
                "claimed_by": str(r.claimant),
                "priority": r.claim.priority,
                "status": f"conflict: {entry.conflict}" if entry.conflict else "ok",
            }
        )
    return rows


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
            "hooks": "",
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
            "hooks": ", ".join(p.hooks),
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
            "hooks": "",
            "status": f"not loaded: {out.why}",
        }
        for out in host.left_out
    ]
    return rows
