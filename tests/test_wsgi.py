"""``apphost.wsgi:application`` under another WSGI server: gunicorn with two workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .examples import mismatches


def test_lazy_until_looked_up() -> None:
    code = "import apphost.wsgi, sys; print('apphost_hello' in sys.modules, 'apphost.host' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_gunicorn_serves_the_examples(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    config = tmp_path / "apphost.toml"
    config.write_text('[apphost]\nserver_name = "localhost"\n')
    env = {**os.environ, "APPHOST_CONFIG": str(config)}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "-w", "2", "-b", "127.0.0.1:0", "apphost.wsgi:application"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
            port = int(m.group(1)) if m else None
        assert port, "gunicorn did not start"
        # The same table as under apphost serve. Twice: the second round may meet
        # dynamic apps a worker kept from the first, or the other worker.
        for _ in range(2):
            assert mismatches(port) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
