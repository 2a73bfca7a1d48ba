"""``apphost new``: the files it writes, and the names it refuses (tests/live runs them)."""

from __future__ import annotations

import re
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
    f"{PACKAGE}/app.py",
    f"{PACKAGE}/hooks.py",
    f"{PACKAGE}/py.typed",
    f"tests/test_{PACKAGE}.py",
}


def test_cli_writes_the_distribution(run_cli: Run, tmp_path: Path) -> None:
    code, out = run_cli("new", NAME, "--directory", str(tmp_path))
    assert code == 0, out
    root = tmp_path / NAME
    assert {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} == FILES
    assert f"pip install -e {root}" in out
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == NAME
    assert project["entry-points"] == {
        "apphost.apps": {NAME: f"{PACKAGE}.app:app"},
        "apphost.plugins": {NAME: f"{PACKAGE}.hooks"},
    }


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
