"""The operator's view of a live ``apphost serve``: reload summaries in the log, ``apphost status``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..distributions import Dists, unique
from ..servers import free_port
from .conftest import Serve

APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{body}"]
"""
HOOKS = """
from apphost import Claim, hookimpl

@hookimpl
def apphost_claim_routes(apphost):
    return Claim(app="opblog", path="/journal")
"""
RELOADED = r"reloaded: worker\(s\) [\d, ]+ serve, [\d, ]+ draining; (.*)"


def status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apphost", "status", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "APPHOST_CONFIG": ""},
    )


def test_every_reload_logs_what_it_changed(
    serve: Serve, site: Dists, capsys: pytest.CaptureFixture[str]
) -> None:
    served = serve(load="op-blog")
    app, hooks = unique("opblog_app"), unique("opblog_hooks")
    summaries = []

    def reload() -> str:
        mark = served.mark()
        served.signal(signal.SIGHUP)
        summary = served.wait_for(RELOADED, mark, timeout=30).group(1)
        served.wait_for(r"worker \d+ exited", mark)
        lines = [line for line in served.lines[mark:] if "reloaded:" in line]
        assert len(lines) == 1, lines  # one line per reload
        summaries.append(lines[0].rstrip())
        return summary

    def install(version: str, body: str, hooks_source: str = HOOKS) -> None:
        for old in site.root.glob("op_blog-*.dist-info"):
            shutil.rmtree(old)
        site.add(
            "op-blog",
            version=version,
            apps={"opblog": f"{app}:app"},
            plugins={"opblog": hooks},
            modules={app: APP.format(body=body), hooks: hooks_source},
        )

    install("1.0", "v1")
    assert reload() == "added app opblog (op-blog==1.0), route /journal -> opblog"
    assert served.get("/journal")[:2] == (200, "v1")

    install("1.1", "v1.1")
    assert reload() == "upgraded app opblog (op-blog) 1.0 -> 1.1"
    assert served.get("/journal")[:2] == (200, "v1.1")

    # A broken upgrade (no --strict): the plugin's routes go, and the line says why.
    install("1.2", "v1.2", "raise RuntimeError('hooks broken on purpose')")
    summary = reload()
    assert summary.startswith("upgraded app opblog (op-blog) 1.1 -> 1.2; removed route /journal")
    assert "; failed: plugin 'opblog'" in summary and "hooks broken on purpose" in summary

    for old in site.root.glob("op_blog-*.dist-info"):
        shutil.rmtree(old)
    assert reload() == "removed app opblog (op-blog==1.2)"

    # The status page remembers them, newest first, with what each changed.
    picture = json.loads(served.get("/_apphost/status.json")[1])
    reloads = picture["reloads"]
    assert [r["ok"] for r in reloads] == [True] * 4
    assert reloads[0]["removed"] == ["app opblog (op-blog==1.2)"]
    assert reloads[3]["added"] == ["app opblog (op-blog==1.0)", "route /journal -> opblog"]
    assert reloads[0]["why"] == "received SIGHUP"
    with capsys.disabled():
        print("\n" + "\n".join(summaries))


def test_status_command_shows_what_is_wrong(
    serve: Serve, site: Dists, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = unique("op_broken")
    site.add(
        "op-broken",
        apps={"broken": f"{broken}:app"},
        modules={broken: "raise ImportError('no module named blog_db')"},
    )
    served = serve("--workers", "2", load="op-broken")
    served.wait_for(r"worker\(s\) \d+, \d+ serve")
    for _ in range(3):
        assert served.get("/hello")[0] == 200
    assert served.get("/broken")[0] == 503  # it fails in the worker that answers

    # Whichever worker answers knows: the one that failed tells the other within a second.
    degraded: dict[int, str] = {}  # worker -> the failure as it tells it
    deadline = time.monotonic() + 15
    while len(degraded) < 2 and time.monotonic() < deadline:
        picture = json.loads(served.get("/_apphost/status.json")[1])
        if picture["status"] == "degraded":
            degraded[picture["apphost"]["answered_by"]] = picture["wrong"][0]["why"]
        time.sleep(0.05)
    assert len(degraded) == 2, degraded
    assert len(set(degraded.values())) == 1  # the same story from both
    done = status(served.url)
    assert done.returncode == 2, done.stdout + done.stderr  # degraded
    lines = done.stdout.splitlines()
    assert lines[0].startswith("apphost ") and ": DEGRADED; pid " in lines[0]
    assert f"listening on 127.0.0.1:{served.port}" in lines[0]
    assert lines[2] == "Wrong now (1):"
    assert lines[3].startswith("  FAILED broken: ") and "blog_db" in lines[3]
    workers = lines[lines.index("Workers:") + 1 :]
    assert workers[0].split()[:2] == ["PID", "STATE"]
    assert [w.split()[1] for w in workers[1:3]] == ["serving", "serving"]

    # Whichever worker answers the health check, it is degraded: 10 answers in a row.
    in_a_row, deadline = 0, time.monotonic() + 10
    while in_a_row < 10 and time.monotonic() < deadline:
        code, body, _ = served.get("/_apphost/health")
        assert code == 200
        in_a_row = in_a_row + 1 if json.loads(body)["failed"] == ["broken"] else 0
    assert in_a_row == 10
    picture = json.loads(status(f"127.0.0.1:{served.port}", "--json").stdout)
    assert picture["status"] == "degraded" and picture["apphost"]["pid"] == served.proc.pid
    assert len(picture["workers"]) == 2
    hello = next(a for a in picture["apps"] if a["name"] == "hello")
    deadline = time.monotonic() + 10  # each worker folds its counts into the files once a second
    while hello["requests"] < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        picture = json.loads(served.get("/_apphost/status.json")[1])
        hello = next(a for a in picture["apps"] if a["name"] == "hello")
    assert hello["status"] == "ok" and hello["requests"] == 3  # loaded in one worker or both
    assert hello["limit"] == 2 * 6  # two workers, 16 threads each: 6 per app per worker
    with capsys.disabled():
        print("\n$ apphost status " + served.url + "\n" + done.stdout)


def test_status_command_when_nothing_answers() -> None:
    port = free_port()
    done = status(f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    assert f"Error: nothing answers at http://127.0.0.1:{port}/_apphost/status.json" in done.stderr
    assert "Is apphost serve running there?" in done.stderr


def test_status_command_reads_the_configured_address(serve: Serve, tmp_path: Path) -> None:
    """Without a URL it asks admin_listen (where the status pages are) when it is set."""
    admin = free_port()
    config = tmp_path / "op.toml"
    config.write_text(f'[apphost]\nadmin_listen = ["127.0.0.1:{admin}"]\n')
    served = serve("--config", str(config))
    served.wait_for(rf"own pages \(admin_listen\) on http://127\.0\.0\.1:{admin}/")
    done = status("--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert ": OK; pid " in first and f"(own pages on 127.0.0.1:{admin})" in first
    assert f"listening on 127.0.0.1:{served.port}" in first
