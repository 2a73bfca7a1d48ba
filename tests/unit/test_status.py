"""The host's own pages: status HTML, routes/plugins JSON, metrics, and their access rule."""

from __future__ import annotations

import datetime
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from apphost import app_factory
from apphost.config import parse_config
from apphost.host import Host
from apphost.testing import HostFactory
from apphost.web.observe import Metrics, Observer
from apphost.web.stack import admin_stack, request_stack
from werkzeug.test import Client


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"hi"]


@app_factory
def broken(config: Mapping[str, Any]) -> Any:
    raise ImportError("<b>no</b>")


@pytest.fixture
def make_host(apphost_host: HostFactory) -> Callable[..., Host]:
    """``make_host(config=None)``: app 'good' answers, app 'bad' fails to load (its reason has HTML)."""
    return lambda config=None: apphost_host(apps={"good": hello, "bad": broken}, config=config)


def fetch(host: Host, path: str, addr: str = "127.0.0.1") -> tuple[int, str]:
    resp = Client(request_stack(host)).get(path, environ_base={"REMOTE_ADDR": addr}, buffered=True)
    return resp.status_code, resp.get_data(as_text=True)


def test_status_page_lists_routes_plugins_and_failures(make_host: Callable[..., Host]) -> None:
    host = make_host()
    host.load_all()
    status, page = fetch(host, "/_apphost/")
    assert status == 200
    assert "<table id=routes>" in page and "in-memory==0" in page
    # A failure is shown with its reason, escaped.
    assert "app &#x27;bad&#x27; (in-memory==0): failed: ImportError: &lt;b&gt;no&lt;/b&gt;" in page
    assert "<b>no</b>" not in page


def test_json_pages(make_host: Callable[..., Host]) -> None:
    host = make_host()
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
def test_access_rule(make_host: Callable[..., Host], mode: str, addr: str, expected: int) -> None:
    host = make_host(parse_config({"apphost": {"status_page": mode}}))
    host.load_all()
    for path in ("/_apphost/", "/_apphost/routes", "/_apphost/plugins", "/_apphost/metrics"):
        assert fetch(host, path, addr)[0] == expected
    # The health check answers whatever the mode; its details only to whom the pages answer.
    status, body = fetch(host, "/_apphost/health", addr)
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "degraded"  # 'bad' failed to load
    if expected == 200:
        assert health["apps"]["good"] == "ok" and health["failed"] == ["bad"]
    else:
        assert health == {"status": "degraded"}  # no app names to anyone else


def test_health_through_a_proxy_is_minimal(make_host: Callable[..., Host]) -> None:
    """A proxy's client is not the host's own: it says so with X-Forwarded-For."""
    host = make_host()
    host.load_all()
    resp = Client(request_stack(host)).get(
        "/_apphost/health", headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert json.loads(resp.get_data()) == {"status": "degraded"}


@pytest.mark.parametrize("addr", ["127.0.0.1", "10.1.2.3"])
def test_with_admin_listen_the_public_side_has_minimal_health_only(
    make_host: Callable[..., Host], addr: str
) -> None:
    host = make_host(parse_config({"apphost": {"admin_listen": ["127.0.0.1:0"]}}))
    host.load_all()
    for path in ("/_apphost/", "/_apphost/routes", "/_apphost/plugins", "/_apphost/metrics"):
        assert fetch(host, path, addr)[0] == 404
    assert fetch(host, "/_apphost/health", addr) == (200, '{"status": "degraded"}')
    # The admin listener's stack: every own page, to any client that can reach it.
    admin = Client(admin_stack(host))
    for path in ("/_apphost/", "/_apphost/routes", "/_apphost/plugins", "/_apphost/metrics"):
        assert admin.get(path, environ_base={"REMOTE_ADDR": addr}).status_code == 200
    health = json.loads(admin.get("/_apphost/health").get_data())
    assert health["status"] == "degraded" and health["failed"] == ["bad"]
    # Only the own pages answer there: no app, and TRACE is refused as on the public side.
    assert admin.get("/good").status_code == 404
    assert admin.open("/_apphost/health", method="TRACE").status_code == 405
    assert fetch(host, "/good", addr)[0] == 200


def test_admin_listen_with_status_page_off(make_host: Callable[..., Host]) -> None:
    host = make_host(
        parse_config({"apphost": {"admin_listen": ["127.0.0.1:0"], "status_page": "off"}})
    )
    host.load_all()
    admin = Client(admin_stack(host))
    assert admin.get("/_apphost/").status_code == 404
    assert json.loads(admin.get("/_apphost/health").get_data()) == {"status": "degraded"}


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_local_means_not_through_a_proxy(make_host: Callable[..., Host], header: str) -> None:
    """Behind a proxy on the same machine, every client would look like 127.0.0.1."""
    host = make_host()
    resp = Client(request_stack(host)).get(
        "/_apphost/", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={header: "for=x"}
    )
    assert resp.status_code == 403 and "not through a proxy" in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    ("peer", "headers", "seen"),
    [
        ("10.0.0.9", {}, ("10.0.0.9", None)),  # no proxy header: the layer is skipped
        ("127.0.0.1", {}, ("127.0.0.1", None)),  # the trusted proxy, no header
        ("127.0.0.1", {"X-Forwarded-For": "10.0.0.5"}, ("10.0.0.5", None)),  # applied
        ("10.0.0.9", {"X-Forwarded-For": "10.0.0.5"}, ("10.0.0.9", None)),  # dropped
        ("10.0.0.9", {"X-Forwarded-Host": "evil"}, ("10.0.0.9", None)),  # dropped
    ],
)
def test_served_stack_applies_trusted_proxy_headers(
    apphost_host: HostFactory, peer: str, headers: dict[str, str], seen: tuple[str, None]
) -> None:
    from apphost.serving._waitress import Adjustments

    def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [json.dumps([environ["REMOTE_ADDR"], environ.get("HTTP_X_FORWARDED_HOST")]).encode()]

    host = apphost_host(apps={"echo": echo})
    adj = Adjustments(trusted_proxy="127.0.0.1", trusted_proxy_headers={"x-forwarded-for"})
    resp = Client(request_stack(host, adj)).get(
        "/echo", environ_base={"REMOTE_ADDR": peer}, headers=headers
    )
    assert tuple(json.loads(resp.get_data(as_text=True))) == seen


def test_metrics_count_by_app_and_status_class(make_host: Callable[..., Host]) -> None:
    host = make_host()
    for _ in range(3):
        assert fetch(host, "/good")[0] == 200
    assert fetch(host, "/bad")[0] == 503
    assert fetch(host, "/nowhere")[0] == 404
    text = fetch(host, "/_apphost/metrics")[1]
    assert 'apphost_requests_total{app="good",code="2xx"} 3.0' in text
    assert 'apphost_requests_total{app="bad",code="5xx"} 1.0' in text
    assert 'apphost_request_duration_seconds_count{app="good"} 3.0' in text
    assert "apphost_requests_in_flight 1.0" in text  # this very request


def test_access_log_line(make_host: Callable[..., Host], caplog: pytest.LogCaptureFixture) -> None:
    host = make_host()
    caplog.set_level(logging.INFO, logger="apphost.access")
    Client(request_stack(host)).get(
        "/good/x?q=1",
        environ_base={"REMOTE_ADDR": "192.0.2.7", "REQUEST_URI": "/good/x?q=1"},
        headers={"User-Agent": "probe/1.0", "Referer": "http://ref.example/"},
        buffered=True,
    )
    (record,) = [r for r in caplog.records if r.name == "apphost.access"]
    assert record.levelno == logging.INFO
    line = record.getMessage()
    m = re.fullmatch(
        r'192\.0\.2\.7 - - \[(.+?)\] "GET /good/x\?q=1 HTTP/1\.1" 200 2'
        r' "http://ref\.example/" "probe/1\.0" good (\d+\.\d{3})',
        line,
    )
    assert m is not None, line
    when = datetime.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
    assert abs(when - time.time()) < 5
    assert float(m.group(2)) >= 0


def test_access_log_line_for_a_miss(
    make_host: Callable[..., Host], caplog: pytest.LogCaptureFixture
) -> None:
    host = make_host()
    caplog.set_level(logging.INFO, logger="apphost.access")
    Client(request_stack(host)).post("/nowhere", environ_base={"REMOTE_ADDR": "::1"}, buffered=True)
    (record,) = [r for r in caplog.records if r.name == "apphost.access"]
    assert re.fullmatch(
        r'::1 - - \[[^]]+\] "POST /nowhere HTTP/1\.1" 404 \d+ "-" "-" - \d+\.\d{3}',
        record.getMessage(),
    ), record.getMessage()


def test_timestamp_is_formatted_once_a_second() -> None:
    from apphost.web import access

    now = time.time()
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    access.access_line(now, environ, "200", "2", "a", 0.1)
    first = access._stamp[1]
    access.access_line(now, environ, "200", "2", "a", 0.1)
    assert access._stamp[1] is first  # the same second: not formatted again
    assert first == time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(int(now)))
    access._stamp = (int(now) - 1, "stale")
    assert f"[{first}]" in access.access_line(now, environ, "200", "2", "a", 0.1)


def test_client_strings_are_escaped_as_nginx_escapes_them() -> None:
    from apphost.web.access import access_line

    environ = {
        "REMOTE_ADDR": "10.0.0.1",
        "REQUEST_METHOD": "GET",
        "REQUEST_URI": '/a"b\\c',
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": 'x" 200 1 "-" "forged\nnext line \xe9',
        "HTTP_REFERER": "\x7f",
    }
    line = access_line(0.0, environ, "200", None, "a", 1.0)
    assert "\n" not in line and line.count('"') == 6, line
    assert '"GET /a\\x22b\\x5Cc HTTP/1.1"' in line
    assert '"x\\x22 200 1 \\x22-\\x22 \\x22forged\\x0Anext line \\xE9"' in line
    assert '"\\x7F"' in line
    plain = dict(environ, REQUEST_URI="/a?b=c%20d", HTTP_USER_AGENT="curl/8.5", HTTP_REFERER="-")
    assert '"GET /a?b=c%20d HTTP/1.1" 200 - "-" "curl/8.5" a 1.000' in access_line(
        0.0, plain, "200", None, "a", 1.0
    )


def _metric(metrics: Metrics, line: str) -> float:
    """The value of the sample ``line`` (name and labels) in the exposition, 0 if absent."""
    for sample in metrics.exposition().decode().splitlines():
        name, _, value = sample.rpartition(" ")
        if name == line:
            return float(value)
    return 0.0


def test_metrics_per_app_status_and_in_flight(make_host: Callable[..., Host]) -> None:
    """The per-app metric children are made once and reused; in-flight returns to 0."""
    host = make_host()
    metrics = host.metrics
    assert _metric(metrics, "apphost_requests_in_flight") == 0
    for path, times in (("/good", 3), ("/good/missing", 2), ("/bad", 2), ("/nowhere", 1)):
        for _ in range(times):
            fetch(host, path)
    assert _metric(metrics, 'apphost_requests_total{app="good",code="2xx"}') == 5  # HELLO: 200
    assert _metric(metrics, 'apphost_requests_total{app="bad",code="5xx"}') == 2
    assert _metric(metrics, 'apphost_requests_total{app="-",code="4xx"}') == 1
    assert _metric(metrics, 'apphost_request_duration_seconds_count{app="good"}') == 5
    assert _metric(metrics, 'apphost_request_duration_seconds_bucket{app="bad",le="+Inf"}') == 2
    assert _metric(metrics, "apphost_requests_in_flight") == 0
    assert _metric(metrics, "apphost_requests_queued_total") == 0  # no server: never queued


def test_metrics_and_log_when_the_app_fails(caplog: pytest.LogCaptureFixture) -> None:
    """An app raising before or while streaming is counted and logged as 500, once."""

    def raises(environ: dict[str, object], start_response: object) -> list[bytes]:
        environ["apphost.app"] = "raises"
        raise RuntimeError("boom")

    def streams(environ: dict[str, object], start_response: Any) -> Iterator[bytes]:
        environ["apphost.app"] = "streams"
        start_response("200 OK", [("Content-Length", "4")])
        yield b"ab"
        raise RuntimeError("cut")

    metrics = Metrics()
    caplog.set_level(logging.INFO, logger="apphost.access")
    for app in (raises, streams):
        with pytest.raises(RuntimeError):
            Client(Observer(app, access_log=True, metrics=metrics)).get("/", buffered=True)
    assert _metric(metrics, 'apphost_requests_total{app="raises",code="5xx"}') == 1
    assert _metric(metrics, 'apphost_requests_total{app="streams",code="2xx"}') == 1
    assert _metric(metrics, "apphost_requests_in_flight") == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "apphost.access"]
    assert [line.split('"')[2].split()[:2] for line in lines] == [["500", "-"], ["200", "4"]]


def test_access_log_off(make_host: Callable[..., Host], caplog: pytest.LogCaptureFixture) -> None:
    host = make_host(parse_config({"apphost": {"access_log": False}}))
    caplog.set_level(logging.INFO, logger="apphost.access")
    fetch(host, "/good")
    assert not [r for r in caplog.records if r.name == "apphost.access"]


def test_access_lines_go_whole_to_apphosts_handler_unless_the_logger_is_quiet(
    make_host: Callable[..., Host],
) -> None:
    """With apphost's handler the only one (as ``apphost serve`` sets it), a line is queued
    made whole; the ``apphost.access`` logger's level still decides whether it is written."""
    import io

    from apphost.serving.logs import FORMAT, Formatter, QueuedStreamHandler

    host = make_host()
    stream = io.StringIO()
    handler = QueuedStreamHandler(stream)
    handler.setFormatter(Formatter(FORMAT))
    root, access = logging.getLogger(), logging.getLogger("apphost.access")
    saved, level = root.handlers[:], access.level
    root.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    try:
        fetch(host, "/good")
        access.setLevel(logging.WARNING)
        fetch(host, "/good?quiet")
    finally:
        root.handlers[:] = saved
        access.setLevel(level)
        handler.close()
    (line,) = stream.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO apphost\.access: 127\.0\.0\.1 - - \[.+\]"
        r' "GET /good HTTP/1\.1" 200 \S+ "-" "\S+" \S+ \d+\.\d{3}',
        line,
    ), line


def test_a_closed_request_leaves_no_cycle_for_the_gc() -> None:
    """The request the Observer puts in environ (for scope_cookies) is taken out at close."""
    import gc

    from apphost.web.cookies import SCOPER

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        assert environ[SCOPER] is not None
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    observer = Observer(app, access_log=False, metrics=None)
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for _ in range(100):
            body = observer(dict(environ), lambda status, headers, exc_info=None: None)
            body.close()  # type: ignore[attr-defined]
        assert len(gc.get_objects()) - before < 50  # not one kept per request
    finally:
        gc.enable()
