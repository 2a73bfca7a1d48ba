"""The status page in a real headless Chromium: what renders, and a screenshot for the log."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed (.ci/run installs it)",
)


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM, "chromium is missing: .ci/run installs Debian's chromium package"
    profile = tmp_path / "profile"
    out = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout


def test_status_page_renders_in_chromium(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(load=None)  # every example
    url = f"{server.url}/_apphost/"
    dom = chromium(tmp_path, "--dump-dom", url)
    assert "<h1>apphost</h1>" in dom
    assert "apphost-hello==0.1.0" in dom and "plugin 'notes' (apphost-notes==0.1.0)" in dom
    assert dom.count("<tr>") >= 5 + 8  # header rows + five routes and eight apps/plugins
    shot = tmp_path / "status-page.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", url)
    assert shot.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nstatus page screenshot: {shot}")
