"""``explain``: what the dispatcher does with a URL, without calling an app or a factory.

    explain(dispatcher, "http://api.example.com/v1/x")   # who wins, or why it is refused

``apphost routes --match URL`` prints it. It goes through ``Dispatcher.route``,
the same path every request takes.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from .dispatcher import Dispatcher, Match
from .hosts import to_ascii
from .refusals import Refusal

_PRINTABLE = "".join(map(chr, range(0x21, 0x7F)))


def explain(dispatcher: Dispatcher, url: str) -> dict[str, Any]:
    """What ``dispatcher`` does with ``GET url``, without calling an app or a factory.

        >>> explain(dispatcher, "http://api.example.com:8080/v1/x")   # doctest: +SKIP
        {'url': ..., 'host': 'api.example.com:8080', 'status': 200, 'route': 'api.example.com/v1',
         'app': 'api', 'claimed_by': 'plugin api (api==1.0)', 'priority': 0, 'key': None,
         'script_name': '/v1', 'path_info': '/x'}

    The URL is sent as a browser would (IDNA host, UTF-8 percent-encoded path);
    without a host it asks for the server name. A refusal gives ``status`` and
    ``reason``. SCRIPT_NAME and PATH_INFO are shown as text, not WSGI strings.
    """
    from werkzeug.test import create_environ

    if "://" not in url and not url.startswith("/"):
        url = "http://" + url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2] or dispatcher.table.server_name
    with contextlib.suppress(ValueError):  # left as is, to be refused as malformed
        host = to_ascii(host)
    raw_path = quote(parts.path or "/", safe=_PRINTABLE)
    environ = create_environ("/", f"{parts.scheme or 'http'}://localhost", query_string=parts.query)
    environ["HTTP_HOST"] = host
    environ["PATH_INFO"] = unquote_to_bytes(raw_path).decode("latin-1")  # as servers do
    environ["REQUEST_URI"] = environ["RAW_URI"] = raw_path + (parts.query and "?" + parts.query)
    out: dict[str, Any] = {"url": url, "host": host}
    result = dispatcher.route(environ)
    if isinstance(result, Refusal):
        return out | {"status": int(result.status[:3]), "reason": result.reason}
    if not isinstance(result, Match):
        return out | {"status": 200, "route": environ["PATH_INFO"], "app": "apphost (own page)"}
    route, conflict = result.entry.route, result.entry.conflict
    return (
        out
        | {
            "status": 503 if conflict else 200,
            "route": route.describe(),
            "app": result.entry.name,
            "claimed_by": (
                f"{conflict.existing.claimant} and {conflict.duplicate.claimant}"
                if conflict
                else str(route.claimant)
            ),
            "priority": route.claim.priority,
            "key": result.key,
            "script_name": _text(result.script_name),
            "path_info": _text(result.path_info),
        }
        | ({"reason": str(conflict)} if conflict else {})
    )


def _text(wsgi: str) -> str:
    return wsgi.encode("latin-1").decode("utf-8", "backslashreplace")
