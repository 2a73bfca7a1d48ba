"""apphost-hello: the smallest plugin, a plain WSGI app with no framework.

``app`` is advertised in ``apphost.apps`` as ``hello``, and ``apphost_hello.hooks``
claims ``/hello`` for it. The body echoes what the host's mount did::

    $ curl localhost:8080/hello/x
    Hello from apphost!
    script_name=/hello
    path_info=/x
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["app"]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Greet, and show SCRIPT_NAME (the mount) and PATH_INFO (the rest)."""
    text = (
        "Hello from apphost!\n"
        f"script_name={environ.get('SCRIPT_NAME', '')}\n"
        f"path_info={environ.get('PATH_INFO', '')}\n"
    )
    # WSGI strings are bytes read as latin-1: encoding them back gives the raw UTF-8.
    body = text.encode("latin-1")
    start_response(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
