"""apphost-people: one app per first path segment under /people (Flask's PathDispatcher).

``apphost_people.hooks`` claims ``/people/*`` with a factory::

    Claim(factory=make_person_app, path="/people/*")

A request for ``/people/alice/posts`` is served by ``make_person_app("alice")``
with SCRIPT_NAME ``/people/alice`` and PATH_INFO ``/posts``. The host makes
each person's app once and reuses it; None for an unknown person is a 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["PEOPLE", "make_person_app"]

PEOPLE = frozenset({"alice", "bob"})


def make_person_app(key: str) -> WSGIApplication | None:
    """The app for ``/people/<key>``, or None (404) for someone we do not know."""
    if key not in PEOPLE:
        return None

    def person_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        text = (
            f"Hi, I am {key}.\n"
            f"person={key}\n"
            f"script_name={environ.get('SCRIPT_NAME', '')}\n"
            f"path_info={environ.get('PATH_INFO', '')}\n"
        )
        body = text.encode("latin-1")  # WSGI strings: latin-1 back to the raw bytes
        start_response(
            "200 OK",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return person_app
