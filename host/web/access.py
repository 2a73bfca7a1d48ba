"""The access-log line: the combined log format, then the app and the milliseconds taken.

    127.0.0.1 - - [24/Nov/2026:21:00:00 +0000] "GET /hello/x HTTP/1.1" 200 52 "-" "curl/8.5" hello 0.412

``access_line`` makes it on the request thread in one string operation (the
date is formatted once a second). What the client sent (the user, the
request-target, Referer and User-Agent) is escaped as nginx escapes it: ``"``,
``\\`` and every character outside printable ASCII become ``\\xHH``, so a
client cannot forge fields or lines. Imports nothing heavy, so the
supervisor's logging never loads prometheus_client.
"""

from __future__ import annotations

import re
import time
from typing import Any

ACCESS_FORMAT = '%s - %s [%s] "%s %s %s" %s %s "%s" "%s" %s %.3f'

# What follows the date in a logged line, by millisecond: "%03d" takes longer than a lookup.
_LOGGED = tuple(f",{ms:03d} INFO apphost.access: " for ms in range(1000))
# (second, its combined-log-format timestamp, its logging date), replaced whole
_stamp = (0, "", "")
# Anything but printable ASCII, '"' and '\': what nginx writes as \xHH.
_unsafe = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _escape(match: re.Match[str]) -> str:
    return "".join(f"\\x{b:02X}" for b in match.group().encode("latin-1", "backslashreplace"))


def escape(text: str) -> str:
    """``text`` as nginx writes a client's string in its access log."""
    return _unsafe.sub(_escape, text)


def access_line(
    now: float,
    environ: Any,
    status: str,
    length: str | None,
    app: str,
    ms: float,
    logged: bool = False,
) -> str:
    """The access-log line of a request answered with ``status`` at ``now`` (``time.time()``).

    ``logged``: the whole line ``serving.logs.FORMAT`` makes of an INFO record of
    ``apphost.access`` (the date and milliseconds as ``logging.Formatter`` writes
    them, the level, the logger), newline included.
    """
    global _stamp
    stamp = _stamp
    second = int(now)
    if stamp[0] != second:
        local = time.localtime(second)
        stamp = _stamp = (
            second,
            time.strftime("%d/%b/%Y:%H:%M:%S %z", local),
            time.strftime("%Y-%m-%d %H:%M:%S", local),
        )
    get = environ.get
    user = get("REMOTE_USER") or "-"
    target = get("REQUEST_URI") or get("SCRIPT_NAME", "") + get("PATH_INFO", "")
    referer = get("HTTP_REFERER", "-")
    agent = get("HTTP_USER_AGENT", "-")
    sent = user + target + referer + agent
    if not (sent.isascii() and sent.isprintable()) or '"' in sent or "\\" in sent:
        user, target, referer, agent = escape(user), escape(target), escape(referer), escape(agent)
    line = ACCESS_FORMAT % (
        get("REMOTE_ADDR", "-"),
        user,
        stamp[1],
        get("REQUEST_METHOD", "-"),
        target,
        get("SERVER_PROTOCOL", "-"),
        status,
        length or "-",
        referer,
        agent,
        app,
        ms,
    )
    if logged:
        return "".join((stamp[2], _LOGGED[int((now - second) * 1000)], line, "\n"))
    return line
