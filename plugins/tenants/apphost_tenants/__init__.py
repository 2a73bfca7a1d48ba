"""apphost-tenants: one app per subdomain, made on first use (Flask's SubdomainDispatcher).

``apphost_tenants.hooks`` claims every subdomain with a factory::

    Claim(factory=make_tenant_app, subdomain="*")

so ``acme.<server_name>`` is served by ``make_tenant_app("acme")``, made on
acme's first request and then reused: the host runs the factory once per key
and keeps the apps it made (in a bounded LRU). A factory that returns None
says "no such tenant": the host answers 404 and does not cache the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["RESERVED", "TenantApp", "make_tenant_app"]

RESERVED = frozenset({"www"})


class TenantApp:
    """A tenant's app: a greeting and how many requests this instance has served."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.requests = 0
        self._lock = threading.Lock()  # apphost serves with threads

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.requests += 1
            count = self.requests
        body = f"Hello, {self.tenant}!\ntenant={self.tenant}\nrequests={count}\n".encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]


def make_tenant_app(key: str) -> TenantApp | None:
    """The app for subdomain ``key``, or None (404) for a reserved name."""
    if key in RESERVED:
        return None
    return TenantApp(key)
