"""apphost-notes: a Flask app made by an ``@app_factory``, claimed on a subdomain.

apphost calls ``create_app(config)`` once, with the ``[apps.notes]`` table of
its config file (``{}`` if there is none)::

    [apps.notes]
    title = "Team notes"

``apphost_notes.hooks`` claims ``notes.<server_name>`` for it. Every URL is
built with ``url_for``, so links stay right wherever the host mounts the app
(Flask reads the mount from SCRIPT_NAME and the host from HTTP_HOST).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from apphost import app_factory

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


@app_factory
def create_app(config: Mapping[str, Any]) -> Flask:
    """Make the Flask app. Flask is imported here, so ``apphost routes`` never pays for it."""
    from .app import make_app

    return make_app(config)
