"""6. Threads and requests waiting for one: evidence for apphost's waitress defaults.

    .venv/bin/python bench/threads.py [--rounds 4] [--duration 4] [--connections 64]

``apphost serve`` (access log off, so the logging measured is waitress's)
with ``--threads`` 4, 8, 16 and 32, all running at once on loopback and
loaded in turn by wrk as in ``bench/throughput.py``. For each: req/s, p50 and
p99 latency, how many requests waited for a thread per second (the metric
``apphost_requests_queued_total``, where this apphost has it) and how many
"Task queue depth" warnings (logger ``waitress.queue``, one per request that
waits, unless silenced as apphost now does) it printed per second. No target:
these figures back apphost's default of 16 threads (issue 5).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import fields
from pathlib import Path

from _common import median, table
from apphost.config import Config
from throughput import BIN, Contender, load_in_turn, per_second, wrk_parser

THREADS = (4, 8, 16, 32)


def main(argv: list[str] | None = None) -> int:
    args = wrk_parser(__doc__, rounds=4, duration=4.0, connections=64).parse_args(argv)

    print("## 6. Threads and requests waiting for one (no target)\n")
    print(
        f"`apphost serve` (access log off) with each thread count, `wrk -t1"
        f" -c{args.connections} -d{args.duration:g}s`, {args.rounds} rounds in turn; medians."
        " See the docstring of `bench/threads.py`.\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        workdir = Path(tmp)
        serve = [str(BIN / "apphost"), "serve", "--listen", "127.0.0.1:{port}"]
        if "access_log" in {f.name for f in fields(Config)}:
            quiet = workdir / "quiet.toml"
            quiet.write_text("[apphost]\naccess_log = false\n")
            serve += ["--config", str(quiet)]
        contenders = [Contender(f"threads={n}", [*serve, "--threads", str(n)]) for n in THREADS]
        runs = load_in_turn(contenders, workdir, args.rounds, args.duration, args.connections)
    rows = [
        [
            name,
            f"{median(r.rps for r in rs):,.0f}",
            f"{median(r.p50_ms for r in rs):.2f}",
            f"{median(r.p99_ms for r in rs):.2f}",
            f"{sum(r.errors for r in rs)}",
            per_second([r.waited for r in rs], args.rounds * args.duration),
            f"{sum(r.queue_warnings for r in rs) / (args.rounds * args.duration):,.0f}",
        ]
        for name, rs in runs.items()
    ]
    headers = ["apphost serve", "req/s", "p50 ms", "p99 ms", "errors", "waited/s"]
    print(table([*headers, "queue-depth warnings/s"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
