"""Process pools in-process: the config, the hand-over of the environ, a pool that is gone."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from apphost.config import parse_config
from apphost.serving.pools import Pools, parse_pools, pool_threads
from apphost.web.relay import ENVIRON_KEY, Relay, _Response, unrelay
from werkzeug.test import Client, create_environ


def test_pools_are_the_apps_with_process_isolation() -> None:
    config = parse_config(
        {
            "apphost": {"workers": 2},
            "hosting": {
                "blog": {"isolation": "process", "processes": 2},
                "wiki": {"isolation": "thread", "max_in_flight": 3},
            },
        }
    )
    assert config.pools() == {"blog": 2}
    # Room for what both workers may hand over at once (6 each at 16 threads), in 2 processes.
    assert pool_threads(config, "blog") == 6


def test_the_supervisor_binds_one_private_socket_per_pool() -> None:
    config = parse_config({"hosting": {"a,b": {"isolation": "process"}}})
    pools = Pools.bind(config)
    try:
        path = pools.sockets["a,b"].getsockname()
        assert Path(pools.folder).stat().st_mode & 0o777 == 0o700
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)  # listening already: a pool process only accepts
        assert parse_pools(pools.environ()["APPHOST_POOLS"]) == {"a,b": path}  # any name
    finally:
        pools.close()
    assert not Path(pools.folder).exists()


def test_unrelay_gives_the_app_the_workers_environ() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("200 OK", [])
        return []

    worker = {"SCRIPT_NAME": "/blog", "PATH_INFO": "/x", "REMOTE_ADDR": "10.1.2.3"}
    pooled = create_environ("/", "http://pool/")  # what the pool's waitress made
    pooled[ENVIRON_KEY] = json.dumps({**worker, "HTTP_X_CLIENT": "yes"})
    pooled["HTTP_HOST"] = "pool"
    unrelay(app)(pooled, lambda *a: None)  # type: ignore[arg-type]
    assert {k: seen[k] for k in worker} == worker and seen["HTTP_X_CLIENT"] == "yes"
    assert "HTTP_HOST" not in seen and ENVIRON_KEY not in seen
    assert seen["wsgi.input"] is pooled["wsgi.input"]  # objects stay the pool's own


def test_a_pool_that_is_not_there_answers_502(tmp_path: Path) -> None:
    relay = Relay(str(tmp_path / "gone.sock"), "blog")
    response = Client(relay).get("/x")
    assert response.status_code == 502
    assert b"app 'blog': its pool process ended the connection" in response.data


@pytest.mark.parametrize(
    ("method", "raw", "body", "reusable"),
    [
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", True),
        (
            "GET",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n",
            b"hello",
            True,
        ),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"", True),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
        ("GET", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello", b"hello", False),
    ],
    ids=["length", "chunked", "head", "204", "close"],
)
def test_pool_responses_are_read_by_their_framing(
    method: str, raw: bytes, body: bytes, reusable: bool
) -> None:
    mine, theirs = socket.socketpair()
    with mine, theirs:
        theirs.sendall(raw)
        if not reusable:
            theirs.shutdown(socket.SHUT_WR)
        response = _Response(io.BufferedReader(socket.SocketIO(mine, "rb")), method)
        assert response.status == raw[9:].split(b"\r\n")[0].decode()
        assert b"".join(iter(response.read1, b"")) == body
        assert response.done and response.will_close is not reusable
        assert ("Transfer-Encoding", "chunked") not in response.headers  # the worker re-frames


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nhel",
    ],
    ids=["nothing", "head", "short", "short-chunk"],
)
def test_a_pool_process_gone_mid_response_is_an_error_not_an_end(raw: bytes) -> None:
    mine, theirs = socket.socketpair()
    with mine, theirs:
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)
        with pytest.raises(ConnectionError):
            response = _Response(io.BufferedReader(socket.SocketIO(mine, "rb")), "GET")
            while response.read1():
                pass
