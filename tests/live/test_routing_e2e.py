"""The Host and raw-path cases end to end: a real waitress server, raw sockets.

HTTP clients normalize or refuse odd Host headers, so these requests are
written byte by byte. Each refusal must come from the router (its reason in
the body), not from waitress.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.validate import validator

import pytest
import waitress
from apphost.routing.claims import Claim, Claimant, Route, Source, normalize
from apphost.routing.dispatcher import Dispatcher
from apphost.routing.table import build_table

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")

CLAIMS = [
    Claim(app="root", path="/"),
    Claim(app="backend", path="/backend"),
    Claim(app="cafe", path="/café"),
    Claim(app="api", host="api.example.com"),
    Claim(app="books", host="bücher.example"),
    Claim(app="v6", host="[::1]"),
    Claim(app="blog", subdomain="blog"),
]


def echo(name: str) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = json.dumps([name, environ["SCRIPT_NAME"], environ["PATH_INFO"]]).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return validator(app)


def resolve(route: Route) -> WSGIApplication:
    assert isinstance(route.claim.app, str)
    return echo(route.claim.app)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    routes = [normalize(c, Claimant(Source.PLUGIN, "p", "d==1"), "example.com") for c in CLAIMS]
    table, _ = build_table(routes, "example.com", resolve)
    server: Any = waitress.create_server(
        validator(Dispatcher(table)), host="127.0.0.1", port=0, threads=2
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.trigger.pull_trigger(server.close)  # close in the server's own loop thread
    thread.join(10)
    server.task_dispatcher.shutdown()
    assert not thread.is_alive()


def request(port: int, head: bytes) -> tuple[int, bytes]:
    """Send ``head`` (a request line and headers, no blank line) and read to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head_part, _, body = data.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), body


def get(path: bytes, host: bytes | None, version: bytes = b"1.1") -> bytes:
    head = b"GET " + path + b" HTTP/" + version
    return head if host is None else head + b"\r\nHost: " + host


ROUTED = [
    ("plain", get(b"/x", b"api.example.com"), ["api", "", "/x"]),
    ("case-and-dot", get(b"/x", b"API.Example.COM."), ["api", "", "/x"]),
    ("whitespace-around", get(b"/x", b"  api.example.com \t"), ["api", "", "/x"]),
    ("subdomain", get(b"/p", b"blog.example.com:8080"), ["blog", "", "/p"]),
    ("punycode", get(b"/", b"xn--bcher-kva.example"), ["books", "", "/"]),
    ("ipv6-literal", get(b"/", b"[::1]:8080"), ["v6", "", "/"]),
    ("ipv4-literal", get(b"/backend/", b"127.0.0.1:8080"), ["backend", "/backend", "/"]),
    ("no-host-http-1.0", get(b"/backend/x", None, b"1.0"), ["backend", "/backend", "/x"]),
    ("utf8-path", get(b"/caf%C3%A9/x", b"example.com"), ["cafe", "/caf\xc3\xa9", "/x"]),
    ("dot-segments", get(b"/backend/../admin", b"example.com"), ["root", "", "/admin"]),
    ("slashes", get(b"//backend//x", b"example.com"), ["backend", "/backend", "/x"]),
    # RFC 9112 section 3.2.2: the authority of an absolute-form target wins over Host.
    ("absolute-form", get(b"http://api.example.com/x", b"blog.example.com"), ["api", "", "/x"]),
    (
        "absolute-form-path",
        get(b"http://example.com/backend/y", b"blog.example.com"),
        ["backend", "/backend", "/y"],
    ),
]


@pytest.mark.parametrize(("head", "expect"), [c[1:] for c in ROUTED], ids=[c[0] for c in ROUTED])
def test_routed(port: int, head: bytes, expect: list[str]) -> None:
    status, body = request(port, head)
    assert status == 200, body
    assert json.loads(body) == expect


REFUSED = [
    ("folded", get(b"/", b"api.example.com, blog.example.com"), b"malformed Host"),
    ("duplicate", get(b"/", b"api.example.com\r\nHost: evil.org"), b"malformed Host"),
    ("obs-fold", get(b"/", b"api.example.com\r\n evil.org"), b"malformed Host"),
    ("non-ascii", get(b"/", "bücher.example".encode()), b"malformed Host"),
    ("non-ascii-latin1", get(b"/", "b\xfccher.example".encode("latin-1")), b"malformed Host"),
    ("oversized", get(b"/", b"a." * 50_000 + b"com"), b"malformed Host"),
    ("empty", get(b"/", b""), b"malformed Host"),
    ("tab-inside", get(b"/", b"api\texample.com"), b"malformed Host"),
    ("userinfo", get(b"/", b"user@api.example.com"), b"malformed Host"),
    ("bad-port", get(b"/", b"api.example.com:99999"), b"malformed Host"),
    ("ipv6-unclosed", get(b"/", b"[::1"), b"malformed Host"),
    ("no-host-http-1.1", get(b"/", None), b"requires a Host"),
    ("encoded-slash", get(b"/backend%2Fv2", b"example.com"), b"encoded slash"),
    ("encoded-backslash", get(b"/backend%5cv2", b"example.com"), b"encoded slash"),
    ("above-root", get(b"/backend/../../etc", b"example.com"), b"above the root"),
    ("nul", get(b"/backend%00", b"example.com"), b"NUL"),
    (
        "absolute-form-userinfo",
        get(b"http://u@api.example.com/", b"api.example.com"),
        b"malformed Host",
    ),
]


@pytest.mark.parametrize(("head", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused(port: int, head: bytes, reason: bytes) -> None:
    status, body = request(port, head)
    assert status == 400, body
    assert reason in body


def test_long_path_routes(port: int) -> None:
    path = b"/backend" + b"/seg" * 62_500  # 250 KB
    status, body = request(port, get(path, b"example.com"))
    assert status == 200
    assert json.loads(body)[:2] == ["backend", "/backend"]


@pytest.mark.parametrize("target", [b"/backend/x", b"/_apphost/health"])
def test_trace_is_refused_before_any_app(port: int, target: bytes) -> None:
    status, body = request(
        port, b"TRACE " + target + b" HTTP/1.1\r\nHost: example.com\r\nCookie: s=1"
    )
    assert (status, body) == (405, b"405 Method Not Allowed: TRACE is not served here\n")
