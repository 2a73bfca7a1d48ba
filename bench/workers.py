"""8. Workers: ``apphost serve --workers 1`` vs ``--workers 2`` on this machine's cores.

    .venv/bin/python bench/workers.py [--rounds 5] [--duration 5] [--connections 32] [--close]

Both run at once on loopback, as they ship (access log and metrics on, 16
threads per worker), and serve ``/hello/x``; wrk loads one at a time in turn
as in ``bench/throughput.py``. waitress runs one process, so one core (less
the GIL's contention between its threads) serves everything; with
``--workers 2`` two processes accept on the supervisor's one listening
socket. wrk itself needs a core, so on a 2-core machine the second worker
competes with the load generator: the ratio here is a floor, not a ceiling.
Target (issue 13): two workers >= 1.7x one, the median of per-round ratios.
Connections are kept alive, as wrk keeps them: each stays with the worker
that accepted it, so how they spread over the workers (``serving.balance``)
decides the ratio. ``--close`` sends every request on a new connection
(``Connection: close``) instead: no target, to see what the balancing costs.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from _common import fmt_ratio, median, table, target
from throughput import BIN, Contender, load_in_turn, wrk_parser

WORKERS = (1, 2)


def main(argv: list[str] | None = None) -> int:
    parser = wrk_parser(__doc__, rounds=5, duration=5.0, connections=32)
    parser.add_argument("--close", action="store_true", help="a new connection per request")
    args = parser.parse_args(argv)

    header = " -H 'Connection: close'" if args.close else ""
    print("## 8. Workers: one process or two\n")
    print(
        f"`apphost serve --workers N` as it ships, `wrk -t1 -c{args.connections}"
        f" -d{args.duration:g}s{header}` on"
        f" `/hello/x`, {args.rounds} rounds in turn; medians;"
        f" {os.cpu_count()} CPUs. See the docstring of `bench/workers.py`.\n",
        flush=True,
    )
    serve = [str(BIN / "apphost"), "serve", "--listen", "127.0.0.1:{port}"]
    contenders = [Contender(f"workers={n}", [*serve, "--workers", str(n)]) for n in WORKERS]
    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        runs = load_in_turn(
            contenders, Path(tmp), args.rounds, args.duration, args.connections, args.close
        )
    one = median(r.rps for r in runs["workers=1"])
    rows = [
        [
            name,
            f"{median(r.rps for r in rs):,.0f}",
            fmt_ratio(median(r.rps for r in rs) / one),
            f"{median(r.p50_ms for r in rs):.2f}",
            f"{median(r.p99_ms for r in rs):.2f}",
            f"{median(r.cpu_us for r in rs):.0f}",
            f"{sum(r.errors for r in rs)}",
            " ".join(f"{r.rps:,.0f}" for r in rs),
        ]
        for name, rs in runs.items()
    ]
    headers = ["apphost serve", "req/s", "vs 1 worker", "p50 ms", "p99 ms", "CPU µs/req"]
    print(table([*headers, "errors", "req/s per round"], rows))
    ratio = median(
        two.rps / one.rps for one, two in zip(runs["workers=1"], runs["workers=2"], strict=True)
    )
    print("\nTargets:\n")
    if args.close:
        print(
            f"- (no target) --workers 2 / --workers 1, a new connection per request: {fmt_ratio(ratio)}"
        )
        return 0
    print(target(ratio >= 1.7, "--workers 2 >= 1.7x --workers 1 in req/s", fmt_ratio(ratio)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
