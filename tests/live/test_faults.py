"""Faults seen through a real server: what the client and the operator each get."""

from __future__ import annotations

import socket
from pathlib import Path

from ..distributions import Dists, unique
from .conftest import Serve

MIDBODY = """
closed = []
class Body:
    def __iter__(self):
        yield b"x" * 1000
        raise RuntimeError("disk gone mid-body")
    def close(self):
        with open(__file__ + ".closed", "w") as f:
            f.write("closed")
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5000")])
    return Body()
def before(environ, start_response):
    raise KeyError("SECRET_API_KEY")
"""


def test_mid_body_error_truncates_and_closes(site: Dists, serve: Serve) -> None:
    mod = unique("midbody")
    site.add(
        "mid-dist", apps={"mid": f"{mod}:app", "before": f"{mod}:before"}, modules={mod: MIDBODY}
    )
    server = serve(load="mid-dist")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /mid HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert len(body) == 1000  # the client sees truncation: 1000 of 5000 promised bytes
    assert Path(site.root / f"{mod}.py.closed").read_text() == "closed"
    status, body_text, _ = server.get("/before")
    assert status == 500 and "SECRET" not in body_text and "KeyError" not in body_text
    # Counted and logged as the app's failure, never as a 200, and logged once.
    _, metrics, _ = server.get("/_apphost/metrics")
    assert 'apphost_requests_total{app="mid",code="5xx"} 1.0' in metrics
    assert 'apphost_requests_total{app="mid",code="2xx"}' not in metrics
    assert server.stop() == 0
    assert "app 'before' (mid-dist==1.0) raised while serving GET /before" in server.log
    assert "SECRET_API_KEY" in server.log
    (access,) = [line for line in server.log.splitlines() if '"GET /mid HTTP/1.1"' in line]
    assert '"GET /mid HTTP/1.1" 500 5000 ' in access, access
    errors = [line for line in server.log.splitlines() if " ERROR " in line and "/mid" in line]
    assert errors == [
        errors[0].split(" ERROR ")[0]
        + " ERROR apphost: app 'mid' (mid-dist==1.0) raised in its response body"
        " while serving GET /mid"
    ], server.log
    assert "disk gone mid-body" in server.log and "Exception while serving" not in server.log


SCOPED = """
from apphost import Claim
def apphost_claim_routes():
    return Claim(app="scoped", subdomain="team", host="team.example.org")
"""
HELLO_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"scoped"]
"""


def test_invalid_claim_fails_closed(site: Dists, serve: Serve) -> None:
    """An app meant for one host, whose claim is wrong, is served on no host at all."""
    mod, hooks = unique("scoped"), unique("scoped_hooks")
    site.add(
        "scoped-dist",
        apps={"scoped": f"{mod}:app"},
        plugins={"scoped": hooks},
        modules={mod: HELLO_APP, hooks: SCOPED},
    )
    server = serve(load="scoped-dist")
    for host in ("localhost", "team.example.org", "team.localhost", "10.0.0.1"):
        assert server.get("/scoped/", host=host)[0] == 404
    assert server.get("/hello")[0] == 200
    status, page, _ = server.get("/_apphost/")
    assert status == 200
    assert "app &#x27;scoped&#x27; (scoped-dist==1.0): not mounted: its claim" in page
    assert "not mounted: its claim" in server.log
