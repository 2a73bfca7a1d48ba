"""``serve --reload``: watch plugin sources and installed distributions, reload on change.

    watch()   # in the supervisor process: a daemon thread polling once a second

A change sends this process SIGHUP, so the supervisor reloads exactly as an
operator's SIGHUP does: fresh worker interpreters start and the old ones
drain only once the new ones serve. A plugin broken mid-edit answers 503 and
the log says why, like any broken plugin; with ``--strict`` the new workers
refuse to start instead, so the last good version keeps serving.

Watched: every ``.py`` file of the top-level packages that the ``apphost.apps``
and ``apphost.plugins`` entry points name (found with ``find_spec``, nothing
imported), and every directory on ``sys.path``, whose modification time
changes when a distribution is installed or removed. Polling, not inotify:
nothing to install, and a second of latency does not matter in development.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from ..plugins.discovery import scan

log = logging.getLogger("apphost")
INTERVAL = 1.0


def watch(interval: float = INTERVAL) -> threading.Thread:
    """Start the watcher thread; it signals this process with SIGHUP on every change."""
    thread = threading.Thread(target=_loop, args=(interval,), name="apphost-reload", daemon=True)
    thread.start()
    return thread


def _loop(interval: float) -> None:
    before = snapshot()
    log.info("--reload: watching %d files and directories", len(before))
    while True:
        threading.Event().wait(interval)
        now = snapshot()
        if now != before:
            changed = sorted(set(now.items()) ^ set(before.items()))
            log.info("--reload: %s changed: reloading", changed[0][0])
            before = now
            os.kill(os.getpid(), signal.SIGHUP)


def snapshot() -> dict[str, int]:
    """Path -> modification time (ns) of everything watched."""
    stamps: dict[str, int] = {}
    for entry in sys.path:
        _stamp(stamps, entry or ".")
    for root in plugin_sources():
        if root.is_dir():
            for path in root.rglob("*.py"):
                _stamp(stamps, str(path))
        else:
            _stamp(stamps, str(root))
    return stamps


def plugin_sources() -> set[Path]:
    """The package directories and module files the plugins' entry points name."""
    importlib.invalidate_caches()
    found = scan()
    tops = {ep.value.split(":")[0].split(".")[0].strip() for ep in found.apps + found.plugins}
    roots: set[Path] = set()
    for top in tops:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            roots.update(Path(p) for p in spec.submodule_search_locations)
        elif spec.origin and spec.origin not in ("built-in", "frozen"):
            roots.add(Path(spec.origin))
    return roots


def _stamp(stamps: dict[str, int], path: str) -> None:
    with contextlib.suppress(OSError):
        stamps[path] = os.stat(path).st_mtime_ns
