"""Shared fixtures: throwaway plugin distributions on sys.path, and hosts built from them."""

from __future__ import annotations

import http.client
import itertools
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import importlib_metadata
import pytest
from apphost.config import Config
from apphost.host import Host

from .live import Served

_counter = itertools.count()


class Dists:
    """Writes real distributions (a module plus a ``.dist-info``) into one sys.path folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(
        self,
        name: str,
        *,
        version: str = "1.0",
        apps: dict[str, str] | None = None,
        plugins: dict[str, str] | None = None,
        modules: dict[str, str] | None = None,
    ) -> Path:
        """``modules`` maps module name -> source; entry point values may use ``{mod}``."""
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = []
        for group, eps in (("apphost.apps", apps), ("apphost.plugins", plugins)):
            if eps:
                lines.append(f"[{group}]")
                lines += [f"{k} = {v}" for k, v in eps.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for mod, source in (modules or {}).items():
            (self.root / f"{mod}.py").write_text(textwrap.dedent(source))
        return info

    def entry_points(self) -> list[importlib_metadata.EntryPoint]:
        return [
            ep
            for dist in importlib_metadata.distributions(path=[str(self.root)])
            for ep in dist.entry_points
        ]

    def host(self, config: Config | None = None) -> Host:
        return Host.build(config or Config(), entry_points=self.entry_points())


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dists]:
    """A fresh sys.path folder for throwaway distributions; their modules are forgotten after."""
    root = tmp_path / f"site{next(_counter)}"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield Dists(root)
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if getattr(module, "__file__", "") and str(root) in str(module.__file__):
            del sys.modules[name]


def unique(prefix: str) -> str:
    """A module name no other test uses (sys.modules would otherwise cache it)."""
    return f"{prefix}_{next(_counter)}"


@pytest.fixture(autouse=True)
def _no_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own APPHOST_* settings must not leak into tests."""
    for var in ("APPHOST_LOAD_PLUGINS", "APPHOST_DISABLE_PLUGINS", "APPHOST_CONFIG"):
        monkeypatch.delenv(var, raising=False)


class Server:
    """A real ``apphost serve`` subprocess on an ephemeral loopback port."""

    def __init__(self, proc: subprocess.Popen[str], port: int, log: list[str]) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}"

    def get(
        self, path: str, host: str | None = None, timeout: float = 10
    ) -> tuple[int, str, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Host": host} if host else {}
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.getheaders())
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def start_server(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> Server:
    """Start ``apphost serve --listen 127.0.0.1:0 ARGS`` and wait until it prints its port."""
    cmd = [sys.executable, "-m", "apphost", "serve", "--listen", "127.0.0.1:0", *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    log: list[str] = []
    found: queue.Queue[int | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            m = re.search(r"Serving on http://127\.0\.0\.1:(\d+)", line)
            if m:
                found.put(int(m.group(1)))
        found.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        port = found.get(timeout=timeout)
    except queue.Empty:
        port = None
    if port is None:
        proc.kill()
        raise RuntimeError("apphost serve did not start:\n" + "".join(log))
    return Server(proc, port, log)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """``serve(*args, env=...)`` starts a server; every one is stopped after the test."""
    servers: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        servers.append(start_server(*args, env=env))
        return servers[-1]

    yield start
    for server in servers:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(10)


@pytest.fixture
def run_cli() -> Callable[..., tuple[int, str]]:
    """``run_cli("routes", "--json")`` -> (exit code, output) through click's CliRunner."""
    from apphost.cli import main
    from click.testing import CliRunner

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.output

    return run


Start = Callable[..., Served]


@pytest.fixture
def site(tmp_path: Path) -> Dists:
    """A folder on the servers' PYTHONPATH (not this process's) for throwaway distributions."""
    (tmp_path / "site").mkdir()
    (tmp_path / "marks").mkdir()
    return Dists(tmp_path / "site")


@pytest.fixture
def start(site: Dists, tmp_path: Path) -> Iterator[Start]:
    """``start(*args, load="dist,...", cmd=None, pass_fds=(), env={})`` -> a ``Served``.

    On 127.0.0.1:0 unless ``cmd`` says otherwise; apphost-hello and ``load`` are
    the only distributions loaded. Every one is killed after the test.
    """
    started: list[Served] = []

    def run(
        *args: str,
        load: str = "",
        cmd: list[str] | None = None,
        pass_fds: Sequence[int] = (),
        env: dict[str, str] | None = None,
    ) -> Served:
        environ = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(site.root), os.environ.get("PYTHONPATH", "")]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "APPHOST_LOAD_PLUGINS": ",".join(["apphost-hello", *load.split(",")]),
            "LC_MARKS": str(tmp_path / "marks"),
            **(env or {}),
        }
        base = cmd or [sys.executable, "-m", "apphost", "serve", "--listen", "127.0.0.1:0"]
        started.append(Served([*base, *args], environ, tmp_path, pass_fds))
        return started[-1]

    yield run
    for served in started:
        served.close()
