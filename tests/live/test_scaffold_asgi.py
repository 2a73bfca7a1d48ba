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

NAME = "scaffold-asgi-probe"


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


def test_it_is_ruff_clean(plugin: tuple[Path, dict[str, str]]) -> None:
    root, env = plugin
    for args in (["check", "--isolated", "."], ["format", "--isolated", "--check", "."]):
        result = run(["-m", "ruff", *args], root, env)
        assert result.returncode == 0, result.stdout + result.stderr
