"""The access-log line: the combined log format, then the app and the milliseconds taken.

    127.0.0.1 - - [24/Nov/2026:21:00:00 +0000] "GET /hello/x HTTP/1.1" 200 52 "-" "curl/8.5" hello 0.412

``Observer.done`` makes an entry (a tuple: the time, then the fields) on the
request thread; ``ACCESS_FORMAT % access_args(entry)`` is the line, made by
the log writer thread (``serving.logs``) or by ``logging`` itself. Imports
nothing, so the supervisor's logging never loads prometheus_client.
"""

from __future__ import annotations

import time
from typing import Any

ACCESS_FORMAT = '%s - %s [%s] "%s %s %s" %s %s "%s" "%s" %s %.3f'

_stamp = (0, "")  # (second, its combined-log-format timestamp), replaced whole


def access_args(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments of ``ACCESS_FORMAT`` for an access entry (as ``Observer.done`` makes it)."""
    global _stamp
    now = int(entry[0])
    stamp = _stamp
    if stamp[0] != now:
        stamp = _stamp = (now, time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(now)))
    return (entry[1], entry[2], stamp[1], *entry[3:])
