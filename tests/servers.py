"""A real ``apphost serve`` subprocess, load against it, and loopback GETs: for tests/live.

``Server`` runs ``python -m apphost serve`` (or any command that ends up in
it) and collects its log line by line; ``launch`` gives it an environment
that loads only the distributions a test names. It is the one helper that
starts a server subprocess: ``serve`` in ``live/conftest.py`` stops every one
after its test. ``Load`` sends GET requests from threads until stopped and
counts every outcome.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from signal import SIGTERM

HELLO = b"Hello from apphost!\nscript_name=/hello\npath_info=\n"
SERVE = [sys.executable, "-m", "apphost", "serve", "--listen", "127.0.0.1:0"]
SERVING = r"Serving on http://127\.0\.0\.1:(\d+)"  # waitress's line, once the worker listens


class Server:
    """A server subprocess (``cmd``) with its log collected line by line.

    Starting waits until the log says which port it serves on. ``stop()``
    signals and waits for the exit code; ``close()`` (the ``serve`` fixture's
    teardown) kills whatever still runs and reads the log to its end, so no
    pipe is left open.
    """

    def __init__(
        self,
        cmd: Sequence[str],
        env: dict[str, str],
        cwd: Path | None = None,
        pass_fds: Sequence[int] = (),
        timeout: float = 30,
    ) -> None:
        self.proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=cwd,
            pass_fds=pass_fds,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        try:
            self.port = int(self.wait_for(SERVING, timeout=timeout).group(1))
        except BaseException:
            self.close()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:  # closed at EOF: every process holding it has exited
            for line in self.proc.stdout:
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def mark(self) -> int:
        """Where the log is now: ``wait_for(pattern, mark)`` looks only at what comes after."""
        return len(self.lines)

    def wait_for(self, pattern: str, start: int = 0, timeout: float = 15) -> re.Match[str]:
        """The first match of ``pattern`` in a log line from ``start`` on; AssertionError if none."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if m := re.search(pattern, line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._changed.wait(0.2)):
                    raise AssertionError(f"no {pattern!r} in the log:\n{self.log}")
                self._changed.wait(min(left, 0.2))

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def get(
        self, path: str, host: str | None = None, timeout: float = 10
    ) -> tuple[int, str, dict[str, str]]:
        """One GET; (status, body as text, headers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host} if host else {})
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.getheaders())
        finally:
            conn.close()

    def stop(self, sig: int = SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` (SIGTERM: drain and exit) and return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def close(self) -> None:
        """Kill the process if it still runs; read its log to the end."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._pump_thread.join(10)  # its workers see the supervisor gone and exit too


def launch(
    *args: str,
    site: Path | None = None,
    load: str | None = "",
    cmd: Sequence[str] | None = None,
    cwd: Path | None = None,
    pass_fds: Sequence[int] = (),
    env: dict[str, str] | None = None,
) -> Server:
    """``apphost serve --listen 127.0.0.1:0 ARGS`` (or ``cmd`` + ARGS) as a ``Server``.

    ``site`` goes first on its PYTHONPATH. ``load``: apphost-hello and these
    comma-separated distributions are the only ones loaded; None: every one
    installed. ``env`` is applied last.
    """
    environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if site is not None:
        environ["PYTHONPATH"] = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    if load is not None:
        environ["APPHOST_LOAD_PLUGINS"] = ",".join(
            ["apphost-hello", *filter(None, load.split(","))]
        )
    environ.update(env or {})
    return Server([*(cmd or SERVE), *args], environ, cwd, pass_fds)


@dataclass
class Load:
    """Threads sending GET requests to ``path`` until stopped; every outcome kept."""

    port: int
    path: str = "/hello"
    body: bytes = HELLO
    fresh_threads: int = 2  # a new connection per request
    keepalive_threads: int = 1  # one connection reused while the server keeps it
    headers: dict[str, str] = field(default_factory=dict)
    source: str = "127.0.0.1"  # the client's address: any of 127.0.0.0/8
    results: list[tuple[float, str, str, float]] = field(default_factory=list)
    # For each result: when its connection was made (time.monotonic()), or 0.0 if connect failed.
    connected: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        kinds = [False] * self.fresh_threads + [True] * self.keepalive_threads
        self._threads = [threading.Thread(target=self._run, args=(k,)) for k in kinds]
        for thread in self._threads:
            thread.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(20)

    def _run(self, keepalive: bool) -> None:
        deadline = time.monotonic() + 40  # bounded whatever the test does
        conn = None
        while not self._stop.is_set() and time.monotonic() < deadline:
            if conn is None or not keepalive:
                conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=15, source_address=(self.source, 0)
                )
            headers = self.headers if keepalive else {**self.headers, "Connection": "close"}
            start, answered = time.monotonic(), False
            reused = conn.sock is not None  # kept open since an earlier response
            connected = 0.0
            try:
                if not reused:
                    conn.connect()
                connected = time.monotonic()
                conn.request("GET", self.path, headers=headers)
                response = conn.getresponse()
                answered = True
                body = response.read()
                ok = response.status == 200 and body == self.body
                outcome, detail = ("ok", "") if ok else ("failed", f"{response.status} {body!r}")
            except ConnectionRefusedError as exc:
                outcome, detail = "refused", repr(exc)
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as exc:
                # No byte of a response: "unanswered" (which a final stop may excuse,
                # see report()), or on a kept-alive connection the server closed as
                # idle just as the request went out, "closed" (report() excuses it
                # once draining began; the next request, on a new connection, is the
                # retry every HTTP client makes then, RFC 9112 9.3.1); else "failed".
                if answered:
                    outcome = "failed"
                else:  # a new connection (a keep-alive client's too) may have raced
                    outcome = "closed" if keepalive and reused else "unanswered"
                detail = f"{'keep-alive' if keepalive else 'fresh'}: {exc!r}"
            except Exception as exc:  # a timeout, or a response cut short
                outcome = "failed" if answered or reused else "unanswered"
                detail = f"{'keep-alive' if keepalive else 'fresh'}: {exc!r}"
            self.results.append((start, outcome, detail, time.monotonic()))
            self.connected.append(connected)
            if outcome != "ok" or not keepalive:
                conn.close()
                conn = None
            if outcome == "refused":
                return  # the server is gone; nothing more to learn

    def report(self, event: str, t0: float, t1: float, final: bool = False) -> dict[str, int]:
        """Print and return the counts of the requests started between t0 and t1; assert.

        ``in_flight``: started before t0 and answered after it. With ``final``
        (the server was asked to stop at t0, with nobody to take over), a new
        connection that got no byte of a response after t0 counts as "raced":
        the kernel queued it just as the last listening descriptor closed,
        and reset it, so the server never saw it (one made before t0 was
        queued before the stop, which takes every queued connection: its
        reset is "failed", however long before t0 the request began). A kept-alive connection the
        draining server closed as idle just as a request went out on it is
        "retried" after t0 (the client sends it again on a new connection).
        Anything else is "failed".
        """
        during = [r for r in self.results if t0 <= r[0] <= t1]
        kinds = ("ok", "refused", "raced", "retried", "failed")
        counts = dict.fromkeys(kinds, 0)
        failures = []
        for (start, outcome, detail, _), connected in zip(
            self.results, self.connected, strict=True
        ):
            if outcome == "unanswered":
                # (A connect() that failed made no connection: when it began counts.)
                outcome = "raced" if final and (connected or start) >= t0 else "failed"
            elif outcome == "closed":
                outcome = "retried" if start >= t0 else "failed"
            if t0 <= start <= t1:
                counts[outcome] += 1
            if outcome == "failed":
                failures.append(detail)
        counts["sent"] = len(during)
        counts["in_flight"] = sum(1 for r in self.results if r[0] < t0 < r[3])
        print(
            f"lifecycle {event}: sent={counts['sent']} failed={counts['failed']}"
            + "".join(f" {k}={counts[k]}" for k in kinds[:4])
            + f" in_flight={counts['in_flight']} ({t1 - t0:.2f}s) {sorted(set(failures))[:3]}"
        )
        assert not failures, sorted(set(failures))[:5]
        return counts


def free_port() -> int:
    """A loopback port nobody listens on now, outside the kernel's ephemeral range.

    For servers that must be told a port (nginx, its upstreams, gunicorn). A
    port that ``bind(0)`` hands out is one that any ``connect()`` on the
    machine may take as its source port before the server binds it (or binds
    it again, in a rolling restart under load): "address already in use".
    Outside that range only a process that picks the same port on purpose can.
    """
    low, high = _ephemeral_range()
    ports = [p for p in range(10_000, 65_536) if not low <= p <= high]
    for port in random.sample(ports, 100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port outside {low}-{high} after 100 tries")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def get(
    port: int,
    path: str,
    host: str | None = None,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> tuple[int, bytes]:
    """One GET to 127.0.0.1:``port`` from ``source``, with ``host`` as Host if given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={**({"Host": host} if host else {}), **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# ``python -c SYSTEMD FD ARGV...`` execs ARGV as systemd would start a socket-activated
# service: the listening socket FD moved to fd 3, LISTEN_FDS=1, LISTEN_PID its own pid.
SYSTEMD = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "if fd != 3:\n"
    "    os.dup2(fd, 3)\n"
    "    os.close(fd)\n"
    "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
