"""Pytest fixtures for plugin authors: a host from given plugins, apps and claims.

    import urllib.request

    from apphost import Claim
    from my_plugin import app, hooks

    def test_mounted(apphost_host, apphost_client):
        host = apphost_host(plugins={"mine": hooks}, apps={"mine": app}, strict=True)
        response = apphost_client(host).get("/mine/x")
        assert response.status_code == 200

    def test_live(apphost_host, apphost_server):
        host = apphost_host(apps={"mine": app}, claims=[Claim(app="mine", path="/")])
        with urllib.request.urlopen(apphost_server(host).url + "/x") as response:
            assert response.status == 200

Installing apphost registers these fixtures (entry point group ``pytest11``);
with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` set, pass ``-p apphost`` instead.

Nothing is installed: ``apphost_host`` hands ``Host.build`` the entry points of
an in-memory distribution named ``in-memory`` (version ``0``), so the host
discovers, registers, wraps and routes exactly as it does for pip-installed
plugins. An object that cannot be imported by name (a function defined in the
test, a Flask app instance) is reached through a module registered in
``sys.modules`` for the test and removed after it.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import importlib_metadata
import pytest
from werkzeug.test import Client

from ..config import Config, parse_config
from ..host import Host
from ..plugins.discovery import APPS_GROUP, ENV_DISABLE, ENV_LOAD, PLUGINS_GROUP
from ..routing.claims import Claim
from ..serving._waitress import MultiSocketServer, Trigger, socket_map, wasyncore
from ..serving.server import make_server

DIST_NAME, DIST_VERSION = "in-memory", "0"
CLAIMS_PLUGIN = "claims"  # the plugin that makes the claims= of apphost_host
TEST_LISTEN = "127.0.0.1:0"  # apphost_host's default listen: a free port, never a real one

log = logging.getLogger("apphost")
_counter = itertools.count()
_NAME = re.compile(r"[\w.-]+")
_NON_WORD = re.compile(r"\W")


class _MemoryDistribution(importlib_metadata.Distribution):
    """A distribution whose metadata lives in memory (importlib_metadata's documented hooks)."""

    def __init__(self, entry_points: str) -> None:
        self._files = {
            "METADATA": f"Metadata-Version: 2.1\nName: {DIST_NAME}\nVersion: {DIST_VERSION}\n",
            "entry_points.txt": entry_points,
        }

    def read_text(self, filename: str | os.PathLike[str]) -> str | None:
        return self._files.get(str(filename))

    def locate_file(self, path: str | os.PathLike[str]) -> NoReturn:
        raise FileNotFoundError(f"{DIST_NAME} has no files; asked for {path}")


class HostFactory:
    """``apphost_host(...)``: build a ``Host`` from objects in memory; see ``__call__``."""

    def __init__(self) -> None:
        self._modules: list[str] = []
        self._hosts: list[Host] = []

    def __call__(
        self,
        *,
        plugins: Mapping[str, object] | Iterable[object] = (),
        apps: Mapping[str, object] | None = None,
        claims: Iterable[Claim] = (),
        config: Mapping[str, Any] | Config | None = None,
        strict: bool = False,
    ) -> Host:
        """Build a host serving ``apps`` with the hooks of ``plugins``, nothing else.

        ``plugins``: hook modules or objects, by name, or a list (named by their
        ``__name__``). ``apps``: name -> WSGI or ASGI app, or a factory marked
        ``@app_factory`` (called with the ``[apps.NAME]`` table of ``config``).
        ``claims``: made by a plugin named ``claims``, as if from its
        ``apphost_claim_routes``. ``config``: a ``Config``, or a dict shaped like
        the TOML file (its ``[[claims]]`` are the operator's, beating plugins);
        ``listen`` defaults to ``127.0.0.1:0``. ``strict``: load every app and
        raise ``StrictError`` listing every problem, instead of leaving them in
        ``host.problems``.
        """
        named = dict(plugins) if isinstance(plugins, Mapping) else _by_name(plugins)
        made = tuple(claims)
        if made:
            if CLAIMS_PLUGIN in named:
                raise ValueError(f"a plugin is named {CLAIMS_PLUGIN!r}, as claims= would be")
            named[CLAIMS_PLUGIN] = types.SimpleNamespace(apphost_claim_routes=lambda: made)
        module = types.ModuleType(f"_apphost_pytest_{next(_counter)}")
        sys.modules[module.__name__] = module
        self._modules.append(module.__name__)
        lines = [f"[{APPS_GROUP}]"]
        lines += [_entry(module, "app", n, obj) for n, obj in (apps or {}).items()]
        lines.append(f"[{PLUGINS_GROUP}]")
        lines += [_entry(module, "plugin", n, obj) for n, obj in named.items()]
        dist = _MemoryDistribution("\n".join(lines) + "\n")
        host = Host.build(_config(config), entry_points=dist.entry_points)
        self._hosts.append(host)
        if strict:
            host.strict()
        return host

    def close(self) -> None:
        """Shut the hosts' ASGI apps down; forget the modules made for the hosts' objects."""
        while self._hosts:
            self._hosts.pop().close_apps()
        for name in self._modules:
            sys.modules.pop(name, None)
        self._modules.clear()


def _by_name(plugins: Iterable[object]) -> dict[str, object]:
    named: dict[str, object] = {}
    for obj in plugins:
        name = getattr(obj, "__name__", None) or type(obj).__name__
        if name in named:
            raise ValueError(f"two plugins are named {name!r}: pass plugins={{name: obj}}")
        named[name] = obj
    return named


def _entry(module: types.ModuleType, kind: str, name: str, obj: object) -> str:
    """``name = module:attr``: the object's own import path if it has one, else ``module``'s."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"{kind} name {name!r}: use letters, digits, '_', '-' and '.'")
    value = _import_path(obj)
    if value is None:
        attr = f"{kind}_{_NON_WORD.sub('_', name)}"
        while hasattr(module, attr):  # "a-b" and "a_b"
            attr += "_"
        setattr(module, attr, obj)
        value = f"{module.__name__}:{attr}"
    return f"{name} = {value}"


def _import_path(obj: object) -> str | None:
    """``"module"`` or ``"module:qualname"`` if importing that gives back ``obj`` itself."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__ if sys.modules.get(obj.__name__) is obj else None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    target: object = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    return f"{module}:{qualname}" if target is obj else None


def _config(config: Mapping[str, Any] | Config | None) -> Config:
    if isinstance(config, Config):
        return config
    data = dict(config or {})
    settings = data.get("apphost", {})
    if isinstance(settings, Mapping):
        data["apphost"] = {"listen": [TEST_LISTEN], **settings}
    return parse_config(data, source="apphost_host(config=...)")


@dataclass(frozen=True, slots=True)
class LiveServer:
    """A waitress server serving a host in a thread; stopped when the test ends."""

    url: str  # "http://127.0.0.1:PORT", no trailing slash
    port: int


class ServerFactory:
    """``apphost_server(host)``: serve ``host`` under waitress on ``host.config.listen``.

    Runs ``apphost_startup`` before serving; at teardown stops the server and
    runs ``apphost_shutdown``, as ``apphost serve`` does.
    """

    def __init__(self) -> None:
        self._running: list[tuple[Host, Any, threading.Thread]] = []

    def __call__(self, host: Host) -> LiveServer:
        server = make_server(host)
        try:
            host.startup()
        except BaseException:
            _stop(server, None)
            raise
        thread = threading.Thread(target=server.run, name="apphost_server", daemon=True)
        thread.start()
        self._running.append((host, server, thread))
        if isinstance(server, MultiSocketServer):
            name, port = server.effective_listen[0]
        else:
            name, port = server.effective_host, server.effective_port
        return LiveServer(f"http://{f'[{name}]' if ':' in name else name}:{port}", int(port))

    def close(self) -> None:
        """Stop every server (in-flight requests are cut off) and run shutdown hooks."""
        while self._running:
            host, server, thread = self._running.pop()
            _stop(server, thread)
            host.shutdown()


def _stop(server: Any, thread: threading.Thread | None) -> None:
    """Close every socket from the server's own loop thread, so its loop ends; then its workers."""
    sockets = socket_map(server)
    trigger = next((c for c in sockets.values() if isinstance(c, Trigger)), None)
    if thread is not None and thread.is_alive() and trigger is not None:
        try:
            trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
        except OSError:
            # The trigger's descriptor is already closed: the loop has ended on its own
            # (or is ending); close what is left from here.
            log.warning("apphost_server: the server's loop had already stopped", exc_info=True)
        else:
            thread.join(timeout=10)
    wasyncore.close_all(sockets, ignore_all=True)  # whatever the loop did not close
    server.task_dispatcher.shutdown()


ClientFactory = Callable[[Host], Client]  # the type of apphost_client


@pytest.fixture
def apphost_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostFactory]:
    """``apphost_host(plugins=, apps=, claims=, config=, strict=)`` -> a ``Host`` (nothing installed).

    ``APPHOST_LOAD_PLUGINS`` and ``APPHOST_DISABLE_PLUGINS`` are unset for the test.
    """
    for var in (ENV_LOAD, ENV_DISABLE):
        monkeypatch.delenv(var, raising=False)
    factory = HostFactory()
    yield factory
    factory.close()


@pytest.fixture
def apphost_client() -> ClientFactory:
    """``apphost_client(host)`` -> a ``werkzeug.test.Client`` over the host's dispatcher."""
    return lambda host: Client(host.dispatcher)


@pytest.fixture
def apphost_server() -> Iterator[ServerFactory]:
    """``apphost_server(host)`` -> a ``LiveServer`` (``.url``, ``.port``), stopped after the test."""
    factory = ServerFactory()
    yield factory
    factory.close()
