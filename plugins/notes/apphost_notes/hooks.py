"""apphost-notes' hooks: serve the ``notes`` app on ``notes.<server_name>``."""

from __future__ import annotations

from apphost import Claim, HostView, hookimpl


@hookimpl
def apphost_claim_routes(apphost: HostView) -> Claim:
    """Every path of ``notes.<server_name>`` (notes.localhost by default)."""
    return Claim(app="notes", subdomain="notes")
