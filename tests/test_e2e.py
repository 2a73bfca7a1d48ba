"""End to end: the example plugins, pip-installed, behind a real ``apphost serve``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from .conftest import Server
from .examples import mismatches


@pytest.fixture(scope="module")
def server() -> Server:
    from .conftest import start_server

    srv = start_server("--server-name", "localhost")
    yield srv  # type: ignore[misc]
    assert srv.stop() == 0


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
    assert set(health["apps"]) == {"hello", "notes", "wiki"}


def test_check_routes_plugins_against_installed_examples(
    run_cli: Callable[..., tuple[int, str]],
) -> None:
    code, out = run_cli("check")
    assert code == 0, out
    code, out = run_cli("routes", "--json")
    rows = {(r["host"], r["path"]): r for r in json.loads(out)}
    assert rows[("*", "/hello")]["distribution"] == "apphost-hello==0.1.0"
    assert rows[("*", "/hello")]["claimed_by"] == "plugin 'hello' (apphost-hello==0.1.0)"
    assert rows[("notes.localhost", "/")]["app"] == "notes"
    assert rows[("*.localhost", "/")]["distribution"] == "apphost-tenants==0.1.0"
    assert rows[("*", "/people/*")]["claimed_by"] == "plugin 'people' (apphost-people==0.1.0)"
