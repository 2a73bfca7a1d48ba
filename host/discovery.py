"""Entry points -> app and plugin records; the plugin manager; per-plugin error capture.

    found = scan()                                  # one pass over installed metadata
    pm = make_plugin_manager()
    plugins, problems = register_plugins(pm, found.plugins)

Discovery reads metadata only; nothing is imported until an app or plugin is
loaded. ``APPHOST_LOAD_PLUGINS`` (comma-separated distribution or entry point
names; empty: none) and ``APPHOST_DISABLE_PLUGINS`` filter both groups first,
so a broken plugin can always be switched off.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
import re
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import importlib_metadata
import pluggy

from . import hookspecs
from .apps import describe

APPS_GROUP = "apphost.apps"
PLUGINS_GROUP = "apphost.plugins"
ENV_LOAD = "APPHOST_LOAD_PLUGINS"
ENV_DISABLE = "APPHOST_DISABLE_PLUGINS"
log = logging.getLogger("apphost")
HOOK_NAMES = tuple(n for n in dir(hookspecs) if n.startswith("apphost_"))


@dataclass(frozen=True, slots=True)
class Found:
    """The entry points of both groups, filtered, and the problems met scanning."""

    apps: list[importlib_metadata.EntryPoint]
    plugins: list[importlib_metadata.EntryPoint]
    problems: list[str]


@dataclass(slots=True)
class PluginInfo:
    """One ``apphost.plugins`` entry point and what became of it."""

    name: str
    dist: str
    version: str
    entry_point: str
    status: str = "ok"  # or "failed: why"
    hooks: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"plugin {self.name!r} ({self.dist}=={self.version})"


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
    problems: list[str] = []
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


def _installed(problems: list[str]) -> list[importlib_metadata.EntryPoint]:
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
                    f"distribution {name} is installed twice on sys.path ({seen[key]} and {version});"
                    f" using {seen[key]}, the first found"
                )
            continue
        seen[key] = version
        eps.extend(ours)
    return eps


class _PluginManager(pluggy.PluginManager):
    """Functions named ``apphost_*`` are hooks even without ``@hookimpl``."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if (
            opts is None
            and name.startswith("apphost_")
            and inspect.isroutine(getattr(plugin, name, None))
        ):
            opts = {
                "wrapper": False,
                "hookwrapper": False,
                "optionalhook": False,
                "tryfirst": False,
                "trylast": False,
                "specname": None,
            }
        return opts


def make_plugin_manager() -> pluggy.PluginManager:
    pm = _PluginManager("apphost")
    pm.add_hookspecs(hookspecs)
    return pm


def register_plugins(
    pm: pluggy.PluginManager, eps: Iterable[importlib_metadata.EntryPoint]
) -> tuple[dict[str, PluginInfo], list[str]]:
    """Import and register each plugin on its own; a broken one is reported and left out."""
    plugins: dict[str, PluginInfo] = {}
    problems: list[str] = []
    for ep in eps:
        dist, version = dist_of(ep)
        info = PluginInfo(ep.name, dist, version, ep.value)
        if ep.name in plugins:
            other = plugins[ep.name]
            problems.append(
                f"plugin name {ep.name!r} is advertised by both {other.dist}=={other.version}"
                f" and {dist}=={version}; both are left out until one is removed or disabled"
            )
            if other.status == "ok":
                pm.unregister(name=ep.name)
            other.status = info.status = "failed: plugin name advertised by two distributions"
            continue
        plugins[ep.name] = info
        try:
            obj = ep.load()
            _check_plugin(obj)
            pm.register(obj, name=ep.name)
            _check_registered(pm, obj)
        except Exception as exc:
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            info.status = f"failed: {describe(exc)}"
            problems.append(f"{info.label}, entry point '{ep.name} = {ep.value}': {describe(exc)}")
            log.debug("%s failed to load", info.label, exc_info=True)
            continue
        info.hooks = tuple(sorted(c.name for c in pm.get_hookcallers(obj) or ()))
    return plugins, problems


def _check_plugin(obj: object) -> None:
    """Reject unknown ``apphost_*`` names and ``async def`` hooks before pluggy sees them."""
    for name in dir(obj):
        if not name.startswith("apphost_"):
            continue
        func = getattr(obj, name)
        if name not in HOOK_NAMES:
            hint = difflib.get_close_matches(name, HOOK_NAMES, n=1)
            did = f"; did you mean {hint[0]!r}?" if hint else f"; hooks are {', '.join(HOOK_NAMES)}"
            raise TypeError(f"unknown hook {name!r}{did}")
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(f"hook {name!r} is async; apphost calls hooks synchronously")


def _check_registered(pm: pluggy.PluginManager, plugin: object) -> None:
    for caller in pm.get_hookcallers(plugin) or ():
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper):
                raise TypeError(f"hook {caller.name!r} is a hook wrapper; apphost hooks take none")


def call_each(pm: pluggy.PluginManager, hook_name: str) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Yield (plugin name, call) for each impl of a hook, in pluggy's call order.

    ``call(**hook_kwargs)`` runs that one impl with the arguments it declares,
    so the caller decides what an exception from one plugin means and the
    other impls still run.
    """
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):

        def call(_impl: pluggy.HookImpl = impl, **kwargs: Any) -> Any:
            return _impl.function(*[kwargs[a] for a in _impl.argnames])

        yield impl.plugin_name, call
