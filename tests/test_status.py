"""The host's own pages: status HTML, routes/plugins JSON, metrics, and their access rule."""

from __future__ import annotations

import json
import logging

import pytest
from apphost.config import Config, parse_config
from apphost.host import Host
from werkzeug.test import Client

from .conftest import Dists, unique

HELLO = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"hi"]
"""


def make_host(dists: Dists, config: Config | None = None) -> Host:
    good, bad = unique("good"), unique("bad")
    dists.add("good-dist", apps={"good": f"{good}:app"}, modules={good: HELLO})
    dists.add(
        "bad-dist",
        version="0.2",
        apps={"bad": f"{bad}:app"},
        modules={bad: "raise ImportError('<b>no</b>')"},
    )
    return dists.host(config)


def fetch(host: Host, path: str, addr: str = "127.0.0.1") -> tuple[int, str]:
    resp = Client(host.app).get(path, environ_base={"REMOTE_ADDR": addr}, buffered=True)
    return resp.status_code, resp.get_data(as_text=True)


def test_status_page_lists_routes_plugins_and_failures(dists: Dists) -> None:
    host = make_host(dists)
    host.load_all()
    status, page = fetch(host, "/_apphost/")
    assert status == 200
    assert "<table id=routes>" in page and "good-dist==1.0" in page
    # A failure is shown with its reason, escaped.
    assert "bad-dist==0.2" in page and "&lt;b&gt;no&lt;/b&gt;" in page and "<b>no</b>" not in page


def test_json_pages(dists: Dists) -> None:
    host = make_host(dists)
    routes = json.loads(fetch(host, "/_apphost/routes")[1])
    assert {(r["path"], r["app"]) for r in routes} == {("/good", "good"), ("/bad", "bad")}
    plugins = json.loads(fetch(host, "/_apphost/plugins")[1])
    assert {p["name"] for p in plugins} == {"good", "bad"}


@pytest.mark.parametrize(
    ("mode", "addr", "expected"),
    [
        ("local", "127.0.0.1", 200),
        ("local", "::1", 200),
        ("local", "10.1.2.3", 403),
        ("public", "10.1.2.3", 200),
        ("off", "127.0.0.1", 404),
    ],
)
def test_access_rule(dists: Dists, mode: str, addr: str, expected: int) -> None:
    host = make_host(dists, parse_config({"apphost": {"status_page": mode}}))
    for path in ("/_apphost/", "/_apphost/routes", "/_apphost/plugins", "/_apphost/metrics"):
        assert fetch(host, path, addr)[0] == expected
    # The health check answers whatever the mode.
    assert fetch(host, "/_apphost/health", addr)[0] == 200


def test_metrics_count_by_app_and_status_class(dists: Dists) -> None:
    host = make_host(dists)
    for _ in range(3):
        assert fetch(host, "/good")[0] == 200
    assert fetch(host, "/bad")[0] == 503
    assert fetch(host, "/nowhere")[0] == 404
    text = fetch(host, "/_apphost/metrics")[1]
    assert 'apphost_requests_total{app="good",code="2xx"} 3.0' in text
    assert 'apphost_requests_total{app="bad",code="5xx"} 1.0' in text
    assert 'apphost_request_duration_seconds_count{app="good"} 3.0' in text
    assert "apphost_requests_in_flight 1.0" in text  # this very request


def test_access_log_line(dists: Dists, caplog: pytest.LogCaptureFixture) -> None:
    host = make_host(dists)
    caplog.set_level(logging.INFO, logger="apphost.access")
    Client(host.app).get(
        "/good/x?q=1",
        environ_base={"REMOTE_ADDR": "192.0.2.7", "REQUEST_URI": "/good/x?q=1"},
        headers={"User-Agent": "probe/1.0", "Referer": "http://ref.example/"},
        buffered=True,
    )
    (record,) = [r for r in caplog.records if r.name == "apphost.access"]
    line = record.getMessage()
    assert line.startswith("192.0.2.7 - - [")
    assert '] "GET /good/x?q=1 HTTP/1.1" 200 2 "http://ref.example/" "probe/1.0" good ' in line
    assert float(line.rsplit(" ", 1)[1]) >= 0


def test_access_log_off(dists: Dists, caplog: pytest.LogCaptureFixture) -> None:
    host = make_host(dists, parse_config({"apphost": {"access_log": False}}))
    caplog.set_level(logging.INFO, logger="apphost.access")
    fetch(host, "/good")
    assert not [r for r in caplog.records if r.name == "apphost.access"]
