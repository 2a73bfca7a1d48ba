"""10. Process pools: the cost of handing a request to a pool, and what a pool confines.

    .venv/bin/python bench/pools.py [--rounds 3] [--duration 4] [--connections 16]

Three parts, each on servers started here (access log off, 16 threads):

- req/s and p50/p99 (wrk on ``/hello/x``) of the hello app under
  ``apphost serve`` unisolated, the same with ``[hosting.hello] isolation =
  "process"`` (1 worker, 1 pool process), and bare ``waitress-serve``;
  servers alternating, medians over the rounds.
- 10 MiB up (POST, the app hashes it) and down (GET, the app yields 64 KiB
  pieces) through the pool and unisolated: the median seconds of 5 of each,
  and the peak RSS (``VmHWM``) of the worker and the pool process after them.
- The fault table, ``--workers 2``, three Python threads loading the healthy,
  unisolated hello app (one connection per request, and one kept alive)
  while another app misbehaves, isolated and not: ``crash`` calls
  ``os._exit`` (one request), ``burn`` spins 3 s in 4 concurrent requests,
  ``leak`` keeps 30 MiB per request past ``max_worker_memory = 200`` until
  its process is recycled. Sent and failed count the healthy requests in the
  window; p99 is theirs.
"""

from __future__ import annotations

import http.client
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import median, table, target
from _pooled import BLOB_MIB, MIB
from throughput import BIN, Contender, Server, start, stop, wrk, wrk_parser

HERE = Path(__file__).resolve().parent
APPS = ("blob", "crash", "burn", "leak")


def site(workdir: Path) -> Path:
    """A folder with a distribution advertising the apps of bench/_pooled.py."""
    root = workdir / "site"
    info = root / "bench_pooled-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-pooled\nVersion: 1.0\n")
    lines = "".join(f"{a} = _pooled:{a}\n" for a in APPS)
    (info / "entry_points.txt").write_text(f"[apphost.apps]\n{lines}")
    return root


def serve(workdir: Path, name: str, toml: str, *flags: str) -> Contender:
    path = workdir / f"{name.replace(' ', '_')}.toml"
    path.write_text("[apphost]\naccess_log = false\nthreads = 16\n" + toml)
    argv = [str(BIN / "apphost"), "serve", "--listen", "127.0.0.1:{port}", "--config", str(path)]
    env = {
        "PYTHONPATH": f"{workdir / 'site'}:{HERE}",
        "APPHOST_LOAD_PLUGINS": "apphost-hello,bench-pooled",
    }
    return Contender(name, [*argv, *flags], env)


def isolated(*apps: str) -> str:
    return "".join(f'[hosting.{a}]\nisolation = "process"\n' for a in apps)


def pids(server: Server) -> list[int]:
    """The supervisor's children: its workers and pool processes."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(server.proc.pid)], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# Room for every connection wrk opens (the automatic max_in_flight is 6 at 16 threads,
# and a relayed request is in flight longer, so it would meet it), both ways.
WIDE = "[hosting.hello]\nmax_in_flight = 16\n"
ISOLATED = 'isolation = "process"\n'


def throughput(workdir: Path, rounds: int, duration: float, connections: int) -> list[str]:
    contenders = [
        serve(workdir, "apphost, hello unisolated", WIDE),
        serve(workdir, "apphost, hello isolated (1 pool process)", WIDE + ISOLATED),
        Contender(
            "waitress-serve",
            [
                str(BIN / "waitress-serve"),
                "--listen=127.0.0.1:{port}",
                "--threads=16",
                "apphost_hello:app",
            ],
        ),
    ]
    servers = [start(c, workdir) for c in contenders]
    runs: dict[tuple[str, int], list[tuple[float, float, float, int]]] = {}
    try:
        for s in servers:
            wrk(s, 1, connections)
        for r in range(rounds):
            for s in servers if r % 2 == 0 else servers[::-1]:
                for c in (connections, 1):
                    run = wrk(s, duration, c)
                    runs.setdefault((s.name, c), []).append(
                        (run.rps, run.p50_ms, run.p99_ms, run.errors)
                    )
            print(f"round {r + 1} of {rounds} done", file=sys.stderr, flush=True)
    finally:
        for s in servers:
            stop(s)
    rows = []
    for (name, c), rs in runs.items():
        rows.append(
            [
                name,
                str(c),
                f"{median(r[0] for r in rs):,.0f}",
                f"{median(r[1] for r in rs):.2f}",
                f"{median(r[2] for r in rs):.2f}",
                str(sum(r[3] for r in rs)),
            ]
        )
    print(table(["server", "connections", "req/s", "p50 ms", "p99 ms", "errors"], rows))
    plain, pooled = (median(r[0] for r in runs[(c.name, connections)]) for c in contenders[:2])
    p50s = [median(r[1] for r in runs[(c.name, 1)]) for c in contenders[:2]]
    return [
        target(
            pooled >= 0.4 * plain,
            "an isolated hello keeps >= 0.4x the req/s of the same app unisolated",
            f"{pooled / plain:.2f}x ({pooled:,.0f} vs {plain:,.0f} req/s at {connections}"
            f" connections); per request, one connection: p50 {p50s[1]:.2f} vs {p50s[0]:.2f} ms"
            f" (+{(p50s[1] - p50s[0]) * 1e3:.0f} us)",
        )
    ]


def bodies(workdir: Path) -> list[str]:
    up = b"y" * (BLOB_MIB * MIB)
    rows, times = [], {}
    for name, toml in (("through the pool", isolated("blob")), ("unisolated", "")):
        server = start(serve(workdir, f"blob {name}", toml), workdir)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            ups, downs = [], []
            for _ in range(5):
                t = time.perf_counter()
                conn.request("POST", "/blob", body=up)
                assert len(conn.getresponse().read()) == 64
                ups.append(time.perf_counter() - t)
                t = time.perf_counter()
                conn.request("GET", "/blob")
                assert len(conn.getresponse().read()) == BLOB_MIB * MIB
                downs.append(time.perf_counter() - t)
            conn.close()
            peaks = ", ".join(f"{peak_mib(p):.0f}" for p in pids(server))
        finally:
            stop(server)
        times[name] = (statistics.median(ups), statistics.median(downs))
        rows.append([name, f"{times[name][0] * 1e3:.0f}", f"{times[name][1] * 1e3:.0f}", peaks])
    print(
        table(
            ["10 MiB", "up ms", "down ms", "peak RSS MiB (worker, pool process)"],
            rows,
        )
    )
    pool, plain = times["through the pool"], times["unisolated"]
    return [
        target(
            max(pool[0] / plain[0], pool[1] / plain[1]) < 4,
            "10 MiB up and down through the pool within 4x of unisolated",
            f"up {pool[0] / plain[0]:.2f}x, down {pool[1] / plain[1]:.2f}x",
        )
    ]


class Load:
    """Three threads on ``/hello/x``: two with a connection per request, one kept alive."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.results: list[tuple[float, bool, float]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,)) for k in (0, 0, 1)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(20)

    def _run(self, keepalive: int) -> None:
        conn = None
        while not self._stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            start = time.monotonic()
            try:
                conn.request(
                    "GET", "/hello/x", headers={} if keepalive else {"Connection": "close"}
                )
                response = conn.getresponse()
                ok = response.status == 200 and response.read().startswith(b"Hello")
            except (OSError, http.client.HTTPException):
                ok = False
            self.results.append((start, ok, time.monotonic()))
            if not ok or not keepalive:
                conn.close()
                conn = None

    def window(self, t0: float, t1: float) -> tuple[int, int, float]:
        """(sent, failed, p99 ms) of the requests started between t0 and t1."""
        during = [r for r in self.results if t0 <= r[0] <= t1]
        times = sorted((end - start) * 1e3 for start, _, end in during)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))] if times else float("nan")
        return len(during), sum(1 for r in during if not r[1]), p99


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def _crash(port: int) -> None:
    _get(port, "/crash")
    time.sleep(1.5)  # the replacement starts; the load goes on


def _burn(port: int) -> None:
    threads = [threading.Thread(target=_get, args=(port, "/burn")) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


def _leak(port: int) -> None:
    for _ in range(9):
        _get(port, "/leak")
    time.sleep(3)  # the watch (once a second) asks; the successor starts; the old one drains


FAULTS: dict[str, tuple[str, Callable[[int], None]]] = {
    "os._exit in 1 request": ("crash", _crash),
    "3 s CPU burn in 4 requests": ("burn", _burn),
    "leak 30 MiB/request, max_worker_memory 200": ("leak", _leak),
}


def faults(workdir: Path) -> list[str]:
    rows, p99s = [], {}
    for fault, (app, provoke) in FAULTS.items():
        for mode in ("isolated", "unisolated"):
            toml = "max_worker_memory = 200\n" if app == "leak" else ""
            toml += isolated(app) if mode == "isolated" else ""
            server = start(serve(workdir, f"{app} {mode}", toml, "--workers", "2"), workdir)
            try:
                time.sleep(1)  # every worker and pool process serves
                with Load(server.port) as load:
                    t0 = time.monotonic()
                    provoke(server.port)
                    t1 = time.monotonic()
            finally:
                stop(server)
            sent, failed, p99 = load.window(t0, t1)
            p99s[(app, mode)] = p99
            rows.append([fault, mode, str(sent), str(failed), f"{p99:.1f}"])
            print(f"{fault} ({mode}) done", file=sys.stderr, flush=True)
    print(table(["fault", "app", "healthy sent", "healthy failed", "healthy p99 ms"], rows))
    return [
        target(
            p99s[("burn", "isolated")] < 100,
            "the healthy app's p99 stays under 100 ms while an isolated app burns CPU",
            f"{p99s[('burn', 'isolated')]:.1f} ms (unisolated: {p99s[('burn', 'unisolated')]:.1f})",
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = wrk_parser(__doc__, rounds=3, duration=4.0, connections=16)
    args = parser.parse_args(argv)
    print('## 10. Process pools (`isolation = "process"`)\n')
    print(
        f"`wrk -t1 -c{args.connections} -d{args.duration:g}s` on `/hello/x`; threads=16;"
        f" {args.rounds} rounds, servers alternating; medians. See the docstring of"
        " `bench/pools.py`.\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        workdir = Path(tmp)
        site(workdir)
        targets = throughput(workdir, args.rounds, args.duration, args.connections)
        print()
        targets += bodies(workdir)
        print()
        targets += faults(workdir)
    print("\nTargets:\n")
    print("\n".join(targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
