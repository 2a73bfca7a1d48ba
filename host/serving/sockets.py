"""Listening sockets: bound from ``listen`` addresses, or passed in by systemd.

    socks = systemd_sockets() or bind(["127.0.0.1:8080"], backlog=1024)
    adopt(fd, "the supervisor")     # an inherited fd, checked to be a listening socket
    close(socks)                    # close(), never shutdown()

A listening socket passed by systemd socket activation (``LISTEN_FDS`` and
``LISTEN_PID``, descriptors from 3), or inherited from the supervisor, is one
kernel socket held by several processes. ``shutdown()`` on it would stop every
holder accepting and reset the connections queued for the next one, so apphost
only ever ``close()``\\ s its own descriptor: while systemd (or the supervisor)
holds the socket, new connections wait in the kernel's queue for the next
process instead of being refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Iterable, MutableMapping, Sequence

from ..config import parse_listen
from ..errors import ApphostError

SD_LISTEN_FDS_START = 3
DEFAULT_BACKLOG = 1024  # waitress's own default, used by the supervisor's sockets too
_SYSTEMD_VARS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")
_WHY = {
    errno.EADDRINUSE: "address already in use (another server is listening there)",
    errno.EADDRNOTAVAIL: "address not available on this machine",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
}


def systemd_sockets(environ: MutableMapping[str, str] | None = None) -> list[socket.socket]:
    """The sockets systemd passed to this process ([] if none), and unset its variables.

    The variables are removed either way (as ``sd_listen_fds(1)`` does), so a
    child process never mistakes them for its own; they count only if
    ``LISTEN_PID`` is this process.
    """
    env = os.environ if environ is None else environ
    pid, count = env.get("LISTEN_PID"), env.get("LISTEN_FDS")
    for name in _SYSTEMD_VARS:
        env.pop(name, None)
    if pid is None or count is None or pid != str(os.getpid()):
        return []
    if not count.isdigit() or int(count) < 1:
        raise ApphostError(f"LISTEN_FDS={count!r}: expected the number of sockets passed")
    fds = range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count))
    return [adopt(fd, "systemd (LISTEN_FDS)") for fd in fds]


def adopt(fd: int, source: str) -> socket.socket:
    """The listening stream socket at ``fd``, made non-inheritable; ApphostError if it is not one."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ApphostError(f"fd {fd} from {source} is not a socket: {exc.strerror}") from None
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    except OSError:
        listening = 0
    if sock.type != socket.SOCK_STREAM or not listening:
        sock.detach()
        raise ApphostError(f"fd {fd} from {source} is not a listening stream socket")
    sock.set_inheritable(False)
    return sock


def bind(listen: Sequence[str], backlog: int = DEFAULT_BACKLOG) -> list[socket.socket]:
    """Bind and listen on every address; ApphostError naming the first that fails (none kept)."""
    socks: list[socket.socket] = []
    try:
        for addr in listen:
            socks.extend(_bind_one(addr, backlog))
    except BaseException:
        close(socks)
        raise
    return socks


def _bind_one(addr: str, backlog: int) -> list[socket.socket]:
    host, port = parse_listen(addr)
    try:
        infos = socket.getaddrinfo(
            None if host == "*" else host,
            port,
            socket.AF_UNSPEC,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
            socket.AI_PASSIVE,
        )
    except socket.gaierror as exc:
        raise ApphostError(f"cannot listen on {addr}: {exc.strerror}") from None
    socks: list[socket.socket] = []
    seen: set[tuple[int, object]] = set()
    try:
        for family, socktype, proto, _, sockaddr in infos:
            if (family, sockaddr) in seen:
                continue
            seen.add((family, sockaddr))
            sock = socket.socket(family, socktype, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
            sock.listen(backlog)
    except OSError as exc:
        close(socks)
        why = _WHY.get(exc.errno or 0, exc.strerror or str(exc))
        raise ApphostError(f"cannot listen on {addr}: {why}") from None
    return socks


def close(socks: Iterable[socket.socket]) -> None:
    """Close this process's descriptors; the socket lives on in any other holder."""
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.close()


def describe(sock: socket.socket) -> str:
    """``127.0.0.1:8080``, ``[::1]:8080`` or ``unix:PATH``: where a listening socket listens."""
    name = sock.getsockname()
    if isinstance(name, (str, bytes)):
        return f"unix:{name!s}"
    host, port = name[:2]
    return f"[{host}]:{port}" if sock.family == socket.AF_INET6 else f"{host}:{port}"
