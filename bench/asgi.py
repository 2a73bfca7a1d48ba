"""ASGI through a2wsgi: what an ASGI hello costs per request next to a WSGI hello, in-process.

    .venv/bin/python bench/asgi.py [--rounds 7] [--calls 3000]

Each app answers ``hello`` (5 bytes) and is claimed at ``/app`` in a host built
by ``Host.build`` from an entry point (the app behind ``LazyApp``,
``guarded``, its bulkhead and, for a path claim, cookie scoping), already
loaded. A request is ``dispatcher(environ, start_response)`` with its body
iterated and closed, as a server does; no socket, no Observer. Rows:

- wsgi: a plain WSGI function.
- asgi: an ``async def app(scope, receive, send)``, through ``AsgiAdapter``.
- fastapi: a FastAPI app with one route, through ``AsgiAdapter``.
- a2wsgi alone: the async def behind bare ``a2wsgi.ASGIMiddleware``, no host,
  to show what the host and ``AsgiAdapter`` add to a2wsgi itself.

Each figure is the median over the rounds of the mean per request; the
extra is the ASGI row minus the WSGI row. An ASGI request crosses from the
WSGI thread to the app's event loop thread and back for each message, so
the figure depends on how fast the two threads hand over (the GIL).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Iterable
from typing import Any

import importlib_metadata
from _common import make_environ, median, table
from a2wsgi import ASGIMiddleware
from apphost.config import Config
from apphost.host import Host
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse


def wsgi_hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


async def asgi_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError("http only")  # no lifespan
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello"})


def fastapi_hello() -> FastAPI:
    api = FastAPI()

    @api.get("/")
    async def hello() -> PlainTextResponse:
        return PlainTextResponse("hello")

    return api


fastapi = fastapi_hello()


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    """The server's part, not measured."""


def per_request_ns(app: Callable[..., Iterable[bytes]], path: str, calls: int) -> float:
    """Mean ns of one request through ``app``, its body iterated and closed."""
    environ = make_environ("localhost", path)
    environ["wsgi.input"] = None
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            body = app(environ.copy(), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return (time.perf_counter_ns() - t0) / calls
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()

    hosts = []
    contenders: dict[str, tuple[Callable[..., Iterable[bytes]], str]] = {}
    for name in ("wsgi_hello", "asgi_hello", "fastapi"):
        ep = importlib_metadata.EntryPoint("app", f"{__name__}:{name}", "apphost.apps")
        host = Host.build(Config(), entry_points=[ep])  # claimed at /app, the implicit mount
        host.strict()
        hosts.append(host)
        contenders[name.removesuffix("_hello")] = (host.dispatcher, "/app/")
    contenders["a2wsgi alone"] = (ASGIMiddleware(asgi_hello), "/")  # type: ignore[arg-type]
    for app, path in contenders.values():  # warm up: imports, first requests, caches
        per_request_ns(app, path, 200)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(args.rounds):
        names = list(contenders)
        names = names[r % len(names) :] + names[: r % len(names)]  # rotate the order
        for name in names:
            app, path = contenders[name]
            times[name].append(per_request_ns(app, path, args.calls))
    for host in hosts:
        host.close_apps()
    wsgi = median(times["wsgi"])
    rows = [
        [name, f"{median(t) / 1000:.1f}", f"{(median(t) - wsgi) / 1000:+.1f}"]
        for name, t in times.items()
    ]
    print("## ASGI through a2wsgi, per request in-process\n")
    print(f"{args.rounds} rounds of {args.calls} requests; median of the rounds' means.\n")
    print(table(["app", "µs per request", "µs more than wsgi"], rows))


if __name__ == "__main__":
    main()
