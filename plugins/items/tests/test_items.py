"""The FastAPI example in a host: links under its mount, its lifespan's store, its event stream."""

from __future__ import annotations

import http.client
import json
from importlib.metadata import entry_points

import pytest
from apphost import Claim
from apphost.host import Host
from apphost.testing import ClientFactory, HostFactory, ServerFactory
from apphost_items import hooks
from apphost_items.app import app
from apphost_items.hooks import apphost_claim_routes


@pytest.fixture
def host(apphost_host: HostFactory) -> Host:
    """A host with items' app and hooks, as ``pip install -e plugins/items`` gives."""
    return apphost_host(plugins={"items": hooks}, apps={"items": app}, strict=True)


def test_is_served_as_asgi(host: Host) -> None:
    info = host.view.apps["items"]
    assert (info.interface, info.status) == ("asgi", "ok")


def test_links_are_under_the_mount(host: Host, apphost_client: ClientFactory) -> None:
    response = apphost_client(host).get("/items/")
    assert response.status_code == 200
    assert response.get_json() == {
        "items": [
            {"name": "hammer", "id": 1, "url": "http://localhost/items/1"},
            {"name": "nails", "id": 2, "url": "http://localhost/items/2"},
        ]
    }


def test_add_then_get(host: Host, apphost_client: ClientFactory) -> None:
    client = apphost_client(host)
    response = client.post("/items/", json={"name": "saw"})
    assert response.status_code == 201
    assert response.headers["Location"] == "http://localhost/items/3"
    assert client.get("/items/3").get_json() == {
        "name": "saw",
        "id": 3,
        "url": "http://localhost/items/3",
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [("/items/9", 404), ("/items/x", 422), ("/items", 307)],  # 307: to /items/, under the mount
)
def test_errors(host: Host, apphost_client: ClientFactory, path: str, status: int) -> None:
    assert apphost_client(host).get(path).status_code == status


def test_bad_item_is_422(host: Host, apphost_client: ClientFactory) -> None:
    response = apphost_client(host).post("/items/", json={"name": ""})
    assert response.status_code == 422
    assert response.get_json()["detail"][0]["loc"] == ["body", "name"]


def test_events_stream_live(host: Host, apphost_server: ServerFactory) -> None:
    server = apphost_server(host)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/items/events?interval=0&count=3")
        response = conn.getresponse()
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        events = response.read().decode().strip().split("\n\n")
    finally:
        conn.close()
    names = [json.loads(e.split("data: ", 1)[1])["name"] for e in events]
    assert names == ["hammer", "nails", "hammer"]


def test_root_claim(apphost_host: HostFactory, apphost_client: ClientFactory) -> None:
    host = apphost_host(apps={"items": app}, claims=[Claim(app="items", path="/")])
    assert apphost_client(host).get("/1").get_json()["url"] == "http://localhost/1"


def test_claims_items_path() -> None:
    assert apphost_claim_routes(apphost=object()) == Claim(app="items", path="/items")


def test_entry_points() -> None:
    (ep,) = entry_points(group="apphost.apps", name="items")
    assert ep.load() is app
    (plugin,) = entry_points(group="apphost.plugins", name="items")
    assert plugin.value == "apphost_items.hooks"
