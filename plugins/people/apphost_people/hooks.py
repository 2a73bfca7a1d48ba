"""apphost-people's hooks: each segment under ``/people`` gets its own app."""

from __future__ import annotations

from apphost import Claim, HostView, hookimpl

from . import make_person_app


@hookimpl
def apphost_claim_routes(apphost: HostView) -> Claim:
    """``/people/<key>`` and everything under it; the segment is the factory's key."""
    return Claim(factory=make_person_app, path="/people/*")
