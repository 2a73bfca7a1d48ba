"""The scoreboard: what each worker is doing, in memory its supervisor can read after it died.

    board = Scoreboard.create(slots=16)          # supervisor: one per worker (a memfd)
    env = board.environ()                        # ... handed to the worker (pass board.fd)
    board = Scoreboard.from_fd(fd)               # worker
    board.enter("blog", "GET", "/blog/x")        # a request thread: one write to its slot
    board.leave()                                # ... and one byte when it is done
    board.doing("importing plugin 'blog'")       # startup: what the worker is doing now
    board.in_flight()                            # supervisor: [("blog", "GET", "/blog/x"), ...]

A worker that calls ``os._exit`` or segfaults says nothing on its way out, so
what it was doing must already be written down: each request thread owns one
fixed slot of a shared memory file (``memfd_create``), and writing a request
into it is one slice assignment, no lock, no message, no system call. Slot 0
holds what the worker is doing while it starts (the plugin it imports, the
hook it calls), so a start that hangs can be reported by name.
"""

from __future__ import annotations

import mmap
import os
import threading

SLOT = 512  # bytes: a busy flag, then "app\\tmethod\\tpath" in UTF-8, NUL-terminated
ENV_FD = "APPHOST_SCOREBOARD_FD"
_BUSY, _FREE = 1, 0


class Scoreboard:
    """``slots`` request slots (one per worker thread) and a status slot, in one shared map."""

    def __init__(self, fd: int, slots: int) -> None:
        self.fd = fd
        self.slots = slots
        self._map = mmap.mmap(fd, SLOT * (slots + 1))
        self._offsets: dict[int, int] = {}  # thread ident -> its slot's offset
        self._lock = threading.Lock()  # taken once per thread, to give it a slot

    @classmethod
    def create(cls, slots: int) -> Scoreboard:
        fd = os.memfd_create("apphost-scoreboard", 0)  # inheritable: passed with pass_fds
        os.ftruncate(fd, SLOT * (slots + 1))
        return cls(fd, slots)

    @classmethod
    def from_fd(cls, fd: int) -> Scoreboard:
        os.set_inheritable(fd, False)  # the worker's own processes never see it
        return cls(fd, os.fstat(fd).st_size // SLOT - 1)

    def environ(self) -> dict[str, str]:
        return {ENV_FD: str(self.fd)}

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)

    # -- the worker's side ------------------------------------------------------

    def enter(self, app: str, method: str, path: str, ident: int | None = None) -> None:
        """This thread (``ident``: ``threading.get_ident()``) serves ``method path`` of ``app``."""
        if ident is None:
            ident = threading.get_ident()
        offset = self._offsets.get(ident)
        if offset is None:
            offset = self._slot_for(ident)
            if offset is None:  # more threads than slots: not recorded
                return
        data = f"\x01{app}\t{method}\t{path}\0".encode("utf-8", "replace")
        if len(data) > SLOT:
            data = data[: SLOT - 1] + b"\0"
        self._map[offset : offset + len(data)] = data

    def leave(self, ident: int | None = None) -> None:
        """This thread's request is done."""
        offset = self._offsets.get(threading.get_ident() if ident is None else ident)
        if offset is not None:
            self._map[offset] = _FREE

    def doing(self, what: str) -> None:
        """What the worker is doing while it starts (empty: serving)."""
        data = what.encode("utf-8", "replace")[: SLOT - 1] + b"\0"
        self._map[0 : len(data)] = data

    def _slot_for(self, ident: int) -> int | None:
        with self._lock:
            if len(self._offsets) >= self.slots:
                return None
            offset = self._offsets[ident] = SLOT * (len(self._offsets) + 1)
            return offset

    # -- the supervisor's side ----------------------------------------------------

    def in_flight(self) -> list[tuple[str, str, str]]:
        """(app, method, path) of every request a worker had in flight."""
        found = []
        for i in range(1, self.slots + 1):
            slot = self._map[SLOT * i : SLOT * (i + 1)]
            if slot[0] == _BUSY:
                app, _, rest = (
                    slot[1:].split(b"\0", 1)[0].decode("utf-8", "replace").partition("\t")
                )
                method, _, path = rest.partition("\t")
                found.append((app, method, path))
        return found

    def status(self) -> str:
        """What the worker said it was doing while it started."""
        return self._map[:SLOT].split(b"\0", 1)[0].decode("utf-8", "replace")
