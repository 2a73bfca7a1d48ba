"""What the example plugins answer over HTTP, whichever server runs them.

``apphost serve`` (tests/test_e2e.py) and gunicorn on ``apphost.wsgi:application``
(tests/test_wsgi.py) are both held to this one table, with
``server_name = "localhost"``.
"""

from __future__ import annotations

import http.client

# Host, path, status, text the body must contain
ROUTES = [
    ("localhost", "/hello/x/y", 200, "script_name=/hello\npath_info=/x/y\n"),
    ("localhost", "/hello", 200, "script_name=/hello\npath_info=\n"),
    ("localhost", "/hellox", 404, ""),
    ("notes.localhost", "/links", 200, '"note":"/note/1"'),
    ("notes.localhost", "/hello", 404, ""),  # a subdomain claim owns its host: no fallback
    ("localhost", "/wiki/links/", 200, '"home": "/wiki/page/home/"'),
    ("localhost", "/wiki/page/home", 301, ""),  # Django's APPEND_SLASH, under the mount
    ("acme.localhost", "/", 200, "tenant=acme"),  # dynamic: one app per subdomain
    ("globex.localhost", "/", 200, "tenant=globex"),
    ("www.localhost", "/", 404, ""),  # the factory said None
    ("a.acme.localhost", "/", 404, ""),  # '*' is exactly one label
    ("localhost", "/people/alice/posts", 200, "person=alice\nscript_name=/people/alice\n"),
    ("localhost", "/people/carol", 404, ""),
    ("10.0.0.1", "/_apphost/health", 200, '"status": "ok"'),
    ("bad host", "/", 400, ""),
    ("localhost", "/hello/%2F..", 400, ""),  # an encoded slash
]
# Not in the table: "/hello/../../etc" is 400 under waitress and gunicorn, which
# pass the path as sent, but uWSGI resolves dot segments itself (clamped at
# the root) and hands apphost "/etc". tests/test_routing_e2e.py has the rest.


def mismatches(port: int) -> list[str]:
    """Every row of ROUTES that 127.0.0.1:``port`` answers otherwise, said in a line."""
    wrong = []
    for host, path, status, text in ROUTES:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        if response.status != status or text not in body:
            wrong.append(
                f"{host}{path}: {response.status} {body[:120]!r}, expected {status} {text!r}"
            )
    return wrong
