"""The pluggy manager: hook modules registered one by one, each failure kept to its plugin.

    pm = make_plugin_manager()
    plugins, problems = register_plugins(pm, found.plugins)   # name -> PluginInfo
    for plugin, call in call_each(pm, "apphost_claim_routes"):
        call(apphost=view)                # one impl; the caller decides what its error means

apphost keeps its own record of each plugin (``PluginInfo``: distribution,
version, status, hooks) rather than reading pluggy's private attributes.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import importlib_metadata
import pluggy

from .. import hookspecs
from ..api import Problem, ProblemKind, Status
from ..errors import describe, traceback_of
from .discovery import dist_of

log = logging.getLogger("apphost")
HOOK_NAMES = tuple(n for n in dir(hookspecs) if n.startswith("apphost_"))


@dataclass(slots=True)
class PluginInfo:
    """One ``apphost.plugins`` entry point and what became of it."""

    name: str
    dist: str
    version: str
    entry_point: str
    status: Status = Status.OK
    why: str = ""  # set when status is FAILED
    hooks: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"plugin {self.name!r} ({self.dist}=={self.version})"

    @property
    def distribution(self) -> str:
        return f"{self.dist}=={self.version}"

    @property
    def state(self) -> str:
        """``ok`` or ``failed: why``, as reports show it."""
        return f"failed: {self.why}" if self.status is Status.FAILED else self.status.value

    def fail(self, why: str) -> None:
        self.status, self.why = Status.FAILED, why

    def problem(self, message: str, traceback: str = "") -> Problem:
        """A problem of this plugin; ``message`` follows its label."""
        return Problem(
            ProblemKind.PLUGIN,
            self.name,
            f"{self.label}{message}",
            self.name,
            self.distribution,
            traceback,
        )


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
    pm: pluggy.PluginManager,
    eps: Iterable[importlib_metadata.EntryPoint],
    on_step: Callable[[str], object] | None = None,
) -> tuple[dict[str, PluginInfo], list[Problem]]:
    """Import and register each plugin on its own; a broken one is reported and left out.

    ``on_step(what)`` is told before each import (a worker reports it, so a hang is named).
    """
    plugins: dict[str, PluginInfo] = {}
    problems: list[Problem] = []
    for ep in eps:
        dist, version = dist_of(ep)
        info = PluginInfo(ep.name, dist, version, ep.value)
        if ep.name in plugins:
            other = plugins[ep.name]
            problems.append(
                Problem(
                    ProblemKind.DISTRIBUTION,
                    ep.name,
                    f"plugin name {ep.name!r} is advertised by both {other.distribution}"
                    f" and {info.distribution}; both are left out until one is removed or disabled",
                    ep.name,
                    info.distribution,
                )
            )
            if other.status is Status.OK:
                pm.unregister(name=ep.name)
            other.fail("plugin name advertised by two distributions")
            info.fail("plugin name advertised by two distributions")
            continue
        plugins[ep.name] = info
        if on_step is not None:
            on_step(f"importing {info.label}, entry point '{ep.name} = {ep.value}'")
        try:
            obj = ep.load()
            _check_plugin(obj)
            pm.register(obj, name=ep.name)
            _check_registered(pm, obj)
        except Exception as exc:
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            info.fail(describe(exc))
            where = f", entry point '{ep.name} = {ep.value}': {info.why}"
            problems.append(info.problem(where, traceback_of(exc)))
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
