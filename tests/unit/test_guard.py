"""The parser apphost gives waitress, and the guard's per-address counts.

``_waitress.Parser`` must parse what waitress's parser parses, the same,
however the bytes are split across reads (it only gathers and searches the
head differently), and refuse what is past its bounds. The live side
(timeouts, floods, refusals answered) is tests/live/test_hostile.py.
"""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Iterator

import pytest
from apphost.config import Config
from apphost.serving import _waitress
from apphost.serving.balance import ENV_BALANCE, VACANT, Balance
from apphost.serving.guard import Guard
from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser
from waitress.task import ThreadedTaskDispatcher

ADJ = Adjustments(max_request_header_size=65536, max_request_body_size=2**20)

REQUESTS = [
    b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n",
    b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n",
    b"GET / HTTP/1.0\r\nX-Folded: a\r\n b\r\n\r\n",
]


def feed(parser: HTTPRequestParser, data: bytes, piece: int) -> int:
    """Feed ``data`` in pieces as waitress's channel does; the bytes consumed in all."""
    used = 0
    while used < len(data) and not parser.completed:
        chunk = data[used : used + piece]
        while chunk and not parser.completed:
            n = parser.received(chunk)
            used += n
            chunk = chunk[n:]
    return used


def seen(parser: HTTPRequestParser) -> tuple[object, ...]:
    body = parser.get_body_stream().read() if parser.completed and not parser.error else b""
    return (
        parser.completed,
        parser.empty,
        type(parser.error).__name__,
        getattr(parser, "command", None),
        getattr(parser, "path", None),
        getattr(parser, "query", None),
        {k: v for k, v in parser.headers.items()},
        body,
    )


@pytest.mark.parametrize("request_bytes", REQUESTS)
@pytest.mark.parametrize("piece", [1, 3, 7, 64, 100_000])
def test_the_parser_parses_as_waitress_does_however_split(request_bytes: bytes, piece: int) -> None:
    theirs, ours = HTTPRequestParser(ADJ), _waitress.Parser(ADJ)
    assert feed(ours, request_bytes, piece) == feed(theirs, request_bytes, len(request_bytes))
    assert seen(ours) == seen(theirs)


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n", None),
        (b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /" + b"a" * 9000, 414),  # refused before the line ends
        (b"GET / HTTP/1.1\r\nX: " + b"v" * 70_000, 431),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;" + b"a" * 5000, 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + b"v" * 9000, 431),
    ],
    ids=[
        "101-headers",
        "100-headers",
        "long-line",
        "endless-line",
        "big-head",
        "chunk-ext",
        "trailer",
    ],
)
def test_the_parser_refuses_past_its_bounds(request_bytes: bytes, code: int | None) -> None:
    parser = _waitress.Parser(ADJ)
    feed(parser, request_bytes, 8192)
    if code is None:
        assert parser.completed and parser.error is None
    else:
        assert parser.completed and parser.error.code == code
        assert parser.request_line.startswith(b"GET /" if b"GET" in request_bytes else b"POST /")


def test_content_length_with_transfer_encoding_closes_after_the_response() -> None:
    parser = _waitress.Parser(ADJ)
    feed(
        parser,
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        5,
    )
    assert parser.completed and parser.error is None
    assert parser.headers["CONNECTION"] == "close"
    assert parser.get_body_stream().read() == b""


def test_a_client_past_its_connections_is_turned_away_and_told_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = Guard(Config(max_connections_per_client=2), trusted=["10.0.0.1"])
    assert guard.admit("192.0.2.1") and guard.admit("192.0.2.1")
    with caplog.at_level(logging.WARNING, "apphost"):
        assert not guard.admit("192.0.2.1")
        assert not guard.admit("192.0.2.1")
    assert [r.getMessage().split(" has ")[0] for r in caplog.records] == ["192.0.2.1"]
    assert guard.admit("192.0.2.2")  # another address
    guard.leave("192.0.2.1")
    assert guard.admit("192.0.2.1")
    assert all(guard.admit("10.0.0.1") for _ in range(5))  # a trusted proxy is never turned away
    for _ in range(5):
        guard.leave("10.0.0.1")
    assert "10.0.0.1" not in guard.counts


def test_no_limit_per_client_when_zero() -> None:
    guard = Guard(Config(max_connections_per_client=0))
    assert all(guard.admit("192.0.2.1") for _ in range(1000))


@pytest.fixture
def boards() -> Iterator[tuple[Balance, Balance]]:
    """Two workers' views of one supervisor's Balance: slots 0 and 1 (of 4)."""
    board = Balance.create(4)
    mine, other = (Balance.adopt(board.environ(slot)[ENV_BALANCE]) for slot in (0, 1))
    yield mine, other
    mine._counts.release()
    mine._map.close()
    other._counts.release()
    other._map.close()
    board.close()


def test_a_worker_is_full_while_another_holds_fewer_connections(
    boards: tuple[Balance, Balance],
) -> None:
    mine, other = boards
    guard = Guard(Config(), balance=mine)
    other.count(2)
    for client in ("192.0.2.1", "192.0.2.2", "192.0.2.1"):
        assert not guard.full()
        assert guard.admit(client)
    assert guard.open == 3 and guard.full()  # 3 against 2: the other worker accepts first
    guard.leave("192.0.2.2")
    guard.leave("192.0.2.2")  # never counted twice: a second leave changes nothing
    assert guard.open == 2 and not guard.full()  # 2 against 2
    assert guard.admit("192.0.2.3") and guard.full()
    other.vacate()  # the other worker drains (or died): nobody to leave connections to
    assert not guard.full()
    guard.stop()  # this one drains: its slot no longer counts for the others
    assert mine.slot is not None and mine._counts[mine.slot] == VACANT
    assert guard.admit("192.0.2.4") and mine._counts[mine.slot] == VACANT
    assert not Guard(Config()).full()  # one worker (no Balance): never


def test_connections_of_each_worker_for_the_status_page(
    boards: tuple[Balance, Balance],
) -> None:
    mine, other = boards
    guard = Guard(Config(), balance=mine)
    assert guard.admit("192.0.2.1") and guard.admit("192.0.2.2")
    other.count(5)
    assert (guard.connections(mine.slot), guard.connections(other.slot)) == (2, 5)
    assert guard.connections(2) is None  # no worker's: vacant
    other.vacate()  # drains (or died): accepts no more
    assert guard.connections(other.slot) is None
    alone = Guard(Config())  # one worker: no Balance, only its own are known
    assert alone.admit("192.0.2.1") and alone.connections() == 1


def test_a_full_listener_defers_a_new_connection_but_a_drain_takes_it(
    boards: tuple[Balance, Balance], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real sockets: the listener of a worker holding more connections than another
    leaves a queued one ``DEFER`` seconds to it, then takes it; sooner once the other
    holds as many; a drain takes it at once.

    ``DEFER`` is made 0.25 s here: at 2 ms, a test thread descheduled between two
    steps (a loaded machine) would see the deferral already over."""
    monkeypatch.setattr(_waitress, "DEFER", 0.25)
    mine, other = boards
    guard = Guard(Config(), balance=mine)
    dispatcher = ThreadedTaskDispatcher()
    server = _waitress.create(
        lambda adj: lambda environ, start_response: [],
        dispatcher,
        {"listen": "127.0.0.1:0", "threads": 1},
        guard=guard,
    )
    smap, clients = _waitress.socket_map(server), []
    try:
        port = server.effective_port

        def queued() -> None:  # a connection made and waiting in the kernel's queue
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            select.select([server.socket], [], [], 5)

        queued()
        server.handle_accept()
        assert guard.open == 1 and guard.full()
        channels = len(smap)
        queued()
        server.handle_accept()  # full: left to the other workers ...
        assert len(smap) == channels and not server.readable()
        time.sleep(_waitress.DEFER)
        assert server.readable()
        server.handle_accept()  # ... and taken once none of them did
        assert guard.open == 2 and len(smap) == channels + 1
        queued()
        server.handle_accept()
        assert guard.open == 2 and not server.readable()  # deferred again ...
        other.count(2)  # ... until the other worker took as many
        assert server.readable()
        server.handle_accept()
        assert guard.open == 3
        queued()
        server.handle_accept()
        assert guard.open == 3  # 3 against 2: deferred
        _waitress.accept_queued(server)  # a drain: nothing queued is left to be reset
        assert guard.open == 4
    finally:
        for client in clients:
            client.close()
        _waitress.wasyncore.close_all(smap)
        dispatcher.shutdown(timeout=1)
