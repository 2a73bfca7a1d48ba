"""server.py and drain.py in this process, on real sockets: SIGTERM drains, and what waits is counted."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from apphost.config import Config
from apphost.host import Host
from apphost.serving.drain import IDLE_GRACE
from apphost.serving.server import make_server, run
from apphost.serving.sockets import adopt, bind
from apphost.testing import HostFactory


class DrainApps:
    """Apps for the drain: /slow sleeps, then streams 1 MiB; /hang waits for the test."""

    BODY = bytes(range(256)) * 4096

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.events: list[str] = []

    def slow(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        self.entered.set()
        time.sleep(1)
        start_response(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(self.BODY)))],
        )
        for i in range(0, len(self.BODY), 16384):
            time.sleep(0.002)
            yield self.BODY[i : i + 16384]

    def hang(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.entered.set()
        self.release.wait(5)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def hello(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"hello"]

    def apphost_shutdown(self) -> None:
        self.events.append("shutdown")


@pytest.fixture
def drain_host(apphost_host: HostFactory) -> Iterator[Callable[..., tuple[Host, Any, DrainApps]]]:
    """``drain_host(shutdown_timeout=, threads=)`` -> (host, its server, its apps)."""
    servers: list[Any] = []

    def make(shutdown_timeout: float = 10.0, threads: int = 16) -> tuple[Host, Any, DrainApps]:
        apps = DrainApps()
        host = apphost_host(
            plugins={"drainhooks": apps},
            apps={"slow": apps.slow, "hang": apps.hang, "hello": apps.hello},
            config={"apphost": {"shutdown_timeout": shutdown_timeout, "threads": threads}},
        )
        servers.append(make_server(host))
        return host, servers[-1], apps

    yield make
    for server in servers:
        server.task_dispatcher.shutdown(timeout=1)


def _exchange(sock: socket.socket, data: bytes = b"") -> tuple[bytes, bytes]:
    """Send ``data``, read to EOF; (head, body)."""
    sock.settimeout(10)
    if data:
        sock.sendall(data)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


def _response(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read one response with a Content-Length from a kept-alive connection; (head, body)."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def _request(path: str, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n" + extra + b"\r\n"


def test_sigterm_drains_in_flight_and_closes_idle(drain_host: Callable[..., Any]) -> None:
    host, server, apps = drain_host()
    port = server.effective_port
    seen: dict[str, Any] = {}

    def slow_client() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            seen["slow"] = _exchange(sock, _request("/slow"))

    def idle_watch(keep: socket.socket, signalled: float) -> None:
        seen["idle_closed"] = keep.recv(1) == b""
        seen["idle_closed_after"] = time.monotonic() - signalled

    def client() -> None:
        try:
            keep = socket.create_connection(("127.0.0.1", port), timeout=10)
            keep.sendall(_request("/hello"))
            assert _response(keep)[1] == b"hello"  # now an idle keep-alive connection
            slow = threading.Thread(target=slow_client)
            slow.start()
            assert apps.entered.wait(5)
            partial = socket.create_connection(("127.0.0.1", port), timeout=10)
            partial.sendall(b"GET /_apphost/health HTTP/1.1\r\nHost: localhost\r\n")
            silent = socket.create_connection(("127.0.0.1", port), timeout=10)
            time.sleep(0.2)
        finally:  # run() must return whatever happened
            signalled = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)
        watch = threading.Thread(target=idle_watch, args=(keep, signalled))
        watch.start()
        time.sleep(0.1)
        seen["silent"] = _exchange(silent, _request("/hello"))  # its first request, in grace
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            seen["refused"] = False
        except ConnectionRefusedError:
            seen["refused"] = True
        seen["health"] = _exchange(partial, b"\r\n")  # completed after draining began
        watch.join(10)
        slow.join(10)
        for sock in (keep, partial, silent):
            sock.close()

    thread = threading.Thread(target=client)
    thread.start()
    started = time.monotonic()
    run(host, server)  # returns once drained
    took = time.monotonic() - started
    thread.join(10)

    head, body = seen["slow"]
    assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head
    assert hashlib.sha256(body).digest() == hashlib.sha256(apps.BODY).digest()  # byte for byte
    assert seen["idle_closed"] and seen["idle_closed_after"] < IDLE_GRACE + 0.2
    assert seen["refused"]  # stopped accepting at once
    head, body = seen["health"]
    assert head.startswith(b"HTTP/1.1 503") and b'"draining"' in body
    assert b"Connection: close" in head
    head, body = seen["silent"]
    assert head.startswith(b"HTTP/1.1 200") and body == b"hello"
    assert apps.events == ["shutdown"]
    assert host.draining
    assert took < 5


def test_shutdown_timeout_bounds_the_drain(drain_host: Callable[..., Any]) -> None:
    host, server, apps = drain_host(shutdown_timeout=0.3)
    port = server.effective_port
    seen: dict[str, Any] = {}

    def client() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            try:
                sock.sendall(_request("/hang"))
                assert apps.entered.wait(5)
            finally:  # run() must return whatever happened
                os.kill(os.getpid(), signal.SIGTERM)
            seen["cut"] = _exchange(sock)

    thread = threading.Thread(target=client)
    thread.start()
    started = time.monotonic()
    run(host, server)
    took = time.monotonic() - started
    apps.release.set()
    thread.join(10)
    assert seen["cut"] == (b"", b"")  # cut off: the request outlived shutdown_timeout
    assert took < 4
    assert apps.events == ["shutdown"]


def test_closing_never_shuts_down_a_shared_socket() -> None:
    """The other holder (systemd, the supervisor) still has a listening socket."""
    (listening,) = bind(["127.0.0.1:0"])
    host = Host.build(Config(), entry_points=[])
    server = make_server(host, [adopt(os.dup(listening.fileno()), "test")])
    server.close()
    server.task_dispatcher.shutdown(timeout=1)
    with listening, socket.create_connection(listening.getsockname(), timeout=2) as client:
        conn, _ = listening.accept()  # still queued for the next process
        conn.close()
        assert client.recv(1) == b""


def test_requests_that_wait_are_summarized_live(
    drain_host: Callable[..., tuple[Host, Any, Any]],
    caplog: pytest.LogCaptureFixture,
    quiet_queue_logger: logging.Logger,
) -> None:
    """Three /hang requests on one thread: two wait; the summary comes at shutdown."""
    host, server, apps = drain_host(threads=1)
    caplog.set_level(logging.INFO)
    port = int(server.effective_port)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        for client in clients:
            client.sendall(_request("/hang", close=True))
        deadline = time.monotonic() + 5
        metrics = ""
        # Two have waited once the one thread took the first; that one counts as in flight
        # from when the thread has called the app, a moment later.
        while time.monotonic() < deadline:
            metrics = host.metrics.exposition().decode()
            if server.task_dispatcher.waited >= 2 and "apphost_requests_in_flight 1.0" in metrics:
                break
            time.sleep(0.01)
        assert "apphost_requests_queued_total 2.0" in metrics
        assert "apphost_requests_in_flight 1.0" in metrics  # the waiting ones are not begun
        apps.release.set()
        for client in clients:
            assert _exchange(client)[1] == b"ok"
    finally:
        apps.release.set()
        for client in clients:
            client.close()
        server.close()
        server.task_dispatcher.shutdown(timeout=1)
    summaries = [r.getMessage() for r in caplog.records if "waited for a worker" in r.getMessage()]
    assert len(summaries) == 1, summaries
    assert re.fullmatch(
        r"requests waited for a worker thread: 2 in the last \d+ s, up to 2 at once \(threads=1\);"
        r" if apps wait on I/O raise threads, if the CPU is busy add --workers",
        summaries[0],
    ), summaries
    assert "Task queue depth" not in caplog.text


def test_make_server_binds_admin_listen_itself(
    apphost_host: HostFactory, apphost_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Outside the supervisor (apphost_server, a plugin's tests) admin_listen is bound too."""
    caplog.set_level(logging.INFO, "apphost")
    apps = DrainApps()
    host = apphost_host(
        apps={"hello": apps.hello}, config={"apphost": {"admin_listen": ["127.0.0.1:0"]}}
    )
    live = apphost_server(host)
    found = re.search(r"own pages \(admin_listen\) on http://127\.0\.0\.1:(\d+)/", caplog.text)
    assert found is not None, caplog.text
    admin = int(found.group(1))
    for port, path, status in [
        (live.port, "/hello", b"200"),
        (live.port, "/_apphost/", b"404"),
        (admin, "/_apphost/", b"200"),
        (admin, "/hello", b"404"),
    ]:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            head, _ = _exchange(sock, request.encode())
        assert head.split(b" ")[1] == status, (port, path, head)
