"""``apphost new NAME --asgi``: the FastAPI plugin it writes passes its own tests and ``check``.

Made live as tests/live/test_scaffold.py makes the WSGI one (a ``.dist-info``
on PYTHONPATH, no pip).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apphost.scaffold import create_plugin

from .test_scaffold import make_live, run

NAME, PACKAGE = "scaffold-asgi-probe", "scaffold_asgi_probe"


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = create_plugin(NAME, tmp_path_factory.mktemp("new"), asgi=True)
    return root, make_live(root, tmp_path_factory.mktemp("site"))


def test_its_own_tests_pass(plugin: tuple[Path, dict[str, str]]) -> None:
    root, env = plugin
    result = run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], root, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_check_and_plugins_see_an_asgi_app(plugin: tuple[Path, dict[str, str]]) -> None:
    root, env = plugin
    env = {**env, "APPHOST_LOAD_PLUGINS": NAME}
    result = run(["-m", "apphost", "check"], root.parent, env)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run(["-m", "apphost", "plugins", "--json"], root.parent, env)
    (row,) = [r for r in json.loads(result.stdout) if r["kind"] == "app"]
    assert (row["name"], row["interface"], row["status"]) == (NAME, "asgi", "ok")


# ``apphost routes`` in this process, then the modules of the plugin and of FastAPI it imported.
IMPORTED = f"""
import sys
from apphost.cli import main
try:
    main(["routes"])
except SystemExit as exit:
    assert not exit.code, exit.code
print(sorted(m for m in sys.modules if m.partition(".")[0] in ({PACKAGE!r}, "fastapi")))
"""


def test_routes_imports_the_hooks_not_the_app(plugin: tuple[Path, dict[str, str]]) -> None:
    """Apps load lazily: FastAPI (200 ms to import) is no cost to ``routes`` and its like.

    The example plugins are installed too: apphost-items' hooks must not import it either.
    """
    root, env = plugin
    result = run(["-c", IMPORTED], root.parent, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == str([PACKAGE, f"{PACKAGE}.hooks"])


def test_it_is_ruff_clean(plugin: tuple[Path, dict[str, str]]) -> None:
    root, env = plugin
    for args in (["check", "--isolated", "."], ["format", "--isolated", "--check", "."]):
        result = run(["-m", "ruff", *args], root, env)
        assert result.returncode == 0, result.stdout + result.stderr
