"""serve --reload, --debug and --no-access-log, and SIGHUP's count, through a real server."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from ..distributions import Dists, unique
from .conftest import Serve

APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{text}"]
"""


def wait_for(check: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_reload_on_source_change_and_new_distribution(site: Dists, serve: Serve) -> None:
    mod = unique("live")
    site.add("live-dist", apps={"live": f"{mod}:app"}, modules={mod: APP.format(text="one")})
    server = serve("--reload", "--no-access-log", load="live-dist,new-dist")
    assert server.get("/live")[:2] == (200, "one")
    time.sleep(0.05)  # a different mtime
    (site.root / f"{mod}.py").write_text(APP.format(text="two"))
    assert wait_for(lambda: server.get("/live")[:2] == (200, "two")), server.log
    # A distribution installed while serving is picked up too.
    new = unique("new")
    site.add("new-dist", apps={"new": f"{new}:app"}, modules={new: APP.format(text="new")})
    assert wait_for(lambda: server.get("/new")[:2] == (200, "new")), server.log
    # A plugin broken mid-edit answers 503 with the reason logged, then recovers.
    (site.root / f"{mod}.py").write_text("def app(:\n")
    assert wait_for(lambda: server.get("/live")[0] == 503)
    assert wait_for(lambda: "SyntaxError" in server.log)
    (site.root / f"{mod}.py").write_text(APP.format(text="three"))
    assert wait_for(lambda: server.get("/live")[:2] == (200, "three"))
    assert server.stop() == 0
    assert not [line for line in server.lines if "apphost.access" in line]


def test_debug_shows_traceback_on_loopback(site: Dists, serve: Serve) -> None:
    mod = unique("dbg")
    src = "def app(environ, start_response):\n    raise ValueError('visible in debug')\n"
    site.add("dbg-dist", apps={"dbg": f"{mod}:app"}, modules={mod: src})
    server = serve("--debug", load="dbg-dist")
    status, body, _ = server.get("/dbg")
    assert status == 500 and "visible in debug" in body and "Traceback" in body
    assert server.stop() == 0


def test_reloads_are_counted_in_metrics(serve: Serve) -> None:
    server = serve("--no-access-log")

    def reloads() -> str:
        body = server.get("/_apphost/metrics")[1]
        return next(line for line in body.splitlines() if line.startswith("apphost_reloads_total"))

    assert reloads() == "apphost_reloads_total 0.0"
    server.signal(signal.SIGHUP)
    assert wait_for(lambda: reloads() == "apphost_reloads_total 1.0"), server.log
    assert server.stop() == 0
