"""End to end: the example plugins, pip-installed, behind a real ``apphost serve``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from .conftest import Server


@pytest.fixture(scope="module")
def server() -> Server:
    from .conftest import start_server

    srv = start_server("--server-name", "localhost")
    yield srv  # type: ignore[misc]
    assert srv.stop() == 0


def test_hello_under_its_prefix(server: Server) -> None:
    status, body, _ = server.get("/hello/x/y")
    assert status == 200
    assert "script_name=/hello\npath_info=/x/y\n" in body
    assert server.get("/hello")[1].endswith("script_name=/hello\npath_info=\n")
    assert server.get("/hellox")[0] == 404


def test_flask_notes_on_subdomain_with_url_for(server: Server) -> None:
    host = f"notes.localhost:{server.port}"
    status, body, _ = server.get("/links", host=host)
    assert status == 200
    links = json.loads(body)
    assert links["note"] == "/note/1"
    assert links["note_external"] == f"http://{host}/note/1"
    assert server.get("/", host=host)[0] == 200
    # The subdomain claim owns its host: no fallback to the host-less /hello.
    assert server.get("/hello", host=host)[0] == 404


def test_django_wiki_under_mount_with_reverse(server: Server) -> None:
    status, body, _ = server.get("/wiki/links/")
    assert status == 200
    links = json.loads(body)
    assert links["home"] == "/wiki/page/home/"
    assert links["home_absolute"] == f"http://127.0.0.1:{server.port}/wiki/page/home/"
    status, body, _ = server.get("/wiki/page/home/")
    assert status == 200 and "/wiki/" in body
    # Django's APPEND_SLASH redirect keeps the mount.
    status, _, headers = server.get("/wiki/page/home")
    assert status == 301 and headers["Location"].endswith("/wiki/page/home/")


def test_tenants_one_app_per_subdomain(server: Server) -> None:
    first = server.get("/", host=f"acme.localhost:{server.port}")
    second = server.get("/", host=f"acme.localhost:{server.port}")
    assert first[0] == second[0] == 200
    assert "tenant=acme" in first[1]
    assert first[1] != second[1]  # the same app instance counts its requests
    assert "tenant=globex" in server.get("/", host="globex.localhost")[1]
    assert server.get("/", host="www.localhost")[0] == 404
    # '*' is exactly one label.
    assert server.get("/", host="a.acme.localhost")[0] == 404


def test_people_one_app_per_segment(server: Server) -> None:
    status, body, _ = server.get("/people/alice/posts")
    assert status == 200
    assert (
        "person=alice" in body
        and "script_name=/people/alice" in body
        and "path_info=/posts" in body
    )
    assert server.get("/people/carol")[0] == 404
    assert server.get("/people")[0] == 404


def test_health_and_hostile_input(server: Server) -> None:
    status, body, _ = server.get("/_apphost/health", host="10.0.0.1")
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "ok" and set(health["apps"]) == {"hello", "notes", "wiki"}
    assert server.get("/", host="bad host")[0] == 400
    assert server.get("/hello/../../etc")[0] == 400


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
