"""1. In-process dispatch overhead: apphost vs werkzeug DispatcherMiddleware vs paste URLMap.

    .venv/bin/python bench/dispatch.py [--rounds 7] [--budget 0.03] [--counts 1,100,10000,100000]

Overhead is the time of one call through a dispatcher minus a direct call of
the same app with the same environ, in ns (each call gets a fresh copy of the
environ with new PATH_INFO, REQUEST_URI and HTTP_HOST strings, as a server
makes them; see ``_common.per_call_ns``). Every round visits every scenario
and, within it, the contenders in turn (the order rotates); each figure is
the median over the rounds and a ratio is the median of the per-round ratios.

apphost's table is built as ``Host.build`` builds it, from ``claims.normalize``
and ``routing.build_table``, without a plugin per claim. "apphost" resolves
each route to the app itself (the dispatcher alone); "apphost served" resolves
it to the app as ``Host`` resolves a named app (``LazyApp`` around
``guarded``, already loaded). Neither includes the access-log and metrics
middleware a server puts around the dispatcher, if this apphost has one
(``bench/throughput.py`` shows what that costs over HTTP).

Claim layout for N claims: claim i is ``/app{i}`` followed by ``i % 4`` more
segments (``/app7/v0/v1/v2``); the last claim is 4 segments deep. The
request for the deepest claim is that claim plus ``/items/42``; a miss is
``/nothere/items/42`` (the anchors then call their fallback, the same cheap
app; apphost answers its own 404). Host+path spreads the claims over
``max(1, N // 10)`` hosts ``h{j}.example.org``; the anchors are a dict from
host to one DispatcherMiddleware per host (the pattern of Flask's docs), and
one URLMap with (domain, path) keys; a miss asks a claimed host for an
unclaimed path.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from _common import (
    WSGIApp,
    calibrate,
    fmt_ns,
    fmt_ratio,
    make_environ,
    median,
    ok_app,
    per_call_ns,
    table,
    target,
)
from apphost.plugins.loading import AppInfo, LazyApp, Loaded
from apphost.routing.claims import Claim, Claimant, Source, normalize
from apphost.routing.dispatcher import Dispatcher
from apphost.routing.table import build_table
from paste.urlmap import URLMap
from werkzeug.middleware.dispatcher import DispatcherMiddleware

SERVER_NAME = "localhost"
CLAIMS_PER_HOST = 10
MODES = ("path", "host+path")
TARGETS = ("deepest", "miss")


def claim_path(i: int, n: int) -> str:
    depth = 3 if i == n - 1 else i % 4
    return f"/app{i}" + "".join(f"/v{k}" for k in range(depth))


def host_count(n: int) -> int:
    return max(1, n // CLAIMS_PER_HOST)


def claim_host(i: int, n: int) -> str:
    return f"h{i % host_count(n)}.example.org"


class HostDict:
    """The anchors' host+path: a dict from host to a per-host dispatcher."""

    def __init__(self, hosts: dict[str, WSGIApp], default: WSGIApp) -> None:
        self.hosts = hosts
        self.default = default

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = environ.get("HTTP_HOST", "").partition(":")[0].lower()
        return self.hosts.get(host, self.default)(environ, start_response)


def served_app() -> WSGIApp:
    """``ok_app`` as ``Host`` serves a named app: a loaded ``LazyApp`` (which guards it)."""
    lazy = LazyApp(AppInfo("ok", "bench", "0", "bench:ok_app"), lambda: Loaded(ok_app, "wsgi"))
    lazy.load()
    return cast(WSGIApp, lazy)


def build_apphost(n: int, with_host: bool, app: WSGIApp) -> WSGIApp:
    routes = []
    for i in range(n):
        claim = Claim(
            app=f"app{i}",
            path=claim_path(i, n),
            host=claim_host(i, n) if with_host else None,
        )
        routes.append(normalize(claim, Claimant(Source.PLUGIN, "bench", "bench==0"), SERVER_NAME))
    table_, conflicts = build_table(routes, SERVER_NAME, lambda route: app)
    assert not conflicts
    return cast(WSGIApp, Dispatcher(table_))


def build_werkzeug(n: int, with_host: bool) -> WSGIApp:
    if not with_host:
        return DispatcherMiddleware(ok_app, {claim_path(i, n): ok_app for i in range(n)})
    mounts: dict[str, dict[str, WSGIApp]] = {}
    for i in range(n):
        mounts.setdefault(claim_host(i, n), {})[claim_path(i, n)] = ok_app
    return HostDict({h: DispatcherMiddleware(ok_app, m) for h, m in mounts.items()}, ok_app)


def build_paste(n: int, with_host: bool) -> WSGIApp:
    urlmap = URLMap(not_found_app=ok_app)
    # What n calls of urlmap[url] = app would leave, without its sort after every insert.
    urlmap.applications = [
        ((claim_host(i, n) if with_host else None, claim_path(i, n)), ok_app) for i in range(n)
    ]
    urlmap.sort_apps()
    return cast(WSGIApp, urlmap)


@dataclass
class Scenario:
    n: int
    mode: str
    target: str
    environ: dict[str, Any]
    apps: dict[str, WSGIApp]


def scenarios(n: int) -> Iterable[Scenario]:
    served = served_app()
    for mode in MODES:
        with_host = mode == "host+path"
        apps = {
            "direct": ok_app,
            "apphost": build_apphost(n, with_host, ok_app),
            "apphost served": build_apphost(n, with_host, served),
            "werkzeug": build_werkzeug(n, with_host),
            "paste": build_paste(n, with_host),
        }
        host = claim_host(n - 1, n) if with_host else SERVER_NAME
        for tgt in TARGETS:
            path = claim_path(n - 1, n) if tgt == "deepest" else "/nothere"
            environ = make_environ(host, path + "/items/42")
            yield Scenario(n, mode, tgt, environ, apps)


def check(s: Scenario) -> None:
    """Every contender answers as it should before it is timed."""
    for name, app in s.apps.items():
        env = s.environ.copy()
        status: list[str] = []
        body = b"".join(app(env, lambda st, h, e=None, status=status: status.append(st)))
        if name == "direct":
            continue
        if s.target == "deepest":
            assert status == ["200 OK"] and body == b"ok", (name, status, body)
            assert env["PATH_INFO"] == "/items/42", (name, env["PATH_INFO"])
        elif name.startswith("apphost"):
            assert status[0].startswith("404"), (name, status)


def measure(scens: list[Scenario], rounds: int, budget: float) -> list[dict[str, list[float]]]:
    """Per scenario and contender, the per-call ns of each round.

    Every round visits every scenario, and within a scenario the contenders
    take turns (the order rotates), so a burst of noise from the rest of the
    machine hits all claim counts and contenders alike and the medians drop it.
    """
    calls = [
        {name: calibrate(app, s.environ, budget) for name, app in s.apps.items()} for s in scens
    ]
    times: list[dict[str, list[float]]] = [{name: [] for name in s.apps} for s in scens]
    for r in range(rounds):
        for s, c, t in zip(scens, calls, times, strict=True):
            names = list(s.apps)
            k = r % len(names)
            for name in names[k:] + names[:k]:
                t[name].append(per_call_ns(s.apps[name], s.environ, c[name]))
        print(f"dispatch: round {r + 1} of {rounds} done", file=sys.stderr, flush=True)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.03, help="seconds per timing")
    parser.add_argument("--counts", default="1,100,10000,100000")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]

    print("## 1. Dispatch overhead in-process\n")
    print(
        "Overhead per call in ns (a call through the dispatcher minus a direct call of the"
        f" same app), median of {args.rounds} rounds, contenders alternating. Ratios are"
        " medians of per-round ratios. Requests: the deepest claim plus `/items/42`, and a"
        " miss. See the docstring of `bench/dispatch.py` for the claim layout.\n",
        flush=True,
    )
    rows = []
    results: dict[tuple[int, str, str], dict[str, float]] = {}
    scens = [s for n in counts for s in scenarios(n)]
    for s in scens:
        check(s)
    for s, times in zip(scens, measure(scens, args.rounds, args.budget), strict=True):
        n = s.n
        direct = times["direct"]
        over = {
            name: [t - d for t, d in zip(ts, direct, strict=True)]
            for name, ts in times.items()
            if name != "direct"
        }

        def ratio(a: str, b: str, over: dict[str, list[float]] = over) -> float:
            return median(x / y for x, y in zip(over[a], over[b], strict=True))

        res = {name: median(v) for name, v in over.items()}
        res["direct"] = median(direct)
        res["a/w"] = ratio("apphost", "werkzeug")
        res["s/w"] = ratio("apphost served", "werkzeug")
        res["a/p"] = ratio("apphost", "paste")
        results[(n, s.mode, s.target)] = res
        rows.append(
            [
                f"{n:,}",
                s.mode,
                s.target,
                fmt_ns(res["direct"]),
                fmt_ns(res["apphost"]),
                fmt_ns(res["apphost served"]),
                fmt_ns(res["werkzeug"]),
                fmt_ns(res["paste"]),
                fmt_ratio(res["a/w"]),
                fmt_ratio(res["s/w"]),
                f"{res['a/p']:.3f}x",
            ]
        )
    print(
        table(
            [
                "claims",
                "mode",
                "request",
                "direct ns",
                "apphost",
                "apphost served",
                "werkzeug",
                "paste",
                "apphost/werkzeug",
                "served/werkzeug",
                "apphost/paste",
            ],
            rows,
        )
    )
    print()

    def worst(mode: str, key: str) -> float:
        return max(r[key] for (n, m, t), r in results.items() if m == mode)

    print("Targets:\n")
    for mode, goal in (("path", 0.6), ("host+path", 1.0)):
        for key, who in (("a/w", "apphost"), ("s/w", "apphost served")):
            w = worst(mode, key)
            print(
                target(
                    w <= goal,
                    f"{mode} overhead of {who} <= {goal}x DispatcherMiddleware's at every claim count",
                    f"worst {fmt_ratio(w)}",
                )
            )
    for mode in MODES:
        for tgt in TARGETS:
            vals = [results[(n, mode, tgt)]["apphost"] for n in counts]
            spread = max(vals) / min(vals)
            print(
                target(
                    spread <= 1.3,
                    f"{mode} {tgt}: apphost flat from {counts[0]:,} to {counts[-1]:,} claims"
                    " (max/min <= 1.3)",
                    f"{' / '.join(fmt_ns(v) for v in vals)} ns, max/min {spread:.2f}",
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
