"""Throwaway distributions: a module plus a ``.dist-info`` in one sys.path folder.

For the tests that are about discovery and installation (entry point values,
two distributions advertising one name, the environment's plugin filters, a
server that must find plugins installed on its PYTHONPATH). A test of
behaviour builds its host from real functions with ``apphost_host`` instead.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import importlib_metadata
from apphost.config import Config
from apphost.host import Host

_counter = itertools.count()


class Dists:
    """Writes real distributions (a module plus a ``.dist-info``) into one folder."""

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
        requires: list[str] | None = None,
    ) -> Path:
        """``modules`` maps module name -> source; entry point values may use ``{mod}``.

        ``requires`` are ``Requires-Dist`` values (``"apphost<0.1"``).
        """
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        headers = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        headers += [f"Requires-Dist: {r}" for r in requires or ()]
        (info / "METADATA").write_text("\n".join(headers) + "\n\nThe description.\n")
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


def unique(prefix: str) -> str:
    """A module name no other test uses (sys.modules would otherwise cache it)."""
    return f"{prefix}_{next(_counter)}"
