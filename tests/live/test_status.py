"""The own pages under a real server: what waitress does to the headers the access rule reads."""

from __future__ import annotations

import http.client
import json
import signal
from pathlib import Path

from ..servers import HELLO, get
from .conftest import Serve


def test_local_under_waitress_sees_the_proxy_headers_it_drops(
    serve: Serve,
) -> None:
    """waitress removes X-Forwarded-For from an untrusted peer; the page still refuses."""
    server = serve()
    assert get(server.port, "/_apphost/routes")[0] == 200
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    assert get(server.port, "/_apphost/routes", headers=forwarded)[0] == 403


OWN = ("/_apphost/", "/_apphost/routes", "/_apphost/plugins", "/_apphost/metrics")
ADMIN = r"own pages \(admin_listen\) on http://127\.0\.0\.1:(\d+)/"


def test_admin_listen_serves_the_own_pages_across_workers_and_reloads(
    serve: Serve, tmp_path: Path
) -> None:
    """The supervisor holds the admin socket; every worker, and each successor, serves it."""
    (tmp_path / "admin.toml").write_text('[apphost]\nadmin_listen = ["127.0.0.1:0"]\n')
    server = serve("--workers", "2", "--config", str(tmp_path / "admin.toml"))

    def check(mark: int) -> None:
        admin = int(server.wait_for(ADMIN, mark).group(1))
        assert admin != server.port
        for path in OWN:
            assert get(admin, path)[0] == 200, path
            assert get(server.port, path)[0] == 404, path  # not on the public listener
        status, body = get(server.port, "/_apphost/health")
        assert (status, json.loads(body)) == (200, {"status": "ok"})  # no app names
        status, body = get(admin, "/_apphost/health")
        assert status == 200 and set(json.loads(body)["apps"]) == {"hello"}
        assert b"apphost_requests_total" in get(admin, "/_apphost/metrics")[1]
        assert get(admin, "/hello")[0] == 404  # only the own pages answer there
        assert get(server.port, "/hello")[0] == 200

    check(0)
    mark = server.mark()
    server.signal(signal.SIGHUP)
    old = server.wait_for(r"reloaded: worker\(s\) \d+, \d+ serve, (\d+), (\d+) draining", mark)
    for pid in old.groups():
        server.wait_for(rf"worker {pid} exited with status 0", mark)
    check(mark)  # the new workers serve the same admin socket
    assert server.stop() == 0


def test_status_shows_the_connections_a_worker_holds(serve: Serve) -> None:
    """Three kept-alive connections, and the status page's own: four."""
    server = serve()
    conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(3)]
    try:
        for conn in conns:
            conn.request("GET", "/hello")
            assert conn.getresponse().read() == HELLO
        status, body = get(server.port, "/_apphost/status.json")
        assert status == 200
        (worker,) = json.loads(body)["workers"]
        assert worker["connections"] == 4
        status, body = get(server.port, "/_apphost/")
        assert status == 200 and b"<th>connections</th>" in body
    finally:
        for conn in conns:
            conn.close()


def test_without_admin_listen_health_details_only_for_local_clients(serve: Serve) -> None:
    server = serve()
    status, body = get(server.port, "/_apphost/health")
    assert status == 200 and set(json.loads(body)["apps"]) == {"hello"}
    forwarded = {"X-Forwarded-For": "198.51.100.7"}  # a proxy's client: not the host's own
    assert json.loads(get(server.port, "/_apphost/health", headers=forwarded)[1]) == {
        "status": "ok"
    }
