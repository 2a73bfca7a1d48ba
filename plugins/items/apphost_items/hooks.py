"""apphost-items' hooks: mount the ``items`` app at ``/items``."""

from __future__ import annotations

from apphost import Claim, HostView, hookimpl


@hookimpl
def apphost_claim_routes(apphost: HostView) -> Claim:
    """``/items`` and everything under it, on any host."""
    return Claim(app="items", path="/items")
