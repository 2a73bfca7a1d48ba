"""Entry points of both groups, filtered by the environment; distribution names and versions.

    found = scan()            # one pass over installed metadata: found.apps, found.plugins

Discovery reads metadata only; nothing is imported until an app or plugin is
loaded. ``APPHOST_LOAD_PLUGINS`` (comma-separated distribution or entry point
names; empty: none) and ``APPHOST_DISABLE_PLUGINS`` filter both groups first,
so a broken plugin can always be switched off.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import importlib_metadata

from ..api import Problem, ProblemKind

APPS_GROUP = "apphost.apps"
PLUGINS_GROUP = "apphost.plugins"
ENV_LOAD = "APPHOST_LOAD_PLUGINS"
ENV_DISABLE = "APPHOST_DISABLE_PLUGINS"


@dataclass(frozen=True, slots=True)
class Found:
    """The entry points of both groups, filtered, and the problems met scanning."""

    apps: list[importlib_metadata.EntryPoint]
    plugins: list[importlib_metadata.EntryPoint]
    problems: list[Problem]


def dist_of(ep: importlib_metadata.EntryPoint) -> tuple[str, str]:
    """(distribution name, version) of an entry point, ``("?", "?")`` if unknown."""
    dist = cast(importlib_metadata.Distribution | None, ep.dist)
    if dist is None:
        return "?", "?"
    got = _NAMES.get(dist)
    if got is None:
        got = _NAMES[dist] = _name_version(dist)
    return got


# importlib_metadata parses the whole METADATA file on every ``.name`` and
# ``.version``; with thousands of distributions that parsing was most of the
# start-up, so each distribution's pair is read once, from the header lines.
_NAMES: weakref.WeakKeyDictionary[importlib_metadata.Distribution, tuple[str, str]] = (
    weakref.WeakKeyDictionary()
)


def _name_version(dist: importlib_metadata.Distribution) -> tuple[str, str]:
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first blank line
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    if "Name" in fields and "Version" in fields:
        return fields["Name"], fields["Version"]
    return dist.name, dist.version  # unusual metadata: let importlib_metadata decide


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(value: str) -> set[str]:
    return {_norm(n) for n in value.split(",") if n.strip()}


def scan(
    entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
    environ: dict[str, str] | os._Environ[str] = os.environ,
    disable: Iterable[str] = (),
) -> Found:
    """Collect both groups' entry points once. ``entry_points`` replaces the scan in tests.

    ``disable`` (``--disable-plugin``) adds to ``$APPHOST_DISABLE_PLUGINS``.
    """
    problems: list[Problem] = []
    eps = list(entry_points) if entry_points is not None else _installed(problems)
    load = environ.get(ENV_LOAD)
    wanted = None if load is None else _names(load)
    disabled = _names(",".join([environ.get(ENV_DISABLE, ""), *disable]))

    def chosen(ep: importlib_metadata.EntryPoint) -> bool:
        names = {_norm(ep.name), _norm(dist_of(ep)[0])}
        return not (names & disabled) and (wanted is None or bool(names & wanted))

    if wanted is not None or disabled:
        eps = [ep for ep in eps if chosen(ep)]
    return Found(
        [ep for ep in eps if ep.group == APPS_GROUP],
        [ep for ep in eps if ep.group == PLUGINS_GROUP],
        problems,
    )


def _installed(problems: list[Problem]) -> list[importlib_metadata.EntryPoint]:
    """Every distribution with apphost entry points once (first on sys.path wins)."""
    seen: dict[str, str] = {}
    eps: list[importlib_metadata.EntryPoint] = []
    for dist in importlib_metadata.distributions():
        ours = [ep for ep in dist.entry_points if ep.group in (APPS_GROUP, PLUGINS_GROUP)]
        if not ours:
            continue
        try:
            name, version = dist_of(ours[0])
        except Exception:  # metadata without a name: not ours to judge
            continue
        key = _norm(name)
        if key in seen:
            if seen[key] != version:
                problems.append(
                    Problem(
                        ProblemKind.DISTRIBUTION,
                        name,
                        f"distribution {name} is installed twice on sys.path"
                        f" ({seen[key]} and {version}); using {seen[key]}, the first found",
                        distribution=f"{name}=={seen[key]}",
                    )
                )
            continue
        seen[key] = version
        eps.extend(ours)
    return eps
