"""serve --reload, --debug, --no-access-log and --disable-plugin through a real server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .conftest import Dists, Server, unique

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


def test_reload_on_source_change_and_new_distribution(dists: Dists, serve: Any) -> None:
    mod = unique("live")
    dists.add("live-dist", apps={"live": f"{mod}:app"}, modules={mod: APP.format(text="one")})
    env = {"PYTHONPATH": str(dists.root), "APPHOST_LOAD_PLUGINS": "live-dist,new-dist"}
    server: Server = serve("--reload", "--no-access-log", env=env)
    assert server.get("/live")[:2] == (200, "one")
    time.sleep(0.05)  # a different mtime
    (dists.root / f"{mod}.py").write_text(APP.format(text="two"))
    assert wait_for(lambda: server.get("/live")[:2] == (200, "two")), "".join(server.log)
    # A distribution installed while serving is picked up too.
    new = unique("new")
    dists.add("new-dist", apps={"new": f"{new}:app"}, modules={new: APP.format(text="new")})
    assert wait_for(lambda: server.get("/new")[:2] == (200, "new")), "".join(server.log)
    # A plugin broken mid-edit answers 503 with the reason logged, then recovers.
    (dists.root / f"{mod}.py").write_text("def app(:\n")
    assert wait_for(lambda: server.get("/live")[0] == 503)
    assert wait_for(lambda: "SyntaxError" in "".join(server.log))
    (dists.root / f"{mod}.py").write_text(APP.format(text="three"))
    assert wait_for(lambda: server.get("/live")[:2] == (200, "three"))
    assert server.stop() == 0
    assert not any("apphost.access" in line for line in server.log)


def test_debug_shows_traceback_on_loopback(dists: Dists, serve: Any) -> None:
    mod = unique("dbg")
    src = "def app(environ, start_response):\n    raise ValueError('visible in debug')\n"
    dists.add("dbg-dist", apps={"dbg": f"{mod}:app"}, modules={mod: src})
    server: Server = serve(
        "--debug", env={"PYTHONPATH": str(dists.root), "APPHOST_LOAD_PLUGINS": "dbg-dist"}
    )
    status, body, _ = server.get("/dbg")
    assert status == 500 and "visible in debug" in body and "Traceback" in body
    assert server.stop() == 0


def test_debug_refused_off_loopback(run_cli: Callable[..., tuple[int, str]]) -> None:
    code, out = run_cli("serve", "--debug", "--listen", "0.0.0.0:0")
    assert code == 1 and "apphost.debug" in out and "refused while listening on 0.0.0.0:0" in out


def test_disable_plugin_flag(run_cli: Callable[..., tuple[int, str]], dists: Dists) -> None:
    mod = unique("broken")
    dists.add(
        "broken-dist", apps={"broken": f"{mod}:app"}, modules={mod: "raise ImportError('no')"}
    )
    assert run_cli("check")[0] == 1
    code, out = run_cli("check", "--disable-plugin", "broken-dist")
    assert code == 0, out
    code, out = run_cli("routes", "--disable-plugin", "broken", "--disable-plugin", "hello")
    assert "/broken" not in out and "/hello" not in out and "/wiki" in out


def test_reloads_are_counted_in_metrics(serve: Any) -> None:
    import signal

    server: Server = serve("--no-access-log")

    def reloads() -> str:
        body = server.get("/_apphost/metrics")[1]
        return next(line for line in body.splitlines() if line.startswith("apphost_reloads_total"))

    assert reloads() == "apphost_reloads_total 0.0"
    server.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: reloads() == "apphost_reloads_total 1.0"), "".join(server.log)
    assert server.stop() == 0
