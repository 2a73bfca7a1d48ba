"""11. Who holds the GIL under load: py-spy's breakdown, ``apphost serve`` beside bare waitress.

    .venv/bin/python bench/gil.py [--rounds 2] [--duration 4] [--connections 32] [--top 12] [--native]

Both servers run as ``bench/throughput.py`` runs them (same app, same
``--threads``). Each round, for each server in turn, wrk loads it for
``--duration`` seconds plus a second either side while ``py-spy record --gil``
samples the process that serves (apphost's worker, not its supervisor) at
250 Hz, keeping only the thread that holds the GIL. The samples are summed
over the rounds and split by thread: waitress's main loop (``MainThread``:
it accepts, reads, parses and writes), the request threads, apphost's log
writer, and the rest (apphost's watch).

"GIL held" is the share of ticks in which some thread held the GIL; "GIL
µs/req" is that share of a second over wrk's requests per second (over its
whole run, a second either side of the sampling included). py-spy pauses the server for each sample, so both serve fewer
requests than unsampled. Then come the functions most often on top of the
stack (self time), as shares of each server's GIL samples; with ``--native``
C functions too, which shows what a C call made with the GIL held spends its
time in. py-spy must be allowed to ptrace the servers: run it as root, or
with ``kernel.yama.ptrace_scope`` 0.

Throughput is bound by the main loop (``bench/RESULTS.md``): whatever the
request threads hold the GIL for, the main loop waits for.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import median, table
from apphost.config import Config
from throughput import APPHOST, BIN, WAITRESS, make_contenders, start, stop, wrk, wrk_parser

_LINE = re.compile(r":\d+\)$")  # a frame's line number: functions are counted whole
RATE = 250  # samples per second
ROLES = ("main loop", "request threads", "log writer", "other")


def role(thread: str) -> str:
    if thread == "MainThread":
        return "main loop"
    if thread.startswith("waitress-"):  # waitress's threads, and apphost's (QueueWatch)
        return "request threads"
    if thread == "apphost-log-writer":
        return "log writer"
    return "other"


def serving_pid(pid: int) -> int:
    """``pid``'s only child if it has one (apphost's worker), else ``pid`` (bare waitress)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if len(children) == 1 else pid


def sample(pid: int, duration: float, out: Path, native: bool) -> None:
    argv = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--gil", "--threads"]
    argv += ["--format", "raw", "--rate", str(RATE), "--duration", f"{duration:g}"]
    argv += ["--output", str(out), *(["--native"] if native else [])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
    if done.returncode != 0:  # most often: no permission to ptrace (run as root)
        sys.exit(f"py-spy failed on pid {pid}: {done.stderr.strip()}")


def parse(raw: str) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """(samples by thread role, samples by leaf function) of py-spy's raw output."""
    roles: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = frames[0].partition("): ")[2]
        leaf = _LINE.sub(")", frames[-1]) if len(frames) > 1 else "(thread)"
        roles[role(thread)] += int(count)
        leaves[leaf] += int(count)
    return roles, leaves


def main(argv: list[str] | None = None) -> int:
    parser = wrk_parser(__doc__, rounds=2, duration=4.0, connections=32)
    parser.add_argument("--threads", type=int, default=Config().threads)
    parser.add_argument("--top", type=int, default=12, help="functions to list per server")
    parser.add_argument("--native", action="store_true", help="C frames too (py-spy --native)")
    args = parser.parse_args(argv)
    if not (BIN / "py-spy").exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy (make bench does)")

    print("## 11. Who holds the GIL under load (py-spy --gil)\n")
    print(
        f"`wrk -t1 -c{args.connections}` against `/hello/x` while `py-spy record --gil` samples"
        f" the serving process at {RATE} Hz for {args.duration:g} s, {args.rounds} rounds per"
        f" server, servers in turn; `--threads {args.threads}`. See the docstring of"
        " `bench/gil.py`.\n",
        flush=True,
    )
    roles: dict[str, collections.Counter[str]] = {}
    leaves: dict[str, collections.Counter[str]] = {}
    rps: dict[str, list[float]] = {}  # wrk's req/s while sampled (py-spy pauses the server)
    with tempfile.TemporaryDirectory(prefix="apphost-bench-") as tmp:
        workdir = Path(tmp)
        contenders = [
            c for c in make_contenders(workdir, args.threads) if c.name in (APPHOST, WAITRESS)
        ]
        servers = [start(c, workdir) for c in contenders]
        try:
            for s in servers:
                wrk(s, 1, args.connections)  # warm-up
                roles[s.name], leaves[s.name] = collections.Counter(), collections.Counter()
                rps[s.name] = []
            for r in range(args.rounds):
                for s in servers if r % 2 == 0 else servers[::-1]:
                    out = workdir / f"{len(list(workdir.glob('*.raw')))}.raw"
                    load = threading.Thread(
                        target=lambda s=s: rps[s.name].append(
                            wrk(s, args.duration + 2, args.connections).rps
                        )
                    )
                    load.start()
                    time.sleep(1)  # wrk has connected and is loading
                    sample(serving_pid(s.proc.pid), args.duration, out, args.native)
                    load.join()
                    got_roles, got_leaves = parse(out.read_text())
                    roles[s.name] += got_roles
                    leaves[s.name] += got_leaves
                print(f"round {r + 1} of {args.rounds} done", file=sys.stderr, flush=True)
        finally:
            for s in servers:
                stop(s)

    ticks = RATE * args.duration * args.rounds
    rows = []
    for name, counts in roles.items():
        total = sum(counts.values()) or 1
        held = total / ticks
        rows.append(
            [
                name,
                f"{median(rps[name]):,.0f}",
                f"{held:.0%}",
                f"{held / median(rps[name]) * 1e6:.0f}",
            ]
            + [f"{counts[r] / total:.1%}" for r in ROLES]
        )
    headers = ["server", "req/s (sampled)", "GIL held", "GIL µs/req"]
    print(table([*headers, *(f"{r} (of GIL)" for r in ROLES)], rows))
    for name, counts in leaves.items():
        total = sum(counts.values()) or 1
        print(f"\nTop of the stack while holding the GIL, {name}:\n")
        top = counts.most_common(args.top)
        print(table(["function", "share"], [[f"`{f}`", f"{n / total:.1%}"] for f, n in top]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
