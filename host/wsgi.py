"""``apphost.wsgi:application``: the host as a plain WSGI app for other servers.

    APPHOST_CONFIG=/etc/apphost.toml gunicorn -w 4 apphost.wsgi:application
    APPHOST_CONFIG=/etc/apphost.toml uwsgi --http-socket 127.0.0.1:8081 --master \\
        --processes 4 --lazy-apps --enable-threads --die-on-term --need-app \\
        --module apphost.wsgi:application

Importing this module builds the host from ``$APPHOST_CONFIG`` (else
./apphost.toml, else defaults) and runs its startup hooks; shutdown hooks run
when the interpreter exits. ``application`` is a plain module attribute, as
uWSGI and mod_wsgi look it up. Let each worker process import it (gunicorn
does unless ``--preload``; uWSGI needs ``--lazy-apps``), so that no process
forks after the host started its threads; and uWSGI needs ``--enable-threads``
for the host's watch thread (stuck requests, metrics folded once a second).
Instances keep no state that
others need, so any number can serve side by side behind a load balancer.
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING

from .config import load_config
from .host import Host
from .web.stack import request_stack

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def make_application() -> WSGIApplication:
    """Build the host from ``$APPHOST_CONFIG`` (else ./apphost.toml, else defaults)."""
    host = Host.build(load_config())
    host.startup()
    atexit.register(host.shutdown)
    app = request_stack(host)
    host.bulkheads.start()  # stuck requests are logged under any server
    return app


application = make_application()
