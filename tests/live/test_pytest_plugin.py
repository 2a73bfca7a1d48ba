"""The pytest plugin's live server: it serves, and teardown stops it and runs shutdown hooks."""

from __future__ import annotations

import urllib.request

import pytest
from apphost.testing import HostFactory, ServerFactory
from apphost_hello import app as hello_app
from apphost_hello import hooks as hello_hooks

pytest_plugins = ["pytester"]


def test_live_server(apphost_host: HostFactory, apphost_server: ServerFactory) -> None:
    host = apphost_host(plugins={"hello": hello_hooks}, apps={"hello": hello_app})
    server = apphost_server(host)
    assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
    with urllib.request.urlopen(server.url + "/hello/x") as response:
        lines = response.read().decode().splitlines()
    assert lines == ["Hello from apphost!", "script_name=/hello", "path_info=/x"]


LIFECYCLE = """
import http.client, socket, sys

import pytest
from apphost import Claim

seen = {}
events = []


class Lifecycle:
    @staticmethod
    def apphost_startup():
        events.append("startup")

    @staticmethod
    def apphost_shutdown():
        events.append("shutdown")


def make_app():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    return app


def test_serve(apphost_host, apphost_server):
    host = apphost_host(plugins={"life": Lifecycle}, apps={"ok": make_app()})
    server = apphost_server(host)
    assert events == ["startup"]
    # A keep-alive connection left open must not hold up teardown.
    seen["conn"] = conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/ok")
    assert conn.getresponse().read() == b"ok"
    seen["port"] = server.port
    seen["module"] = host.apps["ok"].info.entry_point.partition(":")[0]
    assert seen["module"] in sys.modules


def test_after_teardown():
    assert events == ["startup", "shutdown"]
    assert seen["module"] not in sys.modules
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", seen["port"]), timeout=5)
    conn = seen.pop("conn")
    assert conn.sock.recv(1) == b""  # the server closed the idle connection
    conn.close()


def test_plugin_filters_of_the_environment_do_not_apply(apphost_host, apphost_client):
    host = apphost_host(apps={"ok": make_app()})
    assert apphost_client(host).get("/ok").status_code == 200
"""


def test_teardown_stops_the_server_and_forgets_modules(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPHOST_DISABLE_PLUGINS", "in-memory")
    monkeypatch.setenv("APPHOST_LOAD_PLUGINS", "")
    pytester.makepyfile(test_lifecycle=LIFECYCLE)
    # In a process of its own: in this one, ``-W error`` would also turn this
    # session's leftovers (a socket of an earlier test, garbage-collected
    # during the run, warns ResourceWarning) into a failure of the inner test.
    result = pytester.runpytest_subprocess("-W", "error")
    result.assert_outcomes(passed=3)
