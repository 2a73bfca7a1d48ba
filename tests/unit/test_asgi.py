"""ASGI apps as plugins: recognised, served through a2wsgi under their mount, with their lifespan.

Real FastAPI and Starlette apps in hosts built in memory (``apphost_host``),
driven through the dispatcher with werkzeug's test client. Streaming over a
real socket is in tests/live/test_asgi_live.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import apphost
import pytest
from apphost import Claim, Status, app_factory, asgi_app
from apphost.host import Host
from apphost.plugins import asgi as asgi_module
from apphost.testing import ClientFactory, HostFactory
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import PlainTextResponse
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute

from ..distributions import Dists, unique

# -- apps ----------------------------------------------------------------------


def wsgi_hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi"]


async def raw_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI with no framework and no lifespan: it raises on any scope but http."""
    if scope["type"] != "http":
        raise ValueError(f"no {scope['type']} here")
    body = json.dumps(
        {
            "root_path": scope["root_path"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
        }
    ).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AsyncCallable:
    """An object whose ``__call__`` is a coroutine function: ASGI, like FastAPI's."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await raw_asgi(scope, receive, send)


def returns_awaitable(scope: dict[str, Any], receive: Any, send: Any) -> Any:
    """ASGI, but not itself a coroutine function: it needs ``@asgi_app``."""
    return raw_asgi(scope, receive, send)


def make_api(events: list[str] | None = None, fail: str = "") -> FastAPI:
    """A FastAPI app whose lifespan records into ``events`` (and raises ``fail`` if set)."""
    seen = events if events is not None else []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        seen.append("startup")
        if fail:
            raise RuntimeError(fail)
        yield {"greeting": "hi"}
        seen.append("shutdown")

    api = FastAPI(lifespan=lifespan)

    @api.get("/")
    async def index(request: Request) -> dict[str, Any]:
        seen.append("request")
        return {
            "greeting": request.state.greeting,
            "root_path": request.scope["root_path"],
            "self": str(request.url_for("index")),
            "item": str(request.url_for("item", item_id=7)),
        }

    @api.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @api.post("/count")
    async def count(request: Request) -> dict[str, int]:
        chunks = sizes = 0
        async for chunk in request.stream():
            chunks += bool(chunk)
            sizes += len(chunk)
        return {"chunks": chunks, "bytes": sizes}

    @api.get("/cookie")
    async def cookie() -> PlainTextResponse:
        response = PlainTextResponse("ok")
        response.set_cookie("session", "s1")  # Starlette's default: Path=/
        return response

    return api


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def api_host(apphost_host: HostFactory, events: list[str]) -> Host:
    """A FastAPI app claimed at /api beside a WSGI app at /wsgi."""
    return apphost_host(
        apps={"api": make_api(events), "hello": wsgi_hello},
        claims=[Claim(app="api", path="/api"), Claim(app="hello", path="/wsgi")],
        strict=True,
    )


# -- recognising ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "interface"),
    [
        (raw_asgi, "asgi"),
        (AsyncCallable(), "asgi"),
        (make_api(), "asgi"),
        (Starlette(), "asgi"),
        (asgi_app(returns_awaitable), "asgi"),
        (wsgi_hello, "wsgi"),
        (lambda environ, start_response: wsgi_hello(environ, start_response), "wsgi"),
    ],
    ids=["async-def", "async-call", "fastapi", "starlette", "marked", "wsgi", "wsgi-lambda"],
)
def test_interface_is_recognised_and_shown(
    apphost_host: HostFactory, obj: object, interface: str, run_cli: Any
) -> None:
    host = apphost_host(apps={"x": obj}, strict=True)
    assert host.view.apps["x"].interface == interface
    assert host.view.apps["x"].status is Status.OK


def test_each_interface_answers_under_its_mount(
    api_host: Host, apphost_client: ClientFactory
) -> None:
    client = apphost_client(api_host)
    assert client.get("/wsgi/").get_data() == b"wsgi"
    response = client.get("/api/")
    assert response.status_code == 200
    assert response.get_json() == {
        "greeting": "hi",
        "root_path": "/api",
        "self": "http://localhost/api/",
        "item": "http://localhost/api/items/7",
    }
    assert client.get("/api/items/3").get_json() == {"id": 3}
    redirect = client.get("/api")  # Starlette's redirect_slashes, under the mount
    assert (redirect.status_code, redirect.headers["Location"]) == (307, "http://localhost/api/")


def test_root_claim_has_an_empty_root_path(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(apps={"raw": raw_asgi}, claims=[Claim(app="raw", path="/")])
    assert apphost_client(host).get("/x/y?q=1").get_json() == {
        "root_path": "",
        "path": "/x/y",
        "query": "q=1",
    }


def test_app_factory_may_return_an_asgi_app(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    @app_factory
    def make(config: dict[str, Any]) -> FastAPI:
        api = FastAPI()

        @api.get("/")
        async def title() -> dict[str, str]:
            return {"title": config["title"]}

        return api

    host = apphost_host(apps={"made": make}, config={"apps": {"made": {"title": "T"}}})
    assert apphost_client(host).get("/made/").get_json() == {"title": "T"}
    assert host.view.apps["made"].interface == "asgi"


def test_claim_may_name_an_asgi_object(
    apphost_host: HostFactory, apphost_client: ClientFactory, events: list[str]
) -> None:
    host = apphost_host(claims=[Claim(app=make_api(events), path="/obj")])
    assert events == []  # started on its first request, not when the table is built
    assert not [t for t in threading.enumerate() if t.name.startswith("asgi plugin 'claims'")]
    assert apphost_client(host).get("/obj/").get_json()["self"] == "http://localhost/obj/"
    assert events == ["startup", "request"]
    assert [t for t in threading.enumerate() if t.name.startswith("asgi plugin 'claims'")]
    host.shutdown()
    assert events == ["startup", "request", "shutdown"]
    assert not [t for t in threading.enumerate() if t.name.startswith("asgi plugin 'claims'")]


def test_wrappers_wrap_the_asgi_app_as_wsgi(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    class Stamp:
        def apphost_wrap_app(self, name: str, app: Any) -> Any:
            def stamped(environ: dict[str, Any], start_response: Any) -> Any:
                def start(status: str, headers: list[Any], exc_info: Any = None) -> Any:
                    return start_response(status, [*headers, ("X-Wrapped", name)], exc_info)

                return app(environ, start)

            return stamped

    host = apphost_host(plugins={"stamp": Stamp()}, apps={"raw": raw_asgi}, strict=True)
    assert apphost_client(host).get("/raw/").headers["X-Wrapped"] == "raw"


# -- what is neither: a load error naming the entry point --------------------


async def async_two(environ: Any, start_response: Any) -> None:
    """async, but WSGI-shaped: not ASGI 3."""


def sync_three(scope: Any, receive: Any, send: Any) -> None:
    """ASGI-shaped, but not async."""


def one_arg(scope: Any) -> None:
    """ASGI 2 style: apphost serves ASGI 3 only."""


@pytest.mark.parametrize(
    ("obj", "said"),
    [
        (async_two, "is async but takes (environ, start_response), not an ASGI 3 app"),
        (sync_three, "it takes (scope, receive, send) but is not async; mark it @apphost.asgi_app"),
        (one_arg, "takes (scope): neither a WSGI app (environ, start_response) nor an ASGI 3 app"),
        (42, "42 is not callable, so neither a WSGI nor an ASGI app"),
        (apphost, "names a module, not a WSGI app or an ASGI app: use 'module:attribute'"),
    ],
    ids=["async-wsgi-shape", "sync-asgi-shape", "asgi2", "not-callable", "module"],
)
def test_neither_wsgi_nor_asgi_is_a_load_error_naming_the_entry_point(
    apphost_host: HostFactory, apphost_client: ClientFactory, obj: object, said: str
) -> None:
    host = apphost_host(apps={"odd": obj, "hello": wsgi_hello})
    assert apphost_client(host).get("/odd/").status_code == 503
    info = host.view.apps["odd"]
    assert info.failed
    # The status names the app and its distribution; the why, the entry point and what is wrong.
    assert info.why.startswith("entry point 'odd = ") and "in-memory" not in info.why
    assert said in info.why
    assert apphost_client(host).get("/hello/").status_code == 200  # the others serve


def test_factory_returning_neither_says_so(apphost_host: HostFactory) -> None:
    host = apphost_host(apps={"made": app_factory(lambda config: "an app?")})
    host.load_all()
    why = host.view.apps["made"].why
    assert "the factory returned 'an app?', not a WSGI app or an ASGI app" in why

    host = apphost_host(apps={"made": app_factory(lambda config: one_arg)})
    host.load_all()
    why = host.view.apps["made"].why
    assert "the factory returned <function one_arg" in why
    assert "which takes (scope): neither a WSGI app" in why


def test_check_and_plugins_report_interface_and_load_errors(run_cli: Any, dists: Dists) -> None:
    mod = unique("asgi_dist")
    dists.add(
        "asgi-dist",
        apps={"fast": f"{mod}:api", "odd": f"{mod}:one_arg", "plain": f"{mod}:wsgi"},
        modules={
            mod: """
            from fastapi import FastAPI
            api = FastAPI()
            def one_arg(scope):
                pass
            def wsgi(environ, start_response):
                start_response("200 OK", [])
                return [b""]
            """
        },
    )
    env = {"APPHOST_LOAD_PLUGINS": "asgi-dist"}
    code, out = run_cli("plugins", "--json", env=env)
    assert code == 0, out
    rows = {r["name"]: r for r in json.loads(out) if r["kind"] == "app"}
    assert (rows["fast"]["interface"], rows["fast"]["status"]) == ("asgi", "ok")
    assert rows["plain"]["interface"] == "wsgi"
    assert rows["odd"]["interface"] == ""
    code, out = run_cli("plugins", env=env)
    header, *lines = out.splitlines()
    at = header.index("INTERFACE")
    assert [line[at:].split()[0] for line in lines if " fast " in line] == ["asgi"]
    code, out = run_cli("check", env=env)
    assert code == 1
    assert (
        f"problem: app 'odd' (asgi-dist==1.0): failed: entry point 'odd = {mod}:one_arg':"
        " <function one_arg" in out
    )
    assert "neither a WSGI app (environ, start_response) nor an ASGI 3 app" in out


# -- lifespan ------------------------------------------------------------------


def test_lifespan_starts_before_the_first_request_and_stops_at_shutdown(
    apphost_host: HostFactory, apphost_client: ClientFactory, events: list[str]
) -> None:
    class Hooks:
        def apphost_shutdown(self) -> None:
            events.append("apphost_shutdown")

    host = apphost_host(plugins={"hooks": Hooks()}, apps={"api": make_api(events)})
    assert events == []  # building the host imports no app
    assert host.view.apps["api"].status is Status.NOT_LOADED
    client = apphost_client(host)
    client.get("/api/").close()
    client.get("/api/").close()
    assert events == ["startup", "request", "request"]
    host.shutdown()
    assert events == ["startup", "request", "request", "shutdown", "apphost_shutdown"]
    assert client.get("/api/").status_code == 503  # shut down: it answers no more


def test_failing_startup_fails_that_app_only(
    apphost_host: HostFactory, apphost_client: ClientFactory, events: list[str]
) -> None:
    host = apphost_host(apps={"api": make_api(events, fail="no database"), "hello": wsgi_hello})
    client = apphost_client(host)
    response = client.get("/api/")
    assert response.status_code == 503
    info = host.view.apps["api"]
    assert (info.status, info.interface) == (Status.FAILED, "asgi")
    assert info.why.startswith("lifespan startup failed:")
    assert "RuntimeError: no database" in info.why
    assert client.get("/hello/").status_code == 200
    assert [p.subject for p in host.all_problems()] == ["api"]
    assert events == ["startup"]  # never a request
    host.shutdown()  # nothing to shut down: no error
    assert events == ["startup"]


def test_failing_startup_is_reported_by_check(run_cli: Any, dists: Dists) -> None:
    mod = unique("failing_start")
    dists.add(
        "failing-start",
        apps={"boom": f"{mod}:app"},
        modules={
            mod: """
            from contextlib import asynccontextmanager
            from starlette.applications import Starlette

            @asynccontextmanager
            async def lifespan(app):
                raise ConnectionError("db.example:5432 refused")
                yield

            app = Starlette(lifespan=lifespan)
            """
        },
    )
    code, out = run_cli("check", env={"APPHOST_LOAD_PLUGINS": "failing-start"})
    assert code == 1
    assert "problem: app 'boom' (failing-start==1.0): failed:" in out
    assert "lifespan startup failed" in out and "db.example:5432 refused" in out
    code, out = run_cli("plugins", env={"APPHOST_LOAD_PLUGINS": "failing-start"})
    assert "asgi" in out and "lifespan startup failed" in out


def test_app_without_lifespan_is_served(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    # raw_asgi raises on the lifespan scope before reading it: it has no lifespan.
    host = apphost_host(apps={"raw": raw_asgi}, strict=True)
    assert apphost_client(host).get("/raw/").status_code == 200


def test_lifespan_that_raises_after_reading_startup_fails(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        raise KeyError("settings")

    host = apphost_host(apps={"app": app})
    assert apphost_client(host).get("/app/").status_code == 503
    assert "lifespan startup raised KeyError: 'settings'" in host.view.apps["app"].why


def test_lifespan_that_hangs_fails_after_the_timeout(
    apphost_host: HostFactory, apphost_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asgi_module, "STARTUP_TIMEOUT", 0.2)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await asyncio.sleep(3600)

    host = apphost_host(apps={"slow": app})
    assert apphost_client(host).get("/slow/").status_code == 503
    assert "lifespan startup did not finish within 0.2 s" in host.view.apps["slow"].why


def test_failing_shutdown_is_logged(
    apphost_host: HostFactory, apphost_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        raise OSError("disk gone")

    app = Starlette(lifespan=lifespan, routes=[Route("/", lambda r: JSONResponse({}))])
    host = apphost_host(apps={"app": app})
    assert apphost_client(host).get("/app/").status_code == 200
    with caplog.at_level(logging.ERROR, "apphost"):
        host.shutdown()
    assert "app 'app' (in-memory==0): lifespan shutdown failed:" in caplog.text
    assert "disk gone" in caplog.text


def test_plugins_and_check_shut_down_what_they_started(run_cli: Any, dists: Dists) -> None:
    mod = unique("lifespan_log")
    dists.add(
        "lifespan-log",
        apps={"logged": f"{mod}:app"},
        modules={
            mod: """
            from contextlib import asynccontextmanager
            from fastapi import FastAPI
            EVENTS = []

            @asynccontextmanager
            async def lifespan(app):
                EVENTS.append("startup")
                yield
                EVENTS.append("shutdown")

            app = FastAPI(lifespan=lifespan)
            """
        },
    )
    import importlib

    for command in ("plugins", "check"):
        code, out = run_cli(command, env={"APPHOST_LOAD_PLUGINS": "lifespan-log"})
        assert code == 0, out
        assert importlib.import_module(mod).EVENTS[-2:] == ["startup", "shutdown"]


# -- factory claims: one ASGI app per key ---------------------------------------


def test_factory_claim_makes_asgi_apps_with_lifespans(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    events: dict[str, list[str]] = {}

    def make(key: str) -> FastAPI | None:
        if key == "nobody":
            return None
        return make_api(events.setdefault(key, []))

    host = apphost_host(
        claims=[Claim(factory=make, path="/u/*")], config={"apphost": {"max_dynamic_apps": 1}}
    )
    client = apphost_client(host)
    assert client.get("/u/ann/").get_json()["self"] == "http://localhost/u/ann/"
    assert client.get("/u/nobody/").status_code == 404
    assert events == {"ann": ["startup", "request"]}
    assert client.get("/u/bob/").get_json()["root_path"] == "/u/bob"
    # bob pushed ann out of the LRU of one: ann's app shuts down (in a thread of its own).
    _wait_for(lambda: events["ann"][-1:] == ["shutdown"])
    host.shutdown()
    assert events["bob"] == ["startup", "request", "shutdown"]


def test_factory_made_app_whose_startup_fails_is_500_and_tried_again(
    apphost_host: HostFactory, apphost_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[str] = []
    host = apphost_host(claims=[Claim(factory=lambda key: make_api(tries, fail="x"), path="/t/*")])
    client = apphost_client(host)
    with caplog.at_level(logging.ERROR, "apphost"):
        assert client.get("/t/a/").status_code == 500
        assert client.get("/t/a/").status_code == 500
    assert tries == ["startup", "startup"]  # not kept: the next request tries again
    assert "the app factory raised for key 'a'" in caplog.text
    assert "lifespan startup failed" in caplog.text


def _wait_for(test: Any, timeout: float = 5.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if test():
            return
        done.wait(0.01)
    raise AssertionError("timed out")


# -- what WSGI cannot carry, and odd requests -------------------------------------


def chat_app() -> FastAPI:
    api = FastAPI()

    @api.get("/")
    async def index() -> dict[str, str]:
        return {"ok": "yes"}

    @api.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()

    return api


def test_websocket_upgrade_answers_501(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(apps={"chat": chat_app()})
    response = apphost_client(host).get(
        "/chat/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    )
    assert response.status_code == 501
    assert response.get_data(as_text=True) == (
        "501 Not Implemented: WebSockets cannot pass through WSGI,"
        " and apphost serves this ASGI app through WSGI\n"
    )
    assert apphost_client(host).get("/chat/").get_json() == {"ok": "yes"}


def test_websocket_routes_are_problems_for_check(
    apphost_host: HostFactory, caplog: pytest.LogCaptureFixture
) -> None:
    inner = Starlette(routes=[WebSocketRoute("/feed", lambda ws: None)])
    outer = Starlette(routes=[Mount("/sub", app=inner)])
    host = apphost_host(apps={"chat": chat_app(), "nested": outer, "hello": wsgi_hello})
    host.load_all()
    problems = {p.subject: str(p) for p in host.all_problems()}
    assert problems == {
        "chat": "app 'chat' (in-memory==0): WebSocket route '/ws' cannot be served:"
        " WebSockets cannot pass through WSGI, which apphost serves ASGI apps through;"
        " an upgrade request to it answers 501",
        "nested": "app 'nested' (in-memory==0): WebSocket route '/sub/feed' cannot be served:"
        " WebSockets cannot pass through WSGI, which apphost serves ASGI apps through;"
        " an upgrade request to it answers 501",
    }
    assert host.view.apps["chat"].status is Status.OK  # its HTTP routes still serve


def test_request_body_streams_in(api_host: Host, apphost_client: ClientFactory) -> None:
    """The app reads the body in 64 KiB http.request messages, not all at once.

    Not tested live yet: under waitress in this process, a POST (chunked or
    not) to an ASGI app after an SSE test left the next server teardown
    finding waitress's trigger fd closed, about once in 20 runs (an fd closed
    twice somewhere; not found yet, not seen with the same tests on WSGI apps).
    """
    body = b"x" * (1 << 20)
    response = apphost_client(api_host).post("/api/count", data=body)
    assert response.get_json() == {"chunks": 16, "bytes": 1 << 20}  # 64 KiB messages


def test_raw_non_ascii_query_is_percent_encoded(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(apps={"raw": raw_asgi})
    environ_query = "q=caf\xc3\xa9&x=1"  # the WSGI string of raw UTF-8 bytes
    response = apphost_client(host).get("/raw/", environ_overrides={"QUERY_STRING": environ_query})
    assert response.get_json()["query"] == "q=caf%C3%A9&x=1"


def test_path_that_is_not_utf8_is_400(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    host = apphost_host(apps={"raw": raw_asgi})
    response = apphost_client(host).get("/raw/", environ_overrides={"PATH_INFO": "/raw/\xff"})
    assert response.status_code == 400
    assert b"the path is not UTF-8, which an ASGI app needs" in response.get_data()


def test_app_error_is_500_and_logged_naming_the_app(
    apphost_host: HostFactory, apphost_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    api = FastAPI()

    @api.get("/")
    async def boom() -> None:
        raise ZeroDivisionError("oops")

    host = apphost_host(apps={"boom": api})
    with caplog.at_level(logging.ERROR, "apphost"):
        response = apphost_client(host).get("/boom/")
        assert response.status_code == 500
        assert b"oops" not in response.get_data()
    assert "app 'boom' (in-memory==0) raised while serving GET /boom/" in caplog.text
    assert "ZeroDivisionError: oops" in caplog.text


@pytest.mark.parametrize(
    ("sent", "statuses"),
    [
        ([], {500}),  # returned without a response
        # Headers, no body: a2wsgi ends it as sent (200) if it sees the app done first.
        ([{"type": "http.response.start", "status": 200, "headers": []}], {200, 500}),
    ],
    ids=["nothing", "start-only"],
)
def test_app_returning_before_its_response_ends_frees_the_thread(
    apphost_host: HostFactory,
    apphost_client: ClientFactory,
    sent: list[dict[str, Any]],
    statuses: set[int],
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("http only")
        for message in sent:
            await send(message)

    host = apphost_host(apps={"short": app})
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(apphost_client(host).get("/short/").status_code),
        daemon=True,
    )
    thread.start()
    thread.join(10)
    assert len(result) == 1 and result[0] in statuses


def test_closing_a_response_early_cancels_the_app(
    apphost_host: HostFactory, apphost_client: ClientFactory
) -> None:
    cancelled = threading.Event()

    async def endless(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("http only")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    host = apphost_host(apps={"endless": endless})
    response = apphost_client(host).get("/endless/")
    body: Iterator[bytes] = iter(response.response)
    assert next(body) == b"tick\n"
    response.close()  # what a server does when its client goes away
    assert cancelled.wait(5)


def test_asgi_app_is_exported() -> None:
    assert "asgi_app" in apphost.__all__
    assert apphost.asgi_app(raw_asgi) is raw_asgi
