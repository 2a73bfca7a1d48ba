"""apphost-tenants' hooks: every subdomain of the server name gets its own app."""

from __future__ import annotations

from apphost import Claim, HostView, hookimpl

from . import make_tenant_app


@hookimpl
def apphost_claim_routes(apphost: HostView) -> Claim:
    """``<tenant>.<server_name>``, every path; the label is the factory's key."""
    return Claim(factory=make_tenant_app, subdomain="*")
