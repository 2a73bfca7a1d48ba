"""apphost-wiki's hooks: mount the ``wiki`` app at ``/wiki``.

Importing this module imports no Django: the app is made on its first request.
"""

from __future__ import annotations

from apphost import Claim, HostView, hookimpl


@hookimpl
def apphost_claim_routes(apphost: HostView) -> Claim:
    """``/wiki`` and everything under it, on any host."""
    return Claim(app="wiki", path="/wiki")
