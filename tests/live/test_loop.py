"""The serving loop on real sockets: a small response is one send, and no wake is ever missed.

``_waitress.Task`` joins a response's head to its first body bytes, and
``_waitress.Loop`` writes to its trigger only while it may be asleep in
``select()``; a wake it wrongly skipped would leave a keep-alive client
waiting for the loop's one-second timeout.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from apphost.serving import _waitress
from apphost.testing import HostFactory

BIG = bytes(range(256)) * 1024  # 256 KiB: over HEAD_WITH_BODY, sent apart from its head


def small(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"small"]


def streamed(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])  # chunked: no Content-Length
    yield b"one,"
    yield b""
    yield b"two"


def empty(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "0")])  # (a 204 closes: waitress's rule)
    return []


def big(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", str(len(BIG)))])
    return [BIG]


def dated(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "0"), ("date", "Mon, 01 Jan 2024 00:00:00 GMT")])
    return []


APPS = {"small": small, "streamed": streamed, "empty": empty, "big": big, "dated": dated}


@pytest.fixture
def port(apphost_host: HostFactory, apphost_server: Any) -> int:
    host = apphost_host(apps=APPS, config={"apphost": {"access_log": False}})
    return int(apphost_server(host).port)


def _read_response(sock: socket.socket, buffered: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """One response from a kept-alive connection: (head, body, what followed it)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" in head:
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
        return head, rest, b""
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) if b"Length" in head else 0
    while len(rest) < length:
        rest += sock.recv(65536)
    return head, rest[:length], rest[length:]


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


def test_each_response_whole_and_in_time_on_one_kept_alive_connection(port: int) -> None:
    """60 requests in turn on one connection: each answered at once (a missed wake: 1 s)."""
    expected = {"/small/": b"small", "/empty/": b"", "/big/": BIG}
    slowest = 0.0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for i in range(60):
            path = list(expected)[i % len(expected)]
            began = time.monotonic()
            sock.sendall(_get(path))
            head, body, extra = _read_response(sock)
            slowest = max(slowest, time.monotonic() - began)
            assert head.startswith(b"HTTP/1.1 20"), (path, head)
            assert (body, extra) == (expected[path], b""), path
    assert slowest < 0.5, f"the slowest answer took {slowest:.3f} s"


def test_a_streamed_response_is_sent_whole(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_get("/streamed/"))
        head, body, _ = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 200") and body == b"4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n"


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_get("/small/") + _get("/big/") + _get("/empty/") + _get("/small/"))
        rest = b""
        bodies = []
        for _ in range(4):
            _head, body, rest = _read_response(sock, rest)
            bodies.append(body)
    assert bodies == [b"small", BIG, b"", b"small"]


def test_a_small_response_is_one_send(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    sends: list[bytes] = []
    send = _waitress.Channel.send

    def counted(self: Any, data: bytes, do_close: bool = True) -> int:
        sends.append(bytes(data))
        return send(self, data, do_close)  # type: ignore[no-any-return]

    monkeypatch.setattr(_waitress.Channel, "send", counted)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for path, body in (("/small/", b"small"), ("/empty/", b"")):
            sends.clear()
            sock.sendall(_get(path))
            assert _read_response(sock)[1] == body
            (sent,) = sends  # head and body in one
            assert sent.startswith(b"HTTP/1.1 20") and sent.endswith(b"\r\n\r\n" + body)
        sends.clear()
        sock.sendall(_get("/big/"))
        assert _read_response(sock)[1] == BIG
        assert sends[0].endswith(b"\r\n\r\n") and b"".join(sends[1:]) == BIG  # not copied


def test_every_response_has_one_date_the_apps_own_if_it_gave_one(port: int) -> None:
    """The Date waitress adds is made once a second: still the current one, and never twice."""
    import urllib.request

    from waitress.utilities import build_http_date

    for _ in range(4):
        before = time.time()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/small/") as r:
            (date,) = r.headers.get_all("Date")
        assert date in (build_http_date(before), build_http_date(time.time()))
        time.sleep(0.4)  # across a second or more
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/dated/") as r:
        assert r.headers.get_all("Date") == ["Mon, 01 Jan 2024 00:00:00 GMT"]
