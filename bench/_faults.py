"""Apps for ``bench/isolation.py``: one that hangs, and bare waitress's combined app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

HANG_SECONDS = 6.0


def hang(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A slow page: a heavy report, a slow upstream."""
    time.sleep(HANG_SECONDS)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return [b"late"]


def combined() -> Any:
    """hello at /hello and hang at /hang, as bare waitress would serve both."""
    from apphost_hello import app
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    return DispatcherMiddleware(app, {"/hello": app, "/hang": hang})


application = combined()
