"""The own pages under a real server: what waitress does to the headers the access rule reads."""

from __future__ import annotations

from ..servers import get
from .conftest import Serve


def test_local_under_waitress_sees_the_proxy_headers_it_drops(
    serve: Serve,
) -> None:
    """waitress removes X-Forwarded-For from an untrusted peer; the page still refuses."""
    server = serve()
    assert get(server.port, "/_apphost/routes")[0] == 200
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    assert get(server.port, "/_apphost/routes", headers=forwarded)[0] == 403
