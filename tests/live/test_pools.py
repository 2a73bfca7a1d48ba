"""Process pools (``isolation = "process"``) through a real ``apphost serve --workers 2``.

Each fault test runs a load thread on the healthy (unisolated) hello app and
counts every response while an isolated app misbehaves in its pool: kills its
process, burns CPU, leaks. The rows they print are the fault table of
bench/pools.py's contrast: ``pytest tests/live/test_pools.py -s | grep '^| '``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from ..distributions import Dists, unique
from ..servers import Load, get
from .conftest import Serve
from .test_isolation import latencies, summary

POOLED = """
import hashlib, os, time

def crash(environ, start_response):
    if environ["PATH_INFO"] == "/die":
        os._exit(7)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("pid %d" % os.getpid()).encode()]

def burn(environ, start_response):
    end = time.process_time() + float(os.environ.get("BURN_SECONDS", "3"))
    while time.process_time() < end:
        pass
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"burnt"]

KEPT = []
def leak(environ, start_response):
    KEPT.append(bytearray(30 * 2**20))  # 30 MiB, kept: RSS grows with every request
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"leaked"]

def echo(environ, start_response):
    # Up: the digest of what arrived, read piece by piece. Down: MiB of pieces,
    # the second only once the client left a mark saying the first arrived.
    if environ["REQUEST_METHOD"] == "POST":
        digest, read = hashlib.sha256(), environ["wsgi.input"].read
        while True:
            piece = read(65536)
            if not piece:
                break
            digest.update(piece)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [digest.hexdigest().encode()]
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("X-Pid", str(os.getpid())),
                              ("X-Script-Name", environ["SCRIPT_NAME"]),
                              ("X-Path-Info", environ["PATH_INFO"]),
                              ("X-Query", environ["QUERY_STRING"])])
    return pieces(int(environ.get("QUERY_STRING") or "10"))

def pieces(mib):
    mark = os.path.join(os.environ["LC_MARKS"], "first")
    yield b"x" * 2**20
    deadline = time.monotonic() + 10
    while not os.path.exists(mark) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not os.path.exists(mark):
        yield b"LATE"  # the first piece never reached the client: it was buffered
    for _ in range(mib - 1):
        yield b"x" * 2**20
"""


@pytest.fixture
def pooled(site: Dists) -> str:
    mod = unique("pooled")
    names = ("crash", "burn", "leak", "echo")
    site.add("pooled-dist", apps={n: f"{mod}:{n}" for n in names}, modules={mod: POOLED})
    return "pooled-dist"


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pools.toml"
    path.write_text(text)
    return str(path)


def pool_pids(server_log: str, app: str) -> set[str]:
    return set(re.findall(rf"started pool process (\d+) of app '{app}'", server_log))


def test_a_pool_process_that_dies_answers_502_and_nothing_else_fails(
    pooled: str, serve: Serve, tmp_path: Path
) -> None:
    path = config(tmp_path, '[hosting.crash]\nisolation = "process"\n')
    server = serve("--workers", "2", "--config", path, load=pooled)
    server.wait_for(r"worker\(s\) \d+, \d+, \d+ serve")
    before = get(server.port, "/crash/pid")
    assert before[0] == 200
    with Load(server.port, fresh_threads=2, keepalive_threads=1) as load:
        t0 = time.monotonic()
        mark = server.mark()
        status, body = get(server.port, "/crash/die")
        server.wait_for(
            r"pool process (\d+) of app 'crash' exited with status 7 while serving"
            r", with in flight: app 'crash' GET /die",
            mark,
        )
        m = server.wait_for(r"started pool process (\d+) of app 'crash'", mark)
        server.wait_for(rf"pool process {m.group(1)} of app 'crash' serves", mark)
        after = get(server.port, "/crash/pid")
        t1 = time.monotonic()
    counts = load.report("pool crash", t0, t1)
    summary("an isolated app calling os._exit (--workers 2)", load, t0, t1)
    assert counts["failed"] == 0 and counts["ok"] > 20
    assert status == 502 and b"pool process" in body
    assert after == (200, f"pid {m.group(1)}".encode()) and after != before
    assert not re.search(r"worker \d+ .* while serving", server.log)  # no worker died


def test_bodies_stream_through_the_pool_both_ways(
    pooled: str, serve: Serve, tmp_path: Path
) -> None:
    path = config(tmp_path, '[hosting.echo]\nisolation = "process"\n')
    server = serve("--workers", "2", "--config", path, load=pooled)
    server.wait_for(r"worker\(s\) \d+, \d+, \d+ serve")
    up = os.urandom(10 * 2**20)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    conn.request("POST", "/echo/up", body=up)
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, hashlib.sha256(up).hexdigest().encode())
    # Down: the pool's app yields its second MiB only once the first reached us.
    conn.request("GET", "/echo/down/x?10")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("X-Script-Name") == "/echo"
    assert (response.getheader("X-Path-Info"), response.getheader("X-Query")) == ("/down/x", "10")
    first = response.read(2**20)
    assert first == b"x" * 2**20
    (tmp_path / "marks" / "first").touch()
    rest = response.read()
    assert len(rest) == 9 * 2**20 and b"LATE" not in rest
    conn.close()
    pid = response.getheader("X-Pid")
    assert pid is not None and pid in pool_pids(server.log, "echo")
