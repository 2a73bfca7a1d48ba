"""A plugin can only break itself while serving: faults through a real ``apphost serve``.

Each test runs a load thread on the healthy hello app and counts every response
while one app misbehaves: hangs, runs past request_timeout, kills its worker,
leaks, or simply serves many requests under max_requests.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import time
from pathlib import Path

import pytest

from ..distributions import Dists, unique
from ..servers import Load, get
from .conftest import Serve

FAULTS = """
import os, time

def hang(environ, start_response):
    time.sleep(float(os.environ.get("HANG_SECONDS", "8")))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"late"]

def crash(environ, start_response):
    os._exit(7)

KEPT = []
def leak(environ, start_response):
    KEPT.append(bytearray(30 * 2**20))  # 30 MiB, kept: RSS grows with every request
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"leaked"]
"""

SLEEPY_HOOKS = """
import os, time
if os.path.exists(os.path.join(os.environ["LC_MARKS"], "sleep")):
    time.sleep(30)  # a plugin stuck in its import on the next start
def apphost_claim_routes(apphost):
    return None
"""


@pytest.fixture
def faults(site: Dists) -> str:
    mod = unique("faults")
    site.add(
        "faults-dist",
        apps={
            "hang": f"{mod}:hang",
            "hang2": f"{mod}:hang",
            "crash": f"{mod}:crash",
            "leak": f"{mod}:leak",
        },
        modules={mod: FAULTS},
    )
    return "faults-dist"


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "isolation.toml"
    path.write_text(text)
    return str(path)


def flood(port: int, path: str, n: int) -> list[socket.socket]:
    """``n`` connections, each with one request for ``path`` sent and not yet read."""
    socks = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        socks.append(sock)
    return socks


def statuses(socks: list[socket.socket], deadline: float) -> list[int]:
    """The status of each flooded request that answered before ``deadline`` (0: none)."""
    found = []
    for sock in socks:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            head = sock.recv(64)
            found.append(int(head.split()[1]) if head.startswith(b"HTTP/") else 0)
        except OSError:
            found.append(0)
        finally:
            sock.close()
    return found


def latencies(load: Load, t0: float, t1: float) -> tuple[float, float]:
    """(p50, p99) in ms of the load's requests started between t0 and t1."""
    times = sorted((end - start) * 1000 for start, _, _, end in load.results if t0 <= start <= t1)
    assert len(times) >= 20, f"only {len(times)} healthy requests in {t1 - t0:.1f}s"
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def summary(fault: str, load: Load, t0: float, t1: float) -> None:
    """One row of the fault table: ``pytest tests/live/test_isolation.py -s | grep '^| '``."""
    during = [r for r in load.results if t0 <= r[0] <= t1]
    failed = sum(1 for r in during if r[1] != "ok")
    p50, p99 = latencies(load, t0, t1)
    print(f"\n| {fault} | {len(during)} | {failed} | {p50:.1f} | {p99:.1f} |")


@pytest.mark.parametrize("hung", [["/hang"], ["/hang", "/hang2"]], ids=["one", "two"])
def test_hung_apps_leave_the_others_answering(
    faults: str, serve: Serve, tmp_path: Path, hung: list[str]
) -> None:
    server = serve("--threads", "8", load=faults)
    with Load(server.port, fresh_threads=2, keepalive_threads=1) as load:
        t0 = time.monotonic()
        socks = [s for path in hung for s in flood(server.port, path, 200 // len(hung))]
        time.sleep(1.5)  # the hung apps hold their threads; the rest were turned away
        status, body = get(server.port, "/_apphost/health")
        t1 = time.monotonic()
    counts = load.report(f"{len(hung)} hung", t0, t1)
    summary(f"{len(hung)} app(s) hung, 200 requests", load, t0, t1)
    assert counts["failed"] == 0 and counts["ok"] > 20
    p50, p99 = latencies(load, t0, t1)
    print(f"isolation {len(hung)} hung app(s): healthy p50={p50:.1f} ms p99={p99:.1f} ms")
    assert status == 200 and b'"saturated": ["hang' in body
    got = statuses(socks, time.monotonic() + 3)
    limit = 3  # threads=8: (8 - 2) // 2 per app
    assert got.count(503) >= 200 - limit * len(hung) - 5  # turned away at once
    assert b"max_in_flight" not in body


def test_stuck_request_is_logged_with_its_stack(faults: str, serve: Serve, tmp_path: Path) -> None:
    path = config(tmp_path, "[hosting.hang]\nrequest_timeout = 1\n")
    server = serve("--config", path, load=faults, env={"HANG_SECONDS": "4"})
    with Load(server.port) as load:
        t0 = time.monotonic()
        socks = flood(server.port, "/hang/x", 1)
        line = server.wait_for(
            r"stuck request: app 'hang' \(faults-dist==1\.0\) GET /x", timeout=10
        )
        t1 = time.monotonic()
    assert load.report("stuck", t0, t1)["failed"] == 0
    summary("a request stuck past request_timeout", load, t0, t1)
    assert re.search(r"running for \d+\.\ds \(request_timeout 1s\)", line.string)
    log = server.log
    assert "time.sleep(float(os.environ.get" in log[log.index(line.string) :]  # its stack
    _, body = get(server.port, "/_apphost/metrics")
    assert b'apphost_requests_stuck_total{app="hang"} 1.0' in body
    statuses(socks, time.monotonic() + 10)


def test_a_crashing_app_is_quarantined(faults: str, serve: Serve, tmp_path: Path) -> None:
    server = serve("--workers", "2", load=faults)
    server.wait_for(r"worker\(s\) \d+, \d+ serve")
    with Load(server.port, fresh_threads=2, keepalive_threads=1) as load:
        t0 = time.monotonic()
        deaths = 0
        while deaths < 3 and time.monotonic() - t0 < 30:
            mark = server.mark()
            status, _ = get_or_zero(server.port, "/crash/now")
            if status == 0:  # the worker died under it
                server.wait_for(r"while serving, with in flight: .*app 'crash' GET /now", mark)
                deaths += 1
            time.sleep(0.3)
        server.wait_for(r"quarantining app 'crash' in every worker until the next reload")
        time.sleep(1)
        t1 = time.monotonic()
        answers = [get(server.port, "/crash/again") for _ in range(6)]
    # Only requests on connections the dying workers held can fail: at most one per load
    # thread and death (each thread has one request out at a time, then reconnects).
    during = [r for r in load.results if t0 <= r[0] <= t1]
    lost = [r for r in during if r[1] != "ok"]
    summary("an app killing its worker, quarantined after 3 deaths (--workers 2)", load, t0, t1)
    assert deaths == 3
    assert len(lost) <= 3 * deaths, lost
    assert len(during) - len(lost) > 50
    assert all(s == 503 and b"quarantined until the next reload" in b for s, b in answers)
    status, body = get(server.port, "/_apphost/health")
    assert status == 200 and b'"status": "degraded"' in body and b"worker deaths" in body
    mark = server.mark()
    server.signal(signal.SIGHUP)
    server.wait_for(r"the reload lifts the quarantine of crash", mark)


def get_or_zero(port: int, path: str) -> tuple[int, bytes]:
    try:
        return get(port, path)
    except (OSError, ConnectionError, http_error()):
        return 0, b""


def http_error() -> type[Exception]:
    import http.client

    return http.client.HTTPException


def test_a_leaking_worker_is_recycled_with_no_failed_request(
    faults: str, serve: Serve, tmp_path: Path
) -> None:
    path = config(tmp_path, "[apphost]\nmax_worker_memory = 200\n")
    server = serve("--config", path, load=faults)
    with Load(server.port, fresh_threads=2, keepalive_threads=1) as load:
        t0 = time.monotonic()
        mark = server.mark()
        for _ in range(12):
            assert get(server.port, "/leak")[0] == 200
            if "asks to be replaced" in "".join(server.lines[mark:]):
                break
        server.wait_for(r"asks to be replaced: max_worker_memory: RSS \d+ MiB > 200 MiB", mark)
        m = server.wait_for(r"worker (\d+) serves; worker (\d+) drains", mark)
        server.wait_for(rf"worker {m.group(2)} exited with status 0", mark)
        t1 = time.monotonic()
    counts = load.report("leak", t0, t1)
    summary("a leaking worker recycled at max_worker_memory", load, t0, t1)
    assert counts["failed"] == 0 and counts["ok"] > 20


def test_max_requests_recycles_one_worker_at_a_time(
    faults: str, serve: Serve, tmp_path: Path
) -> None:
    path = config(tmp_path, "[apphost]\nworkers = 2\nmax_requests = 150\n")
    server = serve("--config", path, "--no-access-log", load=faults)
    server.wait_for(r"worker\(s\) \d+, \d+ serve")
    with Load(server.port, fresh_threads=3, keepalive_threads=1) as load:
        t0 = time.monotonic()
        mark = server.mark()
        for _ in range(3):
            server.wait_for(r"worker \d+ serves; worker \d+ drains", server.mark(), timeout=30)
        t1 = time.monotonic()
    counts = load.report("max_requests", t0, t1)
    summary("max_requests = 150, --workers 2, 3 recycles", load, t0, t1)
    assert counts["failed"] == 0
    events = re.findall(
        r"replacing worker (\d+)|worker (\d+) serves; worker (\d+) drains",
        "".join(server.lines[mark:]),
    )
    replacing: str | None = None
    for started, _, old in events:
        if started:
            assert replacing is None, f"two recycles at once: {events}"  # never together
            replacing = started
        else:
            assert old == replacing, events
            replacing = None


def test_a_reload_stuck_in_an_import_names_the_plugin(
    site: Dists, serve: Serve, tmp_path: Path
) -> None:
    mod = unique("sleepy")
    site.add("sleepy-dist", plugins={"sleepy": mod}, modules={mod: SLEEPY_HOOKS})
    server = serve(
        "--config", config(tmp_path, "[apphost]\nstart_timeout = 3\n"), load="sleepy-dist"
    )
    (tmp_path / "marks" / "sleep").touch()
    mark = server.mark()
    with Load(server.port) as load:
        t0 = time.monotonic()
        server.signal(signal.SIGHUP)
        line = server.wait_for(r"reload failed", mark, timeout=20)
        t1 = time.monotonic()
    assert load.report("stuck reload", t0, t1)["failed"] == 0
    summary("a reload stuck in a plugin import (start_timeout 3 s)", load, t0, t1)
    assert re.search(
        r"not serving after 3s, still importing plugin 'sleepy' \(sleepy-dist==1\.0\)", line.string
    ), line.string
    assert os.path.exists(tmp_path / "marks" / "sleep")
    assert get(server.port, "/hello")[0] == 200  # the old workers keep serving
