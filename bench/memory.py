"""5. Memory: RSS growth over 100,000 requests to distinct random subdomains.

    .venv/bin/python bench/memory.py [--requests 100000]

In-process, not over HTTP: the requests go straight to the WSGI callable,
so what is measured is the host's own memory, not waitress's buffers. The
host is built as ``apphost serve`` builds it (``Host.build``) with only the
example tenants plugin loaded (``APPHOST_LOAD_PLUGINS=apphost-tenants``),
whose hook claims ``subdomain="*"`` with a factory making one app per
subdomain; the server name is ``example.com`` and ``max_dynamic_apps`` is
the default. Each request asks ``GET /`` of ``<12 random characters>.example.com``,
a new subdomain every time. Two contenders, each in a fresh process: the
dispatcher alone, and the app a server serves (``Host.app``, the dispatcher
under the access log and metrics middleware, where this apphost has one;
logging is left unconfigured, so no access line is printed). RSS is read from
``/proc/self/status`` after ``gc.collect()``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import make_environ, table, target

CHECKPOINTS = (1_000, 10_000, 50_000, 100_000)
SERVER_NAME = "example.com"


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(which: str, requests: int) -> dict[str, Any]:
    """Run in a fresh process: build the host, send the requests, report RSS at checkpoints."""
    from apphost.config import Config
    from apphost.host import Host

    os.environ["APPHOST_LOAD_PLUGINS"] = "apphost-tenants"
    host = Host.build(Config(server_name=SERVER_NAME))
    app: Any = host.dispatcher if which == "dispatcher" else getattr(host, "app", host.dispatcher)
    rng = random.Random(5)
    alphabet = string.ascii_lowercase + string.digits
    statuses: dict[str, int] = {}

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    base = make_environ(None, "/")
    gc.collect()
    before = rss_kb()
    points = {}
    t0 = time.perf_counter()
    for i in range(1, requests + 1):
        environ = base.copy()
        environ["HTTP_HOST"] = "".join(rng.choices(alphabet, k=12)) + "." + SERVER_NAME
        body = app(environ, start_response)
        b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()
        if i in CHECKPOINTS or i == requests:
            gc.collect()
            points[i] = rss_kb() - before
    return {
        "before_kb": before,
        "growth_kb": points,
        "seconds": time.perf_counter() - t0,
        "statuses": statuses,
        "served": type(app).__name__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--one", choices=("dispatcher", "served"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.requests)))
        return 0

    print("## 5. Memory under distinct random subdomains\n")
    print(
        f"RSS growth in MB after N requests, each to a new random subdomain served by a"
        f' `subdomain="*"` factory claim; {args.requests:,} requests in all, in-process'
        " (straight to the WSGI callable, not over HTTP). See the docstring of"
        " `bench/memory.py`.\n",
        flush=True,
    )
    results = {}
    for which in ("dispatcher", "served"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", which, "--requests", str(args.requests)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
        results[which] = json.loads(out.strip().splitlines()[-1])
        print(f"memory: {which} done", file=sys.stderr, flush=True)
    marks = [n for n in CHECKPOINTS if n <= args.requests] or [args.requests]
    rows = []
    for which, res in results.items():
        growth = {int(k): v for k, v in res["growth_kb"].items()}
        rows.append(
            [
                f"{which} ({res['served']})",
                f"{res['before_kb'] / 1024:.1f}",
                *(f"{growth[n] / 1024:+.1f}" for n in marks),
                f"{res['seconds']:.1f}",
                ", ".join(f"{s.split()[0]}: {c:,}" for s, c in sorted(res["statuses"].items())),
            ]
        )
    print(
        table(
            ["contender", "RSS before MB", *(f"after {n:,}" for n in marks), "s", "statuses"],
            rows,
        )
    )
    print("\nTargets:\n")
    for which, res in results.items():
        growth_mb = max(res["growth_kb"].values()) / 1024
        print(
            target(
                growth_mb <= 20,
                f"RSS growth of the {which} <= 20 MB for {args.requests:,} random subdomains",
                f"{growth_mb:+.1f} MB",
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
