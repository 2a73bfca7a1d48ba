"""Helpers shared by the bench scripts: timing, medians, markdown tables, targets.

    ns = per_call_ns(app, environ, calls)     # mean time of one call, environ copied each call
    print(table(["claims", "ns"], rows))     # a markdown table, columns aligned
    print(target(ratio <= 0.6, "path-only <= 0.6x DispatcherMiddleware", f"worst {ratio:.2f}x"))

Every script prints markdown to stdout; ``bench/run.py`` collects it into
``bench/RESULTS.md``. A target line starts with ``- PASS`` or ``- MISS`` so
the runner can gather them into a summary.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

BODY = [b"ok"]
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "2")]


def ok_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The app every contender dispatches to: as cheap as a WSGI app can be."""
    start_response("200 OK", HEADERS)
    return BODY


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    """A start_response that does nothing (the server's cost is not measured in-process)."""


def make_environ(host: str | None, path: str) -> dict[str, Any]:
    """A GET request's environ as waitress builds it (the keys the dispatchers read)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "REQUEST_URI": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
    }
    if host is not None:
        environ["HTTP_HOST"] = host
    return environ


def per_call_ns(app: WSGIApp, environ: dict[str, Any], calls: int) -> float:
    """Mean nanoseconds of ``app(environ, start_response)`` over ``calls`` calls.

    Each call gets a copy of ``environ`` (dispatchers rewrite SCRIPT_NAME and
    PATH_INFO) whose PATH_INFO, REQUEST_URI and HTTP_HOST are new string
    objects, as a server makes them, so no contender gets a cached hash. The
    copy is in the direct call's time too, so it cancels out.
    """
    fresh = [(k, v[: len(v) // 2], v[len(v) // 2 :]) for k, v in _fresh_fields(environ)]
    (k1, a1, b1), (k2, a2, b2), (k3, a3, b3) = fresh
    copy, sr = environ.copy, start_response
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            env = copy()
            env[k1] = a1 + b1
            env[k2] = a2 + b2
            env[k3] = a3 + b3
            app(env, sr)
        elapsed = time.perf_counter_ns() - t0
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / calls


def _fresh_fields(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The three fields made anew per call; an absent one (or a 1-character one) is a dummy."""
    out = []
    for key in ("PATH_INFO", "REQUEST_URI", "HTTP_HOST"):
        value = environ.get(key)
        if not isinstance(value, str) or len(value) < 2:
            key, value = f"bench.{key}", "xx"
        out.append((key, value))
    return out


def calibrate(app: WSGIApp, environ: dict[str, Any], budget_s: float) -> int:
    """How many calls take about ``budget_s`` seconds (at least 3)."""
    calls = 1
    while True:
        t = per_call_ns(app, environ, calls) * calls / 1e9
        if t >= budget_s / 10 or calls >= 10_000_000:
            return max(3, int(calls * budget_s / max(t, 1e-9)))
        calls *= 10


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table whose columns line up in a terminal too; numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        out = []
        for cell, width in zip(row, widths, strict=True):
            numeric = cell[:1].isdigit() or cell[:1] in "-+<>~"
            out.append(cell.rjust(width) if numeric else cell.ljust(width))
        return "| " + " | ".join(out) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def target(ok: bool, goal: str, measured: str) -> str:
    """One target line: ``- PASS: goal (measured)``."""
    return f"- {'PASS' if ok else 'MISS'}: {goal} (measured: {measured})"


def fmt_ns(ns: float) -> str:
    return f"{ns:,.0f}"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:.2f}x"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f}"
