"""The files under deploy/ that the README's deployment guide shows: valid, and they work.

The systemd units pass ``systemd-analyze verify``, and their ExecStart line,
started with a socket as systemd passes it, serves and stops cleanly. (The
nginx config is tested in tests/test_nginx.py.)
"""

from __future__ import annotations

import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ..servers import HELLO, SYSTEMD, get
from .conftest import Serve

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
APPHOST = Path(sys.executable).with_name("apphost")


def _unit(name: str) -> str:
    """The unit file, run from this checkout: our apphost and deploy/apphost.toml."""
    text = (DEPLOY / name).read_text()
    text = text.replace("/srv/apphost/venv/bin/apphost", str(APPHOST))
    return text.replace("/etc/apphost.toml", str(DEPLOY / "apphost.toml"))


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for name in ("apphost@.socket", "apphost@.service"):
        (tmp_path / name).write_text(_unit(name))
    out = subprocess.run(
        ["systemd-analyze", "verify", "apphost@8081.socket", "apphost@8081.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (out.returncode, out.stderr) == (0, "")


def test_service_serves_on_the_socket_systemd_passes(serve: Serve) -> None:
    exec_start = next(
        line.split("=", 1)[1]
        for line in _unit("apphost@.service").splitlines()
        if line.startswith("ExecStart=")
    )
    stop_timeout = next(
        float(line.split("=", 1)[1])
        for line in _unit("apphost@.service").splitlines()
        if line.startswith("TimeoutStopSec=")
    )
    held = socket.create_server(("127.0.0.1", 0))  # what apphost@PORT.socket holds
    try:
        fd = held.fileno()
        cmd = [sys.executable, "-c", SYSTEMD, str(fd), *shlex.split(exec_start)]
        served = serve(cmd=cmd, pass_fds=[fd])
        assert served.port == held.getsockname()[1]
        served.wait_for(r"worker\(s\) \d+, \d+ serve")  # --workers 2
        assert get(served.port, "/hello", host="example.org") == (200, HELLO)
        served.signal(signal.SIGTERM)  # systemctl stop
        assert served.proc.wait(stop_timeout) == 0
    finally:
        held.close()
