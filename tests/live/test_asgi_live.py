"""ASGI apps over real sockets: streaming both ways, disconnects, upgrades, and ``apphost serve``.

A waitress server in this process (``apphost_server``) on an ephemeral
loopback port, and ``apphost serve`` with the FastAPI example (apphost-items).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from apphost import Claim
from apphost.host import Host
from apphost.testing import HostFactory, ServerFactory
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from .conftest import Serve


def streaming_app(gate: threading.Event, cancelled: threading.Event) -> FastAPI:
    api = FastAPI()

    @api.get("/sse")
    async def sse() -> StreamingResponse:
        """One event, then the last only once the test has seen the first (``gate``)."""

        async def events() -> AsyncIterator[str]:
            yield "data: first\n\n"
            while not gate.is_set():
                await asyncio.sleep(0.01)
            yield "data: last\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @api.get("/endless")
    async def endless() -> StreamingResponse:
        async def ticks() -> AsyncIterator[str]:
            try:
                while True:
                    yield "data: tick\n\n"
                    await asyncio.sleep(0.02)
            finally:
                cancelled.set()

        return StreamingResponse(ticks(), media_type="text/event-stream")

    @api.post("/count")
    async def count(request: Request) -> dict[str, int]:
        chunks = size = 0
        async for chunk in request.stream():
            chunks += bool(chunk)
            size += len(chunk)
        return {"chunks": chunks, "bytes": size}

    return api


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def cancelled() -> threading.Event:
    return threading.Event()


@pytest.fixture
def port(
    apphost_host: HostFactory,
    apphost_server: ServerFactory,
    gate: threading.Event,
    cancelled: threading.Event,
) -> int:
    host: Host = apphost_host(
        apps={"stream": streaming_app(gate, cancelled)},
        claims=[Claim(app="stream", path="/s")],
        strict=True,
    )
    return apphost_server(host).port


def test_server_sent_events_arrive_as_produced(port: int, gate: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/s/sse")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        # The app makes "last" only after this test has read "first": a buffered
        # response would time out here instead.
        assert response.readline() == b"data: first\n"
        assert response.readline() == b"\n"
        gate.set()
        assert response.read() == b"data: last\n\n"
    finally:
        conn.close()


def test_a_client_that_leaves_cancels_the_stream(port: int, cancelled: threading.Event) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /s/endless HTTP/1.1\r\nHost: localhost\r\n\r\n")
        seen = b""
        while b"data: tick" not in seen:
            seen += sock.recv(4096)
    assert cancelled.wait(10), "the app kept streaming to a client that had gone"


def test_websocket_upgrade_answers_501(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "GET",
            "/s/ws",
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
        )
        response = conn.getresponse()
        assert response.status == 501
        assert b"WebSockets cannot pass through WSGI" in response.read()
    finally:
        conn.close()


# -- apphost serve with the FastAPI example ------------------------------------------


def _get(port: int, path: str, **headers: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_items_example_under_serve_with_its_lifespan(serve: Serve) -> None:
    server = serve(load="apphost-items")
    time.sleep(0.3)
    assert "lifespan startup" not in server.log  # lazily: before the first request, not at start
    status, body = _get(server.port, "/items/")
    assert status == 200
    assert body["items"][0] == {
        "name": "hammer",
        "id": 1,
        "url": f"http://127.0.0.1:{server.port}/items/1",  # url_for under the mount
    }
    server.wait_for(r"items: lifespan startup")
    assert server.stop() == 0
    log = server.log
    order = [
        log.index("items: lifespan startup"),
        log.index('"GET /items/ HTTP/1.1" 200'),
        log.index("items: lifespan shutdown"),
    ]
    assert order == sorted(order), log


def test_items_events_stream_under_serve(serve: Serve) -> None:
    server = serve(load="apphost-items")
    assert _get(server.port, "/items/")[0] == 200  # loaded and started: not in the timing
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        t0 = time.monotonic()
        conn.request("GET", "/items/events?interval=1&count=3")
        response = conn.getresponse()
        first = response.readline()
        first_at = time.monotonic() - t0
        rest = response.read()
        last_at = time.monotonic() - t0
    finally:
        conn.close()
    assert first == b"event: item\n"
    assert len(re.findall(rb"^event: item$", first + rest, re.M)) == 3
    # The first event comes at once, the last two intervals later: streamed, not buffered.
    assert first_at < 1 and last_at >= 2, (first_at, last_at)
