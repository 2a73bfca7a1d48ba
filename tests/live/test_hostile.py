"""Hostile clients against a real ``apphost serve``: raw sockets, each abuse answered or closed.

Slow heads and bodies, floods of idle connections (more than ``select()``
can watch), one address holding too many, oversized heads, targets and
bodies, clients that never read, endless chunk extensions, ``Content-Length``
with ``Transfer-Encoding``, requests waitress refuses itself, and a drain
that must not wait for heads never finished. See DESIGN.md "Hostile clients".
"""

from __future__ import annotations

import contextlib
import re
import resource
import select
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..distributions import Dists, unique
from ..servers import HELLO, Server, get
from .conftest import Serve

HEAD = b"GET /hello HTTP/1.1\r\nHost: localhost\r\n"
STREAM = """
def stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    chunk = b"x" * 2**20
    return (chunk for _ in range(500))  # 500 MiB, made as it is sent
"""


@pytest.fixture(autouse=True, scope="module")
def descriptors() -> Iterator[None]:
    """Room for a few thousand sockets in this process (and the servers it starts)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    return str(path)


def connect(port: int, source: str = "127.0.0.1", timeout: float = 10) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (reading and dropping what it sent), else None."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:  # reset
            return time.monotonic() - start
    return None


def response(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes (or ``timeout`` passes)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            part = sock.recv(65536)
        except TimeoutError:
            break
        except OSError:
            break
        if not part:
            break
        data += part
    return data


def status(data: bytes) -> int:
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else 0


def worker_rss_mib(server: Server) -> float:
    """The RSS of the supervisor's (one) worker process, in MiB."""
    pid = server.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for line in Path(f"/proc/{children[0]}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_head_or_body_that_stalls_is_closed(serve: Serve, tmp_path: Path) -> None:
    server = serve(
        "--config", config(tmp_path, "[apphost]\nheader_timeout = 1.0\nbody_timeout = 1.0\n")
    )
    silent = connect(server.port)  # connects and sends nothing
    trickle = connect(server.port)  # a slowloris: one header line every 0.3 s
    trickle.sendall(HEAD)
    body = connect(server.port)  # a body that stops after 2 of 10 bytes
    body.sendall(b"POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nab")
    kept = connect(server.port)  # keep-alive after one answered request, then idle
    kept.sendall(HEAD + b"\r\n")
    assert status(kept.recv(4096)) == 200
    start = time.monotonic()
    closed: dict[str, float] = {}
    while time.monotonic() - start < 6 and len(closed) < 4:
        for name, sock in (
            ("silent", silent),
            ("trickle", trickle),
            ("body", body),
            ("kept", kept),
        ):
            if name in closed:
                continue
            if name == "trickle":
                try:
                    sock.sendall(b"X-a: b\r\n")
                except OSError:
                    closed[name] = time.monotonic() - start
                    continue
            if closed_within(sock, 0.1) is not None:
                closed[name] = time.monotonic() - start
    # 1 s timeouts, checked once a second: each closed by 3 s, with room for a busy machine.
    assert set(closed) == {"silent", "trickle", "body", "kept"}, closed
    assert max(closed.values()) < 5.5, closed
    assert get(server.port, "/hello") == (200, HELLO)


def test_idle_connections_beyond_select_do_not_lock_out_a_new_client(serve: Serve) -> None:
    server = serve()
    held = []
    for i in range(1100):  # more than select() can watch, 22 from each of 50 addresses
        sock = connect(server.port, source=f"127.0.0.{2 + i % 50}")
        sock.sendall(HEAD + b"\r\n")
        held.append(sock)
    for sock in held:
        assert status(sock.recv(4096)) == 200  # each answered once, then idle and kept alive
    start = time.monotonic()
    assert get(server.port, "/hello", source="127.0.0.200") == (200, HELLO)
    assert time.monotonic() - start < 2
    for sock in held:
        sock.close()


def test_one_address_is_held_to_max_connections_per_client(serve: Serve, tmp_path: Path) -> None:
    server = serve("--config", config(tmp_path, "[apphost]\nmax_connections_per_client = 5\n"))
    held = [connect(server.port, "127.0.0.7") for _ in range(5)]
    for sock in held:
        sock.sendall(HEAD + b"\r\n")
        assert status(sock.recv(4096)) == 200
    refused = [connect(server.port, "127.0.0.7") for _ in range(3)]
    for sock in refused:
        assert status(response(sock, 5)) == 503
    assert get(server.port, "/hello", source="127.0.0.8") == (200, HELLO)  # another address
    held.pop().close()
    time.sleep(0.3)
    again = connect(server.port, "127.0.0.7")
    again.sendall(HEAD + b"\r\n")
    assert status(again.recv(4096)) == 200
    lines = [line for line in server.lines if "max_connections_per_client" in line]
    assert len(lines) == 1 and "127.0.0.7" in lines[0], lines


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (HEAD + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n", 431),
        (HEAD + b"X-Big: " + b"v" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /hello/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414),
        (b"POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: 20000\r\n\r\n", 413),
        (b"GET /hello HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET /hello HTTP/1.1\r\nHost: localhost\r\nBad header\r\n\r\n", 400),
    ],
    ids=["header-count", "header-size", "target", "content-length", "encoding", "malformed"],
)
def test_limits_are_answered_logged_and_counted(
    serve: Serve, tmp_path: Path, request_bytes: bytes, code: int
) -> None:
    server = serve("--config", config(tmp_path, '[apphost]\nmax_body_size = "10KB"\n'))
    sock = connect(server.port)
    sock.sendall(request_bytes)
    assert status(response(sock)) == code
    server.wait_for(rf'" {code} ')  # its access line
    _, metrics = get(server.port, "/_apphost/metrics")
    assert f'apphost_requests_total{{app="-",code="{code // 100}xx"}} 1.0' in metrics.decode()


def test_a_chunked_upload_past_max_body_size_gets_413_not_a_reset(
    serve: Serve, tmp_path: Path
) -> None:
    server = serve("--config", config(tmp_path, '[apphost]\nmax_body_size = "1MB"\n'))
    socks = [connect(server.port) for _ in range(8)]
    for sock in socks:
        sock.sendall(
            b"POST /hello HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.setblocking(False)
    chunk = b"10000\r\n" + b"u" * 0x10000 + b"\r\n"  # 64 KiB chunks, 2 GB if nobody stops us
    sent = dict.fromkeys(socks, 0)
    answers: dict[socket.socket, bytes] = {}
    deadline = time.monotonic() + 15
    while len(answers) < len(socks) and time.monotonic() < deadline:
        waiting = [s for s in socks if s not in answers]
        readable, writable, _ = select.select(waiting, waiting, [], 0.5)
        for sock in readable:
            try:
                answers[sock] = sock.recv(65536)
            except OSError as exc:
                answers[sock] = repr(exc).encode()
        for sock in writable:
            if sock not in answers and sent[sock] < 2**31:
                with contextlib.suppress(OSError):
                    sent[sock] += sock.send(chunk)
    assert [status(a) for a in answers.values()] == [413] * 8, list(answers.values())[:2]
    assert max(sent.values()) < 64 * 2**20  # refused after about 1 MiB, not 1 GiB
    assert get(server.port, "/hello") == (200, HELLO)


def test_a_per_app_max_body_size_is_enforced(serve: Serve, tmp_path: Path) -> None:
    text = '[apphost]\nmax_body_size = "4KB"\n[hosting.hello]\nmax_body_size = 1024\n'
    server = serve("--config", config(tmp_path, text))
    for size, code in ((1000, 200), (2000, 413), (5000, 413)):
        sock = connect(server.port)
        sock.sendall(
            b"POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % size
            + b"b" * size
        )
        assert status(response(sock, 5)) == code, size


@pytest.fixture
def stream(site: Dists) -> str:
    mod = unique("stream")
    site.add("stream-dist", apps={"stream": f"{mod}:stream"}, modules={mod: STREAM})
    return "stream-dist"


def test_clients_that_never_read_are_closed_after_send_timeout(
    serve: Serve, tmp_path: Path, stream: str
) -> None:
    text = "[apphost]\nsend_timeout = 2.0\n[hosting.stream]\nmax_in_flight = 16\n"
    server = serve("--config", config(tmp_path, text), load=stream)
    stuck = [connect(server.port) for _ in range(16)]
    for sock in stuck:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
    start = time.monotonic()
    while time.monotonic() - start < 4:  # health and hello answer while they hold on
        assert get(server.port, "/_apphost/health")[0] == 200
        assert get(server.port, "/hello") == (200, HELLO)
        time.sleep(0.2)
    # Each is let go once send_timeout passed for it (checked once a second): its access
    # line is written when the server gives up on it. Only then does this client read.
    deadline = time.monotonic() + 20
    while sum('"GET /stream' in line for line in server.lines) < 16:
        assert time.monotonic() < deadline, server.log[-2000:]
        time.sleep(0.2)
    for sock in stuck:  # each closed: what is left to read is far less than 500 MiB
        total = 0
        sock.settimeout(5)
        while total < 100 * 2**20:
            try:
                part = sock.recv(2**20)
            except OSError:
                break
            if not part:
                break
            total += len(part)
        assert total < 100 * 2**20


# 16 connections sending a chunk extension without end, each reconnecting once
# answered; run as a process of its own, so its threads do not hold this one's GIL,
# and niced, so on this shared 2-core machine its 16 threads do not take the CPU
# from the server and the probe.
EXTENSIONS = """
import os, socket, sys, threading, time
os.nice(19)  # the server's cost is measured, not the scheduler's: let the server and probe run first
port, seconds = int(sys.argv[1]), float(sys.argv[2])
head = b"POST /hello HTTP/1.1\\r\\nHost: localhost\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5;"
answers, end = [], time.monotonic() + seconds
def attack():
    while time.monotonic() < end:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(2)
        try:
            sock.sendall(head)
            while time.monotonic() < end:
                sock.sendall(b"a" * 65536)
        except OSError:
            pass
        try:
            answers.append(sock.recv(12)[9:12].decode())
        except OSError:
            answers.append("none")
        sock.close()
threads = [threading.Thread(target=attack) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(answers))
"""


def test_endless_chunk_extensions_are_refused_and_cost_the_others_nothing(serve: Serve) -> None:
    server = serve()

    def probe(seconds: float) -> list[float]:
        times = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t = time.monotonic()
            assert get(server.port, "/hello", source="127.0.0.200") == (200, HELLO)
            times.append(time.monotonic() - t)
            time.sleep(0.02)
        return sorted(times)

    idle = probe(1.5)
    rss_before = worker_rss_mib(server)
    attack = subprocess.Popen(
        [sys.executable, "-c", EXTENSIONS, str(server.port), "3.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.3)
        during = probe(3)
        rss_during = worker_rss_mib(server)
        answers, _ = attack.communicate(timeout=15)
    finally:
        attack.kill()
    p99 = lambda times: times[int(len(times) * 0.99)]  # noqa: E731
    print(
        f"chunk extensions: idle p99 {p99(idle) * 1000:.1f} ms, during {p99(during) * 1000:.1f} ms,"
        f" rss {rss_before:.0f} -> {rss_during:.0f} MiB, answers {answers.split()[:5]}"
    )
    assert set(answers.split()) == {"400"}, answers
    # Generous, as this 2-core machine is shared (other suites run on it) and the attack
    # takes a core: within 2x of idle, or 250 ms for p95 and 20 ms for the median; p95, not
    # p99, as one request in a hundred may meet a stall of the machine's own. waitress
    # unchanged re-copies each extension on every read: median near 300 ms.
    p95 = lambda times: times[int(len(times) * 0.95)]  # noqa: E731
    assert p95(during) < max(2 * p95(idle), 0.25), (idle, during)
    assert statistics.median(during) < max(2 * statistics.median(idle), 0.02), (idle, during)
    assert rss_during < rss_before + 50


def test_content_length_with_transfer_encoding_closes_after_the_response(serve: Serve) -> None:
    server = serve()
    sock = connect(server.port)
    sock.sendall(
        b"POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + HEAD + b"\r\n"
    )
    data = response(sock, 5)
    assert data.count(b"HTTP/1.1 ") == 1, data
    assert b"Connection: close" in data
    assert closed_within(sock, 1) is not None


def test_draining_does_not_wait_for_heads_never_finished(serve: Serve, tmp_path: Path) -> None:
    server = serve("--config", config(tmp_path, "[apphost]\nheader_timeout = 60.0\n"))
    socks = [connect(server.port) for _ in range(20)]
    for sock in socks:
        sock.sendall(HEAD)  # never finished
    time.sleep(0.3)
    start = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - start < 6  # not shutdown_timeout (30 s)


@pytest.mark.parametrize("spread", [1, 50], ids=["one-address", "50-addresses"])
def test_slowloris_leaves_a_normal_client_answered(serve: Serve, spread: int) -> None:
    server = serve()
    attackers = []
    for i in range(1100):  # past select()'s 1024
        try:
            sock = connect(server.port, source=f"127.0.0.{2 + i % spread}", timeout=2)
            sock.sendall(HEAD)
        except OSError:  # refused (one address past max_connections_per_client)
            continue
        attackers.append(sock)
    times = []
    end = time.monotonic() + 4
    while time.monotonic() < end:
        for sock in attackers:  # one more header line each, as slowloris does
            with contextlib.suppress(OSError):
                sock.send(b"X-a: b\r\n")
        t = time.monotonic()
        assert get(server.port, "/hello", source="127.0.0.200") == (200, HELLO)
        times.append(time.monotonic() - t)
        time.sleep(0.1)
    assert max(times) < 2, times
    for sock in attackers:
        sock.close()
