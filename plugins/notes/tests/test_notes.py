"""The notes app: factory config, the notes round trip, and mount-correct url_for."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from apphost import Claim
from apphost.apps import is_app_factory
from apphost_notes import create_app
from apphost_notes.hooks import apphost_claim_routes
from flask import Flask
from werkzeug.test import Client

MOUNT = {"SCRIPT_NAME": "/mnt"}


@pytest.fixture
def client() -> Client:
    return Client(create_app({}))


@pytest.mark.parametrize(
    ("script_name", "host", "expected"),
    [
        (
            "",
            "notes.localhost",
            {
                "index": "/",
                "note": "/note/1",
                "index_external": "http://notes.localhost/",
                "note_external": "http://notes.localhost/note/1",
            },
        ),
        (
            "/mnt",
            "notes.example.org:8080",
            {
                "index": "/mnt/",
                "note": "/mnt/note/1",
                "index_external": "http://notes.example.org:8080/mnt/",
                "note_external": "http://notes.example.org:8080/mnt/note/1",
            },
        ),
    ],
)
def test_url_for_respects_mount(
    client: Client, script_name: str, host: str, expected: dict[str, str]
) -> None:
    response = client.get(
        "/links", environ_overrides={"SCRIPT_NAME": script_name, "HTTP_HOST": host}
    )
    assert response.status_code == 200
    assert response.json == expected


def test_add_list_show(client: Client) -> None:
    response = client.post("/", data={"text": "<b>hi</b>"}, environ_overrides=MOUNT)
    assert response.status_code == 303
    assert response.headers["Location"] == "/mnt/note/1"

    page = client.get("/", environ_overrides=MOUNT).get_data(as_text=True)
    assert '<a href="/mnt/note/1">&lt;b&gt;hi&lt;/b&gt;</a>' in page
    assert 'action="/mnt/"' in page

    note = client.get("/note/1", environ_overrides=MOUNT)
    assert note.status_code == 200
    assert "<p>&lt;b&gt;hi&lt;/b&gt;</p>" in note.get_data(as_text=True)
    assert 'href="/mnt/"' in note.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/note/0", "/note/1", "/note/x"])
def test_missing_note_is_404(client: Client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_empty_note_is_400(client: Client) -> None:
    assert client.post("/", data={"text": "  "}).status_code == 400


def test_title_from_config() -> None:
    assert "<h1>Team</h1>" in Client(create_app({"title": "Team"})).get("/").get_data(as_text=True)
    assert "<h1>Notes</h1>" in Client(create_app({})).get("/").get_data(as_text=True)


def test_each_app_has_its_own_notes() -> None:
    first, second = Client(create_app({})), Client(create_app({}))
    first.post("/", data={"text": "one"})
    assert first.get("/note/1").status_code == 200
    assert second.get("/note/1").status_code == 404


def test_claims_notes_subdomain() -> None:
    assert apphost_claim_routes(apphost=object()) == Claim(app="notes", subdomain="notes")


def test_entry_points() -> None:
    (ep,) = entry_points(group="apphost.apps", name="notes")
    assert ep.load() is create_app
    assert is_app_factory(create_app)  # so apphost calls it with config
    assert isinstance(create_app({}), Flask)
    (plugin,) = entry_points(group="apphost.plugins", name="notes")
    assert plugin.value == "apphost_notes.hooks"
