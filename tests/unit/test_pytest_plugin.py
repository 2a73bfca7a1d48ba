"""The pytest plugin: hosts from objects in memory and a test client (the live server: tests/live).

The tests use the fixtures directly (installing apphost registered them);
``pytester`` checks a fresh session finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import importlib_metadata
import pytest
from apphost import Claim, HostView, StrictError, app_factory
from apphost.testing import ClientFactory, HostFactory
from apphost_hello import app as hello_app
from apphost_hello import hooks as hello_hooks

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from apphost.host import Host

pytest_plugins = ["pytester"]


def text_app(text: str) -> WSGIApplication:
    """A WSGI app answering ``text`` and where it was mounted."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = f"{text} {environ['SCRIPT_NAME']}|{environ['PATH_INFO']}".encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return app


def get(client_factory: ClientFactory, host: Host, path: str, **kw: Any) -> tuple[int, str]:
    response = client_factory(host).get(path, **kw)
    return response.status_code, response.get_data(as_text=True)


class EchoHooks:
    """A plugin object: claims /echo and a subdomain; wraps apps with a header."""

    @staticmethod
    def apphost_claim_routes(apphost: HostView) -> Iterable[Claim]:
        return [Claim(app="echo", path="/echo"), Claim(app="echo", subdomain="echo")]

    @staticmethod
    def apphost_wrap_app(name: str, app: WSGIApplication) -> WSGIApplication:
        def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                return start_response(status, [*headers, ("X-Wrapped", name)], exc_info)

            return app(environ, start)

        return wrapped


def test_plugins_and_apps_route_as_if_installed(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(plugins={"echo": EchoHooks()}, apps={"echo": text_app("echo")})
    assert host.problems == []
    client = apphost_client(host)
    response = client.get("/echo/x")
    assert response.get_data(as_text=True) == "echo /echo|/x"
    assert response.headers["X-Wrapped"] == "echo"
    assert get(apphost_client, host, "/y", base_url="http://echo.localhost/") == (200, "echo |/y")
    assert host.plugins["echo"].label == "plugin 'echo' (in-memory==0)"
    assert host.plugins["echo"].hooks == ("apphost_claim_routes", "apphost_wrap_app")


def test_entry_points_name_importable_objects_by_their_path(apphost_host: HostFactory) -> None:
    inline = text_app("inline")
    host = apphost_host(plugins=[hello_hooks], apps={"hello": hello_app, "my-app": inline})
    (plugin,) = host.plugins.values()
    assert (plugin.name, plugin.entry_point) == ("apphost_hello.hooks", "apphost_hello.hooks")
    assert host.apps["hello"].info.entry_point == "apphost_hello:app"
    # A function made in a test has no import path: it is reached through a module made for it.
    module, _, attr = host.apps["my-app"].info.entry_point.partition(":")
    assert module.startswith("_apphost_pytest_") and attr == "app_my_app"


def test_claims_are_a_plugin_and_config_claims_beat_them(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(
        apps={"a": text_app("a"), "b": text_app("b")},
        claims=[Claim(app="b", path="/x"), Claim(app="b", path="/")],
        config={"claims": [{"app": "a", "path": "/x"}]},
    )
    assert get(apphost_client, host, "/x/1") == (200, "a /x|/1")
    assert get(apphost_client, host, "/other") == (200, "b |/other")
    claimants = {str(r.claimant) for r in host.routes}
    assert "plugin 'claims' (in-memory==0)" in claimants


def test_factory_gets_its_config_table_and_is_mounted_at_its_name(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    @app_factory
    def make(config: Mapping[str, Any]) -> WSGIApplication:
        return text_app(config["title"])

    host = apphost_host(apps={"made": make}, config={"apps": {"made": {"title": "Team"}}})
    assert get(apphost_client, host, "/made/n") == (200, "Team /made|/n")
    assert host.config.listen == ("127.0.0.1:0",)  # a test host never asks for a real port


def test_problems_are_reported_or_raised_with_strict(apphost_host: HostFactory) -> None:
    claims = [Claim(app="missing", path="/m")]
    host = apphost_host(apps={"a": text_app("a")}, claims=claims)
    assert any("no installed app is named 'missing'" in p for p in map(str, host.problems))
    with pytest.raises(StrictError, match="no installed app is named 'missing'"):
        apphost_host(apps={"a": text_app("a")}, claims=claims, strict=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"plugins": [hello_hooks, hello_hooks]}, "two plugins are named 'apphost_hello.hooks'"),
        (
            {"plugins": {"claims": EchoHooks()}, "claims": [Claim(app="a")]},
            "a plugin is named 'claims'",
        ),
        ({"apps": {"my app": hello_app}}, "app name 'my app'"),
    ],
)
def test_bad_arguments(apphost_host: HostFactory, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apphost_host(**kwargs)


def test_registered_through_pytest11() -> None:
    (ep,) = importlib_metadata.entry_points(group="pytest11", name="apphost")
    assert ep.value == "apphost.testing"


def test_fresh_session_finds_the_fixtures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["apphost_host*", "apphost_client*", "apphost_server*"])
