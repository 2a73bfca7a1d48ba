"""What a reload changed: two workers' manifests compared, for one log line.

    changes = compare(old_manifest, new_manifest)
    log.info("reloaded: ...; %s", describe_changes(changes))
    # added app notes (apphost-notes==0.1.0) at /notes; upgraded app blog 1.0 -> 1.1; ...

A worker sends its manifest to the supervisor before it says it serves
(``apphost.web.report.manifest``): every app with its distribution and
version, every route with the app it serves (or ``conflict``), and every
problem. The supervisor imports no plugin, so this is how it knows what a
new generation serves that the previous one did not. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

Manifest = dict[
    str, Any
]  # {"apps": {name: "dist==version"}, "routes": {route: app}, "problems": [...]}
KINDS = ("added", "upgraded", "removed", "failed")


def compare(old: Manifest | None, new: Manifest | None) -> dict[str, list[str]]:
    """``added``, ``upgraded``, ``removed`` (apps and routes) and ``failed`` (new problems)."""
    old, new = old or {}, new or {}
    apps0, apps1 = old.get("apps", {}), new.get("apps", {})
    routes0, routes1 = old.get("routes", {}), new.get("routes", {})
    changes: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for name in sorted(apps1.keys() - apps0.keys()):
        changes["added"].append(f"app {name} ({apps1[name]})")
    for name in sorted(apps0.keys() & apps1.keys()):
        if apps0[name] != apps1[name]:
            changes["upgraded"].append(f"app {name} {_versions(apps0[name], apps1[name])}")
    for name in sorted(apps0.keys() - apps1.keys()):
        changes["removed"].append(f"app {name} ({apps0[name]})")
    for route in sorted(routes1.keys() - routes0.keys()):
        changes["added"].append(f"route {route or '/'} -> {routes1[route]}")
    for route in sorted(routes0.keys() & routes1.keys()):
        if routes0[route] != routes1[route]:
            changes["upgraded"].append(f"route {route or '/'} {routes0[route]} -> {routes1[route]}")
    for route in sorted(routes0.keys() - routes1.keys()):
        changes["removed"].append(f"route {route or '/'} (was {routes0[route]})")
    was = set(old.get("problems", ()))
    changes["failed"] = [p for p in new.get("problems", ()) if p not in was]
    return changes


def describe_changes(changes: dict[str, list[str]]) -> str:
    """One line: ``added ...; upgraded ...; removed ...; failed: ...``, or ``nothing changed``."""
    parts = [
        f"{kind}{':' if kind == 'failed' else ''} {', '.join(changes[kind])}"
        for kind in KINDS
        if changes.get(kind)
    ]
    return "; ".join(parts) if parts else "no app or route changed"


def _versions(old: str, new: str) -> str:
    """``1.0 -> 1.1`` for one distribution, else ``a==1.0 -> b==2.0``."""
    dist0, _, v0 = old.rpartition("==")
    dist1, _, v1 = new.rpartition("==")
    return f"({dist0}) {v0} -> {v1}" if dist0 == dist1 else f"{old} -> {new}"
