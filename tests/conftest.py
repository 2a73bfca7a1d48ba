"""Fixtures of every test: throwaway distributions on sys.path, the CLI, a clean environment.

Helpers live in modules both folders import: ``distributions`` (``Dists``,
``unique``), ``servers`` (the one ``apphost serve`` subprocess helper, load,
loopback GETs) and ``examples`` (what the example plugins answer). The live
tests' own fixtures are in ``live/conftest.py``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .distributions import Dists, unique


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dists]:
    """A fresh sys.path folder for throwaway distributions; their modules are forgotten after."""
    root = tmp_path / unique("site")
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield Dists(root)
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if getattr(module, "__file__", "") and str(root) in str(module.__file__):
            del sys.modules[name]


@pytest.fixture(autouse=True)
def _no_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own APPHOST_* settings must not leak into tests."""
    for var in ("APPHOST_LOAD_PLUGINS", "APPHOST_DISABLE_PLUGINS", "APPHOST_CONFIG"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def run_cli() -> Callable[..., tuple[int, str]]:
    """``run_cli("routes", "--json")`` -> (exit code, output) through click's CliRunner."""
    from apphost.cli import main
    from click.testing import CliRunner

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.output

    return run


@pytest.fixture
def quiet_queue_logger() -> Iterator[logging.Logger]:
    """``waitress.queue`` as waitress leaves it (NOTSET), restored afterwards."""
    queue_logger = logging.getLogger("waitress.queue")
    level = queue_logger.level
    queue_logger.setLevel(logging.NOTSET)
    yield queue_logger
    queue_logger.setLevel(level)
