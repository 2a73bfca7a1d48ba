"""The live tests: every test under this folder is marked ``live`` as it is collected.

``pytest -m "not live"`` leaves them out (the unit tests run in seconds);
``pytest -m live`` runs only them. A test belongs here if it starts a server,
a subprocess, nginx, chromium, gunicorn or uWSGI, or waits on real sockets.

``serve(*args, load=, cmd=, pass_fds=, env=)`` starts ``apphost serve`` (the
one helper, ``servers.Server``) with ``site`` on its PYTHONPATH.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from ..distributions import Dists
from ..servers import Server, launch

HERE = Path(__file__).parent

Serve = Callable[..., Server]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Called with every collected item, whichever folder it is in.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.live)


@pytest.fixture
def site(tmp_path: Path) -> Dists:
    """A folder on the servers' PYTHONPATH (not this process's) for throwaway distributions."""
    (tmp_path / "site").mkdir()
    (tmp_path / "marks").mkdir()
    return Dists(tmp_path / "site")


@pytest.fixture
def serve(site: Dists, tmp_path: Path) -> Iterator[Serve]:
    """``serve(*args, load="dist,...", cmd=None, pass_fds=(), env={})`` -> a ``Server``.

    On 127.0.0.1:0 unless ``cmd`` says otherwise, in ``tmp_path``; apphost-hello
    and ``load`` are the only distributions loaded (``load=None``: every one
    installed). ``$LC_MARKS`` is a folder the apps may leave marks in. Every
    server is stopped after the test.
    """
    started: list[Server] = []

    def run(
        *args: str,
        load: str | None = "",
        cmd: list[str] | None = None,
        pass_fds: Sequence[int] = (),
        env: dict[str, str] | None = None,
    ) -> Server:
        marks = {"LC_MARKS": str(tmp_path / "marks"), **(env or {})}
        started.append(
            launch(
                *args,
                site=site.root,
                load=load,
                cmd=cmd,
                cwd=tmp_path,
                pass_fds=pass_fds,
                env=marks,
            )
        )
        return started[-1]

    yield run
    for server in started:
        server.close()
