"""7. What the bulkheads, scoreboard, access log and metrics cost per request, in-process.

    .venv/bin/python bench/observe.py [--rounds 7] [--requests 20000]

The host is built as ``apphost serve`` builds it (``Host.build``) with only the
example hello plugin loaded (``APPHOST_LOAD_PLUGINS=apphost-hello``), and
logging is set up as ``apphost serve`` sets it up (``apphost.cli``'s
``_setup_logging``), with stderr a line-buffered file, as a redirected
stderr is. Each request is ``GET /hello/x`` with the environ waitress makes,
and its body is closed, as a server closes it (the access line and the
metrics are written then). Contenders, in turn (order alternating), each
round ``--requests`` requests:

- the app alone, called directly (``apphost_hello.app``): what the rest is
  measured against;
- the dispatcher alone, its table resolving the app without a bulkhead;
- the dispatcher with the app's bulkhead (as ``apphost.wsgi`` under gunicorn);
- the same with the scoreboard a worker of ``apphost serve`` writes;
- the Observer around that with metrics only (``access_log = false``);
- the Observer with metrics and the access log, as ``apphost serve`` runs.

The metrics are in prometheus-client's multiprocess mode, as ``apphost
serve``'s workers run them (``PROMETHEUS_MULTIPROC_DIR``, a temporary folder
here): every count is written to a memory-mapped file that a scrape sums
over the workers.

"request thread" is the CPU time of the thread that answers
(``time.thread_time``): what a waitress worker thread spends. "in all" is
the wall-clock time until the log handler has written every line
(``flush()``), so it includes the thread that writes the log, if the handler
has one. Medians of the rounds.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import make_environ, median, table, target

ENVIRON = {
    **make_environ("127.0.0.1:8080", "/hello/x"),
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "HTTP_USER_AGENT": "wrk",
    "HTTP_ACCEPT": "*/*",
}


DIRECT = "the app, called directly"
DISPATCHER = "dispatcher alone"
BULKHEAD = "dispatcher, bulkhead"
BOARD = "dispatcher, bulkhead, scoreboard"
METRICS = "dispatcher, bulkhead, scoreboard, metrics"
SERVED = "dispatcher, bulkhead, scoreboard, metrics, access log (as served)"


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    """What a server's start_response does, for this bench: nothing."""


def run(app: Callable[..., Any], requests: int) -> tuple[float, float]:
    """(request-thread CPU µs, wall µs until the log is written) per request."""
    copy = ENVIRON.copy
    gc.disable()
    try:
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        for _ in range(requests):
            body = app(copy(), start_response)
            close = getattr(body, "close", None)
            if close is not None:
                close()
        cpu = time.thread_time() - cpu0
        for handler in logging.getLogger().handlers:
            handler.flush()
        wall = time.perf_counter() - wall0
    finally:
        gc.enable()
    return cpu / requests * 1e6, wall / requests * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args(argv)

    print("## 7. Per-request cost of the bulkhead, scoreboard, access log and metrics\n")
    print(
        f"µs per `GET /hello/x` (body closed), {args.rounds} rounds of {args.requests:,}"
        " requests, contenders in turn; medians. Logging as `apphost serve` sets it up,"
        " to a file. See the docstring of `bench/observe.py`.\n",
        flush=True,
    )
    os.environ["APPHOST_LOAD_PLUGINS"] = "apphost-hello"
    metrics_dir = tempfile.TemporaryDirectory(prefix="apphost-bench-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name  # before prometheus_client loads
    from apphost.cli import _setup_logging
    from apphost.config import Config
    from apphost.host import Host
    from apphost.routing.dispatcher import Dispatcher
    from apphost.routing.table import build_table
    from apphost.serving.scoreboard import Scoreboard
    from apphost.web.bulkhead import Bulkheads
    from apphost.web.observe import Metrics, Observer

    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        log_path = Path(tmp) / "stderr.log"
        stderr = sys.stderr
        with log_path.open("w", buffering=1) as log_file:
            sys.stderr = log_file  # the handler takes the stream it finds here
            try:
                _setup_logging(False)
                config = Config()
                host = Host.build(config)
                board = Scoreboard.create(config.threads)
                worker = Host.build(config, bulkheads=Bulkheads(config, board))
                bare, _ = build_table(
                    host.routes, config.server_name, lambda r: host.apps[str(r.claim.app)]
                )
                from apphost_hello import app as hello

                contenders = {
                    DIRECT: hello,
                    DISPATCHER: Dispatcher(bare),
                    BULKHEAD: host.dispatcher,
                    BOARD: worker.dispatcher,
                    METRICS: Observer(worker.dispatcher, access_log=False, metrics=Metrics()),
                    SERVED: Observer(worker.dispatcher, access_log=True, metrics=Metrics()),
                }
                for app in contenders.values():
                    run(app, 1000)  # warm-up
                results: dict[str, list[tuple[float, float]]] = {k: [] for k in contenders}
                names = list(contenders)
                for r in range(args.rounds):
                    for name in names if r % 2 == 0 else names[::-1]:
                        results[name].append(run(contenders[name], args.requests))
            finally:
                logging.shutdown()
                sys.stderr = stderr
        lines = log_path.read_text().count(" apphost.access: ")
    metrics_dir.cleanup()
    expected = args.rounds * args.requests + 1000  # the served contender's, warm-up included
    base_cpu = median(c for c, _ in results[DIRECT])
    base_wall = median(w for _, w in results[DIRECT])
    rows = []
    for name, rs in results.items():
        cpu, wall = median(c for c, _ in rs), median(w for _, w in rs)
        rows.append(
            [
                name,
                f"{cpu:.2f}",
                f"{cpu - base_cpu:+.2f}",
                f"{wall:.2f}",
                f"{wall - base_wall:+.2f}",
            ]
        )
    print(
        table(
            ["contender", "request thread µs", "added", "in all µs", "added in all"],
            rows,
        )
    )
    print(f"\nAccess lines written: {lines:,} of {expected:,} requests logged.\n")
    served, metrics_only = results[SERVED], results[METRICS]
    dispatcher = median(c for c, _ in results[DISPATCHER])
    bulkhead = median(c for c, _ in results[BULKHEAD])
    board = median(c for c, _ in results[BOARD])
    metrics = median(c for c, _ in metrics_only)
    print(
        f"- (no target) on the request thread: the dispatcher adds {dispatcher - base_cpu:.2f} µs"
        f" to the app, the bulkhead {bulkhead - dispatcher:.2f} µs more, the scoreboard"
        f" {board - bulkhead:.2f}, metrics {metrics - board:.2f}, the access log"
        f" {median(c for c, _ in served) - metrics:.2f}; the log writer"
        f" {median(w for _, w in served) - median(c for c, _ in served):.2f} µs more in all"
    )
    cpu = median(c for c, _ in served) - base_cpu
    wall = median(w for _, w in served) - base_wall
    print("\nTargets:\n")
    print(target(cpu <= 3, "the served stack adds <= 3 µs on the request thread", f"{cpu:+.2f} µs"))
    print(target(wall <= 3, "the served stack adds <= 3 µs in all", f"{wall:+.2f} µs"))
    print(target(lines == expected, "every access line written", f"{lines:,} of {expected:,}"))
    return 0 if lines == expected else 1


if __name__ == "__main__":
    sys.exit(main())
