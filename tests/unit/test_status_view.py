"""The operator's picture (``apphost.web.status``): what is wrong first, per-app numbers, text."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import pytest
from apphost import Claim, app_factory
from apphost.cli import _local_url
from apphost.host import Host
from apphost.testing import HostFactory
from apphost.web import status as status_module
from apphost.web.stack import request_stack
from apphost.web.status import StatusView, Totals, as_text, status_url
from werkzeug.test import Client as _Client

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


class Client(_Client):
    """Reads every body whole, so each request is done (counted) when ``get`` returns."""

    def get(self, *args: Any, **kw: Any) -> Any:
        return super().get(*args, buffered=True, **kw)


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"hi"]


def fails(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("500 Internal Server Error", [("Content-Length", "0")])
    return [b""]


@app_factory
def broken(config: Mapping[str, Any]) -> Any:
    raise ImportError("no such module: blog_db")


@pytest.fixture
def host(apphost_host: HostFactory) -> Host:
    """'good' answers 200, 'flaky' 500, 'broken' fails to load, 'a' and 'b' conflict on /both."""
    return apphost_host(
        apps={"good": hello, "flaky": fails, "broken": broken, "a": hello, "b": hello},
        config={"claims": [{"app": "a", "path": "/both"}, {"app": "b", "path": "/both"}]},
    )


def test_what_is_wrong_comes_first_failed_then_conflicted(host: Host) -> None:
    client = Client(request_stack(host), use_cookies=False)
    assert client.get("/broken").status_code == 503
    picture = json.loads(client.get("/_apphost/status.json", environ_base=LOCAL).text)
    assert picture["status"] == "degraded"
    kinds = [(w["kind"], w["app"]) for w in picture["wrong"]]
    assert kinds == [("failed", "broken"), ("conflict", "a and b")]
    failed = picture["wrong"][0]
    assert "ImportError: no such module: blog_db" in failed["why"]
    assert failed["distribution"] == "in-memory==0"
    assert time.time() - 60 < failed["since"] <= time.time()
    # The failing app leads the apps too, and its route does not say ok.
    assert picture["apps"][0]["name"] == "broken"
    assert picture["apps"][0]["status"].startswith("failed: ")
    routes = {r["path"]: r["status"] for r in picture["routes"]}
    assert routes["/broken"].startswith("failed: ") and routes["/good"] == "ok"
    assert routes["/both"].startswith("conflict: ")
    health = json.loads(client.get("/_apphost/health", environ_base=LOCAL).text)
    assert health["status"] == "degraded" and health["failed"] == ["broken"]
    # Anybody else is told the state only (no app names), still degraded.
    remote = {"REMOTE_ADDR": "192.0.2.1"}
    assert json.loads(client.get("/_apphost/health", environ_base=remote).text) == {
        "status": "degraded"
    }
    assert health["conflicts"] and "route /both is claimed twice" in health["conflicts"][0]


def test_page_leads_with_the_failed_app(host: Host) -> None:
    client = Client(request_stack(host), use_cookies=False)
    client.get("/broken")
    page = client.get("/_apphost/", environ_base=LOCAL).text
    assert '<meta name=viewport content="width=device-width,initial-scale=1">' in page
    assert page.index("<section id=wrong>") < page.index("<section id=apps>")
    first = page.split("<li ", 2)[1]
    assert first.startswith("data-kind=failed data-app=broken>")
    assert "app &#x27;broken&#x27; (in-memory==0): failed: " in first
    assert "<title>apphost: degraded (2 wrong)</title>" in page
    for link in ("health", "metrics", "routes", "plugins", "status.json"):
        assert f"href=/_apphost/{link}>" in page
    assert "<script>" in page and "http" not in page.split("<script>")[1]  # nothing from outside


def test_per_app_numbers(host: Host) -> None:
    client = Client(request_stack(host), use_cookies=False)
    for _ in range(3):
        client.get("/good")
    client.get("/flaky")
    picture = json.loads(client.get("/_apphost/status.json", environ_base=LOCAL).text)
    apps = {a["name"]: a for a in picture["apps"]}
    assert (apps["good"]["requests"], apps["good"]["errors"], apps["good"]["error_rate"]) == (
        3,
        0,
        0.0,
    )
    assert (apps["flaky"]["requests"], apps["flaky"]["error_rate"]) == (1, 1.0)
    assert 0 < apps["good"]["p50_ms"] <= apps["good"]["p99_ms"] <= 5.0  # under the first bucket
    assert (
        apps["good"]["in_flight"] == 0
        and apps["good"]["limit"] == host.config.limits("good").max_in_flight
    )
    assert picture["window"]["since_start"] is True  # no sample a minute old yet
    (worker,) = picture["workers"]
    assert worker["state"] == "serving" and worker["rss_mib"] > 0 and worker["requests"] == 4
    assert worker["connections"] is None  # no server of ours counts them here
    assert picture["pools"] == [] and picture["reloads"] == []
    assert picture["apphost"]["listen"] == list(host.config.listen)  # no supervisor: as set


def test_the_window_is_the_last_minute(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    view = StatusView(host)
    client = Client(request_stack(host), use_cookies=False)
    clock = [time.time()]
    monkeypatch.setattr(status_module.time, "time", lambda: clock[0])
    client.get("/good")
    view.picture()  # the first sample: one request to good
    clock[0] += 61
    for _ in range(2):
        client.get("/good")
    picture = view.picture()
    good = next(a for a in picture["apps"] if a["name"] == "good")
    assert good["requests"] == 2  # only those of the last minute
    assert picture["window"] == {"seconds": 61.0, "since_start": False}


def test_status_json_with_html_gives_each_section(host: Host) -> None:
    client = Client(request_stack(host), use_cookies=False)
    got = json.loads(client.get("/_apphost/status.json?html", environ_base=LOCAL).text)
    assert set(got["html"]) == {
        "top",
        "wrong",
        "apps",
        "workers",
        "pools",
        "reloads",
        "route-table",
        "plugin-table",
    }
    assert got["html"]["wrong"].startswith("<h2>Wrong now (1)</h2>")  # the conflict
    assert got["title"] == "apphost: degraded (1 wrong)"


def test_redirect_without_the_slash(host: Host) -> None:
    resp = Client(request_stack(host), use_cookies=False).get("/_apphost", environ_base=LOCAL)
    assert resp.status_code == 308 and resp.headers["Location"] == "/_apphost/"


def test_redirect_off_with_the_pages(apphost_host: HostFactory) -> None:
    host = apphost_host(apps={"good": hello}, config={"apphost": {"status_page": "off"}})
    assert Client(request_stack(host), use_cookies=False).get("/_apphost").status_code == 404


def test_nothing_wrong(apphost_host: HostFactory) -> None:
    host = apphost_host(apps={"good": hello}, claims=[Claim(app="good", path="/")])
    picture = StatusView(host).picture()
    assert picture["status"] == "ok" and picture["wrong"] == []
    assert "Nothing is wrong right now." in as_text(picture)


def test_text_form(host: Host) -> None:
    Client(request_stack(host), use_cookies=False).get("/broken")
    text = as_text(StatusView(host).picture())
    lines = text.splitlines()
    assert lines[0].startswith("apphost ") and ": DEGRADED; pid " in lines[0]
    assert lines[2] == "Wrong now (2):"
    assert lines[3].startswith("  FAILED broken: ") and "blog_db" in lines[3]
    assert lines[4].startswith("  CONFLICT a and b: route /both is claimed twice")
    apps = next(i for i, line in enumerate(lines) if line.startswith("Apps (since start "))
    assert lines[apps + 1].split() == [
        "APP",
        "STATUS",
        "REQUESTS",
        "ERRORS",
        "P50",
        "P99",
        "IN",
        "FLIGHT",
    ]
    assert lines[apps + 2].split()[:3] == ["broken", "failed", "1"]  # the why is above
    workers = lines.index("Workers:")
    assert lines[workers + 1].split() == [
        "PID",
        "STATE",
        "UPTIME",
        "RSS",
        "REQUESTS",
        "CONNECTIONS",
        "STARTED",
        "FOR",
    ]
    assert lines[workers + 2].split()[-2:] == ["-", "start"]  # in memory: no server counts them
    assert "No reload since start." in lines


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        ({0.1: 0, 0.2: 10, float("inf"): 10}, 0.5, 0.15),
        ({0.1: 10, 0.2: 10, float("inf"): 10}, 0.99, 0.099),
        ({0.1: 0, 0.2: 0, float("inf"): 4}, 0.5, 0.2),  # past the largest bound: at least it
        ({0.1: 0, float("inf"): 0}, 0.5, None),
    ],
)
def test_quantile(buckets: dict[float, float], q: float, expected: float | None) -> None:
    got = Totals(buckets=buckets).quantile(q)
    assert got == pytest.approx(expected) if expected is not None else got is None


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080/_apphost/status.json"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/_apphost/status.json"),
        ("http://[::1]:8080/_apphost/", "http://[::1]:8080/_apphost/status.json"),
        ("http://h/prefix/_apphost", "http://h/prefix/_apphost/status.json"),
        ("http://h/_apphost/status.json", "http://h/_apphost/status.json"),
    ],
)
def test_status_url(given: str, url: str) -> None:
    assert status_url(given) == url


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("0.0.0.0:80", "http://127.0.0.1:80"),
        ("[::]:8080", "http://[::1]:8080"),
        ("[::1]:9", "http://[::1]:9"),
    ],
)
def test_status_command_reaches_the_listen_address(listen: str, url: str) -> None:
    assert _local_url(listen) == url


def test_text_form_lists_process_pools(apphost_host: HostFactory) -> None:
    host = apphost_host(apps={"good": hello}, claims=[Claim(app="good", path="/")])
    picture = StatusView(host).picture()
    assert picture["pools"] == [] and "Process pools:" not in as_text(picture)
    picture["pools"] = [
        {
            "name": "blog",
            "processes": 2,
            "pids": [41, 42],
            "rss_mib": [30.2, 31.7],
            "restarts": 1,
            "in_flight": 3,
        }
    ]
    lines = as_text(picture).splitlines()
    at = lines.index("Process pools:")
    assert lines[at + 1].split() == ["APP", "PROCESSES", "PIDS", "RSS", "RESTARTS", "IN", "FLIGHT"]
    assert lines[at + 2].split() == ["blog", "2/2", "41", "42", "30", "32", "MiB", "1", "3"]
