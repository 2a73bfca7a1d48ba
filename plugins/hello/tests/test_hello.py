"""The hello app answers under any mount, and its plugin claims /hello."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from apphost import Claim
from apphost_hello import app
from apphost_hello.hooks import apphost_claim_routes
from werkzeug.test import Client


@pytest.mark.parametrize(
    ("script_name", "path_info", "expected"),
    [
        ("/hello", "/x", ["script_name=/hello", "path_info=/x"]),
        ("/hello", "", ["script_name=/hello", "path_info="]),
        ("/hello", "/a/b/", ["script_name=/hello", "path_info=/a/b/"]),
        ("", "/", ["script_name=", "path_info=/"]),
        # A UTF-8 path arrives as latin-1 WSGI strings and goes back out as UTF-8.
        ("/hello", "/caf\xc3\xa9", ["script_name=/hello", "path_info=/café"]),
    ],
)
def test_echoes_mount(script_name: str, path_info: str, expected: list[str]) -> None:
    response = Client(app).get(
        "/", environ_overrides={"SCRIPT_NAME": script_name, "PATH_INFO": path_info}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines == ["Hello from apphost!", *expected]


def test_claims_hello_path() -> None:
    assert apphost_claim_routes(apphost=object()) == Claim(app="hello", path="/hello")


def test_entry_points() -> None:
    (ep,) = entry_points(group="apphost.apps", name="hello")
    assert ep.load() is app
    (plugin,) = entry_points(group="apphost.plugins", name="hello")
    assert plugin.value == "apphost_hello.hooks"
