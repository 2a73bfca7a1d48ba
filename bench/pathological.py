"""4. Pathological input: a 250 KB path and a 100 KB Host, apphost vs DispatcherMiddleware.

    .venv/bin/python bench/pathological.py [--rounds 5]

In-process, on the 100-claim tables of ``bench/dispatch.py`` (path-only for
the paths, host+path for the Hosts). Each path starts with a claimed prefix
(``/app99``) and goes on for 250 KB in one of several shapes; apphost must
also normalize the dot-segment and double-slash shapes (the app gets the
normalized PATH_INFO), which DispatcherMiddleware does not do. Times are
per request minus a direct call with the same environ, in ms; a contender
whose single call takes longer than a second is timed once (marked "1 run")
rather than for every round.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from _common import (
    WSGIApp,
    calibrate,
    make_environ,
    median,
    ok_app,
    per_call_ns,
    table,
    target,
)
from dispatch import SERVER_NAME, build_apphost, build_werkzeug, claim_path

N = 100
PREFIX = claim_path(N - 1, N)
KB = 1000
SLOW_S = 1.0

PATHS: dict[str, str] = {
    "one 250 KB segment": "/" + "a" * (250 * KB - 1),
    "2,500 segments of 100 B": ("/" + "x" * 99) * 2_500,
    "125,000 segments of 2 B": "/a" * 125_000,
    "62,500 '/a/.' (dot segments)": "/a/." * 62_500,
    "62,500 '/a//' (double slashes)": "/a//" * 62_500,
}
HOSTS: dict[str, str] = {
    "100 KB one label": "a" * (100 * KB),
    "100 KB of 'a.' labels": "a." * (50 * KB),
    "100 KB ending ':80'": "a" * (100 * KB - 3) + ":80",
}


def status_of(app: WSGIApp, environ: dict[str, Any]) -> str:
    seen: list[str] = []
    app(environ.copy(), lambda status, headers, exc_info=None: seen.append(status))
    return seen[0].split()[0] if seen else "?"


def time_case(
    apps: dict[str, WSGIApp], environ: dict[str, Any], rounds: int
) -> dict[str, tuple[float, int]]:
    """Per contender: (median ms minus the direct call's, number of runs)."""
    once = {name: per_call_ns(app, environ, 1) for name, app in apps.items()}
    calls = {
        name: calibrate(app, environ, 0.05)
        for name, app in apps.items()
        if once[name] < SLOW_S * 1e9
    }
    times: dict[str, list[float]] = {name: [] for name in apps}
    names = list(apps)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            if name in calls:
                times[name].append(per_call_ns(apps[name], environ, calls[name]))
    for name in apps:
        if not times[name]:
            times[name] = [once[name]]
    direct = median(times["direct"])
    return {n: ((median(t) - direct) / 1e6, len(t)) for n, t in times.items() if n != "direct"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    print("## 4. Pathological input\n")
    print(
        f"ms per request (minus a direct call), median of {args.rounds} rounds, contenders"
        f" alternating; {N} claims; status is what the contender answered. See the"
        " docstring of `bench/pathological.py`.\n",
        flush=True,
    )
    path_apps: dict[str, WSGIApp] = {
        "direct": ok_app,
        "apphost": build_apphost(N, False, ok_app),
        "werkzeug": build_werkzeug(N, False),
    }
    host_apps: dict[str, WSGIApp] = {
        "direct": ok_app,
        "apphost": build_apphost(N, True, ok_app),
        "werkzeug": build_werkzeug(N, True),
    }
    cases: list[tuple[str, str, dict[str, WSGIApp], dict[str, Any]]] = []
    for label, tail in PATHS.items():
        path = PREFIX + tail
        cases.append(
            (f"path: {label}", f"{len(path):,} B", path_apps, make_environ(SERVER_NAME, path))
        )
    for label, host in HOSTS.items():
        cases.append((f"Host: {label}", f"{len(host):,} B", host_apps, make_environ(host, PREFIX)))

    rows = []
    worst_path = 0.0
    worst_host = 0.0
    for label, size, apps, environ in cases:
        res = time_case(apps, environ, args.rounds)
        cells = [label, size]
        for name in ("apphost", "werkzeug"):
            ms, runs = res[name]
            cells.append(f"{ms:,.3f}" + (" (1 run)" if runs == 1 and args.rounds > 1 else ""))
            cells.append(status_of(apps[name], environ))
        cells.append(f"{res['apphost'][0] / res['werkzeug'][0]:.3f}x")
        rows.append(cells)
        if label.startswith("path"):
            worst_path = max(worst_path, res["apphost"][0])
        else:
            worst_host = max(worst_host, res["apphost"][0])
        print(f"pathological: {label} done", file=sys.stderr, flush=True)
    print(
        table(
            ["input", "size", "apphost ms", "status", "werkzeug ms", "status", "apphost/werkzeug"],
            rows,
        )
    )
    print(
        "\nwerkzeug's Host row is the anchor's host dict in front of DispatcherMiddleware"
        " (DispatcherMiddleware itself ignores the Host).\n"
    )
    print("Targets:\n")
    print(
        target(
            worst_path <= 2.0,
            "a 250 KB path <= 2 ms in apphost, every shape",
            f"worst {worst_path:,.3f} ms",
        )
    )
    print(f"- (no target) a 100 KB Host: apphost worst {worst_host:,.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
