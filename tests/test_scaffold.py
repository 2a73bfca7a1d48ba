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
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from apphost.scaffold import ScaffoldError, create_plugin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Run = Callable[..., tuple[int, str]]

NAME, PACKAGE = "scaffold-probe", "scaffold_probe"
FILES = {
    "pyproject.toml",
    "README.md",
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/hooks.py",
    f"{PACKAGE}/py.typed",
    f"tests/test_{PACKAGE}.py",
}


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


def test_cli_writes_the_distribution(run_cli: Run, tmp_path: Path) -> None:
    code, out = run_cli("new", NAME, "--directory", str(tmp_path))
    assert code == 0, out
    root = tmp_path / NAME
    assert {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} == FILES
    assert f"pip install -e {root}" in out
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == NAME
    assert project["entry-points"] == {
        "apphost.apps": {NAME: f"{PACKAGE}:app"},
        "apphost.plugins": {NAME: f"{PACKAGE}.hooks"},
    }


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


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "give a name"),
        ("Blog", "lowercase letters, digits, '-' and '_' only, not 'B'"),
        ("my blog", "only, not ' '"),
        ("1blog", "start with a letter"),
        ("blog-", "between two letters or digits"),
        ("a__b", "between two letters or digits"),
        ("class", "'class' is a Python keyword"),
        ("json", "'json' would shadow the standard library module"),
        ("pytest", "a module 'pytest' is already importable"),
        ("apphost", "a module 'apphost' is already importable"),
    ],
)
def test_bad_names_are_refused_saying_why(tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(ScaffoldError, match=re.escape(f"cannot create plugin {name!r}: ")) as info:
        create_plugin(name, tmp_path)
    assert problem in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_never_touched(run_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "blog").mkdir()
    (tmp_path / "blog" / "keep.txt").write_text("mine")
    code, out = run_cli("new", "blog", "-d", str(tmp_path))
    assert code == 1
    assert "Error: cannot create plugin 'blog':" in out and "already exists" in out
    assert [p.name for p in (tmp_path / "blog").iterdir()] == ["keep.txt"]


def test_cli_errors_name_the_problem(run_cli: Run, tmp_path: Path) -> None:
    code, out = run_cli("new", "Blog", "-d", str(tmp_path))
    assert (code, out.strip()) == (
        1,
        "Error: cannot create plugin 'Blog': use lowercase letters, digits, '-' and '_' only,"
        " not 'B'",
    )
    code, out = run_cli("new", "blog", "-d", str(tmp_path / "missing"))
    assert code == 1 and "does not exist" in out
