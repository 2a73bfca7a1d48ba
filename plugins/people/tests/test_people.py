"""The person factory: an app per known person that sees its mount; None otherwise."""

from __future__ import annotations

from importlib.metadata import distribution

import pytest
from apphost import Claim
from apphost_people import make_person_app
from apphost_people.hooks import apphost_claim_routes
from werkzeug.test import Client


@pytest.mark.parametrize(
    ("key", "path_info"),
    [("alice", "/posts"), ("alice", ""), ("bob", "/"), ("bob", "/a/b")],
)
def test_person_app_sees_mount(key: str, path_info: str) -> None:
    app = make_person_app(key)
    assert app is not None
    script_name = f"/people/{key}"
    response = Client(app).get(
        "/", environ_overrides={"SCRIPT_NAME": script_name, "PATH_INFO": path_info}
    )
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


def test_claims_people_segments() -> None:
    claim = apphost_claim_routes(apphost=object())
    assert claim == Claim(factory=make_person_app, path="/people/*")


def test_entry_points() -> None:
    eps = distribution("apphost-people").entry_points
    assert [(ep.group, ep.name, ep.value) for ep in eps] == [
        ("apphost.plugins", "people", "apphost_people.hooks")
    ]
