"""Dynamic apps under a real server: a slow factory for one key holds up no other key."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..distributions import Dists, unique
from .conftest import Serve

# A tenants plugin: one app per subdomain; three keys misbehave as named.
TENANTS = """
import time
from apphost import Claim
def make(key):
    if key == "slow":
        time.sleep(2)
    if key == "missing":
        return None
    if key == "boom":
        raise RuntimeError("tenant db down")
    body = key.encode()
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    return app
def apphost_claim_routes():
    return Claim(factory=make, subdomain="*")
"""


def test_slow_factory_blocks_no_other_key_live(site: Dists, serve: Serve) -> None:
    mod = unique("slowtenants")
    site.add("slow-dist", plugins={"slow": mod}, modules={mod: TENANTS})
    server = serve("--threads", "4", load="slow-dist")
    slow_result: list[Any] = []
    slow = threading.Thread(
        target=lambda: slow_result.append(server.get("/", host="slow.localhost"))
    )
    slow.start()
    time.sleep(0.3)  # the slow factory is now running
    t0 = time.monotonic()
    assert server.get("/", host="fast.localhost")[:2] == (200, "fast")
    assert server.get("/", host="other.localhost")[:2] == (200, "other")
    fast_elapsed = time.monotonic() - t0
    slow.join(10)
    assert slow_result[0][:2] == (200, "slow")
    assert fast_elapsed < 1.5, f"other keys waited {fast_elapsed:.2f}s behind a slow factory"
    assert server.get("/", host="missing.localhost")[0] == 404
    status, body, _ = server.get("/", host="boom.localhost")
    assert status == 500 and "tenant db down" not in body
    assert server.stop() == 0
    assert "tenant db down" in server.log and "plugin 'slow' (slow-dist==1.0)" in server.log
