"""The notes app in a host: factory config, the notes round trip, mount-correct url_for."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from apphost import Claim
from apphost.api import is_app_factory
from apphost.testing import ClientFactory, HostFactory
from apphost_notes import create_app, hooks
from apphost_notes.hooks import apphost_claim_routes
from flask import Flask
from werkzeug.test import Client

MOUNT = "/mnt"
NOTES = "http://notes.localhost"  # the subdomain the notes plugin claims


@pytest.fixture
def client(apphost_host: HostFactory, apphost_client: ClientFactory) -> Client:
    """Notes in a host: on notes.localhost (its own claim) and under /mnt on any other host."""
    host = apphost_host(
        plugins={"notes": hooks},
        apps={"notes": create_app},
        claims=[Claim(app="notes", path=MOUNT)],
        strict=True,
    )
    return apphost_client(host)


@pytest.mark.parametrize(
    ("base_url", "path", "expected"),
    [
        (
            NOTES,
            "/links",
            {
                "index": "/",
                "note": "/note/1",
                "index_external": "http://notes.localhost/",
                "note_external": "http://notes.localhost/note/1",
            },
        ),
        (
            "http://notes.example.org:8080",
            "/mnt/links",
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
    client: Client, base_url: str, path: str, expected: dict[str, str]
) -> None:
    response = client.get(path, base_url=base_url)
    assert response.status_code == 200
    assert response.json == expected


def test_add_list_show(client: Client) -> None:
    response = client.post(f"{MOUNT}/", data={"text": "<b>hi</b>"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/mnt/note/1"

    page = client.get(f"{MOUNT}/").get_data(as_text=True)
    assert '<a href="/mnt/note/1">&lt;b&gt;hi&lt;/b&gt;</a>' in page
    assert 'action="/mnt/"' in page

    note = client.get(f"{MOUNT}/note/1")
    assert note.status_code == 200
    assert "<p>&lt;b&gt;hi&lt;/b&gt;</p>" in note.get_data(as_text=True)
    assert 'href="/mnt/"' in note.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/note/0", "/note/1", "/note/x"])
def test_missing_note_is_404(client: Client, path: str) -> None:
    assert client.get(path, base_url=NOTES).status_code == 404


def test_empty_note_is_400(client: Client) -> None:
    assert client.post("/", data={"text": "  "}, base_url=NOTES).status_code == 400


@pytest.mark.parametrize(
    ("config", "title"), [({"apps": {"notes": {"title": "Team"}}}, "Team"), ({}, "Notes")]
)
def test_title_from_config(
    apphost_host: HostFactory, apphost_client: ClientFactory, config: dict[str, object], title: str
) -> None:
    host = apphost_host(plugins={"notes": hooks}, apps={"notes": create_app}, config=config)
    page = apphost_client(host).get("/", base_url=NOTES).get_data(as_text=True)
    assert f"<h1>{title}</h1>" in page


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
