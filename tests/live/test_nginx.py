"""Real nginx in front of two ``apphost serve`` instances, configured as the README says.

nginx uses ``deploy/nginx.conf`` and each instance ``deploy/apphost.toml``
(only the ports differ). Requests spread over both instances; a rolling
restart under load (SIGTERM one, start it again, then the other) fails no
request; X-Forwarded-For reaches the apps as REMOTE_ADDR through waitress's
``trusted_proxy``, and a client cannot forge it. The restart prints its
counts (``-rP`` shows them):

    .venv/bin/python -m pytest tests/test_nginx.py -q -rP | grep 'lifecycle '
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..distributions import Dists, unique
from ..servers import HELLO, Load, Server, free_port, get
from .conftest import Serve

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (.ci/run installs Debian's nginx-light)"
)

HOST = "example.org"  # deploy/apphost.toml's server_name
CLIENT = "127.0.0.2"  # the test's address as nginx sees it: not nginx's own 127.0.0.1

WHOAMI = """
import os

def app(environ, start_response):
    body = (f"pid={os.getpid()} remote_addr={environ['REMOTE_ADDR']}"
            f" scheme={environ['wsgi.url_scheme']}").encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""

MAIN = """
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/apphost.conf;
}}
"""


class Nginx:
    """nginx in the foreground with deploy/nginx.conf on ``port``, proxying to ``upstreams``."""

    def __init__(self, tmp: Path, upstreams: list[int]) -> None:
        self.tmp = tmp
        self.port = free_port()
        conf = (ROOT / "deploy" / "nginx.conf").read_text()
        for default, port in zip(("8081", "8082"), upstreams, strict=True):
            assert f"127.0.0.1:{default} " in conf
            conf = conf.replace(f"127.0.0.1:{default} ", f"127.0.0.1:{port} ")
        conf = conf.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        (tmp / "apphost.conf").write_text(conf)
        user = "user root;" if os.geteuid() == 0 else ""  # the temp paths are root's only
        (tmp / "nginx.conf").write_text(MAIN.format(tmp=tmp, user=user))
        assert NGINX is not None
        self.proc = subprocess.Popen(
            [
                NGINX,
                "-e",
                str(tmp / "error.log"),
                "-c",
                str(tmp / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("nginx did not start:\n" + self.log()) from None
                time.sleep(0.05)

    def log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text() if path.exists() else ""

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        return get(self.port, path, HOST, headers, source=CLIENT)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGQUIT)  # graceful
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def proxied(serve: Serve, site: Dists, tmp_path: Path) -> Iterator[tuple[Nginx, dict[int, Server]]]:
    """nginx and two instances; ``instances`` maps port -> the instance serving it now."""
    _add_whoami(site)
    ports = [free_port(), free_port()]
    instances = {port: _instance(serve, port) for port in ports}
    (tmp_path / "nginx").mkdir()
    nginx = Nginx(tmp_path / "nginx", ports)
    yield nginx, instances
    nginx.stop()


def _add_whoami(site: Dists) -> None:
    mod = unique("px_whoami")
    site.add("px-whoami", apps={"whoami": f"{mod}:app"}, modules={mod: WHOAMI})


def _instance(serve: Serve, port: int) -> Server:
    config = str(ROOT / "deploy" / "apphost.toml")
    cmd = [sys.executable, "-m", "apphost", "serve", "--config", config]
    return serve("--listen", f"127.0.0.1:{port}", cmd=cmd, load="px-whoami")


def _worker(served: Server) -> str:
    return served.wait_for(r"worker\(s\) (\d+) serve").group(1)


def _answers(nginx: Nginx, n: int) -> list[dict[str, str]]:
    """``n`` answers of /whoami through nginx, as {"pid": ..., "remote_addr": ..., "scheme": ...}."""
    found = []
    for _ in range(n):
        status, body = nginx.get("/whoami", {"X-Forwarded-For": "203.0.113.9"})
        assert status == 200, (status, body)
        found.append(dict(item.split("=", 1) for item in body.decode().split()))
    return found


def test_requests_spread_and_carry_the_client_address(
    proxied: tuple[Nginx, dict[int, Server]],
) -> None:
    nginx, instances = proxied
    workers = {_worker(served) for served in instances.values()}
    answers = _answers(nginx, 20)
    assert {a["pid"] for a in answers} == workers  # round robin over both instances
    # The client's own X-Forwarded-For is not believed: the address nginx saw is.
    assert {(a["remote_addr"], a["scheme"]) for a in answers} == {(CLIENT, "http")}
    assert nginx.get("/hello") == (200, HELLO)
    # status_page = "local": the client is on loopback, but came through nginx.
    assert nginx.get("/_apphost/routes")[0] == 403
    assert nginx.get("/_apphost/health")[0] == 200
    # The access log names the client too, not the proxy.
    logged = [line for s in instances.values() for line in s.lines if "apphost.access:" in line]
    assert logged and all(f"apphost.access: {CLIENT} - " in line for line in logged)


def test_only_the_trusted_proxy_is_believed(serve: Serve, site: Dists) -> None:
    _add_whoami(site)
    port = _instance(serve, free_port()).port
    forwarded = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}
    # From trusted_proxy (127.0.0.1), as nginx would send it: the client and scheme are taken.
    answer = get(port, "/whoami", HOST, forwarded, source="127.0.0.1")[1].decode()
    assert answer.endswith("remote_addr=198.51.100.7 scheme=https")
    # From anybody else, the same headers are dropped before the app.
    answer = get(port, "/whoami", HOST, forwarded, source=CLIENT)[1].decode()
    assert answer.endswith(f"remote_addr={CLIENT} scheme=http")


def test_rolling_restart_behind_nginx_loses_no_request(
    proxied: tuple[Nginx, dict[int, Server]], serve: Serve
) -> None:
    nginx, instances = proxied
    load = Load(nginx.port, headers={"Host": HOST}, source=CLIENT, fresh_threads=2)
    with load:
        t0 = time.monotonic()
        for port in list(instances):
            old = instances[port]
            old.signal(signal.SIGTERM)
            assert old.proc.wait(20) == 0
            instances[port] = new = _instance(serve, port)
            worker = _worker(new)
            # Back in rotation (nginx retries it after fail_timeout) before the next one stops.
            deadline = time.monotonic() + 15
            while worker not in {a["pid"] for a in _answers(nginx, 2)}:
                assert time.monotonic() < deadline, "nginx never sent to the restarted instance"
                time.sleep(0.1)
        time.sleep(0.3)
        t1 = time.monotonic()
    counts = load.report("rolling restart behind nginx", t0, t1)
    assert counts["sent"] > 0 and counts["refused"] == 0
    # nginx met the stopped instances (refused, or an idle connection closed) and retried.
    retried = [
        line for line in nginx.log().splitlines() if "upstream" in line and "[error]" in line
    ]
    print(f"nginx retried on the other instance {len(retried)} time(s): {retried[:1]}")
    assert "[alert]" not in nginx.log() and "[emerg]" not in nginx.log()
