"""11. Slowloris: a normal client while 1,500 connections trickle their heads.

    .venv/bin/python bench/slowloris.py [--connections 1500] [--duration 15] [--every 5]

Two servers serving the hello app: ``apphost serve`` (defaults, access log
off) and bare ``waitress-serve`` (its defaults) on the same app. For each,
twice: ``--connections`` connections from 127.0.0.1, then the same spread
over 50 loopback addresses (127.0.0.2 to 127.0.0.51, bound by the client).
Each sends a partial request head and one more header line every ``--every``
seconds, reconnecting when the server closes it (as slowloris does), for
``--duration`` seconds; the attack runs in a process of its own. Meanwhile a
normal client (127.0.0.200) sends ``GET /hello`` on a new connection every
0.1 s and waits at most 2 s for each answer: a request not answered within
2 s is a failure. The table gives its p50/p99, failures and the server's
RSS (the worker's, under apphost) at the end of the attack.
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import table, target
from throughput import BIN, Contender, Server, start, stop

HERE = Path(__file__).resolve().parent

ATTACK = r"""
import json, resource, socket, sys, time
port, n, spread, duration, every = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                     float(sys.argv[4]), float(sys.argv[5]))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
HEAD = b"GET /hello HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slowloris\r\n"

def new(i):
    s = socket.socket()
    s.setblocking(False)
    s.bind((f"127.0.0.{1 if spread == 1 else 2 + i % spread}", 0))
    s.connect_ex(("127.0.0.1", port))
    return [s, False]

socks = [new(i) for i in range(n)]
end, tick, reconnects, held = time.monotonic() + duration, 0.0, 0, []
while time.monotonic() < end:
    trickle = time.monotonic() >= tick
    if trickle:
        tick = time.monotonic() + every
    for i, entry in enumerate(socks):
        s, sent = entry
        try:
            if not sent:
                s.send(HEAD)
                entry[1] = True
            elif trickle:
                s.send(b"X-a: b\r\n")
        except BlockingIOError:
            pass
        except OSError:
            if sent or s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                if trickle:  # closed by the server: open another, at the pace of the trickle
                    s.close()
                    socks[i] = new(i)
                    reconnects += 1
    held.append(sum(1 for _, sent in socks if sent))
    time.sleep(0.2)
print(json.dumps({"held_min": min(held[5:] or held), "reconnects": reconnects}))
"""


def rss_mib(server: Server) -> float:
    """The RSS of the process serving (the worker, when a supervisor runs one)."""
    pid = server.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    pid = int(children[0]) if children else pid
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def normal_client(port: int, until: float) -> tuple[list[float], int]:
    """Latencies (ms) of the answered requests, and how many failed (no answer within 2 s)."""
    times, failures = [], 0
    while time.monotonic() < until:
        t = time.monotonic()
        conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=2, source_address=("127.0.0.200", 0)
        )
        try:
            conn.request("GET", "/hello")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                times.append((time.monotonic() - t) * 1000)
            else:
                failures += 1
        except OSError:
            failures += 1
        finally:
            conn.close()
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))
    return times, failures


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=1500)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--every", type=float, default=5.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    rows, verdict = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        quiet = workdir / "quiet.toml"
        quiet.write_text("[apphost]\naccess_log = false\n")
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
            ),
            Contender(
                "waitress-serve",
                [str(BIN / "waitress-serve"), "--listen=127.0.0.1:{port}", "apphost_hello:app"],
            ),
        ]
        for contender in contenders:
            for spread in (1, 50):
                server = start(contender, workdir)
                try:
                    attack = subprocess.Popen(
                        [
                            sys.executable,
                            "-c",
                            ATTACK,
                            str(server.port),
                            str(args.connections),
                            str(spread),
                            str(args.duration),
                            str(args.every),
                        ],
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    time.sleep(2)  # the connections are open
                    times, failures = normal_client(
                        server.port, time.monotonic() + args.duration - 3
                    )
                    rss = rss_mib(server)
                    out, _ = attack.communicate(timeout=args.duration + 30)
                    stats = json.loads(out or "{}")
                finally:
                    stop(server)
                where = "127.0.0.1" if spread == 1 else "50 addresses"
                rows.append(
                    [
                        contender.name,
                        f"{args.connections:,} from {where}",
                        f"{percentile(times, 0.5):.1f}",
                        f"{percentile(times, 0.99):.1f}",
                        f"{failures} / {len(times) + failures}",
                        f"{rss:.0f}",
                        f"{stats.get('held_min', '?')} / {stats.get('reconnects', '?')}",
                    ]
                )
                verdict[(contender.name, spread)] = (failures, percentile(times, 0.99))
    print(f"## Slowloris: {args.connections:,} trickling connections\n")
    print(
        table(
            [
                "server",
                "attack",
                "normal p50 ms",
                "normal p99 ms",
                "failed (>2 s) / sent",
                "RSS MiB",
                "attack held (min) / reconnects",
            ],
            rows,
        )
    )
    ok = all(verdict[("apphost serve", s)][0] == 0 for s in (1, 50))
    worst = max(verdict[("apphost serve", s)][1] for s in (1, 50))
    print("\nTargets:\n")
    print(
        target(
            ok and worst < 2000,
            "apphost answers a normal client within 2 s throughout a 1,500-connection slowloris",
            f"p99 {worst:.1f} ms, failures {sum(verdict[('apphost serve', s)][0] for s in (1, 50))}",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
