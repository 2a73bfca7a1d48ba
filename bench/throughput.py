"""2. HTTP throughput and latency: ``apphost serve`` vs bare waitress, same app, same threads.

    .venv/bin/python bench/throughput.py [--rounds 5] [--duration 5] [--connections 32] [--threads N]

All servers run at once on loopback ports and serve the same app object,
``apphost_hello:app`` (the example plugin; its body has the same length
through either server): ``apphost serve`` with only that plugin loaded
(``APPHOST_LOAD_PLUGINS=apphost-hello``) and ``waitress-serve`` with the
same ``--threads`` (default: apphost's default). wrk (Debian's; ``make
bench`` installs it) loads one server at a time for ``--duration`` seconds,
in turn (the order alternates), after one warm-up run each.

The contenders: apphost as it ships (access log and metrics on), apphost
with ``access_log = false`` (if this apphost has that setting), bare
waitress, and bare waitress with the ``waitress.queue`` logger set to ERROR
(a ``sitecustomize`` on PYTHONPATH), which silences its "Task queue depth"
warning, logged for every request that waits for a thread inside its task
lock (apphost silences it too, and logs a summary instead). The warnings each
server logs are counted, and where the server has the metric
``apphost_requests_queued_total`` (read from ``/_apphost/metrics`` before and
after each run), how many requests waited for a thread. "CPU µs/req" is the
user and system time of the server's processes (``apphost serve``'s
supervisor and worker) during a run over the requests wrk counted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field, fields
from pathlib import Path

from _common import fmt_ratio, median, table, target
from apphost.config import Config

BIN = Path(sys.executable).parent
URL_PATH = "/hello/x"


@dataclass
class Contender:
    name: str
    argv: list[str]  # "{port}" is replaced
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def queue_warnings(self) -> int:
        return self.log.read_text(errors="replace").count("Task queue depth")

    def queued(self) -> float | None:
        """``apphost_requests_queued_total``, if this server has it."""
        try:
            url = f"http://127.0.0.1:{self.port}/_apphost/metrics"
            with urllib.request.urlopen(url, timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        m = re.search(r"^apphost_requests_queued_total (\S+)$", text, re.M)
        return float(m.group(1)) if m else None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # gone meanwhile
    return total


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    queue_warnings: int
    waited: float | None  # requests that waited for a thread, if the server counts them
    cpu_us: float  # CPU time of the server's processes per request answered, µs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(contender: Contender, workdir: Path) -> Server:
    name, port = contender.name, free_port()
    argv = [a.replace("{port}", str(port)) for a in contender.argv]
    log = workdir / f"{len(list(workdir.glob('*.log')))}.log"
    env = {**os.environ, "APPHOST_LOAD_PLUGINS": "apphost-hello", **contender.env}
    env.pop("APPHOST_CONFIG", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    server = Server(name, port, proc, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{URL_PATH}", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"{name} did not answer within 30 s: {log.read_text()[-2000:]}")


def stop(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if m is None:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _grab(pattern: str, text: str) -> str:
    m = re.search(pattern, text, re.M)
    if m is None:
        raise RuntimeError(f"no {pattern!r} in wrk's output:\n{text}")
    return m.group(1)


def wrk(server: Server, duration: float, connections: int, close: bool = False) -> Run:
    """One wrk run on ``server``; ``close``: every request on a new connection."""
    before, queued = server.queue_warnings(), server.queued()
    cpu = cpu_seconds(server.proc.pid)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration:g}s",
            "--timeout",
            "5s",
            "--latency",
            *(["-H", "Connection: close"] if close else []),
            f"http://127.0.0.1:{server.port}{URL_PATH}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    cpu = cpu_seconds(server.proc.pid) - cpu
    rps = float(_grab(r"Requests/sec:\s+([\d.]+)", out))
    answered = int(_grab(r"^\s+(\d+) requests in", out))
    p50 = _ms(_grab(r"^\s+50%\s+(\S+)", out))
    p99 = _ms(_grab(r"^\s+99%\s+(\S+)", out))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(g) for g in m.groups())
    after = server.queued()
    waited = None if after is None or queued is None else after - queued
    warnings = server.queue_warnings() - before
    return Run(rps, p50, p99, errors, warnings, waited, cpu / max(answered, 1) * 1e6)


def wrk_parser(doc: str, rounds: int, duration: float, connections: int) -> argparse.ArgumentParser:
    """The options of a bench driven by wrk (exits saying how to get wrk if it is missing)."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk (make bench does)")
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--duration", type=float, default=duration, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=connections)
    return parser


def load_in_turn(
    contenders: list[Contender],
    workdir: Path,
    rounds: int,
    duration: float,
    connections: int,
    close: bool = False,
) -> dict[str, list[Run]]:
    """Start every contender, warm each up, then load them in turn (alternating order) per round."""
    servers: list[Server] = []
    try:
        for c in contenders:
            servers.append(start(c, workdir))
        for s in servers:
            wrk(s, 1, connections, close)
        runs: dict[str, list[Run]] = {s.name: [] for s in servers}
        for r in range(rounds):
            for s in servers if r % 2 == 0 else servers[::-1]:
                runs[s.name].append(wrk(s, duration, connections, close))
            print(f"round {r + 1} of {rounds} done", file=sys.stderr, flush=True)
    finally:
        for s in servers:
            stop(s)
    return runs


def per_second(values: list[float | None], seconds: float) -> str:
    """The sum of ``values`` per second, or "-" if any is unknown."""
    known = [v for v in values if v is not None]
    return f"{sum(known) / seconds:,.0f}" if len(known) == len(values) else "-"


def main(argv: list[str] | None = None) -> int:
    parser = wrk_parser(__doc__, rounds=5, duration=5.0, connections=32)
    parser.add_argument("--threads", type=int, default=Config().threads)
    args = parser.parse_args(argv)

    print("## 2. HTTP throughput and latency (wrk, loopback)\n")
    print(
        f"`wrk -t1 -c{args.connections} -d{args.duration:g}s --latency` against"
        f" `http://127.0.0.1:PORT{URL_PATH}`, {args.rounds} rounds, the servers in turn"
        f" (order alternating) after one warm-up each; every server with `--threads"
        f" {args.threads}` and the same app object (`apphost_hello:app`). Medians of the"
        " rounds; errors are non-2xx responses plus socket errors. See the docstring of"
        " `bench/throughput.py` for the contenders.\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        workdir = Path(tmp)
        contenders = make_contenders(workdir, args.threads)
        runs = load_in_turn(contenders, workdir, args.rounds, args.duration, args.connections)

    rows = []
    for name, rs in runs.items():
        rows.append(
            [
                name,
                f"{median(r.rps for r in rs):,.0f}",
                f"{median(r.p50_ms for r in rs):.2f}",
                f"{median(r.p99_ms for r in rs):.2f}",
                f"{median(r.cpu_us for r in rs):.0f}",
                f"{sum(r.errors for r in rs)}",
                f"{sum(r.queue_warnings for r in rs) / (args.rounds * args.duration):,.0f}",
                per_second([r.waited for r in rs], args.rounds * args.duration),
                " ".join(f"{r.rps:,.0f}" for r in rs),
            ]
        )
    print(
        table(
            [
                "server",
                "req/s",
                "p50 ms",
                "p99 ms",
                "CPU µs/req",
                "errors",
                "queue-depth warnings/s",
                "waited/s",
                "req/s per round",
            ],
            rows,
        )
    )
    print()

    def ratio(a: str, b: str) -> float:
        return median(x.rps / y.rps for x, y in zip(runs[a], runs[b], strict=True))

    pairs = [(APPHOST, WAITRESS), (APPHOST, WAITRESS_SILENT)]
    if APPHOST_QUIET in runs:
        pairs += [(APPHOST_QUIET, WAITRESS_SILENT)]
    print("Throughput ratios (median of per-round ratios):\n")
    for a, b in pairs:
        print(f"- {a} / {b}: {fmt_ratio(ratio(a, b))}")
    print("\nTargets:\n")
    for a, b in pairs:
        got = ratio(a, b)
        print(target(got >= 1.0, f"HTTP throughput of {a} >= 1.0x {b}", fmt_ratio(got)))
    return 0


APPHOST = "apphost serve"
APPHOST_QUIET = "apphost serve, access_log = false"
WAITRESS = "waitress-serve"
WAITRESS_SILENT = "waitress-serve, waitress.queue silenced"


def make_contenders(workdir: Path, threads: int) -> list[Contender]:
    serve = [str(BIN / "apphost"), "serve", "--listen", "127.0.0.1:{port}"]
    serve += ["--threads", str(threads)]
    bare = [str(BIN / "waitress-serve"), "--listen=127.0.0.1:{port}", f"--threads={threads}"]
    bare += ["apphost_hello:app"]
    silent_dir = workdir / "silent"
    silent_dir.mkdir()
    (silent_dir / "sitecustomize.py").write_text(
        "import logging\nlogging.getLogger('waitress.queue').setLevel(logging.ERROR)\n"
    )
    silent = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(silent_dir), os.environ.get("PYTHONPATH")]))
    }
    contenders = [
        Contender(APPHOST, serve),
        Contender(WAITRESS, bare),
        Contender(WAITRESS_SILENT, bare, silent),
    ]
    if "access_log" in {f.name for f in fields(Config)}:
        quiet = workdir / "quiet.toml"
        quiet.write_text("[apphost]\naccess_log = false\n")
        contenders.insert(1, Contender(APPHOST_QUIET, [*serve, "--config", str(quiet)]))
    return contenders


if __name__ == "__main__":
    sys.exit(main())
