"""server.py, sockets.py, signals.py, worker.py and pressure.py without serving (tests/live serves)."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable

import pytest
from apphost.config import Config
from apphost.errors import ApphostError
from apphost.host import Host
from apphost.serving.pressure import QueueWatch, quiet_waitress_queue
from apphost.serving.scoreboard import Scoreboard
from apphost.serving.server import DEFAULT_ADJUSTMENTS, make_server
from apphost.serving.signals import signal_socket
from apphost.serving.sockets import adopt, bind, systemd_sockets
from apphost.serving.worker import READY, Worker


def test_make_server_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = Host.build(Config(listen=(f"127.0.0.1:{port}",)), entry_points=[])
        with pytest.raises(ApphostError, match=f"127.0.0.1:{port}: address already in use"):
            make_server(host)


def test_make_server_serves_given_sockets() -> None:
    (sock,) = bind(["127.0.0.1:0"])
    host = Host.build(Config(listen=("127.0.0.1:1",)), entry_points=[])
    server = make_server(host, [sock])
    try:
        assert int(server.effective_port) == sock.getsockname()[1]  # not config.listen's
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=1)


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("192.0.2.1:8080", "cannot listen on 192.0.2.1:8080: address not available"),
        ("nonexistent.invalid:8080", "cannot listen on nonexistent.invalid:8080: "),
        ("localhost", "is not HOST:PORT"),
        ("127.0.0.1:99999", "is not HOST:PORT"),
    ],
)
def test_bind_errors_name_the_address(listen: str, message: str) -> None:
    with pytest.raises(ApphostError, match=message):
        bind([listen])


def test_bind_keeps_nothing_when_one_address_fails() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ApphostError, match="address already in use"):
            bind(["127.0.0.1:0", f"127.0.0.1:{port}"])


def test_cli_port_in_use_exits_non_zero(run_cli: Callable[..., tuple[int, str]]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = run_cli("serve", "--listen", f"127.0.0.1:{port}")
    assert code == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}: address already in use" in output


def test_cli_bad_listen_address_exits_non_zero(run_cli: Callable[..., tuple[int, str]]) -> None:
    code, output = run_cli("serve", "--listen", "192.0.2.1:8080")
    assert code == 1
    assert "Error: cannot listen on 192.0.2.1:8080: address not available" in output


def test_systemd_sockets_for_another_process_are_ignored_and_unset() -> None:
    env = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "web"}
    assert systemd_sockets(env) == []
    assert env == {}  # a child must never take them for its own
    env = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "x"}
    with pytest.raises(ApphostError, match="LISTEN_FDS='x'"):
        systemd_sockets(env)
    assert systemd_sockets({}) == []


def test_adopt_accepts_only_listening_stream_sockets() -> None:
    (listening,) = bind(["127.0.0.1:0"])
    with listening, socket.socket() as idle, socket.socket(type=socket.SOCK_DGRAM) as udp:
        adopted = adopt(os.dup(listening.fileno()), "test")
        assert adopted.getsockname() == listening.getsockname()
        assert not adopted.get_inheritable()
        adopted.close()
        for sock in (idle, udp):
            with pytest.raises(ApphostError, match="not a listening stream socket"):
                adopt(sock.fileno(), "test")
    with pytest.raises(ApphostError, match="not a socket"):
        adopt(_closed_fd(), "test")


def _closed_fd() -> int:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    return fd


def test_worker_environment_round_trip() -> None:
    assert Worker.from_environ({}) is None
    (listening,) = bind(["127.0.0.1:0"])
    mine, theirs = socket.socketpair()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGHUP, signal.SIGINT)}
    try:
        board = Scoreboard.create(2)
        env = Worker.environ(theirs, [listening], board)
        worker = Worker.from_environ(env)
        assert env == {}  # removed once read
        assert worker is not None and worker.board is not None
        worker.board.enter("blog", "GET", "/blog/x")
        assert board.in_flight() == [("blog", "GET", "/blog/x")]  # the same memory
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN  # the supervisor reloads
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # ... and turns it into SIGTERM
        assert [s.getsockname() for s in worker.sockets] == [listening.getsockname()]
        worker.ready()
        assert mine.recv(64) == READY
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in (mine, theirs, listening):
            sock.close()


def test_eaddrinuse_is_what_bind_sees() -> None:
    """The message above relies on the OS reporting EADDRINUSE for a taken port."""
    with socket.socket() as taken, socket.socket() as second:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError) as info:
            second.bind(taken.getsockname())
        assert info.value.errno == errno.EADDRINUSE


def test_signal_socket_delivers_numbers_and_restores() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    with signal_socket([signal.SIGUSR1]) as (reader, writer):
        os.kill(os.getpid(), signal.SIGUSR1)
        reader.settimeout(5)
        assert reader.recv(64) == bytes([signal.SIGUSR1])
        writer.send(b"\0")  # what wakes a loop without a signal
        assert reader.recv(64) == b"\0"
    assert signal.getsignal(signal.SIGUSR1) == before


# Queue pressure: one summary instead of waitress's warning per waiting request.


class _Blocked:
    """A waitress task that runs until ``release`` is set."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.started = threading.Event()

    def service(self) -> None:
        self.started.set()
        self.release.wait(5)

    def cancel(self) -> None:
        self.release.set()


class _FakeTimers:
    """``schedule`` for QueueWatch: keeps what was scheduled for the test to fire."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = 0

    def __call__(self, delay: float, function: Callable[[], None]) -> _FakeTimers:
        self.scheduled.append((delay, function))
        return self

    def cancel(self) -> None:
        self.cancelled += 1


def test_queue_watch_summarizes_waiting_requests(
    caplog: pytest.LogCaptureFixture, quiet_queue_logger: logging.Logger
) -> None:
    quiet_waitress_queue()
    assert quiet_queue_logger.level == logging.ERROR
    now = [100.0]
    timers = _FakeTimers()
    dispatcher = QueueWatch(1, clock=lambda: now[0], schedule=timers)
    release = threading.Event()
    caplog.set_level(logging.DEBUG)
    try:
        first = _Blocked(release)
        dispatcher.add_task(first)  # the idle thread takes it: no wait
        assert first.started.wait(5)
        assert (dispatcher.waited, timers.scheduled) == (0, [])
        for _ in range(3):  # the one thread is busy: 1, 2, then 3 wait at once
            dispatcher.add_task(_Blocked(release))
        assert dispatcher.waited == 3
        (delay, report), *more = timers.scheduled  # one timer per window, not per request
        assert (delay, more) == (10.0, [])
        now[0] += 10
        report()
        (summary,) = [r for r in caplog.records if r.name == "apphost"]
        assert summary.levelno == logging.WARNING
        assert summary.getMessage() == (
            "requests waited for a worker thread: 3 in the last 10 s, up to 3 at once"
            " (threads=1); if apps wait on I/O raise threads, if the CPU is busy add --workers"
        )
        assert not [r for r in caplog.records if r.name == "waitress.queue"]
        report()  # nothing waited since: nothing logged
        assert len([r for r in caplog.records if r.name == "apphost"]) == 1

        dispatcher.add_task(_Blocked(release))  # a new window opens, and is cut by shutdown
        assert len(timers.scheduled) == 2
        now[0] += 4
    finally:
        release.set()
        dispatcher.shutdown(timeout=5)
    assert timers.cancelled == 1
    last = [r for r in caplog.records if r.name == "apphost"][-1].getMessage()
    assert last.startswith("requests waited for a worker thread: 1 in the last 4 s, up to ")
    assert dispatcher.waited == 4  # every wait is counted, for apphost_requests_queued_total


def test_queue_watch_keeps_waitress_lines_an_operator_asked_for(
    caplog: pytest.LogCaptureFixture, quiet_queue_logger: logging.Logger
) -> None:
    quiet_queue_logger.setLevel(logging.WARNING)  # configured: left alone
    quiet_waitress_queue()
    assert quiet_queue_logger.level == logging.WARNING
    dispatcher = QueueWatch(1, schedule=_FakeTimers())
    release = threading.Event()
    try:
        first = _Blocked(release)
        dispatcher.add_task(first)
        assert first.started.wait(5)
        dispatcher.add_task(_Blocked(release))
    finally:
        release.set()
        dispatcher.shutdown(timeout=5)
    assert [r.getMessage() for r in caplog.records if r.name == "waitress.queue"] == [
        "Task queue depth is 1"
    ]


def test_make_server_uses_the_queue_watch_and_apphost_defaults(
    quiet_queue_logger: logging.Logger,
) -> None:
    host = Host.build(Config(listen=("127.0.0.1:0",), threads=3), entry_points=[])
    server = make_server(host)
    try:
        assert isinstance(server.task_dispatcher, QueueWatch)
        assert len(server.task_dispatcher.threads) == 3
        # max_connections, plus the listener, waitress's trigger and the two control dispatchers
        assert (server.adj.backlog, server.adj.connection_limit) == (1024, 10000 + 4)
        assert server.adj.asyncore_use_poll  # select() cannot watch more than 1024
        assert server.adj.max_request_body_size == 10 * 2**20 + 1
        assert DEFAULT_ADJUSTMENTS["backlog"] == 1024
        assert quiet_queue_logger.level == logging.ERROR
        assert host.metrics.waited is not None and host.metrics.waited() == 0
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=1)


def test_queue_watch_shutdown_cancels_what_waits_and_stops_every_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher = QueueWatch(2, schedule=_FakeTimers())
    release = threading.Event()
    running = [_Blocked(release) for _ in range(2)]
    waiting = [_Blocked(threading.Event()) for _ in range(3)]
    for task in running + waiting:
        dispatcher.add_task(task)
    assert all(task.started.wait(5) for task in running)
    assert dispatcher.waited == 3
    threading.Timer(0.2, release.set).start()  # the two running finish while it stops
    assert dispatcher.shutdown(timeout=5) is True  # the three waiting: cancelled, never served
    assert dispatcher.threads == []
    assert [t.started.is_set() for t in waiting] == [False] * 3
    assert all(t.release.is_set() for t in waiting)  # _Blocked.cancel sets it
    assert "Canceling 3 pending task(s)" in [r.getMessage() for r in caplog.records]
