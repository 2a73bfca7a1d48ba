"""Entry points of both groups, filtered by the environment; distribution names and versions.

    found = scan()            # one pass over installed metadata: found.apps, found.plugins

Discovery reads metadata only; nothing is imported until an app or plugin is
loaded. ``APPHOST_LOAD_PLUGINS`` (comma-separated distribution or entry point
names; empty: none) and ``APPHOST_DISABLE_PLUGINS`` filter both groups first,
so a broken plugin can always be switched off. A distribution whose
``Requires-Dist: apphost ...`` excludes the running apphost was built for
another one: its entry points are left out (``found.left_out``) and reported.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import importlib_metadata

from ..api import Problem, ProblemKind

APPS_GROUP = "apphost.apps"
PLUGINS_GROUP = "apphost.plugins"
ENV_LOAD = "APPHOST_LOAD_PLUGINS"
ENV_DISABLE = "APPHOST_DISABLE_PLUGINS"


@dataclass(frozen=True, slots=True)
class LeftOut:
    """An entry point not loaded because its distribution requires another apphost."""

    entry_point: importlib_metadata.EntryPoint
    why: str  # "requires apphost<0.1 but this is apphost 0.1.0"


@dataclass(frozen=True, slots=True)
class Found:
    """The entry points of both groups, filtered, and the problems met scanning."""

    apps: list[importlib_metadata.EntryPoint]
    plugins: list[importlib_metadata.EntryPoint]
    problems: list[Problem]
    left_out: list[LeftOut] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Header:
    """What discovery reads of a distribution's METADATA, in one pass over its headers."""

    name: str
    version: str
    requires: tuple[str, ...]  # the Requires-Dist values that may name apphost


def dist_of(ep: importlib_metadata.EntryPoint) -> tuple[str, str]:
    """(distribution name, version) of an entry point, ``("?", "?")`` if unknown."""
    header = _header(ep)
    return ("?", "?") if header is None else (header.name, header.version)


def _header(ep: importlib_metadata.EntryPoint) -> _Header | None:
    dist = cast(importlib_metadata.Distribution | None, ep.dist)
    if dist is None:
        return None
    got = _HEADERS.get(dist)
    if got is None:
        got = _HEADERS[dist] = _read_header(dist)
    return got


# importlib_metadata parses the whole METADATA file on every ``.name`` and
# ``.version``; with thousands of distributions that parsing was most of the
# start-up, so each distribution's header is read once, from the header lines.
_HEADERS: weakref.WeakKeyDictionary[importlib_metadata.Distribution, _Header] = (
    weakref.WeakKeyDictionary()
)
_MAY_NAME_APPHOST = re.compile(r"\s*apphost(?![\w.-]*[\w])", re.IGNORECASE).match


def _read_header(dist: importlib_metadata.Distribution) -> _Header:
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    fields: dict[str, str] = {}
    requires: list[str] = []
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first blank line
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key == "Requires-Dist":
            # A bare "apphost" excludes nothing: most plugins never import packaging.
            if _MAY_NAME_APPHOST(value) and value.strip().lower() != "apphost":
                requires.append(value.strip())
        elif key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    if "Name" in fields and "Version" in fields:
        return _Header(fields["Name"], fields["Version"], tuple(requires))
    # Unusual metadata: let importlib_metadata decide.
    requires = [r for r in dist.requires or () if _MAY_NAME_APPHOST(r)]
    return _Header(dist.name, dist.version, tuple(requires))


def misfit(requires: Iterable[str], running: str) -> str | None:
    """Why Requires-Dist values exclude apphost ``running`` (``"requires apphost<0.1 but ..."``).

    None if they do not. A requirement under a marker counts only where the
    marker holds with no extra requested (``; extra == "x"`` never counts).
    """
    from packaging.requirements import InvalidRequirement, Requirement

    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # pip would not have installed it; not ours to judge
        if _norm(req.name) != "apphost":
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if not req.specifier.contains(running, prereleases=True):
            return f"requires {req} but this is apphost {running}"
    return None


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
    eps, left_out = _fitting(eps, problems)
    return Found(
        [ep for ep in eps if ep.group == APPS_GROUP],
        [ep for ep in eps if ep.group == PLUGINS_GROUP],
        problems,
        left_out,
    )


def _fitting(
    eps: list[importlib_metadata.EntryPoint], problems: list[Problem]
) -> tuple[list[importlib_metadata.EntryPoint], list[LeftOut]]:
    """The entry points whose distribution fits this apphost; the others, reported once each."""
    from .. import __version__

    kept: list[importlib_metadata.EntryPoint] = []
    left_out: dict[tuple[str, str], list[LeftOut]] = {}
    why_of: dict[tuple[str, str], str | None] = {}
    for ep in eps:
        header = _header(ep)
        if header is None or not header.requires:
            kept.append(ep)
            continue
        key = (header.name, header.version)
        if key not in why_of:
            why_of[key] = misfit(header.requires, __version__)
        why = why_of[key]
        if why is None:
            kept.append(ep)
        else:
            left_out.setdefault(key, []).append(LeftOut(ep, why))
    for (name, version), outs in left_out.items():
        names = ", ".join(
            f"{'app' if out.entry_point.group == APPS_GROUP else 'plugin'} {out.entry_point.name!r}"
            for out in outs
        )
        problems.append(
            Problem(
                ProblemKind.DISTRIBUTION,
                name,
                f"distribution {name}=={version} {outs[0].why}; its apps and plugins are not"
                f" loaded ({names}): install a release of {name} made for apphost {__version__}",
                distribution=f"{name}=={version}",
            )
        )
    return kept, [out for outs in left_out.values() for out in outs]


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
