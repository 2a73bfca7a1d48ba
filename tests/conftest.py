"""Shared fixtures: throwaway plugin distributions on sys.path, and hosts built from them."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import importlib_metadata
import pytest
from apphost.config import Config
from apphost.host import Host

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
