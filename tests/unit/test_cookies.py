"""Claim.scope_cookies: apps at /a and /b that both set ``session`` no longer log each other out.

Real Flask apps (their session cookie has ``Path=/``) and a FastAPI app, in
hosts built in memory; werkzeug's test client keeps cookies by path as a
browser does.
"""

from __future__ import annotations

from typing import Any

import pytest
from apphost import Claim, ConfigError
from apphost.config import parse_config
from apphost.host import Host
from apphost.testing import ClientFactory, HostFactory
from apphost.web.cookies import rescope
from apphost.web.stack import request_stack
from fastapi import FastAPI, Response
from flask import Flask, session
from werkzeug.test import Client


def session_app(name: str) -> Flask:
    """A Flask app with a login: ``/login/<user>`` keeps the user in Flask's session cookie."""
    app = Flask(name)
    app.secret_key = "not secret"

    @app.route("/login/<user>")
    def login(user: str) -> str:
        session["user"] = user
        return "ok"

    @app.route("/whoami")
    def whoami() -> str:
        return session.get("user", "nobody")

    return app


def two_apps(apphost_host: HostFactory, **claim: Any) -> Host:
    return apphost_host(
        apps={"a": session_app("a"), "b": session_app("b")},
        claims=[Claim(app="a", path="/a", **claim), Claim(app="b", path="/b", **claim)],
        strict=True,
    )


@pytest.mark.parametrize("stack", ["dispatcher", "served"])
def test_two_apps_keep_their_own_sessions(
    apphost_host: HostFactory, apphost_client: ClientFactory, stack: str
) -> None:
    """Alone, the dispatcher's wrapper scopes; as served, the Observer's start_response does."""
    host = two_apps(apphost_host)
    client = apphost_client(host) if stack == "dispatcher" else Client(request_stack(host))
    response = client.get("/a/login/ann")
    assert "Path=/a" in response.headers["Set-Cookie"]
    client.get("/b/login/bob")
    assert client.get("/a/whoami").get_data(as_text=True) == "ann"
    assert client.get("/b/whoami").get_data(as_text=True) == "bob"
    assert client.get_cookie("session", path="/a") is not None
    assert client.get_cookie("session", path="/") is None


def test_without_scoping_they_log_each_other_out(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    """The bug the option fixes, shown with it off."""
    client = apphost_client(two_apps(apphost_host, scope_cookies=False))
    client.get("/a/login/ann")
    client.get("/b/login/bob")  # overwrites the one host-wide session cookie
    assert client.get("/a/whoami").get_data(as_text=True) != "ann"


def test_config_claims_may_turn_it_off(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(
        apps={"sso": session_app("sso")},
        config={"claims": [{"app": "sso", "path": "/login", "scope_cookies": False}]},
    )
    cookie = apphost_client(host).get("/login/login/ann").headers["Set-Cookie"]
    assert "Path=/;" in cookie or cookie.endswith("Path=/")


@pytest.mark.parametrize(
    ("value", "error"),
    [("yes", "claims[0].scope_cookies: must be bool, not 'yes'"), (1, "must be bool, not 1")],
)
def test_config_scope_cookies_must_be_a_bool(value: object, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("[", r"\[").replace("]", r"\]")):
        parse_config({"claims": [{"app": "a", "path": "/a", "scope_cookies": value}]})


def test_a_plugin_claim_with_a_wrong_scope_cookies_is_reported(apphost_host: HostFactory) -> None:
    bad = Claim(app="a", path="/a", scope_cookies="on")  # type: ignore[arg-type]
    host = apphost_host(apps={"a": session_app("a")}, claims=[bad])
    (problem,) = [p for p in host.problems if p.kind == "claim"]
    assert problem.plugin == "claims"
    assert "scope_cookies= must be True or False, not 'on'" in str(problem)


@pytest.mark.parametrize(
    ("claim", "name"),
    [
        (Claim(app="a", path="/"), "localhost"),
        (Claim(app="a", subdomain="a"), "a.localhost"),
        (Claim(app="a", host="a.example"), "a.example"),
    ],
    ids=["root", "subdomain", "host"],
)
def test_claims_at_the_root_leave_cookies_and_are_not_wrapped(
    apphost_host: HostFactory, apphost_client: ClientFactory, claim: Claim, name: str
) -> None:
    host = apphost_host(apps={"a": session_app("a")}, claims=[claim])
    cookie = apphost_client(host).get("/login/ann", headers={"Host": name}).headers["Set-Cookie"]
    assert "Path=/;" in cookie or cookie.endswith("Path=/")
    (entry,) = [e for e in host.dispatcher.table.entries if e.route.claim == claim]
    assert "scope_cookies" not in getattr(entry.app, "__qualname__", "")  # nothing added


def test_implicit_mounts_are_scoped(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(apps={"shop": session_app("shop")})  # mounted at /shop
    assert "Path=/shop" in apphost_client(host).get("/shop/login/x").headers["Set-Cookie"]


def test_factory_claims_scope_each_key(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(claims=[Claim(factory=session_app, path="/u/*")])
    client = apphost_client(host)
    assert "Path=/u/ann" in client.get("/u/ann/login/ann").headers["Set-Cookie"]
    client.get("/u/bob/login/bob")
    assert client.get("/u/ann/whoami").get_data(as_text=True) == "ann"


def test_asgi_apps_are_scoped_too(apphost_host: HostFactory, apphost_client: ClientFactory) -> None:
    api = FastAPI()

    @api.get("/")
    async def set_them(response: Response) -> str:
        response.set_cookie("session", "1")  # Path=/
        response.set_cookie("pref", "2", path="/api/settings")  # a path of its own
        return "ok"

    host = apphost_host(apps={"api": api}, claims=[Claim(app="api", path="/api")])
    cookies = apphost_client(host).get("/api/").headers.getlist("Set-Cookie")
    assert [c.split(";")[0] for c in cookies] == ["session=1", "pref=2"]
    assert "Path=/api;" in cookies[0] or cookies[0].endswith("Path=/api")
    assert "Path=/api/settings" in cookies[1]


@pytest.mark.parametrize(
    ("cookie", "mount", "expected"),
    [
        ("s=1; Path=/", "/a", "s=1; Path=/a"),
        ("s=1", "/a", "s=1; Path=/a"),
        ("s=1; HttpOnly; path=/; SameSite=Lax", "/a", "s=1; HttpOnly; Path=/a; SameSite=Lax"),
        ("s=1; Path=", "/a", "s=1; Path=/a"),  # empty: the default path
        ("s=1; Path=relative", "/a", "s=1; Path=/a"),  # not absolute: the default path
        ("s=1; Path=/a/admin", "/a", "s=1; Path=/a/admin"),  # its own: left alone
        ("s=1; Path=/other", "/a", "s=1; Path=/other"),
        ("s=1; Path=/x; Path=/", "/a", "s=1; Path=/x; Path=/a"),  # the last Path counts
        (
            "s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/",
            "/a",
            "s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/a",
        ),  # a logout deletes the scoped cookie
        ("s=1; Path=/", "/caf\xc3\xa9", "s=1; Path=/caf%C3%A9"),  # as a browser sends it
        ("s=1", "/a b;c", "s=1; Path=/a%20b%3Bc"),
    ],
)
def test_rescope(cookie: str, mount: str, expected: str) -> None:
    assert rescope(cookie, mount) == expected
