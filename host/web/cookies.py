"""``scope_cookies``: an app's host-wide cookies (``Path=/`` or no Path) scoped to its mount.

    app = scope_cookies(app)
    # mounted at /a (SCRIPT_NAME): "session=1; Path=/"  ->  "session=1; Path=/a"
    #                              "session=1"          ->  "session=1; Path=/a"
    #                              "x=1; Path=/a/admin" ->  unchanged (a path of its own)

Two apps mounted at ``/a`` and ``/b`` that both set ``session`` with
``Path=/`` (Flask's and Django's default) log each other out: the browser
keeps one ``session`` for the whole host and sends it to both. Rewriting the
path to the mount, as nginx's ``proxy_cookie_path`` does, gives each app its
own. The mount is the request's SCRIPT_NAME when the app is called (so a
factory claim's ``/u/<key>`` apps are scoped per key), percent-encoded as
browsers send paths. A request with no SCRIPT_NAME is passed through as is.

The host wraps only the apps of path claims below ``/`` whose
``Claim.scope_cookies`` is true (the default); other claims pay nothing. A
wrapped app pays one look at each response header's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# environ: the request of the Observer (web.observe), whose start_response scopes the
# cookies to its ``mount`` once set: one pass over the headers, not two.
SCOPER = "apphost.cookie_scoper"
# What a cookie's Path may hold as it is (RFC 6265 path-value, less "%" and ";").
_SAFE = "/!$&'()*+,-.:=@_~"


def scope_cookies(app: WSGIApplication) -> WSGIApplication:
    """``app``, with its ``Set-Cookie`` headers for the whole host scoped to its mount."""

    def scoped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        mount: str = environ.get("SCRIPT_NAME", "")
        if not mount:
            return app(environ, start_response)
        scoper = environ.get(SCOPER)
        if scoper is not None:
            scoper.mount = mount
            return app(environ, start_response)

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> object:
            scope_headers(headers, mount)
            return start_response(status, headers, exc_info)

        return app(environ, start)  # type: ignore[arg-type]  # start returns write()

    return scoped


def scope_headers(headers: list[tuple[str, str]], mount: str) -> None:
    """Rescope, in place, every ``Set-Cookie`` of a response's ``headers`` to ``mount``."""
    for i, (name, value) in enumerate(headers):
        if len(name) == 10 and name.lower() == "set-cookie":
            headers[i] = (name, rescope(value, mount))


def rescope(cookie: str, mount: str) -> str:
    """``cookie`` (a Set-Cookie value) with a Path of ``/`` or none set to ``mount``.

    ``mount`` is a WSGI string (UTF-8 bytes read as latin-1). An empty Path,
    or one not starting with ``/``, means the default path (RFC 6265 5.2.4)
    and is rewritten too; the last Path attribute is the one that counts.
    """
    parts = cookie.split(";")
    for i in range(len(parts) - 1, 0, -1):
        name, _, value = parts[i].partition("=")
        if name.strip().lower() == "path":
            value = value.strip()
            if value.startswith("/") and value != "/":
                return cookie  # a path of the app's own choosing
            parts[i] = f" Path={_encode(mount)}"
            return ";".join(parts)
    return f"{cookie}; Path={_encode(mount)}"


def _encode(mount: str) -> str:
    """The mount as a browser sends it: non-ASCII and unsafe bytes percent-encoded."""
    return quote(mount, safe=_SAFE, encoding="latin-1")
