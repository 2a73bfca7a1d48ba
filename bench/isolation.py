"""9. A healthy app while another hangs: apphost's bulkheads vs bare waitress.

    .venv/bin/python bench/isolation.py [--rounds 3] [--duration 4] [--connections 16] [--hung 100]

Two servers with 16 threads each, both serving the hello app at ``/hello``
and an app at ``/hang`` that sleeps 6 s (a slow report, a slow upstream):
``apphost serve`` (the hang app installed as a plugin distribution on a
throwaway PYTHONPATH folder, access log off) and ``waitress-serve`` on a
werkzeug ``DispatcherMiddleware`` of the same two apps. Each round loads
each server with wrk on ``/hello/x`` twice: as it is, and with ``--hung``
connections asking for ``/hang`` opened just before wrk starts and kept
open while it runs; then the bench waits until ``/hello/x`` answers at once
again (bare waitress works through every queued ``/hang`` first), so the next
measurement starts clean. The servers alternate; figures are medians
over the rounds. wrk's timeout is 5 s: a request that waits longer is an error.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import median, table, target
from _faults import HANG_SECONDS
from throughput import BIN, Contender, Run, Server, start, stop, wrk, wrk_parser

HERE = Path(__file__).resolve().parent


def site(workdir: Path) -> Path:
    """A folder with a distribution advertising ``hang`` (bench/_faults.py) as an app."""
    root = workdir / "site"
    info = root / "bench_faults-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-faults\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[apphost.apps]\nhang = _faults:hang\n")
    return root


def flood(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n")
        socks.append(sock)
    time.sleep(0.3)  # the server has read them and handed them to its threads
    return socks


def recover(server: Server, limit: float = 120.0) -> None:
    """Wait until the hung requests are over: ``/hello/x`` answers at once again."""
    time.sleep(HANG_SECONDS)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/hello/x", timeout=0.5):
                return
        except OSError:
            time.sleep(0.5)


def measure(server: Server, duration: float, connections: int, hung: int) -> Run:
    socks = flood(server.port, hung) if hung else []
    try:
        run = wrk(server, duration, connections)
    except (RuntimeError, subprocess.CalledProcessError):  # no response: no latency to read
        run = Run(0.0, 0.0, 0.0, 0, 0, None, 0.0)
    finally:
        for sock in socks:
            sock.close()
        if socks:  # the server's threads sleep on: let them finish before the next run
            recover(server)
    if run.rps == 0:  # every connection timed out: the server stalled
        return Run(0.0, float("inf"), float("inf"), max(run.errors, connections), 0, None, 0.0)
    return run


def _ms(value: float) -> str:
    return "stalled" if value == float("inf") else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = wrk_parser(__doc__, rounds=3, duration=4.0, connections=16)
    parser.add_argument("--hung", type=int, default=100, help="connections asking for /hang")
    args = parser.parse_args(argv)
    print("## 9. A healthy app while another hangs\n")
    print(
        f"`wrk -t1 -c{args.connections} -d{args.duration:g}s` on `/hello/x`, alone and while"
        f" {args.hung} connections wait on `/hang` ({HANG_SECONDS:g} s); threads=16; {args.rounds} rounds,"
        " servers alternating; medians. See the docstring of `bench/isolation.py`.\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        workdir = Path(tmp)
        quiet = workdir / "quiet.toml"
        quiet.write_text("[apphost]\naccess_log = false\nthreads = 16\n")
        path = f"{site(workdir)}:{HERE}"
        contenders = [
            Contender(
                "apphost serve",
                [
                    str(BIN / "apphost"),
                    "serve",
                    "--listen",
                    "127.0.0.1:{port}",
                    "--config",
                    str(quiet),
                ],
                {"PYTHONPATH": path, "APPHOST_LOAD_PLUGINS": "apphost-hello,bench-faults"},
            ),
            Contender(
                "waitress-serve",
                [
                    str(BIN / "waitress-serve"),
                    "--listen=127.0.0.1:{port}",
                    "--threads=16",
                    "_faults:application",
                ],
                {"PYTHONPATH": str(HERE)},
            ),
        ]
        servers = [start(c, workdir) for c in contenders]
        runs: dict[tuple[str, int], list[Run]] = {}
        try:
            for s in servers:
                wrk(s, 1, args.connections)
            for r in range(args.rounds):
                for s in servers if r % 2 == 0 else servers[::-1]:
                    for hung in (0, args.hung):
                        runs.setdefault((s.name, hung), []).append(
                            measure(s, args.duration, args.connections, hung)
                        )
                print(f"round {r + 1} of {args.rounds} done", file=sys.stderr, flush=True)
        finally:
            for s in servers:
                stop(s)
    rows = []
    for (name, hung), rs in runs.items():
        rows.append(
            [
                name,
                f"{hung} on /hang" if hung else "none",
                f"{median(r.rps for r in rs):,.0f}",
                _ms(median(r.p50_ms for r in rs)),
                _ms(median(r.p99_ms for r in rs)),
                f"{sum(r.errors for r in rs)}",
            ]
        )
    print(table(["server", "hung requests", "req/s", "p50 ms", "p99 ms", "errors"], rows))
    alone = median(r.rps for r in runs[("apphost serve", 0)])
    hung_rps = median(r.rps for r in runs[("apphost serve", args.hung)])
    bare = median(r.rps for r in runs[("waitress-serve", args.hung)])
    ratio = hung_rps / alone if alone else 0.0
    print("\nTargets:\n")
    print(
        target(
            ratio >= 0.7 and sum(r.errors for r in runs[("apphost serve", args.hung)]) == 0,
            "apphost's healthy app keeps >= 0.7x its req/s, with no error, while another app hangs",
            f"{ratio:.2f}x, {hung_rps:,.0f} req/s (bare waitress: {bare:,.0f} req/s)",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
