"""Host names: validate and normalize a request's Host header or a claimed host.

    >>> parse_host("API.Example.COM.:8080")
    ('api.example.com', 8080)
    >>> parse_host("[0:0::1]")
    ('[::1]', None)
    >>> parse_host("evil, good") is None
    True

Accepted: DNS names (letters, digits, ``-``, ``_``; labels of 1-63 characters,
253 in all), IPv4, bracketed IPv6, and an optional port 1-65535. The result is
lower-case with one trailing dot stripped, IPv6 in its compressed form.
Anything else (non-ASCII, spaces, commas from folded duplicate headers, empty
labels, a name ending in a number that is not a dotted-quad IPv4 such as
``1.2.3.999`` or ``0x7f.1``) gives ``None``.
"""

from __future__ import annotations

import ipaddress
import re

MAX_HOST_LENGTH = 260  # 253 for the name, a trailing dot, ":65535" for the port

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = rf"(?:{_LABEL}\.)*{_LABEL}"
_NAME_RE = re.compile(_NAME, re.IGNORECASE | re.ASCII)
_HOST_RE = re.compile(
    rf"(?:(?P<name>{_NAME})\.?|\[(?P<ip6>[0-9a-f:.]+)\])(?::(?P<port>[0-9]{{1,5}}))?",
    re.IGNORECASE | re.ASCII,
)


def parse_host(value: str) -> tuple[str, int | None] | None:
    """Split and normalize ``value`` into (host, port), or None if malformed."""
    if len(value) > MAX_HOST_LENGTH:
        return None
    m = _HOST_RE.fullmatch(value)
    if m is None:
        return None
    name, ip6, port_text = m.group("name", "ip6", "port")
    port = None
    if port_text is not None:
        port = int(port_text)
        if not 0 < port < 65536:
            return None
    if name is not None:
        if len(name) > 253:
            return None
        name = name.lower()
        # As browsers do (WHATWG URL): a name ending in a number must be an IPv4.
        if name.rpartition(".")[2].isdigit():
            try:
                ipaddress.IPv4Address(name)
            except ValueError:
                return None
        return name, port
    try:
        return f"[{ipaddress.IPv6Address(ip6).compressed}]", port
    except ValueError:
        return None


def is_dns_labels(value: str) -> bool:
    """True if ``value`` is dot-separated DNS labels (a subdomain), ASCII, no trailing dot."""
    return len(value) <= 253 and _NAME_RE.fullmatch(value) is not None


def to_ascii(host: str) -> str:
    """Lower-case ``host`` with its labels as IDNA A-labels (``bücher`` -> ``xn--bcher-kva``)."""
    if host.isascii():
        return host.lower()
    try:
        return ".".join(
            label.encode("idna").decode("ascii") if label != "*" else label
            for label in host.split(".")
        ).lower()
    except UnicodeError as exc:
        raise ValueError(f"{host!r} is not a valid internationalized host name: {exc}") from None


def host_pattern(pattern: str) -> str:
    """Normalize an ``allowed_hosts`` pattern (a host or ``*.suffix``; a port is ignored)."""
    wild = pattern.startswith("*.")
    parsed = parse_host(to_ascii(pattern[2:] if wild else pattern))
    if parsed is None:
        raise ValueError(f"{pattern!r} is not a host name, IPv4, [IPv6] or *.suffix")
    return ("*." if wild else "") + parsed[0]


def host_matches(host: str, patterns: frozenset[str]) -> bool:
    """True if ``host`` equals a pattern or lies under a ``*.suffix`` pattern."""
    if host in patterns:
        return True
    while "." in host:
        host = host.split(".", 1)[1]
        if "*." + host in patterns:
            return True
    return False


_ABSOLUTE_RE = re.compile(r"[a-z][a-z0-9+.-]*://([^/?#]*)", re.IGNORECASE | re.ASCII)


def authority(target: str) -> str | None:
    """The authority of an absolute-form request-target (``http://host:port/path``), else None.

    RFC 9112 section 3.2.2: a server must take the host from it, not from Host.
    The authority is returned as sent (``parse_host`` judges it: userinfo is refused).
    """
    m = _ABSOLUTE_RE.match(target)
    return None if m is None else m.group(1)
