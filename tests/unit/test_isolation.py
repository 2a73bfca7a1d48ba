"""Run-time isolation in one worker: bulkheads, stuck requests, recycling, quarantine."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from apphost import Claim, ConfigError
from apphost.config import Config, parse_config
from apphost.serving.crashes import Crashes
from apphost.serving.scoreboard import Scoreboard
from apphost.testing import ClientFactory, HostFactory
from apphost.web.bulkhead import Bulkheads
from werkzeug.test import Client


class Gate:
    """A WSGI app whose requests wait until ``release`` (or 10 s)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.entered.release()
        self.release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]


LOCAL = {"REMOTE_ADDR": "127.0.0.1"}  # health's details answer the clients the status pages do


def ok(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.release.set()


def hold(client: Client, path: str, gate: Gate, n: int) -> list[threading.Thread]:
    """``n`` requests to ``path`` that wait in ``gate``; returns once all are inside."""
    threads = [
        threading.Thread(target=client.get, args=(path,), kwargs={"buffered": True})
        for _ in range(n)
    ]
    for t in threads:
        t.start()
    for _ in range(n):
        assert gate.entered.acquire(timeout=5)
    return threads


@pytest.mark.parametrize(
    ("threads", "per_app"), [(1, 1), (2, 1), (4, 1), (8, 3), (16, 6), (32, 12), (64, 24)]
)
def test_automatic_limit_leaves_a_reserve_when_two_apps_hang(threads: int, per_app: int) -> None:
    config = Config(threads=threads)
    assert config.limits("any").max_in_flight == per_app
    if threads >= 4:  # two hung apps leave at least max(2, threads // 4) threads
        assert threads - 2 * per_app >= max(2, threads // 4)


def test_hosting_overrides_one_app() -> None:
    config = parse_config(
        {
            "apphost": {"max_in_flight": 5, "request_timeout": 9},
            "hosting": {"blog": {"max_in_flight": 2, "request_timeout": 1.5}},
        }
    )
    assert (config.limits("blog").max_in_flight, config.limits("blog").request_timeout) == (2, 1.5)
    assert (config.limits("wiki").max_in_flight, config.limits("wiki").request_timeout) == (5, 9.0)


@pytest.mark.parametrize(
    ("data", "key", "text"),
    [
        (
            {"hosting": {"blog": {"max_in_flght": 2}}},
            "hosting.blog.max_in_flght",
            "unknown key; did you mean 'max_in_flight'?",
        ),
        ({"hosting": {"blog": {"max_in_flight": "2"}}}, "hosting.blog.max_in_flight", "int"),
        ({"hosting": {"blog": {"max_in_flight": -1}}}, "hosting.blog.max_in_flight", "negative"),
        (
            {"hosting": {"blog": {"isolation": "processes"}}},
            "hosting.blog.isolation",
            "must be one of 'thread', 'process'",
        ),
        ({"hosting": {"blog": {"processes": 0}}}, "hosting.blog.processes", "at least 1"),
        ({"hosting": {"blog": 3}}, "hosting.blog", "must be a table"),
        ({"apphost": {"crash_limit": 0}}, "apphost.crash_limit", "at least 1"),
        ({"apphost": {"request_timeout": 0}}, "apphost.request_timeout", "more than 0"),
        ({"apphost": {"max_worker_memory": -5}}, "apphost.max_worker_memory", "negative"),
    ],
)
def test_isolation_config_errors_name_the_key(data: dict[str, Any], key: str, text: str) -> None:
    with pytest.raises(ConfigError, match=text) as info:
        parse_config(data)
    assert info.value.key == key


def test_an_app_at_its_limit_answers_503_at_once_and_others_serve(
    apphost_host: HostFactory, gate: Gate
) -> None:
    host = apphost_host(
        apps={"slow": gate, "fast": ok}, config={"hosting": {"slow": {"max_in_flight": 2}}}
    )
    client = Client(host.dispatcher)
    waiting = hold(client, "/slow/", gate, 2)
    started = time.monotonic()
    refused = client.get("/slow/")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert "app 'slow' has 2 requests in flight, its limit (max_in_flight)" in refused.text
    assert time.monotonic() - started < 1  # at once, never queued behind the hung ones
    assert client.get("/fast/").text == "ok"
    assert client.get("/_apphost/health").status_code == 200
    gate.release.set()
    for t in waiting:
        t.join(5)
    assert client.get("/slow/", buffered=True).status_code == 200  # bodies closed: budget back


def test_an_app_that_raises_gives_its_turn_back(apphost_host: HostFactory) -> None:
    def boom(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise RuntimeError("boom")

    host = apphost_host(apps={"boom": boom}, config={"hosting": {"boom": {"max_in_flight": 1}}})
    client = Client(host.dispatcher)
    assert [client.get("/boom/", buffered=True).status_code for _ in range(3)] == [500] * 3
    (guard,) = [b for b in host.bulkheads.each() if b.name == "boom"]
    assert guard.active == {} and guard.rejected == 0


def test_each_made_app_has_its_own_budget(apphost_host: HostFactory, gate: Gate) -> None:
    def make(key: str) -> Any:
        return gate if key == "acme" else ok

    host = apphost_host(
        plugins={"tenants": object()},
        claims=[Claim(factory=make, path="/t/*")],
        config={"hosting": {"claims": {"max_in_flight": 1}}},
    )
    client = Client(host.dispatcher)
    waiting = hold(client, "/t/acme/", gate, 1)
    assert client.get("/t/acme/").status_code == 503  # acme is at its limit of 1
    assert client.get("/t/beta/").text == "ok"  # beta has a budget of its own
    names = {b.name: b.limit for b in host.bulkheads.each()}
    assert names["claims[acme]"] == 1 and names["claims[beta]"] == 1
    gate.release.set()
    for t in waiting:
        t.join(5)


def test_stuck_request_is_logged_once_with_its_stack_and_listed(
    apphost_host: HostFactory,
    apphost_client: ClientFactory,
    gate: Gate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = apphost_host(apps={"slow": gate}, config={"hosting": {"slow": {"request_timeout": 5}}})
    client = apphost_client(host)
    waiting = hold(client, "/slow/x", gate, 1)
    caplog.set_level(logging.WARNING, "apphost")
    host.bulkheads.look(now=time.monotonic() + 1)  # not yet past request_timeout
    assert "stuck" not in caplog.text
    host.bulkheads.look(now=time.monotonic() + 6)
    host.bulkheads.look(now=time.monotonic() + 7)  # once only
    stuck = [r.getMessage() for r in caplog.records if "stuck request" in r.getMessage()]
    assert len(stuck) == 1, stuck
    assert "app 'slow' (in-memory==0) GET /x running for" in stuck[0]
    assert "in __call__\n" in stuck[0] and "self.release.wait(10)" in stuck[0]  # the stack
    assert host.bulkheads.stuck_total == {"slow": 1}
    health = json.loads(client.get("/_apphost/health", environ_base=LOCAL).text)
    assert health["status"] == "degraded"
    assert [(s["app"], s["path"]) for s in health["stuck"]] == [("slow", "/x")]
    page = client.get("/_apphost/", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text
    assert "stuck request GET /x running for" in page
    gate.release.set()
    for t in waiting:
        t.join(5)
    host.bulkheads.look()
    assert host.bulkheads.stuck == {}  # it finished: no longer listed


def test_quarantine_answers_503_naming_why_and_health_says_degraded(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(apps={"bad": ok, "good": ok})
    client = apphost_client(host)
    assert client.get("/bad/").status_code == 200
    host.bulkheads.quarantine("bad", "in flight in 3 worker deaths within 60s (crash_limit 3)")
    refused = client.get("/bad/")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
    assert "app 'bad' is quarantined until the next reload: in flight in 3" in refused.text
    assert client.get("/good/").text == "ok"
    health = client.get("/_apphost/health", environ_base=LOCAL)
    assert health.status_code == 200  # one broken plugin never takes the instance out
    assert json.loads(health.text)["status"] == "degraded"
    assert "in flight in 3 worker deaths" in json.loads(health.text)["quarantined"]["bad"]
    page = client.get("/_apphost/", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text
    first = page.split("<li ", 2)[1]  # what is wrong leads the page
    assert first.startswith("data-kind=quarantined data-app=bad>")
    assert "in flight in 3 worker deaths" in first
    routes = json.loads(client.get("/_apphost/routes", environ_base={"REMOTE_ADDR": "::1"}).text)
    bad = next(r for r in routes if r["app"] == "bad")  # its route does not say ok
    assert bad["status"].startswith("quarantined: in flight in 3 worker deaths")


def test_health_is_ok_when_nothing_is_wrong(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    client = apphost_client(apphost_host(apps={"a": ok}))
    health = json.loads(client.get("/_apphost/health", environ_base=LOCAL).text)
    assert health["status"] == "ok"
    assert (health["failed"], health["quarantined"], health["stuck"]) == ([], {}, [])


def test_recycle_is_asked_once_past_max_requests() -> None:
    asked: list[str] = []
    bulkheads = Bulkheads(Config(max_requests=20), on_recycle=asked.append)
    guard = bulkheads.wrap(ok, "a", "a", "d==1")
    assert 20 <= bulkheads.max_requests <= 22  # jittered by up to 10%
    for _ in range(bulkheads.max_requests - 1):
        list(guard({}, lambda *a: None))
    bulkheads.look()
    assert asked == []
    list(guard({}, lambda *a: None))
    bulkheads.look()
    bulkheads.look()
    assert len(asked) == 1 and asked[0].startswith("max_requests: served")


def test_recycle_is_asked_when_stuck_requests_starve_the_worker(gate: Gate) -> None:
    asked: list[str] = []
    config = Config(threads=4, max_in_flight=4, request_timeout=1)
    bulkheads = Bulkheads(config, on_recycle=asked.append)
    guard = bulkheads.wrap(gate, "slow", "slow", "d==1")
    threads = [
        threading.Thread(target=lambda: list(guard({"PATH_INFO": "/"}, lambda *a: None)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for _ in threads:
        assert gate.entered.acquire(timeout=5)
    bulkheads.look(now=time.monotonic() + 5)  # 2 stuck of 4 threads leaves the reserve of 2
    assert asked == ["stuck: 2 of 4 threads hold stuck requests"]
    gate.release.set()
    for t in threads:
        t.join(5)


def test_recycle_is_asked_past_max_worker_memory() -> None:
    asked: list[str] = []
    Bulkheads(Config(max_worker_memory=1), on_recycle=asked.append).look()
    assert len(asked) == 1 and asked[0].startswith("max_worker_memory: RSS ")


def test_crashes_quarantine_after_crash_limit_within_the_window() -> None:
    now = [100.0]
    crashes = Crashes(limit=3, window=60, clock=lambda: now[0])
    blog = [("blog", "GET", "/blog/x")]
    assert crashes.died(blog) == {} and crashes.backoff() == 0
    now[0] += 70  # the first death has left the window
    assert crashes.died([*blog, ("wiki", "GET", "/wiki/")]) == {}
    now[0] += 1
    assert crashes.died([]) == {}  # no request in flight names nobody
    assert crashes.backoff() == 0.1
    now[0] += 1
    assert crashes.died(blog) == {}  # two deaths with blog within 60 s
    now[0] += 1
    assert crashes.died(blog) == {"blog": "in flight in 3 worker deaths within 60s (crash_limit 3)"}
    assert crashes.backoff() == 0.4  # doubled at each death in the window
    assert crashes.died(blog) == {}  # told once
    crashes.reset()
    assert crashes.quarantined == {}


def test_scoreboard_shows_what_each_thread_serves() -> None:
    board = Scoreboard.create(slots=2)
    worker = Scoreboard.from_fd(os.dup(board.fd))
    try:
        worker.doing("importing plugin 'blog' (blog==1.0)")
        assert board.status() == "importing plugin 'blog' (blog==1.0)"
        worker.enter("blog", "GET", "/blog/x")
        done = threading.Event()

        def serve(app: str, path: str) -> None:
            worker.enter(app, "POST", path)
            done.wait(5)  # alive, so its slot stays its own

        others = [threading.Thread(target=serve, args=a) for a in (("wiki", "/y"), ("x", "/z"))]
        for t in others:
            t.start()
        deadline = time.monotonic() + 5
        while len(board.in_flight()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # the third thread has had its turn: it found no slot left
        got = sorted(board.in_flight())
        assert len(got) == 2 and got[0] == ("blog", "GET", "/blog/x"), got
        worker.leave()
        assert board.in_flight() == got[1:]
        done.set()
        for t in others:
            t.join(5)
    finally:
        worker.close()
        board.close()


def test_dead_workers_metric_files_are_folded(tmp_path: Any, monkeypatch: Any) -> None:
    from apphost.serving.metrics_files import fold_dead
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.mmap_dict import MmapedDict, mmap_key
    from prometheus_client.multiprocess import MultiProcessCollector

    key = mmap_key("apphost_requests", "apphost_requests_total", ["app"], ["a"], "help")
    for pid, value in ((11, 3.0), (12, 4.0)):
        d = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        d.write_value(key, value, 0.0)
        d.close()
    fold_dead(str(tmp_path), 11)
    fold_dead(str(tmp_path), 12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_archive.db"]
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert 'apphost_requests_total{app="a"} 7.0' in generate_latest(registry).decode()
