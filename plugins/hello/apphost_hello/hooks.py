"""apphost-hello's hooks: mount the ``hello`` app at ``/hello``."""

from __future__ import annotations

from apphost import Claim, HostView, hookimpl


@hookimpl
def apphost_claim_routes(apphost: HostView) -> Claim:
    """``/hello`` and everything under it, on any host."""
    return Claim(app="hello", path="/hello")
