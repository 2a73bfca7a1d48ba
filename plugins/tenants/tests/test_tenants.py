"""The tenant factory: one app per key, reused by the host; None (404) for reserved names."""

from __future__ import annotations

from importlib.metadata import distribution

import pytest
from apphost import Claim
from apphost.testing import ClientFactory, HostFactory
from apphost_tenants import TenantApp, hooks, make_tenant_app
from apphost_tenants.hooks import apphost_claim_routes
from werkzeug.test import Client


def body_lines(client: Client, path: str = "/") -> list[str]:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True).splitlines()


def test_tenant_app_greets_and_counts() -> None:
    acme = make_tenant_app("acme")
    assert isinstance(acme, TenantApp)
    client = Client(acme)
    assert body_lines(client) == ["Hello, acme!", "tenant=acme", "requests=1"]
    assert body_lines(client, "/any/path") == ["Hello, acme!", "tenant=acme", "requests=2"]


def test_each_tenant_has_its_own_app() -> None:
    acme, globex = make_tenant_app("acme"), make_tenant_app("globex")
    assert acme is not None and globex is not None
    assert acme is not globex
    body_lines(Client(acme))
    assert body_lines(Client(globex))[1:] == ["tenant=globex", "requests=1"]


def test_reserved_is_none() -> None:
    assert make_tenant_app("www") is None


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_each_subdomain_is_served_by_its_own_app_in_a_host(
    apphost_host: HostFactory, apphost_client: ClientFactory, tenant: str
) -> None:
    host = apphost_host(plugins={"tenants": hooks}, strict=True)
    client = apphost_client(host)
    client.get("/", base_url="http://other.localhost")  # another tenant's app counts apart
    for count in (1, 2):  # the host makes the tenant's app once and reuses it
        response = client.get("/any/path", base_url=f"http://{tenant}.localhost")
        assert response.get_data(as_text=True).splitlines() == [
            f"Hello, {tenant}!",
            f"tenant={tenant}",
            f"requests={count}",
        ]
    assert client.get("/", base_url="http://www.localhost").status_code == 404  # reserved


def test_claims_every_subdomain() -> None:
    assert apphost_claim_routes(apphost=object()) == Claim(factory=make_tenant_app, subdomain="*")


def test_entry_points() -> None:
    eps = distribution("apphost-tenants").entry_points
    assert [(ep.group, ep.name, ep.value) for ep in eps] == [
        ("apphost.plugins", "tenants", "apphost_tenants.hooks")
    ]
