"""Faults seen through a real server: what the client and the operator each get."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

from apphost.config import Config
from apphost.host import Host

from .conftest import Dists, unique

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


def test_mid_body_error_truncates_and_closes(dists: Dists, serve: Any) -> None:
    mod = unique("midbody")
    dists.add(
        "mid-dist", apps={"mid": f"{mod}:app", "before": f"{mod}:before"}, modules={mod: MIDBODY}
    )
    server = serve(env={"PYTHONPATH": str(dists.root), "APPHOST_LOAD_PLUGINS": "mid-dist"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /mid HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert len(body) == 1000  # the client sees truncation: 1000 of 5000 promised bytes
    assert Path(dists.root / f"{mod}.py.closed").read_text() == "closed"
    status, body_text, _ = server.get("/before")
    assert status == 500 and "SECRET" not in body_text and "KeyError" not in body_text
    assert server.stop() == 0
    log = "".join(server.log)
    assert "app 'before' (mid-dist==1.0) raised" in log and "SECRET_API_KEY" in log


def test_same_distribution_twice_on_path(tmp_path: Path, monkeypatch: Any) -> None:
    mod = unique("twice")
    monkeypatch.setattr(sys, "path", list(sys.path))
    for i, version in enumerate(["1.0", "2.0"]):
        root = tmp_path / f"site{i}"
        Dists(root).add(
            "twice-dist", version=version, apps={"twice": f"{mod}:app"}, modules={mod: MIDBODY}
        )
        sys.path.append(str(root))
    monkeypatch.setenv("APPHOST_LOAD_PLUGINS", "twice-dist")
    host = Host.build(Config())
    assert list(host.apps) == ["twice"]
    assert host.apps["twice"].info.version == "1.0"
    assert any(
        "twice-dist is installed twice on sys.path (1.0 and 2.0); using 1.0" in p
        for p in map(str, host.problems)
    )
