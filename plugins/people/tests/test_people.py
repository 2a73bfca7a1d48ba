"""The person factory: an app per known person that sees its mount in a host; None otherwise."""

from __future__ import annotations

from importlib.metadata import distribution

import pytest
from apphost import Claim
from apphost.host import Host
from apphost.testing import ClientFactory, HostFactory
from apphost_people import hooks, make_person_app
from apphost_people.hooks import apphost_claim_routes


@pytest.fixture
def host(apphost_host: HostFactory) -> Host:
    """A host with the people plugin's claim on /people/*."""
    return apphost_host(plugins={"people": hooks}, strict=True)


@pytest.mark.parametrize(
    ("key", "path_info"),
    [("alice", "/posts"), ("alice", ""), ("bob", "/"), ("bob", "/a/b")],
)
def test_person_app_sees_mount(
    host: Host, apphost_client: ClientFactory, key: str, path_info: str
) -> None:
    script_name = f"/people/{key}"
    response = apphost_client(host).get(script_name + path_info)
    assert response.status_code == 200
    assert response.get_data(as_text=True).splitlines() == [
        f"Hi, I am {key}.",
        f"person={key}",
        f"script_name={script_name}",
        f"path_info={path_info}",
    ]


@pytest.mark.parametrize("key", ["carol", "Alice", "", "*"])
def test_unknown_person_is_none(key: str) -> None:
    assert make_person_app(key) is None


@pytest.mark.parametrize("path", ["/people/carol", "/people/Alice/x", "/people"])
def test_unknown_person_is_404_in_a_host(
    host: Host, apphost_client: ClientFactory, path: str
) -> None:
    assert apphost_client(host).get(path).status_code == 404


def test_claims_people_segments() -> None:
    claim = apphost_claim_routes(apphost=object())
    assert claim == Claim(factory=make_person_app, path="/people/*")


def test_entry_points() -> None:
    eps = distribution("apphost-people").entry_points
    assert [(ep.group, ep.name, ep.value) for ep in eps] == [
        ("apphost.plugins", "people", "apphost_people.hooks")
    ]
