"""``apphost.wsgi:application``: the host as a plain WSGI app for other servers.

    APPHOST_CONFIG=/etc/apphost.toml gunicorn -w 4 apphost.wsgi:application

The host is built (and its startup hooks run) the first time ``application``
is looked up, not at import; shutdown hooks run when the interpreter exits.
Instances keep no state that others need, so any number can serve side by
side behind a load balancer.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING

from .config import load_config
from .host import Host

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

_lock = threading.Lock()
_app: WSGIApplication | None = None


def make_application() -> WSGIApplication:
    """Build the host from ``$APPHOST_CONFIG`` (else ./apphost.toml, else defaults)."""
    host = Host.build(load_config())
    host.startup()
    atexit.register(host.shutdown)
    return host.app


def __getattr__(name: str) -> WSGIApplication:
    global _app
    if name != "application":
        raise AttributeError(f"module 'apphost.wsgi' has no attribute {name!r}")
    with _lock:
        if _app is None:
            _app = make_application()
        return _app
