"""The hello app answers under any mount, and its plugin claims /hello: tested in a host."""

from __future__ import annotations

import urllib.request
from importlib.metadata import entry_points

import pytest
from apphost import Claim
from apphost.host import Host
from apphost.testing import ClientFactory, HostFactory, ServerFactory
from apphost_hello import app, hooks
from apphost_hello.hooks import apphost_claim_routes


@pytest.fixture
def host(apphost_host: HostFactory) -> Host:
    """A host with hello's app and hooks, as ``pip install -e plugins/hello`` gives."""
    return apphost_host(plugins={"hello": hooks}, apps={"hello": app}, strict=True)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/hello/x", ["script_name=/hello", "path_info=/x"]),
        ("/hello", ["script_name=/hello", "path_info="]),
        ("/hello/a/b/", ["script_name=/hello", "path_info=/a/b/"]),
        # A UTF-8 path arrives as latin-1 WSGI strings and goes back out as UTF-8.
        ("/hello/caf%C3%A9", ["script_name=/hello", "path_info=/café"]),
    ],
)
def test_echoes_mount(
    host: Host, apphost_client: ClientFactory, path: str, expected: list[str]
) -> None:
    response = apphost_client(host).get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines == ["Hello from apphost!", *expected]


def test_echoes_root_mount(apphost_host: HostFactory, apphost_client: ClientFactory) -> None:
    host = apphost_host(apps={"hello": app}, claims=[Claim(app="hello", path="/")])
    lines = apphost_client(host).get("/").get_data(as_text=True).splitlines()
    assert lines == ["Hello from apphost!", "script_name=", "path_info=/"]


def test_serves_live(host: Host, apphost_server: ServerFactory) -> None:
    server = apphost_server(host)
    with urllib.request.urlopen(f"{server.url}/hello/x") as response:
        assert response.read().decode().splitlines()[1:] == ["script_name=/hello", "path_info=/x"]


def test_claims_hello_path() -> None:
    assert apphost_claim_routes(apphost=object()) == Claim(app="hello", path="/hello")


def test_entry_points() -> None:
    (ep,) = entry_points(group="apphost.apps", name="hello")
    assert ep.load() is app
    (plugin,) = entry_points(group="apphost.plugins", name="hello")
    assert plugin.value == "apphost_hello.hooks"
