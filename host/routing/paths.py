"""Request paths: resolve ``.``, ``..`` and repeated slashes before routing.

    is_clean("/a/b/")                    # True: route it as it is
    normalize_path("/a//b/./c/../d/")   # '/a/b/d/'
    normalize_path("/a/../..")          # None: above the root
    request_path("/x/" + "a/../" * 9000)   # URI_TOO_LONG: '..' in a path over 16 KiB

Repeated slashes and ``.`` segments are removed with ``str.replace``, at C
speed, whatever the length of the path. ``..`` segments need a loop over the
segments in Python, so a request path over ``MAX_DOTDOT_PATH`` (16 KiB) that
has one is refused with 414 URI Too Long rather than resolved.
"""

from __future__ import annotations

import re

from .refusals import ABOVE_ROOT, Refusal

MAX_DOTDOT_PATH = 16 * 1024
URI_TOO_LONG = Refusal("414 URI Too Long", "a path with '..' segments longer than 16 KiB")
_DOTDOT = re.compile(r"/\.\.(?:/|\Z)")


def is_clean(path: str) -> bool:
    """True if ``path`` needs no checking or normalizing: empty, or "/..." with no "//", "/." or NUL.

    Four scans at C speed; every path that passes is what ``request_path`` would return.
    """
    return (
        (not path or path[0] == "/")
        and "//" not in path
        and "/." not in path
        and "\x00" not in path
    )


def normalize_path(path: str) -> str | None:
    """Resolve ``.`` and ``..`` segments and repeated slashes; None if ``..`` climbs above root.

    ``path`` is empty or starts with "/".
    """
    result = request_path(path, max_dotdot=None)
    return None if isinstance(result, Refusal) else result


def request_path(path: str, max_dotdot: int | None = MAX_DOTDOT_PATH) -> str | Refusal:
    """``normalize_path`` for a request: the path to route, or the refusal to answer.

    A path with nothing to resolve costs two scans (for "/." and "//"); each
    step that has work to do costs a replace and one more scan to see it done.
    """
    dotdot = False
    if "." in path and "/." in path:  # "." first: a single character is found by memchr
        # Neither step below makes or unmakes a '..' segment, so look for one now.
        dotdot = "/.." in path and _DOTDOT.search(path) is not None
        if dotdot and max_dotdot is not None and len(path) > max_dotdot:
            return URI_TOO_LONG
        while "/./" in path:  # "/././" loses every other "/./" per pass
            path = path.replace("/./", "/")
        if path.endswith("/."):
            path = path[:-1]
    while "//" in path:  # runs of 2 to 4 slashes in one pass
        path = path.replace("///", "/").replace("//", "/")
    if not dotdot:
        return path
    out: list[str] = []
    segments = path.split("/")
    for seg in segments[1:]:
        if seg == "..":
            if not out:
                return ABOVE_ROOT
            out.pop()
        elif seg:
            out.append(seg)
    trailing = segments[-1] in ("", "..")
    return "/" + "/".join(out) + ("/" if trailing and out else "")


def has_encoded_slash(raw_uri: str) -> bool:
    """True if a raw request-target's path (not its query) has ``%2F`` or ``%5C``, in either case.

    ``raw_uri`` is ``REQUEST_URI`` (or ``RAW_URI``) as the server received it.
    """
    if "%" not in raw_uri:
        return False
    lowered = raw_uri.partition("?")[0].lower()
    return "%2f" in lowered or "%5c" in lowered
