"""``apphost new``: the plugin it writes is live once installed, and its own tests pass.

The generated distribution is made live the way ``pip install -e`` makes it:
a ``.dist-info`` with the entry points of its pyproject.toml, and its source
directory, on the path (PYTHONPATH, for the subprocesses that use it). pip
itself is not run: ``--no-build-isolation`` needs a setuptools with
``bdist_wheel`` (this venv's 65 lacks ``wheel``), build isolation needs an
index, and installing into the shared venv would show the plugin to every
test running alongside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from apphost.scaffold import create_plugin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NAME, PACKAGE = "scaffold-probe", "scaffold_probe"


def make_live(root: Path, site: Path) -> dict[str, str]:
    """Write ``root``'s dist-info into ``site``; the environment that puts both on the path."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    info = site / f"{PACKAGE}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, eps in project["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in eps.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    path = [str(site), str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The plugin ``apphost new`` wrote, and the environment in which it is installed."""
    parent = tmp_path_factory.mktemp("new")
    root = create_plugin(NAME, parent)
    return root, make_live(root, tmp_path_factory.mktemp("site"))


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_its_own_tests_pass(plugin: tuple[Path, dict[str, str]]) -> None:
    root, env = plugin
    result = run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], root, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_routes_lists_its_claim(plugin: tuple[Path, dict[str, str]]) -> None:
    root, env = plugin
    result = run(["-m", "apphost", "routes", "--json"], root.parent, env)
    assert result.returncode == 0, result.stderr
    (row,) = [r for r in json.loads(result.stdout) if r["app"] == NAME]
    assert (row["host"], row["path"], row["distribution"], row["status"]) == (
        "*",
        f"/{NAME}",
        f"{NAME}==0.1.0",
        "ok",
    )
    assert row["claimed_by"] == f"plugin {NAME!r} ({NAME}==0.1.0)"


def test_it_is_ruff_clean(plugin: tuple[Path, dict[str, str]]) -> None:
    root, env = plugin
    for args in (["check", "--isolated", "."], ["format", "--isolated", "--check", "."]):
        result = run(["-m", "ruff", *args], root, env)
        assert result.returncode == 0, result.stdout + result.stderr
