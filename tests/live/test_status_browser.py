"""The status page in a real headless Chromium: the failing app leads it, at desktop and phone widths.

Screenshots go to the test's folder, and also to ``$APPHOST_SHOTS`` when it is
set (to keep them: ``APPHOST_SHOTS=/some/dir pytest tests/live/test_status_browser.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ..distributions import Dists, unique
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
PHONE = 390  # CSS pixels: an iPhone 12-15's viewport width

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed (.ci/run installs it)",
)

# Served by the host under test, so it is same-origin with /_apphost/ and may read its
# DOM: the status page in an iframe as wide as a phone, measured once it has loaded,
# then looked at again after its own refresh (every 5 s) has replaced its sections.
PROBE = """
PAGE = b'''<!doctype html><html><body style="margin:0">
<iframe id=f src="/_apphost/" style="width:%dpx;height:844px;border:0"></iframe>
<pre id=out>waiting</pre><script>
document.getElementById("f").onload = function () {
  var doc = this.contentDocument, root = doc.documentElement;
  var first = doc.querySelector("ul.wrong li");
  var seen = {scroll: root.scrollWidth, client: root.clientWidth,
    first: first && first.dataset.app, kinds: first && first.dataset.kind};
  var mark = doc.createElement("i");  // gone once the page has refreshed its sections
  mark.id = "stale";
  doc.getElementById("wrong").appendChild(mark);
  setTimeout(function () {
    seen.refreshed = !doc.getElementById("stale");
    seen.still_first = doc.querySelector("ul.wrong li").dataset.app;
    document.getElementById("out").textContent = JSON.stringify(seen);
  }, 8000);
};
</script></body></html>'''

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html")])
    return [PAGE]
"""


def chromium(profile: Path, *args: str) -> str:
    assert CHROMIUM, "chromium is missing: .ci/run installs Debian's chromium package"
    out = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )
    return out.stdout


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_status_page_in_chromium_leads_with_the_failing_app(
    serve: Serve, site: Dists, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken, probe = unique("op_broken"), unique("op_probe")
    site.add(
        "op-status",
        apps={"broken": f"{broken}:app", "probe": f"{probe}:app"},
        modules={
            broken: "raise ImportError('the database driver is missing')",
            probe: PROBE.replace("%d", str(PHONE)),
        },
    )
    server = serve(load="op-status")
    assert server.get("/broken")[0] == 503  # its first request loads it: it fails
    url = f"{server.url}/_apphost/"

    dom = chromium(tmp_path / "p1", "--dump-dom", url)
    items = re.findall(r'<li data-kind="(\w+)" data-app="([^"]+)">', dom)
    assert items and items[0] == ("failed", "broken"), dom[:3000]
    assert '<span class="badge b-degraded" id="state">degraded</span>' in dom
    assert dom.index('id="wrong"') < dom.index('id="apps"') < dom.index('id="workers"')

    # The status page at a phone's width: no sideways scroll, the failing app first.
    probed = chromium(
        tmp_path / "p2", "--virtual-time-budget=20000", "--dump-dom", f"{server.url}/probe"
    )
    found = re.search(r"<pre id=\"out\">(\{.*?\})</pre>", probed)
    assert found, probed[:3000]
    measured = json.loads(found.group(1).replace("&quot;", '"'))
    assert measured["first"] == "broken" and measured["kinds"] == "failed"
    assert measured["client"] == PHONE and measured["scroll"] <= PHONE, measured
    # It refreshed itself from status.json (every 5 s) without a reload of the page.
    assert measured["refreshed"] is True and measured["still_first"] == "broken", measured

    shots = []
    for name, width, height in (("desktop", 1280, 900), ("phone", PHONE, 844)):
        shot = tmp_path / f"status-{name}.png"
        chromium(
            tmp_path / f"s-{name}", f"--screenshot={shot}", f"--window-size={width},{height}", url
        )
        assert shot.stat().st_size > 10_000  # a page, not a blank
        assert png_size(shot)[0] == width
        shots.append(shot)
    keep = os.environ.get("APPHOST_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shots = [Path(shutil.copy(shot, keep)) for shot in shots]
    with capsys.disabled():
        print(f"\nstatus page screenshots: {' '.join(map(str, shots))}")
