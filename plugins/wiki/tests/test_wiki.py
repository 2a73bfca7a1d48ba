"""The wiki: lazy Django, and reverse() giving mount-correct URLs in a host."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from apphost import Claim
from apphost.api import is_app_factory
from apphost.testing import ClientFactory, HostFactory
from apphost_wiki import create_app, hooks
from apphost_wiki.hooks import apphost_claim_routes
from werkzeug.test import Client


@pytest.fixture
def client(apphost_host: HostFactory, apphost_client: ClientFactory) -> Client:
    """The wiki in a host: at /wiki (its own claim) and, the same app, at the root."""
    host = apphost_host(
        plugins={"wiki": hooks},
        apps={"wiki": create_app},
        claims=[Claim(app="wiki", path="/")],
        strict=True,
    )
    return apphost_client(host)


def test_import_does_not_touch_django() -> None:
    code = (
        "import sys, apphost_wiki, apphost_wiki.hooks\n"
        "loaded = [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_refuses_django_configured_for_another_project() -> None:
    code = (
        "from django.conf import settings\n"
        "settings.configure(ROOT_URLCONF='someone.else.urls')\n"
        "from apphost_wiki import create_app\n"
        "try:\n"
        "    create_app({})\n"
        "except RuntimeError as exc:\n"
        "    assert 'someone.else.urls' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('create_app did not refuse')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/wiki/links/",
            {
                "index": "/wiki/",
                "home": "/wiki/page/home/",
                "home_absolute": "http://localhost/wiki/page/home/",
            },
        ),
        # The prefix is per request: an unmounted request after a mounted one gets none.
        (
            "/links/",
            {"index": "/", "home": "/page/home/", "home_absolute": "http://localhost/page/home/"},
        ),
    ],
)
def test_reverse_respects_mount(client: Client, path: str, expected: dict[str, str]) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json == expected


@pytest.mark.parametrize("path", ["/wiki", "/wiki/"])
def test_index_links_under_mount(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<a href="/wiki/page/home/">Home</a>' in body
    assert '<a href="/wiki/page/about/">About</a>' in body


def test_page(client: Client) -> None:
    response = client.get("/wiki/page/home/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<h1>Home</h1>" in body
    assert '<a href="/wiki/">All pages</a>' in body


def test_missing_page_is_404(client: Client) -> None:
    assert client.get("/wiki/page/nope/").status_code == 404


def test_append_slash_redirect_keeps_mount(client: Client) -> None:
    response = client.get("/wiki/page/home")
    assert response.status_code == 301
    assert response.headers["Location"] == "/wiki/page/home/"


def test_claims_wiki_path() -> None:
    assert apphost_claim_routes(apphost=object()) == Claim(app="wiki", path="/wiki")


def test_entry_points() -> None:
    (ep,) = entry_points(group="apphost.apps", name="wiki")
    assert ep.load() is create_app
    assert is_app_factory(create_app)
    (plugin,) = entry_points(group="apphost.plugins", name="wiki")
    assert plugin.value == "apphost_wiki.hooks"
