"""``apphost.wsgi:application`` under other WSGI servers, two worker processes each.

gunicorn and uWSGI (pyuwsgi's wheel, in the test extras) serve the example
plugins from the module path the README gives, and answer the same table as
``apphost serve`` (tests/examples.py), dynamic subdomains included; with
``PROMETHEUS_MULTIPROC_DIR`` set, every scrape counts both workers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ..examples import ROUTES, mismatches
from ..servers import free_port, get

BIN = Path(sys.executable).parent


def test_application_is_a_plain_module_attribute() -> None:
    """uWSGI reads the module's dict, so a lazy module ``__getattr__`` would not do."""
    code = "import apphost.wsgi as w; print(callable(vars(w).get('application')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"]


SERVERS = {
    # name: (argv, a line that says the workers are up)
    "gunicorn": (
        ["gunicorn", "-w", "2", "-b", "127.0.0.1:{port}", "apphost.wsgi:application"],
        r"Booting worker with pid",
    ),
    "uwsgi": (
        [
            "uwsgi",
            "--http-socket",
            "127.0.0.1:{port}",
            "--master",
            "--processes",
            "2",
            "--lazy-apps",
            "--enable-threads",
            "--die-on-term",
            "--need-app",
            "--module",
            "apphost.wsgi:application",
        ],
        r"WSGI app 0 \(mountpoint=''\) ready",
    ),
}


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_serves_the_examples_like_apphost_serve(name: str, tmp_path: Path) -> None:
    argv, ready = SERVERS[name]
    if not (BIN / argv[0]).exists():
        pytest.skip(f"{argv[0]} is not installed in {BIN} (pip install -e '.[test]')")
    config = tmp_path / "apphost.toml"
    config.write_text('[apphost]\nserver_name = "localhost"\n')
    port = free_port()
    shared = tmp_path / "metrics"
    shared.mkdir()
    cmd = [str(BIN / argv[0]), *(a.replace("{port}", str(port)) for a in argv[1:])]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Shared metrics, as README says: every scrape sums both workers.
        env={**os.environ, "APPHOST_CONFIG": str(config), "PROMETHEUS_MULTIPROC_DIR": str(shared)},
        cwd=tmp_path,
    )
    log: list[str] = []
    up = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            if re.search(ready, line):
                up.set()
        up.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert up.wait(30) and proc.poll() is None, f"{name} did not start:\n{''.join(log)}"
        # Twice: the second round may meet dynamic apps a worker kept from the first.
        for _ in range(2):
            assert mismatches(port) == [], "".join(log[-20:])
        hello = [row for row in ROUTES if row[1].startswith("/hello") and row[2] == 200]
        time.sleep(1.2)  # each worker folds its counts into the shared files once a second
        for _ in range(4):  # whichever worker answers
            status, body = get(port, "/_apphost/metrics", host="localhost")
            assert status == 200
            counted = re.search(
                r'^apphost_requests_total\{app="hello",code="2xx"\} (\S+)$', body.decode(), re.M
            )
            assert counted and float(counted.group(1)) == 2 * len(hello)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
