"""Dynamic apps: once per key, no lock across keys, bounded LRU, None and errors not kept."""

from __future__ import annotations

import random
import re
import string
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
from apphost import Claim
from apphost.config import Config
from apphost.routing.dynamic import DynamicApps
from apphost.testing import HostFactory
from apphost.web.stack import request_stack
from werkzeug.test import Client


def text_app(body: str) -> Any:
    data = body.encode()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))]
        )
        return [data]

    return app


class Tenants:
    """A tenants plugin: one app per subdomain; two keys misbehave as named."""

    @staticmethod
    def make(key: str) -> Any:
        if key == "missing":
            return None
        if key == "boom":
            raise RuntimeError("tenant db down")
        return text_app(key)

    @staticmethod
    def apphost_claim_routes() -> Claim:
        return Claim(factory=Tenants.make, subdomain="*")


def no_wrap(name: str, app: Any) -> Any:
    return app


def test_made_once_under_concurrent_first_requests() -> None:
    calls: list[str] = []
    gate = threading.Event()

    def factory(key: str) -> Any:
        calls.append(key)
        gate.wait(5)
        return text_app(key)

    apps = DynamicApps(factory, "t", 10, no_wrap)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(apps.get("k"))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert calls == ["k"]
    assert len(results) == 8 and len({id(r) for r in results}) == 1


def test_the_gauge_follows_what_is_kept(apphost_host: HostFactory) -> None:
    host = apphost_host(
        plugins=[Tenants], config=Config(server_name="example.com", max_dynamic_apps=2)
    )
    client = Client(request_stack(host))

    def kept() -> str:
        text = host.metrics.exposition().decode()
        return " ".join(
            re.findall(r'^apphost_dynamic_apps\{claim="([^"]+)"\} (\S+)$', text, re.M)[0]
        )

    assert client.get("/", headers={"Host": "a.example.com"}).status_code == 200
    assert kept() == "*.example.com 1.0"
    for label in ("b", "c", "missing"):
        client.get("/", headers={"Host": f"{label}.example.com"})
    assert kept() == "*.example.com 2.0"  # bounded; None is not kept


def test_lru_is_bounded_and_keeps_recent() -> None:
    made: list[str] = []
    apps = DynamicApps(lambda k: made.append(k) or text_app(k), "t", 3, no_wrap)
    for key in "abcd":
        apps.get(key)
    assert len(apps) == 3
    apps.get("b")  # recently used: survives the next eviction
    apps.get("e")
    apps.get("b")
    assert made == ["a", "b", "c", "d", "e"]
    apps.get("a")  # evicted earlier: made again
    assert made[-1] == "a"


def test_none_and_errors_are_not_kept() -> None:
    calls: list[str] = []

    def factory(key: str) -> Any:
        calls.append(key)
        if key == "boom":
            raise RuntimeError("factory failed")
        return None

    apps = DynamicApps(factory, "t", 10, no_wrap)
    assert apps.get("nobody") is None and apps.get("nobody") is None
    for _ in range(2):
        with pytest.raises(RuntimeError):
            apps.get("boom")
    assert calls == ["nobody", "nobody", "boom", "boom"] and len(apps) == 0


def test_non_callable_result_is_an_error() -> None:
    apps = DynamicApps(lambda k: "not an app", "t", 10, no_wrap)
    with pytest.raises(TypeError, match="not a WSGI app"):
        apps.get("x")


def test_rss_flat_across_100k_random_subdomains(apphost_host: HostFactory) -> None:
    host = apphost_host(
        plugins=[Tenants], config=Config(server_name="example.com", max_dynamic_apps=256)
    )
    dispatcher = host.dispatcher

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Any:
        return None

    rng = random.Random(7)
    letters = string.ascii_lowercase + string.digits

    def burst(n: int) -> None:
        for _ in range(n):
            label = "".join(rng.choices(letters, k=12))
            environ = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": "/",
                "SCRIPT_NAME": "",
                "HTTP_HOST": f"{label}.example.com",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "wsgi.url_scheme": "http",
            }
            assert list(dispatcher(environ, start_response)) == [label.encode()]

    burst(10_000)  # warm up: the LRU and the host cache fill up
    before = rss_kb()
    burst(90_000)
    growth_mb = (rss_kb() - before) / 1024
    entry = next(e for e in dispatcher.table.entries if e.route.claim.factory is not None)
    assert entry.dynamic is not None and len(entry.dynamic) == 256
    assert growth_mb < 20, f"RSS grew {growth_mb:.1f} MB over 90k new subdomains"


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_factory_claim_through_the_host(
    apphost_host: HostFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin's factory claim: one app per key, None is 404, a raising factory 500 naming it."""
    host = apphost_host(plugins=[Tenants], config=Config(server_name="example.com"))
    client = Client(host.dispatcher)
    for key in ("acme", "globex"):
        response = client.get("/x", headers={"Host": f"{key}.example.com"})
        assert (response.status_code, response.get_data(as_text=True)) == (200, key)
    assert client.get("/", headers={"Host": "missing.example.com"}).status_code == 404
    response = client.get("/", headers={"Host": "boom.example.com"})
    assert response.status_code == 500 and b"tenant db down" not in response.data
    assert "plugin 'Tenants' (in-memory==0)" in caplog.text and "tenant db down" in caplog.text
    assert client.get("/", headers={"Host": "example.com"}).status_code == 404  # not a subdomain
