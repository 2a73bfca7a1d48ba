"""End to end: the example plugins, pip-installed, behind a real ``apphost serve``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ..examples import mismatches
from ..servers import Server, launch


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = launch("--server-name", "localhost", load=None)
    try:
        yield srv
        assert srv.stop() == 0
    finally:
        srv.close()


def test_examples_answer_as_expected(server: Server) -> None:
    assert mismatches(server.port) == []


def test_flask_and_django_links_keep_the_host_and_mount(server: Server) -> None:
    host = f"notes.localhost:{server.port}"
    links = json.loads(server.get("/links", host=host)[1])
    assert links["note_external"] == f"http://{host}/note/1"
    links = json.loads(server.get("/wiki/links/")[1])
    assert links["home_absolute"] == f"http://127.0.0.1:{server.port}/wiki/page/home/"
    status, _, headers = server.get("/wiki/page/home")
    assert status == 301 and headers["Location"].endswith("/wiki/page/home/")


def test_tenants_keep_one_app_per_subdomain(server: Server) -> None:
    first = server.get("/", host=f"acme.localhost:{server.port}")
    second = server.get("/", host=f"acme.localhost:{server.port}")
    assert first[0] == second[0] == 200
    assert first[1] != second[1]  # the same app instance counts its requests


def test_health_names_every_app(server: Server) -> None:
    status, body, _ = server.get("/_apphost/health", host="10.0.0.1")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok"
    assert set(health["apps"]) == {"hello", "items", "notes", "wiki"}
